"""The schema is made by Alembic alone: empty database → head, then idempotent on later runs."""

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from db import models
from db.engine import alembic_config, current_revision, engine_for, migrate
from db.models import Base
from tracker.database import initialize, transaction


def test_upgrade_from_empty_to_head_creates_every_table(db_url):
    assert current_revision(db_url) is None
    migrate(db_url)
    tables = set(inspect(engine_for(db_url)).get_table_names())
    assert set(Base.metadata.tables) <= tables
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    assert current_revision(db_url) == head


def test_initialize_is_idempotent_and_seeds_one_default_protocol(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "data"))
    initialize(db_url)
    initialize(db_url)
    with transaction(db_url) as session:
        protocols = session.scalars(select(models.Protocol)).all()
    assert [p.name for p in protocols] == ["Exosome (default)"]
    assert protocols[0].band[3] == {"month": 6, "low": 10, "high": 35}


def test_migrated_schema_matches_the_models(db_url):
    """No model change may land without its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate(db_url)
    with engine_for(db_url).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
