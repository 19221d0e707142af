"""A generated clinic of N fictional patients for the whole-clinic benchmarks (issue #13), written with
SQLAlchemy Core bulk inserts (executemany, a few thousand rows a statement) into a database migrated by
``tracker.database.initialize`` (``db.engine.migrate`` plus the seeded protocols).

Proportions are those measured on the issue's clinic: per patient about 9.2 visits, two density measurements a
visit ("vertex" and "frontal", 60–250 hairs/cm² at baseline), about 2 treatment sessions (exosome or PRP, from
a few dozen lots), some concurrent therapies, a stage on Norwood or Ludwig at the first and latest visit, and
5 audit entries (one chain, hashed in order as ``tracker.access.audit`` does). Plus 5 accounts (``ACCOUNTS``).

Dates are spread around ``TODAY`` (2026-11-30) so that on that day patients are in every state the lists know:
not treated yet, treated but never measured, milestone window open, target date soon, overdue, behind, every
milestone assessed, repeat-session window open. Densities follow the default protocol's band
(``tracker.course.clinical.DEFAULT_BAND``): ahead of it, on track, behind it by more than the 10% noise.
Everything comes from one seed: patient ``i`` is the same in every size (a 2,000 clinic is the first 2,000 of the
50,000 one).

Generated clinics are cached: SQLite files under ``bench-data/`` (git-ignored), PostgreSQL one database per size
(``bench_50000``…) on the server of the given URL; the key (size, ``GENERATOR_VERSION``, migration head and
the outlook's version) is in the file name, or the database's comment. Run:

    python tests/bench/generate_clinic.py --patients 50000 [--url sqlite:///path.db | postgresql://…] [--force]

Without ``--url`` it makes (or finds) the cached SQLite clinic and prints its URL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
BENCH_DATA = ROOT / "bench-data"
os.environ.setdefault("TRACKER_DATA_DIR", str(BENCH_DATA / "data"))  # anchors and keys of create_user's entries

from sqlalchemy import create_engine, insert, select, text  # noqa: E402 (after the sys.path line)
from sqlalchemy.engine import Connection, make_url  # noqa: E402 (after the sys.path line)

from db import models  # noqa: E402 (after the sys.path line)
from db.engine import dispose_all, engine_for, normalize_url  # noqa: E402 (after the sys.path line)
from tracker.access.accounts import create_user  # noqa: E402 (after the sys.path line)
from tracker.access.actors import command_line_actor  # noqa: E402 (after the sys.path line)
from tracker.access.audit import GENESIS, _entry_hash  # noqa: E402 (after the sys.path line)
from tracker.course.calendar_months import add_months  # noqa: E402 (after the sys.path line)
from tracker.course.clinical import (  # noqa: E402 (after the sys.path line)
    DEFAULT_BAND,
    DEFAULT_NOISE_PCT,
    DEFAULT_PROTOCOL_NAME,
    DEFAULT_WINDOWS,
    LUDWIG_STAGES,
    NORWOOD_STAGES,
)
from tracker.database import initialize, keep_planner_statistics  # noqa: E402 (after the sys.path line)

# Bump when the generated rows change: cached clinics of another version are made again.
GENERATOR_VERSION = 1
SEED = 13
TODAY = date(2026, 11, 30)
CHUNK_PATIENTS = 1000  # patients generated and inserted at a time (~9,000 visits, ~18,000 measurements)
SITES = ("vertex", "frontal")
ACCOUNT_PASSWORD = "bench-clinic-password-13"
# (role, username): the browser bench signs in as the first clinician.
ACCOUNTS = (("admin", "bench.admin"), ("clinician", "dr.almeida"), ("clinician", "dr.brennan"),
            ("clinician", "dr.chen"), ("clinician", "dr.dubois"))
AUDIT_PER_PATIENT = 5

FIRST_NAMES = ("Ana", "Ben", "Chloé", "Dmitri", "Élodie", "Farid", "Grace", "Hiroshi", "Inès", "Jonas", "Kemal",
               "Laura", "Mateo", "Nadia", "Olek", "Priya", "Quentin", "Rosa", "Søren", "Tamsin", "Umar", "Vera",
               "Wei", "Ximena", "Yusuf", "Zoë", "Amara", "Bruno", "Camille", "Dara", "Emil", "Fatou", "Gustav",
               "Hana", "Ivo", "Jana", "Kofi", "Lena", "Marek", "Noor")
LAST_NAMES = ("Almeida", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova", "Jensen",
              "Kowalski", "López", "Müller", "Nakamura", "O'Brien", "Petrović", "Quinn", "Rossi", "Schmidt",
              "Tanaka", "Ulrich", "Vogel", "Wójcik", "Xu", "Yilmaz", "Zimmermann", "Andersson", "Brown", "Chen",
              "Dimitriou", "Evans", "Ferreira", "Gonçalves", "Hoffmann", "Ibrahim", "Johansson", "Kim", "Larsen",
              "Martin", "Novak", "Okafor", "Papadopoulos", "Rahman", "Silva", "Thompson", "Urbano", "Virtanen",
              "Weber", "Yamamoto", "Zhang", "Ní Bhriain", "de la Cruz", "van Dijk", "Łukasik", "Öztürk")
THERAPIES = (("Minoxidil 5% foam", "1 ml twice daily"), ("Finasteride", "1 mg daily"), ("Biotin", "5 mg daily"),
             ("Spironolactone", "100 mg daily"), ("Ketoconazole 2% shampoo", "twice weekly"))
# A few dozen lots: each product's lots follow one another every ~2 months from early 2024.
PRODUCTS = {"exosome": ("ExoRegen 10B", "Dermaxo HRLV"), "prp": ("PlateletKit A", "RegenPRP Tube")}
LOT_START = date(2024, 1, 1)
LOT_DAYS = 61
# Months after day 0 of the visits between milestone windows (DEFAULT_WINDOWS: 2–3, 5–7, 11–13 months).
INTERIM_MONTHS = (1, 4, 8, 9, 10, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 28, 30, 32, 34)
# How each patient responds: ahead of the band, on track, behind it (by more than the noise), with weights.
RESPONSES = (("ahead", 0.2), ("on_track", 0.55), ("behind", 0.25))


def band_at(months: float) -> tuple[float, float]:
    """The default protocol's expected change (low, high) in hairs/cm² at ``months`` after day 0, interpolated
    linearly between its points and held beyond the last one (as ``tracker.course.milestones`` does)."""
    points = DEFAULT_BAND
    if months <= points[0].month:
        return points[0].low, points[0].high
    for before, after in zip(points, points[1:], strict=False):
        if months <= after.month:
            share = (months - before.month) / (after.month - before.month)
            return (before.low + share * (after.low - before.low), before.high + share * (after.high - before.high))
    return points[-1].low, points[-1].high


def lot_for(treatment: str, product_index: int, day: date) -> str:
    period = max(0, (day - LOT_START).days // LOT_DAYS)
    prefix = "EX" if treatment == "exosome" else "PR"
    return f"{prefix}{product_index + 1}-{LOT_START.year + period // 6}-{period % 6 + 1:02d}"


class Ids:
    """Next primary keys of the tables the generator writes (explicit keys: rows refer to one another)."""

    def __init__(self) -> None:
        self.visit = self.measurement = self.session = self.therapy = self.scale = 0

    def next(self, table: str) -> int:
        value = getattr(self, table) + 1
        setattr(self, table, value)
        return value


def patient_rows(index: int, protocol_id: int, ids: Ids, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Append patient ``index``'s rows (patient, sessions, therapies, visits, measurements, scale scores) to
    ``rows``, by table name."""
    rng = random.Random(SEED * 1_000_003 + index)
    sex = rng.choices(("male", "female", "other", "unknown"), (55, 42, 2, 1))[0]
    condition = rng.choices(("androgenetic_alopecia", "telogen_effluvium", "other", "alopecia_areata"),
                            (88, 7, 3, 2))[0]
    rows["patient"].append(dict(
        id=index, mrn=f"RT{index:06d}", full_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        sex=sex, birth_date=date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50)), condition=condition,
        baseline_scale="ludwig" if sex == "female" else "norwood", protocol_id=protocol_id,
        created_at=datetime(2024, 1, 1, 9, tzinfo=UTC), created_by="cli:bench", version=1))
    kind = rng.choices(("not_treated", "unmeasured", "course"), (5, 4, 91))[0]
    # Day 0: the first session. Not treated yet: none (their baseline visit is recent).
    day0 = TODAY - timedelta(days=rng.randrange(0, 1000)) if kind != "not_treated" else None
    session_rows(rng, index, day0, ids, rows)
    first_seen = day0 or TODAY - timedelta(days=rng.randrange(0, 60))
    for _ in range(rng.choices((0, 1, 2), (55, 35, 10))[0]):
        name, dose = rng.choice(THERAPIES)
        start = first_seen - timedelta(days=rng.randrange(30, 400))
        stop = start + timedelta(days=rng.randrange(60, 500)) if rng.random() < 0.3 else None
        rows["concurrent_therapy"].append(dict(
            id=ids.next("therapy"), patient_id=index, name=name, dose=dose, start=start,
            stop=stop if stop is None or stop <= TODAY else None, created_by="dr.almeida", version=1))
    if kind == "not_treated":
        visit_days = sorted({first_seen, *([first_seen - timedelta(days=rng.randrange(30, 120))]
                                           if rng.random() < 0.3 else [])})
    else:  # treated but never measured: no visit
        visit_days = course_visits(rng, day0) if kind == "course" and day0 is not None else []
    visit_rows(rng, index, sex, day0, visit_days, ids, rows)


