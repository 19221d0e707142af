"""The demo clinic's plain records, as ``tracker.operations.demo_plan`` invents them (no database): patients with
their sessions, concurrent therapies, visits, measurements and scale scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tracker.course.clinical import SALT_WEIGHTS


@dataclass(frozen=True)
class DemoSession:
    date: date
    treatment: str
    product: str
    lot_number: str
    volume_ml: float
    adverse_events: str | None


@dataclass(frozen=True)
class DemoTherapy:
    name: str
    dose: str
    start: date
    stop: date | None


@dataclass(frozen=True)
class DemoMeasurement:
    site: str
    density: float
    shaft_diameter_um: float | None
    terminal_pct: float | None


@dataclass(frozen=True)
class DemoScale:
    scale: str
    stage: str | None = None
    salt_regions: tuple[float, float, float, float] | None = None  # vertex, posterior, left, right (%)

    @property
    def salt_score(self) -> float | None:
        if self.salt_regions is None:
            return None
        weights = (SALT_WEIGHTS["vertex"], SALT_WEIGHTS["posterior"], SALT_WEIGHTS["left_side"],
                   SALT_WEIGHTS["right_side"])
        return round(sum(w * pct for w, pct in zip(weights, self.salt_regions, strict=True)), 1)


@dataclass(frozen=True)
class DemoVisit:
    date: date
    notes: str
    measurements: tuple[DemoMeasurement, ...]
    scale: DemoScale | None
    views: tuple[tuple[str, float], ...]  # photographed views with the density each one shows


@dataclass(frozen=True)
class DemoPatient:
    """One fictional patient as plain records; ``response`` and ``adherence`` say how they were made."""

    mrn: str
    full_name: str
    sex: str
    birth_date: date
    condition: str
    baseline_scale: str | None
    baseline_stage: str | None
    sites: tuple[str, ...]
    protocol_name: str
    response: str  # ahead, on_track, behind, slow_starter
    adherence: str  # regular, recent, due, missed_3, missed_6, missed_12, no_baseline
    sessions: tuple[DemoSession, ...]
    therapies: tuple[DemoTherapy, ...]
    visits: tuple[DemoVisit, ...]
    photo_seed: int
