"""Correcting a density measurement in place (``correct_measurement``, staff only): density, shaft diameter,
terminal % and anagen % of one site at one visit, or the site itself.

The values are read with the visit form's own parsers and limits (a decimal comma is a decimal separator);
each changed field keeps its previous value with the reason (``tracker.records.history``), and the result
carries the milestone judgement after the correction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.scales import parse_percentage
from tracker.database import transaction
from tracker.records.history import clean_reason, reason_problems, refuse
from tracker.records.plausibility import density_warnings
from tracker.records.recorded_visits import recorded_densities
from tracker.records.row_corrections import (
    Correction,
    ask_unless_acknowledged,
    differences,
    judged,
    keep_changes,
    open_row,
    parse_fields,
    progress_now,
)
from tracker.records.visit_form import parse_shaft_diameter
from tracker.validation import parse_density, parse_site


def _parsers(site: str) -> dict[str, Callable[[object], object]]:
    return {
        "site": parse_site,
        "density_per_cm2": lambda value: parse_density(value, label=f"density at {site}"),
        "shaft_diameter_um": lambda value: parse_shaft_diameter(value, f"shaft diameter at {site}"),
        "terminal_pct": lambda value: parse_percentage(value, f"terminal % at {site}"),
        "anagen_pct": lambda value: parse_percentage(value, f"anagen % at {site}"),
    }


def correct_measurement(actor: Actor, measurement_id: int, changes: Mapping[str, object], reason: str,
                        expected_version: int | None, today: date | None = None,
                        url: str | None = None, *, acknowledged: Collection[str] = ()) -> Correction:
    """Correct one site's measurement at a visit (staff only).

    ``changes`` maps the columns ``site``, ``density_per_cm2``, ``shaft_diameter_um``, ``terminal_pct`` and
    ``anagen_pct`` to the values typed (text or numbers): density in hairs/cm² (required, more than 0, at most 600),
    shaft diameter in µm, terminal and anagen in % (blank: not measured), the site's name. Only values that differ
    are changed, each leaving a ``ChangeRecord`` with ``reason``. A density (or site) changed to a value more than
    half away from the site's value at the neighbouring visit raises ``NeedsConfirmation``, as the visit form does,
    unless its sentence is among ``acknowledged``. Raises ``ValidationError`` naming every problem
    (nothing saved; also when nothing differs), ``NotFound`` for a removed measurement, visit or patient,
    ``ConflictError`` when ``expected_version`` is not the measurement's version any more. Returns the correction
    with the milestones it touched, judged as of ``today``.
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    problems = reason_problems(reason)
    with transaction(url) as session:
        row, patient = open_row(session, models.DensityMeasurement, measurement_id, expected_version,
                                "density measurement")
        clean = parse_fields(changes, _parsers(row.site), "measurement", problems)
        if "site" in clean and clean["site"] != row.site:
            _check_site_free(session, row, str(clean["site"]), problems)
        if problems:
            refuse("Nothing was saved", problems)
        changed = differences(row, clean)
        if any(name in ("site", "density_per_cm2") for name, _, _ in changed):
            # Against the site's other visits: the value being corrected is the one suspected of being wrong.
            new_density = clean.get("density_per_cm2", row.density_per_cm2)
            measured = [(str(clean.get("site", row.site)), new_density)] if isinstance(new_density, float) else []
            others = recorded_densities(session, patient.id, leaving_out_measurement=row.id)
            ask_unless_acknowledged(density_warnings(row.visit.date, measured, others), acknowledged)
        before = progress_now(session, patient, today)
        for name, _, value in changed:
            setattr(row, name, value)
        kept = keep_changes(session, actor, row, patient.id, changed, clean_reason(reason),
                            f"density measurement {row.id} of visit {row.visit_id}")
        after = progress_now(session, patient, today)
        return Correction("measurement", row.id, row.version, kept,
                          judged(patient, before, after, (row.visit.date,)))


def _check_site_free(session: Session, row: models.DensityMeasurement, site: str, problems: list[str]) -> None:
    """A visit measures each site once: a site moved onto one already measured at that visit is refused."""
    taken = session.scalar(select(models.DensityMeasurement.id).where(
        models.DensityMeasurement.visit_id == row.visit_id, models.DensityMeasurement.site == site,
        models.DensityMeasurement.deleted_at.is_(None), models.DensityMeasurement.id != row.id))
    if taken is not None:
        problems.append(f"site {site!r} is already measured at this visit; correct that measurement instead")