def session_rows(rng: random.Random, index: int, day0: date | None, ids: Ids,
                 rows: dict[str, list[dict[str, Any]]]) -> None:
    """Day 0's session, then a repeat 3–6 months later for most (about 2 sessions a patient in all)."""
    sessions: list[date] = []
    if day0 is not None:
        sessions.append(day0)
        while len(sessions) < 3 and rng.random() < (0.9 if len(sessions) == 1 else 0.35):
            following = sessions[-1] + timedelta(days=rng.randrange(90, 185))  # repeat at 3–6 months
            if following > TODAY:
                break
            sessions.append(following)
    for day in sessions:
        treatment = rng.choices(("exosome", "prp"), (7, 3))[0]
        product_index = rng.randrange(2)
        rows["treatment_session"].append(dict(
            id=ids.next("session"), patient_id=index, date=day, treatment=treatment,
            product=PRODUCTS[treatment][product_index], lot_number=lot_for(treatment, product_index, day),
            volume_ml=rng.choice((2.0, 3.0, 4.0)), areas="vertex, frontal", created_by="dr.almeida", version=1))


def course_visits(rng: random.Random, day0: date) -> list[date]:
    """A treated patient's visit days up to ``TODAY``: a baseline on or before day 0, a visit in each milestone
    window the patient keeps (about 4 in 5; a window nobody keeps is what makes "overdue"), and visits between
    the windows."""
    visit_days = [day0 - timedelta(days=rng.choice((0, 0, 0, 7, 14)))]
    for window in DEFAULT_WINDOWS:
        if rng.random() < 0.82:
            start, end = add_months(day0, window.start_month), add_months(day0, window.end_month)
            day = min(max(add_months(day0, window.target_month) + timedelta(days=rng.randrange(-20, 21)), start), end)
            if day <= TODAY:
                visit_days.append(day)
    for months in INTERIM_MONTHS:
        day = add_months(day0, months) + timedelta(days=rng.randrange(-6, 7))
        if day <= TODAY and rng.random() < 0.75:
            visit_days.append(day)
    return sorted(set(visit_days))


