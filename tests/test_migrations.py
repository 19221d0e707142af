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


def test_initialize_is_idempotent_and_seeds_the_default_and_the_salt_protocol(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "data"))
    initialize(db_url)
    initialize(db_url)
    with transaction(db_url) as session:
        protocols = session.scalars(select(models.Protocol).order_by(models.Protocol.id)).all()
        assert [(p.name, p.outcome_measure, p.noise_pct) for p in protocols] == [
            ("Exosome (default)", "density", 10), ("Alopecia areata (SALT)", "salt", 10)]
        assert protocols[0].band[3] == {"month": 6, "low": 10, "high": 35}
        assert protocols[1].band[2] == {"month": 6, "low": 20, "high": 50}
        # An edit of a seeded protocol survives the next start: only a missing name is seeded again.
        protocols[1].noise_pct = 12.5
    initialize(db_url)
    with transaction(db_url) as session:
        salt = session.scalars(select(models.Protocol).where(models.Protocol.outcome_measure == "salt")).one()
        assert salt.noise_pct == 12.5


def test_migrated_schema_matches_the_models(db_url):
    """No model change may land without its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate(db_url)
    with engine_for(db_url).connect() as connection:
        # Alembic cannot compare expression indexes (PostgreSQL reads ``trim(x)`` back as ``TRIM(BOTH FROM x)``):
        # the lot index is checked by name below instead.
        context = MigrationContext.configure(connection, opts={"include_object": _not_an_expression_index})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


EXPRESSION_INDEXES = {"ix_treatment_session_lot_key", "ix_patient_outlook_name_trigrams",
                      "ix_patient_outlook_mrn_trigrams"}  # the last two: PostgreSQL's GIN trigram indexes (0010)


def _not_an_expression_index(_object, name, type_, _reflected, _compare_to) -> bool:
    if type_ == "table" and name.startswith("patient_search"):
        return False  # SQLite's FTS5 text index and its own tables (0010), made by SQL the models cannot say
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def test_the_lot_lookup_is_served_by_its_expression_index(db_url):
    """0007: ``lower(trim(lot_number))`` is indexed, and the database's planner uses the index for the lookup."""
    from sqlalchemy import text

    migrate(db_url)
    with engine_for(db_url).connect() as connection:
        if connection.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in connection.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM treatment_session WHERE lower(trim(lot_number)) = 'ab-12'")))
        else:
            connection.execute(text("SET enable_seqscan = off"))  # an empty table: make the planner show its choice
            plan = " ".join(row[0] for row in connection.execute(text(
                "EXPLAIN SELECT id FROM treatment_session WHERE lower(trim(lot_number)) = 'ab-12'")))
    assert "ix_treatment_session_lot_key" in plan


def test_protocol_noise_migration_upgrades_with_the_default_and_downgrades(db_url):
    """0005 adds protocol.noise_pct (existing protocols get 10, DESIGN.md §2) and removes it again."""
    from alembic import command
    from sqlalchemy import text

    migrate(db_url, "0004")
    with engine_for(db_url).begin() as connection:
        connection.execute(text(
            "INSERT INTO protocol (name, band, windows, evidence_note, created_at, version) "
            "VALUES ('Old', '[]', '[]', 'note', CURRENT_TIMESTAMP, 3)"))
    migrate(db_url, "0005")
    with engine_for(db_url).connect() as connection:
        assert connection.execute(text("SELECT noise_pct, version FROM protocol WHERE name = 'Old'")).one() == (10, 3)
    command.downgrade(alembic_config(db_url), "0004")
    assert current_revision(db_url) == "0004"
    columns = {c["name"] for c in inspect(engine_for(db_url)).get_columns("protocol")}
    assert "noise_pct" not in columns and "version" in columns
    migrate(db_url)
    assert current_revision(db_url) == ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()


def test_outcome_measure_and_visit_ratings_migration_keeps_density_and_downgrades(db_url):
    """0006: existing protocols keep judging density; visits gain the optional photographic assessment and
    satisfaction (empty on old visits); both go again on downgrade."""
    from alembic import command
    from sqlalchemy import text

    migrate(db_url, "0005")
    with engine_for(db_url).begin() as connection:
        connection.execute(text(
            "INSERT INTO protocol (name, band, windows, evidence_note, created_at, version, noise_pct) "
            "VALUES ('Old', '[]', '[]', 'note', CURRENT_TIMESTAMP, 2, 12)"))
    migrate(db_url, "0006")
    with engine_for(db_url).connect() as connection:
        assert connection.execute(
            text("SELECT outcome_measure, noise_pct, version FROM protocol WHERE name = 'Old'")).one() == ("density",
                                                                                                           12, 2)
    visit_columns = {c["name"] for c in inspect(engine_for(db_url)).get_columns("visit")}
    assert {"global_assessment", "satisfaction"} <= visit_columns
    command.downgrade(alembic_config(db_url), "0005")
    assert "outcome_measure" not in {c["name"] for c in inspect(engine_for(db_url)).get_columns("protocol")}
    assert not {"global_assessment", "satisfaction"} & {c["name"] for c in inspect(engine_for(db_url)).get_columns(
        "visit")}
    migrate(db_url)
    assert current_revision(db_url) == ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()


def test_app_servers_starting_together_migrate_once(db_url, tmp_path):
    """A chain's app servers may start at the same moment on one new database: every one starts (the first
    migrates, the others wait for it: an advisory lock on PostgreSQL, SQLite's write lock), none fails."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    start = ("import sys; from tracker.database import initialize; initialize(sys.argv[1]); print('started')")
    env = {**os.environ, "TRACKER_DATA_DIR": str(tmp_path / "data")}
    servers = [subprocess.Popen([sys.executable, "-c", start, db_url], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    results = [server.communicate(timeout=300) for server in servers]
    assert [(server.returncode, out.strip()) for server, (out, _err) in zip(servers, results, strict=True)] == [
        (0, "started")] * 3, [err[-1500:] for _out, err in results]
    assert current_revision(db_url) == ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()


def test_the_search_index_0010_is_made_and_taken_down(db_url):
    """0010: SQLite's FTS5 name index and the three triggers that keep it (a later migration that copies
    ``patient_outlook`` would drop them: this fails then); PostgreSQL's two GIN trigram indexes. Down to 0009 removes
    them, up again makes them again."""
    from alembic import command
    from sqlalchemy import text

    from db.engine import alembic_config

    def present() -> set[str]:
        with engine_for(db_url).connect() as connection:
            if connection.dialect.name == "sqlite":
                return set(connection.scalars(text(
                    "SELECT name FROM sqlite_master WHERE name = 'patient_search' OR name LIKE 'patient_search_%' "
                    "AND type = 'trigger'")))
            return set(connection.scalars(text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE '%trigrams'")))

    migrate(db_url)
    sqlite = db_url.startswith("sqlite")
    made = ({"patient_search", "patient_search_insert", "patient_search_delete", "patient_search_update"} if sqlite
            else {"ix_patient_outlook_name_trigrams", "ix_patient_outlook_mrn_trigrams"})
    assert present() == made
    command.downgrade(alembic_config(db_url), "0009")
    assert present() == set()
    migrate(db_url)
    assert present() == made
