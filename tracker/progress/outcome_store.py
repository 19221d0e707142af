"""Every live patient's outcome, kept per process and database while its outlook stamp stands, for
``tracker.progress.outcomes`` (the clinic outcomes page).

The milestone engine costs about half a millisecond a patient with its reads (minutes for a 50,000-patient clinic on a
loaded machine), and its answer for a patient changes only when one of the patient's records changes (the outlook
notices every such write and stamps ``patient_outlook.refreshed_at`` in the same transaction), when a protocol
changes, or on another day. So a ``Store`` (one per database, dropped when the day or a protocol's version changes)
keeps every live patient's outcome in ``OutcomeColumns`` with the stamp it was computed from, and a click:

- reads the outlook's fingerprint (one statement: outlook rows, the sum of their stamps in ms, the oldest engine
  version, live patients); unchanged since the store was last found current: nothing more is read;
- otherwise reads only the outlook rows stamped since the latest stamp it holds (less ``SLACK``, for a transaction
  that stamped before another and committed after it) or not current, runs the engine for those whose stamp moved,
  marks removed patients (read only when the live count dropped), and then checks the columns against the
  fingerprint (same rows, same sum of stamps, same live count). Anything the incremental read could have missed
  (a transaction longer than ``SLACK``, a row changed by hand) fails that check, and the click then reads every live
  patient's stamp (``_resync``: still the engine only for those whose stamp moved). The figures are therefore always
  the engine's, never older than the click.

Filling the store the first time (or after a protocol edit or midnight) runs the engine for everyone. A click never
waits for that when it is more than ``AT_ONCE`` patients: the fill runs on a background thread (started by the
server's start-up, ``tracker.progress.outcome_start``, or by the first click) and the click answers ``Preparing``
(patients done so far, of how many), which the page shows with a progress bar. A smaller clinic is filled within the
click that needs it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import BigInteger, Connection, cast, func, or_, select

from db import models
from tracker.course.milestones import assess
from tracker.database import read_connection, reading
from tracker.progress import outlook
from tracker.progress.outcome_columns import OutcomeColumns
from tracker.progress.outcome_figures import LotUse, patient_outcome

log = logging.getLogger(__name__)

AT_ONCE = 1000  # patients a click may run the engine for itself (about half a second); more: the background fill
SLACK = timedelta(minutes=10)  # how much earlier than the latest stamp held a late-committed stamp is looked for
_BATCH = 500  # patients per engine batch (and per read transaction in the background fill)


@dataclass(frozen=True)
class Preparing:
    """The store is being filled in the background: ``done`` of ``total`` patients computed so far."""

    done: int
    total: int


class Store:
    """One database's outcomes on ``today`` with the protocols at ``protocols`` ((id, version) pairs).
    ``columns``: None until filled; ``fingerprint``: the outlook's when the columns were last found current (None:
    check again); ``filling``: the background fill's progress while it runs; ``lock``: one click at a time."""

    def __init__(self, today: date, protocols: frozenset[tuple[int, int]]) -> None:
        self.today, self.protocols = today, protocols
        self.columns: OutcomeColumns | None = None
        self.fingerprint: tuple[Any, ...] | None = None
        self.seen: Any = None  # the latest outlook stamp read (a datetime)
        self.filling: Preparing | None = None
        self.lock = threading.Lock()


_STORES: dict[str, Store] = {}
_STORES_LOCK = threading.Lock()


def store_for(url: str, protocols: frozenset[tuple[int, int]], today: date) -> Store:
    """This process's store for the database at ``url``, a new empty one when the day or a protocol changed."""
    with _STORES_LOCK:
        store = _STORES.get(url)
        if store is None or store.today != today or store.protocols != protocols:
            store = _STORES[url] = Store(today, protocols)
        return store