def density_at(rng: random.Random, baseline: float, months: float, response: str, repeat: bool) -> float:
    """A site's density (hairs/cm²) ``months`` after day 0: the baseline before day 0 (give or take 3 on a
    repeated measurement), after it the baseline plus a change ahead of, within or behind the default band by
    more than the 10% noise."""
    if months <= 0:
        return baseline + (rng.uniform(-3, 3) if repeat else 0)
    low, high = band_at(months)
    noise = baseline * DEFAULT_NOISE_PCT / 100
    change = {"ahead": high + noise + rng.uniform(3, 15),
              "on_track": low + rng.uniform(0.15, 0.85) * (high - low),
              "behind": low - noise - rng.uniform(3, 15)}[response]
    return baseline + change


def visit_rows(rng: random.Random, index: int, sex: str, day0: date | None, visit_days: list[date], ids: Ids,
               rows: dict[str, list[dict[str, Any]]]) -> None:
    """The visits on ``visit_days``, each with both sites measured, and a stage at the first and the latest."""
    response = rng.choices([r for r, _ in RESPONSES], [w for _, w in RESPONSES])[0]
    baselines = {"vertex": rng.uniform(60, 180), "frontal": rng.uniform(90, 250)}
    scale = "ludwig" if sex == "female" else "norwood"
    stage = rng.choice(LUDWIG_STAGES if scale == "ludwig" else NORWOOD_STAGES[1:8])
    for number, day in enumerate(visit_days):
        visit_id = ids.next("visit")
        months = (day - day0).days / 30.4375 if day0 else -1.0
        rows["visit"].append(dict(
            id=visit_id, patient_id=index, date=day, created_by="dr.almeida", version=1,
            global_assessment=rng.randrange(-1, 4) if months > 2 and rng.random() < 0.3 else None,
            satisfaction=rng.randrange(3, 11) if months > 2 and rng.random() < 0.3 else None))
        for site in SITES:
            density = density_at(rng, baselines[site], months, response, repeat=number > 0)
            rows["density_measurement"].append(dict(
                id=ids.next("measurement"), visit_id=visit_id, site=site,
                density_per_cm2=round(min(max(density, 20.0), 600.0), 1),
                shaft_diameter_um=round(rng.uniform(50, 90), 1), created_by="dr.almeida", version=1))
        if number in (0, len(visit_days) - 1):
            rows["scale_score"].append(dict(id=ids.next("scale"), visit_id=visit_id, scale=scale, stage=stage,
                                            created_by="dr.almeida", version=1))


