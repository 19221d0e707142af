"""The demo clinic's plan (``python -m tracker demo``): a fictional clinic to show and try the app with. Nobody in
it is real.

``plan_clinic`` invents about forty patients over the 18 months up to ``today`` as plain records, with no
database: mixed conditions, sexes and ages; exosome and PRP courses with product and lot numbers (lots
shared between patients treated in the same months, so a recall lookup finds several); concurrent
minoxidil, finasteride and Viviscal; a baseline visit on or shortly before day 0 and reviews near 3, 6 and
12 months, with density drifting along each patient's response (ahead of the expected band, on track,
behind, or a slow starter) plus measurement noise. Some patients missed a review or have one due now,
some have only just started, and two never had a baseline measured.

The plan's records are ``tracker.operations.demo_records``; ``tracker.operations.demo`` writes them.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from tracker.course.calendar_months import add_months, months_between
from tracker.course.clinical import DAYS_PER_MONTH, DEFAULT_WINDOWS, BandPoint
from tracker.course.milestones import DEFAULT_PROTOCOL, SALT_PROTOCOL, Protocol, expected_band
from tracker.operations.demo_records import DemoMeasurement, DemoPatient, DemoScale, DemoSession, DemoTherapy, DemoVisit

MRN_PREFIX = "DEMO-"
ACTOR = "demo"
PATIENT_COUNT = 40

PRP_PROTOCOL_NAME = "PRP (standard)"
# A PRP course is usually three monthly sessions; pooled trials report about +26 hairs/cm² at 3–6
# months, fading towards baseline by a year without maintenance, hence the lower band at month 12.
PRP_BAND = (
    BandPoint(0, -10, 5),  # early shedding is normal
    BandPoint(2, -10, 5),  # after the second monthly session, still inside the shedding phase
    BandPoint(3, 5, 25),  # pooled PRP trials: first measurable gain by 3 months
    BandPoint(6, 10, 35),  # pooled PRP trials: about +26 hairs/cm² at 3–6 months
    BandPoint(12, 5, 30),  # the gain fades without maintenance sessions
)
PRP_EVIDENCE_NOTE = (
    "PRP evidence: meta-analyses of randomised trials (mostly small, varied preparation and schedules) "
    "report about +26 hairs/cm² versus baseline at 3–6 months after three monthly sessions, waning by "
    "12 months without maintenance. The band is a guide, never a promised outcome."
)
PRP_PROTOCOL = Protocol(PRP_PROTOCOL_NAME, PRP_BAND, DEFAULT_WINDOWS, PRP_EVIDENCE_NOTE)

# Obviously invented surnames: no demo patient can be mistaken for a real one.
FICTIONAL_SURNAMES = (
    "Sampleton", "Demoray", "Mockridge", "Testwell", "Placeholt", "Fictitia", "Exampleby", "Dummond",
    "Pretendo", "Notreal", "Imaginor", "Madeupson", "Specimen", "Trialworth", "Mockingbird-Lane",
    "Storybrook", "Inventova", "Makebelieve", "Nonesuch", "Pseudonymo", "Hypotheticus", "Samplewood",
    "Draftley", "Fauxley", "Fibsworth", "Facsimile", "Figmentson", "Whimsey", "Fablewright", "Notional",
    "Loremby", "Ipsumova", "Dolorsit", "Conjecturo", "Phantasmo", "Mockett", "Exemplaro", "Tallstory",
    "Yarnspin", "Daydream",
)
_FEMALE_NAMES = ("Ada", "Beatrix", "Clara", "Delphine", "Edith", "Flora", "Greta", "Hazel", "Imogen",
                 "Juno", "Lena", "Mira", "Nadia", "Olive", "Priya", "Rosa", "Sofia", "Talia", "Vera")
_MALE_NAMES = ("Arlo", "Bram", "Cyrus", "Dario", "Emil", "Felix", "Gus", "Hugo", "Ivo", "Jasper", "Kofi",
               "Leo", "Milo", "Nico", "Otto", "Pavel", "Rafael", "Silas", "Theo", "Viktor", "Wen", "Yusuf")
_OTHER_NAMES = ("Sasha", "Robin", "Alex")
CLINICIANS = ("Dr. Nora Placeholt", "Dr. Sam Exampleby")  # fictional too

# Fictional products; lots follow one another in time, so that patients treated in the same months
# share a lot ("which patients received lot X" finds several).
EXOSOME_PRODUCT = "Exovance Scalp HRLV 20 mg (lyophilised exosomes)"
PRP_KIT = "Arteris PRP Kit 15 mL"
EXOSOME_LOT_MONTHS = 3
PRP_LOT_MONTHS = 4

CAPTURE_CONDITIONS = {
    "hair": "dry", "parting": "same as baseline", "distance_cm": 25, "lighting": "ring light, 5500 K",
    "device": "clinic camera (demo)",
}
CHECKLIST = {"nsaids_avoided": True, "hydrated_day_before": True, "breakfast_eaten": True, "consent_signed": True}
ADVERSE_EVENTS = (
    "Mild tenderness at injection sites for 1–2 days",
    "Pinpoint bleeding at injection sites, stopped with pressure",
    "Mild headache on the evening of the session",
)

# Where each milestone review falls, in days around its target: the 3-month window ends at its
# target (DEFAULT_WINDOWS: 2–3 months), so that review is always on or just before it.
REVIEW_OFFSET_DAYS = {3: (-18, -1), 6: (-12, 14), 12: (-12, 20)}


def _days(months: float) -> timedelta:
    return timedelta(days=round(months * DAYS_PER_MONTH))


def _lot(prefix: str, when: date, months_per_lot: int) -> str:
    """The lot in use on ``when``: a new one every ``months_per_lot`` calendar months (a divisor of 12),
    named after its release date, a few weeks before it came into use.

    >>> _lot("EXO", date(2025, 5, 20), 3), _lot("EXO", date(2025, 6, 30), 3)
    ('EXO-2025-0309', 'EXO-2025-0309')
    """
    period = (when.year * 12 + when.month - 1) // months_per_lot
    first_day = date(period * months_per_lot // 12, period * months_per_lot % 12 + 1, 1)
    released = first_day - timedelta(days=21 + period % 7)
    return f"{prefix}-{released.year}-{released.month:02d}{released.day:02d}"


def _roles(rng: random.Random) -> list[tuple[str, float]]:
    """(adherence, months since day 0) for every patient, in a shuffled order."""
    roles: list[tuple[str, float]] = []
    roles += [("recent", rng.uniform(0.2, 1.8)) for _ in range(4)]
    roles += [("no_baseline", rng.uniform(7, 14)) for _ in range(2)]
    roles += [("due", rng.uniform(2.1, 2.35)), ("due", rng.uniform(5.1, 5.5)), ("due", rng.uniform(11.1, 11.5))]
    roles += [("missed_6", rng.uniform(7.6, 10.4)) for _ in range(2)]
    roles += [("missed_12", rng.uniform(13.3, 17.5)), ("missed_3", rng.uniform(6.5, 16))]
    regular = PATIENT_COUNT - len(roles)
    # Spread evenly from 2.6 to 18 months ago, so every stage of a course is represented.
    roles += [("regular", 2.6 + (18 - 2.6) * (i + rng.random()) / regular) for i in range(regular)]
    rng.shuffle(roles)
    return roles


def _profiles(rng: random.Random) -> list[tuple[str, str]]:
    """(condition, sex) for every patient: mostly androgenetic alopecia, in a shuffled order."""
    profiles = (
        [("androgenetic_alopecia", "male")] * 17 + [("androgenetic_alopecia", "female")] * 10
        + [("alopecia_areata", "female")] * 3 + [("alopecia_areata", "male")] * 3
        + [("telogen_effluvium", "female")] * 3 + [("telogen_effluvium", "male")]
        + [("other", "female"), ("other", "other"), ("other", "male")]
    )
    rng.shuffle(profiles)
    return profiles


def _sites(condition: str, sex: str, rng: random.Random) -> tuple[str, ...]:
    if condition == "alopecia_areata":  # one patch, wherever it is
        return (rng.choice(("occipital", "vertex", "left_temporal", "right_temporal")),)
    if condition == "other":  # e.g. traction alopecia at the front, or a diffuse loss measured at the crown
        return (rng.choice(("frontal", "vertex")),)
    if condition == "androgenetic_alopecia" and rng.random() < (0.2 if sex == "male" else 0.5):
        return ("vertex",)
    return ("vertex", "frontal")


def _baseline_density(condition: str, site: str, rng: random.Random) -> float:
    if condition == "alopecia_areata":
        return rng.uniform(45, 110)  # inside a patch
    if condition == "telogen_effluvium":
        return rng.uniform(120, 170)  # diffuse shedding from a fuller scalp
    low, high = (95, 150) if site == "vertex" else (110, 165)
    return rng.uniform(low, high)


def _share_in_band(response: str, months: float, rng: random.Random) -> float:
    """Where the change sits in the expected band: 0 = its low edge, 1 = its high edge."""
    if response == "ahead":
        return rng.uniform(1.2, 1.55)
    if response == "behind":
        return rng.uniform(-1.0, -0.45)
    if response == "slow_starter":  # below the band at the early review, catching up by 6 months
        return rng.uniform(-0.9, -0.5) if months < 4 else rng.uniform(0.3, 0.7)
    return rng.uniform(0.25, 0.75)


def _stage(condition: str, sex: str, rng: random.Random) -> DemoScale | None:
    if condition == "androgenetic_alopecia" and sex == "male":
        return DemoScale("norwood", rng.choice(("II", "IIA", "III", "III vertex", "IIIA", "IV", "IVA", "V")))
    if condition == "androgenetic_alopecia":
        return rng.choice((DemoScale("ludwig", rng.choice(("I", "II"))),
                           DemoScale("sinclair", rng.choice(("2", "3", "4")))))
    if condition == "alopecia_areata":
        vertex, posterior, left, right = (round(rng.uniform(5, 85)) for _ in range(4))
        return DemoScale("salt", salt_regions=(vertex, posterior, left, right))
    return None


def _therapies(sex: str, condition: str, day0: date, today: date, rng: random.Random) -> tuple[DemoTherapy, ...]:
    therapies = []

    def stop_after(start: date, months: tuple[float, float], chance: float) -> date | None:
        stop = start + _days(rng.uniform(*months))
        return stop if rng.random() < chance and stop <= today else None

    if condition in ("androgenetic_alopecia", "telogen_effluvium", "other") and rng.random() < 0.55:
        start = day0 - _days(rng.uniform(0.5, 14))
        therapies.append(DemoTherapy("Minoxidil 5% topical", "1 mL twice daily", start,
                                     stop_after(start, (4, 16), 0.3)))
    if condition == "androgenetic_alopecia" and sex == "male" and rng.random() < 0.45:
        start = day0 - _days(rng.uniform(1, 24))
        therapies.append(DemoTherapy("Finasteride", "1 mg daily", start, stop_after(start, (6, 30), 0.15)))
    if rng.random() < 0.2:
        start = day0 + _days(rng.uniform(-1, 1))
        if start <= today:
            therapies.append(DemoTherapy("Viviscal", "2 tablets daily", start, stop_after(start, (3, 6), 0.5)))
    return tuple(therapies)


def _sessions(protocol: Protocol, day0: date, today: date, rng: random.Random) -> tuple[DemoSession, ...]:
    if protocol.name == PRP_PROTOCOL_NAME:
        # Three monthly sessions; some patients come back for a maintenance session around 6 months.
        dates = [add_months(day0, m) for m in (0, 1, 2)]
        if rng.random() < 0.4:
            dates.append(add_months(day0, 6) + timedelta(days=rng.randint(-10, 20)))
        treatment, product, prefix, lot_months = "prp", PRP_KIT, "PRP", PRP_LOT_MONTHS
    else:
        # One session; about half have the repeat considered 3–6 months later (DESIGN.md §1).
        dates = [day0]
        if rng.random() < 0.5:
            dates.append(day0 + _days(rng.uniform(3, 6)))
        treatment, product, prefix, lot_months = "exosome", EXOSOME_PRODUCT, "EXO", EXOSOME_LOT_MONTHS
    return tuple(
        DemoSession(
            when, treatment, product, _lot(prefix, when, lot_months),
            5.0 if treatment == "exosome" else rng.choice((6.0, 6.5, 7.0, 8.0)),
            rng.choice(ADVERSE_EVENTS) if rng.random() < 0.15 else None,
        )
        for when in dates if when <= today
    )


def _visits(patient_rng: random.Random, condition: str, sites: tuple[str, ...], protocol: Protocol,
            response: str, adherence: str, day0: date, today: date,
            baseline_scale: DemoScale | None) -> tuple[DemoVisit, ...]:
    rng = patient_rng
    baselines = {site: _baseline_density(condition, site, rng) for site in sites}
    shaft = rng.uniform(55, 75) if rng.random() < 0.6 else None
    terminal = rng.uniform(55, 75) if shaft is not None else None
    skipped = {"missed_3": 3, "missed_6": 6, "missed_12": 12}.get(adherence)
    visits: list[DemoVisit] = []

    def visit(when: date, month: int) -> DemoVisit:
        measurements = []
        months = months_between(day0, when)
        # A SALT protocol's band is on SALT improvement: the patch's density drifts along the density course.
        band = expected_band(DEFAULT_PROTOCOL if protocol.judged_on_salt else protocol, months) if month else None
        share = _share_in_band(response, months, rng)
        for site, baseline in baselines.items():
            change = 0.0
            if band is not None:
                # Each site drifts with the patient's response, the second a little differently.
                share_here = share + (rng.uniform(-0.15, 0.15) if site != sites[0] else 0)
                change = band[0] + share_here * (band[1] - band[0])
            noise = max(-0.05, min(0.05, rng.gauss(0, 0.02)))  # repeat counts differ by a few percent
            density = round(max(5.0, (baseline + change) * (1 + noise)), 1)
            gain = 0 if band is None else share * months / 12
            measurements.append(DemoMeasurement(
                site, density,
                None if shaft is None else round(shaft + 4 * gain + rng.uniform(-1.5, 1.5), 1),
                None if terminal is None else round(min(95, terminal + 8 * gain + rng.uniform(-2, 2)), 1),
            ))
        scale = None
        if baseline_scale is not None and baseline_scale.salt_regions is not None:
            improvement = _salt_improvement(protocol, months, share) if month else 0
            vertex, posterior, left, right = (round(pct * (1 - improvement)) for pct in baseline_scale.salt_regions)
            scale = DemoScale("salt", salt_regions=(vertex, posterior, left, right))
        elif baseline_scale is not None and month in (0, 12):
            scale = baseline_scale
        views = tuple((site, m.density) for site, m in zip(sites, measurements, strict=True))
        if len(views) == 1:
            views += (("closeup", measurements[0].density),)  # trichoscopy of the one target area
        notes = "Baseline: photos and trichoscopy before the first session." if month == 0 else (
            f"{month}-month review." + (" Patient reports less shedding." if rng.random() < 0.3 else "")
        )
        return DemoVisit(when, notes, tuple(measurements), scale, views)

    if adherence != "no_baseline":
        visits.append(visit(day0 - timedelta(days=rng.choice((0, 0, 0, 3, 7, 14))), 0))
    for month in (3, 6, 12):
        low, high = REVIEW_OFFSET_DAYS[month]
        when = add_months(day0, month) + timedelta(days=rng.randint(low, high))
        if when > today or month == skipped:
            continue
        visits.append(visit(when, month))
    return tuple(visits)


def _salt_improvement(protocol: Protocol, months: float, share: float) -> float:
    """The share (0–0.95) of each SALT region that has regrown: on a SALT protocol where the patient's response
    puts it in the clinic's band of % improvement, else a slow regrowth that follows the response."""
    salt_band = expected_band(protocol, months) if protocol.judged_on_salt else None
    if salt_band is not None:
        return max(0.0, min(0.95, (salt_band[0] + share * (salt_band[1] - salt_band[0])) / 100))
    return max(0.0, min(0.9, (0.25 + 0.4 * share) * min(1.0, months / 9)))


