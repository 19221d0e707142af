"""The clinic outcomes as tables: what the outcomes page shows, and the XLSX workbook of exactly those tables.

``outcome_tables`` is the one place that turns ``ClinicOutcomes`` into rows of words and figures; the page draws
these tables as they are and ``outcomes_xlsx`` writes the same tables, one sheet each, so the workbook holds
exactly what the page shows. Every text cell passes ``tracker.safe_csv.spreadsheet_safe`` (a protocol or lot
named ``=cmd`` is shown, never run). Shares are percentages rounded to 1 decimal, changes to 1 decimal.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.clinic_dates import show_date
from tracker.course.vocabulary import STATUS_WORDS, MilestoneStatus, milestone_words
from tracker.database import transaction
from tracker.progress.outcome_figures import Responders
from tracker.progress.outcomes import ClinicOutcomes
from tracker.safe_csv import spreadsheet_safe

Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    """One table: ``title`` (the sheet's name), ``columns`` and ``rows`` (one cell per column)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _pct(share: float | None) -> float | None:
    """A fraction 0–1 as a percentage with 1 decimal (None stays None: nothing to divide)."""
    return None if share is None else round(share * 100, 1)


def _one(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _responders_row(r: Responders, judged_on_salt: bool) -> tuple[Cell, ...]:
    milestone = milestone_words(r.milestone) if r.milestone else "no milestone targets this month"
    row: tuple[Cell, ...] = (f"{r.month} months", milestone, r.judged, r.responders, _pct(r.share))
    return (*row, r.salt50) if judged_on_salt else row


def outcome_tables(found: ClinicOutcomes) -> tuple[Table, ...]:
    """The page's tables, in the page's order: summary, milestone attainment, responders, change over months,
    lots."""
    unit = found.change_unit
    summary = Table("Summary", ("Figure", "Value"), (
        ("Filters", found.described()),
        ("As of", show_date(found.today)),
        ("Patients (day 0 in range)", found.patients),
        ("Patients not treated yet (any date)", found.untreated),
        ("Sessions", found.sessions),
        ("Sessions with adverse events", found.with_adverse_events),
        ("Adverse events per 100 sessions", _one(found.adverse_per_100)),
        ("Change measured in", unit),
    ))
    judged = [STATUS_WORDS[s].label for s in (MilestoneStatus.AHEAD, MilestoneStatus.ON_TRACK, MilestoneStatus.BEHIND)]
    attainment = Table("Milestones", (
        "Milestone", "Window opened", "Judged", "Judged %", *judged, *(f"{label} %" for label in judged),
        *(STATUS_WORDS[s].label for s in (MilestoneStatus.NO_BASELINE, MilestoneStatus.DUE, MilestoneStatus.MISSED))),
        tuple(
        (milestone_words(a.name), a.reached, a.judged, _pct(a.judged_share), a.ahead, a.on_track, a.behind,
         _pct(a.share("ahead")), _pct(a.share("on_track")), _pct(a.share("behind")), a.no_baseline, a.due, a.missed)
        for a in found.attainment))
    salt = found.judged_on_salt
    responder_columns = ("At", "Milestone", "Judged", "Responders (SALT ≤ 20)" if salt else "Responders",
                         "Responders %") + (("SALT50",) if salt else ())
    responders = Table("Responders", responder_columns,
                       tuple(_responders_row(r, found.judged_on_salt) for r in found.responders))
    change = Table("Change", ("Month", "Patients", f"Median ({unit})", "Lower quartile", "Upper quartile"), tuple(
        (p.month, p.patients, _one(p.median), _one(p.q1), _one(p.q3)) for p in found.change))
    lots = Table("Lots", ("Lot", "Patients", "Sessions", "Sessions with adverse events", "Judged at 6 months",
                          "Responders at 6 months", "Judged at 12 months", "Responders at 12 months"), tuple(
        (lot.lot, lot.patients, lot.sessions, lot.with_adverse_events, lot.at_6.judged, lot.at_6.responders,
         lot.at_12.judged, lot.at_12.responders) for lot in found.lots))
    return summary, attainment, responders, change, lots


def outcomes_xlsx(actor: Actor | None, tables: Sequence[Table], url: str | None = None) -> bytes:
    """The tables as an .xlsx workbook, one sheet per table, for staff; the download is audited as an export
    (the tables hold counts and lot numbers, no patient). Raises PermissionDenied for anyone else."""
    require_role(actor, *STAFF)
    with transaction(url) as session:
        audit.record(session, actor, "export", detail=f"clinic outcomes XLSX: {', '.join(t.title for t in tables)}")
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]  # a new workbook always has its first sheet
    for table in tables:
        sheet = book.create_sheet(table.title)
        columns = list(table.columns)
        sheet.append([spreadsheet_safe(c) for c in columns])
        for row in table.rows:
            sheet.append([spreadsheet_safe(cell) for cell in row])
        for at, column in enumerate(columns, start=1):
            widest = max([len(str(column))] + [len(str(row[at - 1] or "")) for row in table.rows])
            sheet.column_dimensions[get_column_letter(at)].width = min(60, widest + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_file_name(found: ClinicOutcomes) -> str:
    """``outcomes_<today>.xlsx``."""
    return f"outcomes_{found.today.isoformat()}.xlsx"