def audit_rows(patients: int) -> Iterator[list[dict[str, Any]]]:
    """The audit trail in chunks: ``AUDIT_PER_PATIENT`` entries per patient in time order from 2024 to ``TODAY``,
    the first of each patient its creation, chained by ``tracker.access.audit._entry_hash`` in id order."""
    rng = random.Random(SEED)
    order = [patient for patient in range(1, patients + 1) for _ in range(AUDIT_PER_PATIENT)]
    rng.shuffle(order)
    start = datetime(2024, 1, 1, 8, tzinfo=UTC)
    step = (datetime.combine(TODAY, datetime.min.time(), UTC) - start) / len(order)
    seen: set[int] = set()
    previous = GENESIS
    chunk: list[dict[str, Any]] = []
    clinicians = [name for role, name in ACCOUNTS if role == "clinician"]
    for number, patient_id in enumerate(order, start=1):
        at = start + step * number
        if patient_id in seen:
            action, detail = rng.choices((("view", "progress page"), ("update", "visit recorded"),
                                          ("report", "progress report PDF")), (75, 15, 10))[0]
        else:
            action, detail = "create", f"patient RT{patient_id:06d}"
            seen.add(patient_id)
        username = rng.choice(clinicians)
        address = f"10.0.0.{rng.randrange(2, 40)}"
        entry_hash = _entry_hash(previous, at, username, "clinician", patient_id, action, detail, address)
        chunk.append(dict(id=number, at=at, username=username, role="clinician", patient_id=patient_id,
                          action=action, detail=detail, address=address, previous_hash=previous,
                          entry_hash=entry_hash))
        previous = entry_hash
        if len(chunk) >= 5000:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


TABLES = ("patient", "treatment_session", "concurrent_therapy", "visit", "density_measurement", "scale_score")


def write_clinic(url: str, patients: int) -> None:
    """Migrate the empty database at ``url`` and fill it with ``patients`` patients, their audit trail, the
    accounts and (once ``tracker.progress.outlook`` exists) the outlook."""
    initialize(url)
    engine = engine_for(url)
    with engine.begin() as connection:
        protocol_id = connection.scalar(select(models.Protocol.id).where(models.Protocol.name == DEFAULT_PROTOCOL_NAME))
        assert protocol_id is not None, "initialize seeds the default protocol"
        ids = Ids()
        for first in range(1, patients + 1, CHUNK_PATIENTS):
            rows: dict[str, list[dict[str, Any]]] = {table: [] for table in TABLES}
            for index in range(first, min(first + CHUNK_PATIENTS, patients + 1)):
                patient_rows(index, protocol_id, ids, rows)
            for table in TABLES:  # parents first (foreign keys)
                if rows[table]:
                    connection.execute(insert(models.Base.metadata.tables[table]), rows[table])
        for chunk in audit_rows(patients):
            connection.execute(insert(models.Base.metadata.tables["audit_entry"]), chunk)
        if connection.dialect.name == "postgresql":
            set_sequences(connection)
    actor = command_line_actor("bench")
    for role, username in ACCOUNTS:  # through the service: the password hash and audit entry it writes
        create_user(actor, username=username, password=ACCOUNT_PASSWORD, role=role, url=url)
    rebuild_outlook(url)
    keep_planner_statistics(url)  # SQLite, as the app's start-up does
    if engine.dialect.name == "postgresql":
        # Fresh statistics and visibility map, as autovacuum leaves them some time after a bulk load: without
        # statistics the planner guesses (160 ms for a 2,000-patient query), and without the visibility map the
        # lists' counts cannot be answered from their indexes alone (the schedule: 123 ms at 50,000, 45 after).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE)"))