@contextmanager
def synced(connection: Connection, url: str, protocols: frozenset[tuple[int, int]],
           today: date) -> Iterator[OutcomeColumns | Preparing]:
    """The columns of the database at ``url``, brought up to the outlook as ``connection`` reads it, held by this
    click until it is done with them; or ``Preparing`` while the background fill runs (started here if needed)."""
    store = store_for(url, protocols, today)
    if store.filling is not None:
        yield store.filling
        return
    with store.lock:
        if store.columns is None:
            live = connection.execute(_LIVE_COUNT).scalar_one()
            if live > AT_ONCE:
                fill_in_background(store, url)
                yield store.filling or Preparing(0, live)
                return
            store.columns = OutcomeColumns()
            _resync(store, store.columns, lambda: nullcontext(connection))
        else:
            _catch_up(store, store.columns, connection)
        yield store.columns


def fill_in_background(store: Store, url: str) -> None:
    """Start filling ``store`` on a daemon thread, unless it is filled or being filled."""
    if store.columns is not None or store.filling is not None:
        return
    store.filling = Preparing(0, 0)
    threading.Thread(target=_fill, args=(store, url), name="outcomes-fill", daemon=True).start()


def fill(store: Store, url: str) -> None:
    """Fill ``store`` now, each batch in a read transaction of its own (what the background thread runs)."""

    def batch_reads() -> AbstractContextManager[Connection]:
        return _read_connection(url)

    columns = OutcomeColumns()
    _resync(store, columns, batch_reads, lambda done, total: setattr(store, "filling", Preparing(done, total)))
    with store.lock:
        store.columns = columns


def _fill(store: Store, url: str) -> None:
    try:
        fill(store, url)
    except Exception:  # a click starts it again; the log keeps why
        log.exception("clinic outcomes: the background fill failed")
    finally:
        store.filling = None


@contextmanager
def _read_connection(url: str) -> Iterator[Connection]:
    with reading(url) as session:
        yield read_connection(session)


# --- reads --------------------------------------------------------------------------------------------------

_P, _O = models.Patient, outlook.OUTLOOK.c
_LIVE_COUNT = select(func.count()).select_from(_P).where(_P.deleted_at.is_(None))


def _stamp_ms(connection: Connection) -> Any:
    """The outlook stamp in whole milliseconds, the same on both databases' reads."""
    if connection.dialect.name == "postgresql":
        return cast(func.extract("epoch", _O.refreshed_at) * 1000, BigInteger)
    # SQLite keeps the stamp as text: days since 2023-02-24 (julian day 2460000.5), in milliseconds
    return cast((func.julianday(_O.refreshed_at) - 2460000.5) * 86_400_000, BigInteger)


def _fingerprint(connection: Connection) -> tuple[Any, ...]:
    """Outlook rows, the sum of their stamps in ms (a sum, not the latest: a stamp committed late still changes
    it), the oldest engine version, live patients."""
    live = _LIVE_COUNT.scalar_subquery()
    return tuple(connection.execute(select(func.count(), func.coalesce(func.sum(_stamp_ms(connection)), 0),
                                           func.min(_O.engine_version), live)
                                    .select_from(outlook.OUTLOOK)).one())


def _patients(connection: Connection) -> Any:
    """Live patients with their protocol, condition and outlook (missing: None) as the columns keep them."""
    return (select(_P.id, _P.protocol_id, _P.condition, _O.refreshed_at, _stamp_ms(connection).label("ms"),
                   _O.engine_version)
            .select_from(_P).outerjoin(outlook.OUTLOOK, _O.patient_id == _P.id).where(_P.deleted_at.is_(None)))


def _verified(store: Store, columns: OutcomeColumns, fingerprint: tuple[Any, ...]) -> bool:
    """Whether the columns hold exactly what the fingerprint counts, every row current; if so, remember it so that
    the next click with the same fingerprint reads nothing more."""
    rows, total, live, trusted = columns.tally()
    count, stamps, _oldest, live_now = fingerprint
    current = (rows, total, live) == (count, int(stamps), live_now) and trusted
    store.fingerprint = fingerprint if current else None
    return current


# --- bringing the columns up to the outlook ------------------------------------------------------------------