def plan_clinic(today: date, seed: int = 2026) -> list[DemoPatient]:
    """The fictional clinic as plain records; the same ``today`` and ``seed`` give the same clinic.

    >>> clinic = plan_clinic(date(2026, 3, 1))
    >>> len(clinic), clinic[0].mrn
    (40, 'DEMO-0001')
    """
    rng = random.Random(seed)
    roles, profiles = _roles(rng), _profiles(rng)
    assessed = [i for i, (adherence, _) in enumerate(roles) if adherence != "recent"]
    responses = ["ahead"] * 7 + ["behind"] * 6 + ["slow_starter"] * 2
    responses += ["on_track"] * (len(assessed) - len(responses))
    rng.shuffle(responses)
    response_of = dict(zip(assessed, responses, strict=True))
    prp = set(rng.sample(range(PATIENT_COUNT), 12))
    surnames = list(FICTIONAL_SURNAMES)
    rng.shuffle(surnames)
    given = {"female": list(_FEMALE_NAMES), "male": list(_MALE_NAMES), "other": list(_OTHER_NAMES)}
    for names in given.values():
        rng.shuffle(names)  # each first name used once: with the surname, every full name is unique

    clinic = []
    for index, ((adherence, months_ago), (condition, sex)) in enumerate(zip(roles, profiles, strict=True)):
        patient_rng = random.Random(f"{seed}:{index}")
        response = response_of.get(index, "on_track")
        day0 = today - _days(months_ago)
        sites = _sites(condition, sex, patient_rng)
        stage = _stage(condition, sex, patient_rng)
        # Alopecia areata is followed on SALT (DESIGN.md §2), as intake proposes for these patients.
        protocol = (SALT_PROTOCOL if condition == "alopecia_areata"
                    else PRP_PROTOCOL if index in prp else DEFAULT_PROTOCOL)
        first = given[sex].pop()
        clinic.append(DemoPatient(
            mrn=f"{MRN_PREFIX}{index + 1:04d}",
            full_name=f"{first} {surnames[index % len(surnames)]}",
            sex=sex,
            birth_date=today - timedelta(days=patient_rng.randint(22 * 365, 68 * 365)),
            condition=condition,
            baseline_scale=stage.scale if stage else None,
            baseline_stage=(stage.stage if stage.salt_regions is None else f"{stage.salt_score:g}") if stage else None,
            sites=sites,
            protocol_name=protocol.name,
            response=response,
            adherence=adherence,
            sessions=_sessions(protocol, day0, today, patient_rng),
            therapies=_therapies(sex, condition, day0, today, patient_rng),
            visits=_visits(patient_rng, condition, sites, protocol, response, adherence, day0, today, stage),
            photo_seed=seed * 1000 + index,
        ))
    return clinic