def set_sequences(connection: Connection) -> None:
    """PostgreSQL: move each serial past the explicit keys written, so that the app's own inserts do not collide."""
    for table in (*TABLES, "audit_entry"):
        connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"))


def outlook_module() -> Any:
    """``tracker.progress.outlook`` once the integrator's work is merged, else None."""
    try:
        from tracker.progress import outlook  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return None
    return outlook


def rebuild_outlook(url: str) -> None:
    outlook = outlook_module()
    if outlook is None:
        print("  (no tracker.progress.outlook yet: the outlook table is left empty)")
        return
    started = time.perf_counter()
    outlook.rebuild(url)
    print(f"  outlook rebuilt in {time.perf_counter() - started:.1f} s")


def cache_key(patients: int) -> str:
    """What a cached clinic must match: size, generator, migration head and the outlook's version."""
    from alembic.script import ScriptDirectory

    from db.engine import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    outlook = outlook_module()
    outlook_version = getattr(outlook, "ENGINE_VERSION", "x") if outlook is not None else "none"
    return f"{patients}-g{GENERATOR_VERSION}-m{head}-o{outlook_version}"


def sqlite_clinic(patients: int, force: bool = False) -> str:
    """The URL of the cached SQLite clinic of ``patients`` patients, generated first when missing."""
    path = BENCH_DATA / f"clinic-{cache_key(patients)}.sqlite"
    if path.exists() and not force:
        return f"sqlite:///{path}"
    BENCH_DATA.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    generate(f"sqlite:///{partial}", patients)
    dispose_all()
    with closing(sqlite3.connect(partial)) as connection:  # one file to move: the WAL folded in
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # The clinic it replaces (--force) may have left its WAL beside it (a bench process that ended without closing
    # its connections): SQLite would apply that WAL to the new file and find it corrupt.
    for sidecar in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        sidecar.unlink(missing_ok=True)
    os.replace(partial, path)
    return f"sqlite:///{path}"


def postgres_clinic(server_url: str, patients: int, force: bool = False) -> str:
    """The URL of database ``bench_<patients>`` on ``server_url``'s server, generated first unless its comment
    holds the current cache key."""
    name, key = f"bench_{patients}", cache_key(patients)
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as connection:
            comment = connection.scalar(text(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :name"),
                {"name": name})
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            target = make_url(normalize_url(server_url)).set(database=name).render_as_string(hide_password=False)
            if exists and comment == key and not force:
                return target
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        generate(target, patients)
        with admin.connect() as connection:
            connection.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{key}'"))
        return target
    finally:
        admin.dispose()


def generate(url: str, patients: int) -> None:
    started = time.perf_counter()
    print(f"generating {patients} patients into {make_url(normalize_url(url)).render_as_string()} …", flush=True)
    write_clinic(url, patients)
    engine = engine_for(url)
    with engine.connect() as connection:
        counts = {table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
                  for table in ("patient", "visit", "density_measurement", "treatment_session", "audit_entry")}
    print(f"  done in {time.perf_counter() - started:.1f} s: {json.dumps(counts)}", flush=True)


def clinic(patients: int, url: str | None = None, force: bool = False) -> str:
    """The URL of a clinic of ``patients`` patients: the cached SQLite one, or on ``url`` (a SQLite file is
    written there; a PostgreSQL URL names the server, whose ``bench_<patients>`` database holds it)."""
    if url is None:
        return sqlite_clinic(patients, force)
    if normalize_url(url).startswith("postgresql"):
        return postgres_clinic(url, patients, force)
    path = Path(make_url(url).database or "")
    if path.exists():
        if not force:
            raise SystemExit(f"{path} exists: give --force to replace it, or another path.")
        path.unlink()
    generate(url, patients)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--url", help="a SQLite file URL or a PostgreSQL server URL (default: bench-data/ cache)")
    parser.add_argument("--force", action="store_true", help="generate again even when a cached clinic matches")
    args = parser.parse_args()
    if args.patients < 1:
        parser.error("--patients must be at least 1")
    url = clinic(args.patients, args.url, args.force)
    print(f"clinic of {args.patients} patients: {make_url(normalize_url(url)).render_as_string()}")


if __name__ == "__main__":
    main()