def _catch_up(store: Store, columns: OutcomeColumns, connection: Connection) -> None:
    """Compute the patients whose outlook moved since the columns were current (see the module)."""
    fingerprint = _fingerprint(connection)  # read first: rows read after it are at least as new
    if fingerprint == store.fingerprint:
        return
    if store.seen is None:  # no outlook row was read yet: nothing to start from
        _resync(store, columns, lambda: nullcontext(connection))
        return
    query = _patients(connection).where(or_(_O.refreshed_at > store.seen - SLACK,
                                            _O.engine_version != outlook.ENGINE_VERSION))
    rows = list(connection.execute(query))
    if fingerprint[0] < fingerprint[3]:  # live patients without an outlook row: the engine each time
        rows += connection.execute(_patients(connection).where(_O.patient_id.is_(None)))
    _compute(store, columns, rows, lambda: nullcontext(connection))
    if columns.tally()[2] > fingerprint[3]:  # fewer live patients than kept: some were removed
        columns.remove(list(connection.scalars(select(_P.id).where(_P.deleted_at.is_not(None)))))
    if not _verified(store, columns, fingerprint):
        _resync(store, columns, lambda: nullcontext(connection))


def _resync(store: Store, columns: OutcomeColumns, reads: Callable[[], AbstractContextManager[Connection]],
            progress: Callable[[int, int], None] | None = None) -> None:
    """Read every live patient's stamp, drop the removed, compute those whose stamp moved."""
    with reads() as connection:
        fingerprint = _fingerprint(connection)
        rows = list(connection.execute(_patients(connection)))
    columns.keep_only({row.id for row in rows})
    _compute(store, columns, rows, reads, progress)
    _verified(store, columns, fingerprint)


def _compute(store: Store, columns: OutcomeColumns, rows: list[Any],
             reads: Callable[[], AbstractContextManager[Connection]],
             progress: Callable[[int, int], None] | None = None) -> None:
    """Run the engine on the store's day for the patients of ``rows`` whose kept row is not current."""
    stamps = [row.refreshed_at for row in rows if row.refreshed_at is not None]
    if stamps:
        store.seen = max(stamps) if store.seen is None else max(store.seen, *stamps)
    stale = {row.id: row for row in rows if row.engine_version != outlook.ENGINE_VERSION
             or not columns.current(row.id, row.ms)}
    ids = list(stale)
    for at in range(0, len(ids), _BATCH):
        with reads() as connection:
            for outcome in _computed(connection, ids[at:at + _BATCH], store.today):
                row = stale[outcome.patient_id]
                columns.put(outcome, -1 if row.ms is None else row.ms,
                            row.engine_version == outlook.ENGINE_VERSION, row.protocol_id, row.condition)
        if progress is not None:
            progress(min(at + _BATCH, len(ids)), len(ids))


def _computed(connection: Connection, patient_ids: list[int], today: date) -> Iterator[Any]:
    """Run the engine on ``today`` for ``patient_ids``, with their sessions' lots and adverse events."""
    records = outlook.load_records(connection, patient_ids)
    uses = _session_uses(connection, patient_ids, today)
    for pid, one in records.items():
        progress = assess(one.sessions, one.series, one.protocol, today)
        sessions, adverse, lots = uses.get(pid, (0, 0, ()))
        yield patient_outcome(pid, progress, one.protocol, sessions, adverse, lots)


def _session_uses(connection: Connection, patient_ids: list[int],
                  today: date) -> dict[int, tuple[int, int, tuple[LotUse, ...]]]:
    """Per patient: live sessions up to ``today``, those with adverse events recorded, and the lots given."""
    S = models.TreatmentSession
    has_adverse = (S.adverse_events.is_not(None)) & (func.trim(S.adverse_events) != "")
    counts: dict[int, dict[str, list[Any]]] = {}
    for pid, lot, adverse in connection.execute(
            select(S.patient_id, S.lot_number, has_adverse)
            .where(S.patient_id.in_(patient_ids), S.deleted_at.is_(None), S.date <= today)
            .order_by(S.patient_id, S.date, S.id)):
        text = (lot or "").strip()
        entry = counts.setdefault(pid, {}).setdefault(text.lower(), [text, 0, 0])
        entry[1] += 1
        entry[2] += 1 if adverse else 0
    found = {}
    for pid, lots in counts.items():
        uses = tuple(LotUse(key, shown, n, ae) for key, (shown, n, ae) in lots.items())
        found[pid] = (sum(u.sessions for u in uses), sum(u.with_adverse_events for u in uses), uses)
    return found
