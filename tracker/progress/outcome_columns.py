"""Every patient's outcome kept in columns (numpy arrays), so that a cohort's figures are a few array operations
whatever its size: ``tracker.progress.outcome_store`` keeps one ``OutcomeColumns`` per database and process.

A patient has a slot (row) for as long as the columns live; computing it again overwrites its row. Columns: what
the row was computed from (``stamp``: the patient's outlook stamp in whole milliseconds, -1: no outlook row;
``trusted``: the outlook was current, so the stamp vouches for the row; ``protocol``: the patient's protocol id,
-1: none, which means the default; ``condition``: a code of ``condition_codes``; ``live``: not removed), ``day0``
(ordinal, -1: not treated), ``sessions``, ``adverse`` (sessions with adverse events), per milestone window
(column = window index) ``status`` (``STATUS_CODES``), ``responder`` and ``salt50`` (-1: not judged, 0 no, 1 yes),
``change`` (mean change from baseline by month after day 0, NaN: not measured that month); and the
lots given, one row per (patient, lot) with the patient's slot (rows of a patient computed again are marked dead).

The figures are those of ``tracker.progress.outcome_figures`` (whose docstring defines them); quartiles are
numpy's linear interpolation, ``statistics.quantiles(method="inclusive")``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from tracker.course.milestones import AHEAD, BEHIND, DUE, MISSED, NO_BASELINE, ON_TRACK, UPCOMING, Protocol
from tracker.progress.outcome_figures import (
    RESPONDER_MONTHS,
    Attainment,
    ChangePoint,
    LotOutcome,
    PatientOutcome,
    Responders,
)

STATUS_CODES = {str(s): code for code, s in enumerate((UPCOMING, DUE, MISSED, NO_BASELINE, BEHIND, ON_TRACK, AHEAD),
                                                      start=1)}  # 0: the patient has no such window
_NO = -1
Ints = npt.NDArray[np.int64]


def _flag(value: bool | None) -> int:
    return _NO if value is None else int(value)


class OutcomeColumns:
    """The outcomes of the patients computed so far, one row each (see the module)."""

    def __init__(self) -> None:
        self.slots: dict[int, int] = {}
        self.condition_codes: dict[str, int] = {}
        self.stamp = np.zeros(0, np.int64)
        self.trusted = np.zeros(0, bool)
        self.protocol = np.zeros(0, np.int64)
        self.condition = np.zeros(0, np.int16)
        self.live = np.zeros(0, bool)
        self.day0 = np.zeros(0, np.int64)
        self.sessions = np.zeros(0, np.int64)
        self.adverse = np.zeros(0, np.int64)
        self.status = np.zeros((0, 3), np.int8)
        self.responder = np.zeros((0, 3), np.int8)
        self.salt50 = np.zeros((0, 3), np.int8)
        self.change = np.zeros((0, 16), np.float64)
        self.lot_keys: dict[str, int] = {}
        self.lot_shown: list[str] = []
        # Lot rows (slot, lot, sessions, adverse): packed in ``_lot_table`` (``_lot_alive``: not replaced since),
        # then those appended since (``_pending``); a row is numbered in that order, ``_lot_rows`` gives a slot's.
        # Rows of a patient computed again are only marked dead, so that an edit never repacks the whole table.
        self._lot_table = np.zeros((0, 4), np.int64)
        self._lot_alive = np.zeros(0, bool)
        self._pending: list[tuple[int, int, int, int]] = []
        self._lot_rows: dict[int, list[int]] = {}
        self._dead: set[int] = set()
        self._packed: tuple[Ints, Ints, Ints, Ints] | None = None

    def current(self, patient_id: int, stamp: int) -> bool:
        """Whether the patient's row was computed, live, from a current outlook stamped ``stamp``."""
        slot = self.slots.get(patient_id)
        return slot is not None and bool(self.live[slot] and self.trusted[slot]) and int(self.stamp[slot]) == stamp

    def keep_only(self, patient_ids: set[int]) -> None:
        """Mark every row not of ``patient_ids`` removed (they stay, unread, until computed again)."""
        self.live[:] = False
        slots = [slot for pid, slot in self.slots.items() if pid in patient_ids]
        self.live[slots] = True

    def remove(self, patient_ids: list[int]) -> None:
        """Mark the rows of ``patient_ids`` (those kept) removed."""
        self.live[[self.slots[pid] for pid in patient_ids if pid in self.slots]] = False

    def tally(self) -> tuple[int, int, int, bool]:
        """What ``tracker.progress.outcome_store``'s fingerprint should read if every row is current: the live rows
        with an outlook, the sum of their stamps, the live rows, and whether every live row is trusted."""
        live = self.live[:len(self.slots)]
        stamped = live & (self.stamp[:len(self.slots)] >= 0)
        return (int(stamped.sum()), int(self.stamp[:len(self.slots)][stamped].sum()), int(live.sum()),
                bool(self.trusted[:len(self.slots)][live].all()))

    def nbytes(self) -> int:
        """Bytes held by the arrays and the lot rows (not the ``slots`` dict: about 100 bytes a patient more)."""
        arrays = (self.stamp, self.trusted, self.protocol, self.condition, self.live, self.day0, self.sessions,
                  self.adverse, self.status, self.responder, self.salt50, self.change)
        self._lot_columns()
        return sum(a.nbytes for a in arrays) + self._lot_table.nbytes + self._lot_alive.nbytes

    def _grow(self, rows: int, windows: int, months: int) -> None:
        have, width, span = len(self.day0), self.status.shape[1], self.change.shape[1]
        if rows <= have and windows <= width and months <= span:
            return
        size, width, span = max(rows, 2 * have, 64), max(windows, width), max(months, span)

        def grown(old: npt.NDArray[Any], shape: tuple[int, ...], fill: float) -> npt.NDArray[Any]:
            new = np.full(shape, fill, old.dtype)
            new[tuple(slice(0, n) for n in old.shape)] = old
            return new

        self.day0, self.sessions, self.adverse, self.stamp, self.protocol = (grown(a, (size,), fill) for a, fill in (
            (self.day0, -1), (self.sessions, 0), (self.adverse, 0), (self.stamp, -1), (self.protocol, -1)))
        self.trusted, self.live, self.condition = (grown(a, (size,), 0) for a in (self.trusted, self.live,
                                                                                  self.condition))
        self.status = grown(self.status, (size, width), 0)
        self.responder, self.salt50 = (grown(a, (size, width), _NO) for a in (self.responder, self.salt50))
        self.change = grown(self.change, (size, span), np.nan)

    def put(self, outcome: PatientOutcome, stamp: int, trusted: bool, protocol_id: int | None,
            condition: str) -> None:
        """Write (or overwrite) the patient's live row, computed from an outlook stamped ``stamp`` (ms, -1: none;
        ``trusted``: a current one) for a patient following ``protocol_id`` (None: the default) with ``condition``."""
        slot = self.slots.get(outcome.patient_id)
        if slot is None:
            slot = self.slots[outcome.patient_id] = len(self.slots)
        last_month = max(outcome.change_months, default=0)
        self._grow(len(self.slots), len(outcome.milestones), last_month + 1)
        self.stamp[slot], self.trusted[slot], self.live[slot] = stamp, trusted, True
        self.protocol[slot] = -1 if protocol_id is None else protocol_id
        self.condition[slot] = self.condition_codes.setdefault(condition, len(self.condition_codes))
        self.day0[slot] = outcome.day0.toordinal() if outcome.day0 else -1
        self.sessions[slot], self.adverse[slot] = outcome.sessions, outcome.with_adverse_events
        self.status[slot], self.responder[slot], self.salt50[slot] = 0, _NO, _NO
        for at, m in enumerate(outcome.milestones):
            self.status[slot, at] = STATUS_CODES[m.status]
            self.responder[slot, at], self.salt50[slot, at] = _flag(m.responder), _flag(m.salt50)
        self.change[slot] = np.nan
        if outcome.change_months:
            self.change[slot, list(outcome.change_months)] = outcome.change_values
        self._dead.update(self._lot_rows.pop(slot, ()))
        rows = []
        for use in outcome.lots:
            if not use.key:
                continue  # no lot number recorded
            lot = self.lot_keys.setdefault(use.key, len(self.lot_shown))
            if lot == len(self.lot_shown):
                self.lot_shown.append(use.shown)
            self.lot_shown[lot] = min(self.lot_shown[lot], use.shown)  # one spelling, whatever the order
            rows.append(len(self._lot_table) + len(self._pending))
            self._pending.append((slot, lot, use.sessions, use.with_adverse_events))
        self._lot_rows[slot] = rows
        self._packed = None

    def chosen(self, protocol_id: int, default: bool, condition: str, start: date | None,
               end: date | None) -> tuple[Ints, int]:
        """The slots of the live patients following ``protocol_id`` (``default``: it is the default protocol, which
        patients with none follow too) with ``condition`` ("": any) whose day 0 lies from ``start`` to ``end``
        (None: open), and how many such patients are not treated yet."""
        rows = len(self.slots)
        keep = self.live[:rows] & (self.protocol[:rows] == protocol_id)
        if default:
            keep |= self.live[:rows] & (self.protocol[:rows] == -1)
        if condition:
            keep &= self.condition[:rows] == self.condition_codes.get(condition, -1)
        slots = np.flatnonzero(keep).astype(np.int64)
        day0 = self.day0[slots]
        keep = day0 >= 0
        if start is not None:
            keep &= day0 >= start.toordinal()
        if end is not None:
            keep &= day0 <= end.toordinal()
        return slots[keep], int((day0 < 0).sum())

    def attainment(self, protocol: Protocol, slots: Ints) -> tuple[Attainment, ...]:
        found = []
        for at, window in enumerate(protocol.windows):
            codes = self.status[slots, at] if at < self.status.shape[1] else np.zeros(len(slots), np.int8)
            tally = np.bincount(codes, minlength=len(STATUS_CODES) + 1)
            n = {status: int(tally[code]) for status, code in STATUS_CODES.items()}
            reached = int(tally[1:].sum()) - n[UPCOMING]
            judged = n[AHEAD] + n[ON_TRACK] + n[BEHIND]
            found.append(Attainment(window.name, reached, judged, n[AHEAD], n[ON_TRACK], n[BEHIND], n[NO_BASELINE],
                                    n[DUE], n[MISSED]))
        return tuple(found)

    def responders(self, protocol: Protocol, slots: Ints, month: int) -> Responders:
        at = next((i for i, w in enumerate(protocol.windows) if w.target_month == month), None)
        if at is None or at >= self.responder.shape[1]:
            return Responders(month, None if at is None else protocol.windows[at].name, 0, 0,
                              0 if at is not None and protocol.judged_on_salt else None)
        flags = self.responder[slots, at]
        salt50 = int((self.salt50[slots, at] == 1).sum()) if protocol.judged_on_salt else None
        return Responders(month, protocol.windows[at].name, int((flags >= 0).sum()), int((flags == 1).sum()), salt50)

    def change_over_months(self, slots: Ints) -> tuple[ChangePoint, ...]:
        table = self.change[slots]
        points = []
        for month in range(table.shape[1]):
            values = table[:, month]
            values = values[~np.isnan(values)]
            if len(values):
                q1, median, q3 = (float(v) for v in np.percentile(values, (25, 50, 75)))
                points.append(ChangePoint(month, len(values), median, q1, q3))
        return tuple(points)

    def _lot_columns(self) -> tuple[Ints, Ints, Ints, Ints]:
        if self._packed is None:
            if self._pending:
                self._lot_table = np.vstack((self._lot_table, np.array(self._pending, np.int64).reshape(-1, 4)))
                self._lot_alive = np.concatenate((self._lot_alive, np.ones(len(self._pending), bool)))
                self._pending = []
            self._lot_alive[list(self._dead)] = False
            self._dead = set()
            live = self._lot_table[self._lot_alive]
            self._packed = (live[:, 0], live[:, 1], live[:, 2], live[:, 3])
        return self._packed

    def lot_outcomes(self, protocol: Protocol, slots: Ints) -> tuple[LotOutcome, ...]:
        lot_slot, lot, sessions, adverse = self._lot_columns()
        inside = np.zeros(len(self.day0), bool)
        inside[slots] = True
        mine = inside[lot_slot] if len(lot_slot) else np.zeros(0, bool)
        lot_slot, lot, sessions, adverse = lot_slot[mine], lot[mine], sessions[mine], adverse[mine]
        size = len(self.lot_shown)
        patients = np.bincount(lot, minlength=size)
        by_month: list[tuple[int, Ints, Ints, Ints] | None] = []
        for month in RESPONDER_MONTHS:
            at = next((i for i, w in enumerate(protocol.windows) if w.target_month == month), None)
            if at is None or at >= self.responder.shape[1]:
                by_month.append(None)
                continue
            flags, salt = self.responder[lot_slot, at], self.salt50[lot_slot, at]
            by_month.append((at, np.bincount(lot, flags >= 0, size), np.bincount(lot, flags == 1, size),
                             np.bincount(lot, salt == 1, size)))
        totals = (np.bincount(lot, sessions, size), np.bincount(lot, adverse, size))
        found = []
        for key in np.flatnonzero(patients):
            at_months = [self._lot_responders(protocol, month, given, int(key))
                         for month, given in zip(RESPONDER_MONTHS, by_month, strict=True)]
            found.append(LotOutcome(self.lot_shown[key], int(patients[key]), int(totals[0][key]),
                                    int(totals[1][key]), at_months[0], at_months[1]))
        return tuple(sorted(found, key=lambda lot: (-lot.patients, lot.lot.lower())))

    @staticmethod
    def _lot_responders(protocol: Protocol, month: int, given: tuple[int, Ints, Ints, Ints] | None,
                        key: int) -> Responders:
        if given is None:
            return Responders(month, None, 0, 0, None)
        at, judged, responded, salt50 = given
        return Responders(month, protocol.windows[at].name, int(judged[key]), int(responded[key]),
                          int(salt50[key]) if protocol.judged_on_salt else None)
