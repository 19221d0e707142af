"""The schema: SQLAlchemy 2 typed models. Alembic migrations in ``db/migrations`` create it.

Conventions that every clinical table shares (``Recorded``):

- ``created_at``/``created_by``: who wrote the row. ``created_by`` is the username once accounts exist;
  rows written by the command line (import, demo) carry ``cli:<command>``.
- ``version``: incremented on every edit, for optimistic concurrency (a stale edit is refused, never
  silently applied).
- ``deleted_at``/``deleted_by``/``deleted_reason``: removals are soft deletes with a reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names so that migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Recorded:
    """Who wrote a row, its edit version, and its soft deletion."""

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer, default=1)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str | None] = mapped_column(String(120))
    deleted_reason: Mapped[str | None] = mapped_column(Text)


class Protocol(Base):
    """A named expected course: band points and milestone windows, with its evidence note.

    ``band`` is a list of ``{"month", "low", "high"}``; ``windows`` a list of
    ``{"name", "start_month", "end_month", "target_month"}``. ``tracker.course.protocols`` validates both.
    ``noise_pct``: the measurement noise in % of a site's baseline density that milestone judgement allows
    for (default 10: automated counts vary ~10% between repeat measurements, DESIGN.md §2; the same
    default as ``tracker.course.clinical.DEFAULT_NOISE_PCT``, written out here since db imports no tracker).
    ``outcome_measure``: what milestones are judged on, ``density`` (hairs/cm² change, the default) or ``salt``
    (% improvement of the SALT score from baseline, for alopecia areata; DESIGN.md §2).
    """

    __tablename__ = "protocol"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    band: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    windows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    evidence_note: Mapped[str] = mapped_column(Text, default="")
    noise_pct: Mapped[float] = mapped_column(Float, default=10.0, server_default="10")
    outcome_measure: Mapped[str] = mapped_column(String(20), default="density", server_default="density")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer, default=1)


class Patient(Recorded, Base):
    __tablename__ = "patient"
    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    sex: Mapped[str] = mapped_column(String(10))
    birth_date: Mapped[date] = mapped_column(Date)
    condition: Mapped[str] = mapped_column(String(40))
    baseline_scale: Mapped[str | None] = mapped_column(String(20))
    baseline_stage: Mapped[str | None] = mapped_column(String(20))
    target_areas: Mapped[str | None] = mapped_column(String(200))
    protocol_id: Mapped[int | None] = mapped_column(ForeignKey("protocol.id"))
    notes: Mapped[str | None] = mapped_column(Text)

    protocol: Mapped[Protocol | None] = relationship()
    __table_args__ = (
        CheckConstraint(
            "condition IN ('androgenetic_alopecia','alopecia_areata','telogen_effluvium','other')",
            name="condition",
        ),
        # Live patients counted from an index: the whole-clinic lists check their outlook covers them all.
        Index("ix_patient_deleted_at", "deleted_at"),
    )


class TreatmentSession(Recorded, Base):
    __tablename__ = "treatment_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    date: Mapped[date] = mapped_column(Date)
    treatment: Mapped[str] = mapped_column(String(20))
    product: Mapped[str] = mapped_column(String(200), default="")
    # Searched by ``lower(trim(lot_number))`` (tracker.records.lots), which the expression index
    # ix_treatment_session_lot_key serves on both databases (migration 0007).
    lot_number: Mapped[str] = mapped_column(String(80), default="", index=True)
    volume_ml: Mapped[float | None] = mapped_column(Float)
    areas: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    checklist: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    adverse_events: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint("treatment IN ('exosome','prp','other')", name="treatment"),
        Index("ix_treatment_session_lot_key", text("lower(trim(lot_number))")),
    )


class BatchDocument(Recorded, Base):
    """A screening certificate or batch record attached to a session (kept like a photo original)."""

    __tablename__ = "batch_document"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_session.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(80))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)


class ConcurrentTherapy(Recorded, Base):
    __tablename__ = "concurrent_therapy"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    dose: Mapped[str | None] = mapped_column(String(120))
    start: Mapped[date] = mapped_column(Date)
    stop: Mapped[date | None] = mapped_column(Date)


class Visit(Recorded, Base):
    __tablename__ = "visit"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    date: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    capture_conditions: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # DESIGN.md §2: the 7-point global photographic assessment, −3 (greatly decreased) … +3 (greatly
    # increased), and the patient's satisfaction, 0–10; both optional, checked by tracker.records.
    global_assessment: Mapped[int | None] = mapped_column(Integer)
    satisfaction: Mapped[int | None] = mapped_column(Integer)

    measurements: Mapped[list[DensityMeasurement]] = relationship(back_populates="visit")


class DensityMeasurement(Recorded, Base):
    __tablename__ = "density_measurement"
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), index=True)
    site: Mapped[str] = mapped_column(String(60), default="primary")
    density_per_cm2: Mapped[float] = mapped_column(Float)
    shaft_diameter_um: Mapped[float | None] = mapped_column(Float)
    terminal_pct: Mapped[float | None] = mapped_column(Float)
    anagen_pct: Mapped[float | None] = mapped_column(Float)
    # ``typed`` by the clinician, or ``counted``: an assisted count on ``photo_id``, a close-up, whose
    # detections, corrections, field size and device ``count_detail`` keeps (``tracker.photos.hair_count``).
    method: Mapped[str] = mapped_column(String(20), default="typed", server_default="typed")
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id"), index=True)
    count_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    visit: Mapped[Visit] = relationship(back_populates="measurements")
    __table_args__ = (
        CheckConstraint("density_per_cm2 > 0 AND density_per_cm2 <= 600", name="density_range"),
        CheckConstraint("method IN ('typed','counted')", name="method"),
    )


class ScaleScore(Recorded, Base):
    """A stage on Norwood–Hamilton, Ludwig or Sinclair, or a SALT score (with its regional inputs)."""

    __tablename__ = "scale_score"
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), index=True)
    scale: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str | None] = mapped_column(String(20))
    salt_score: Mapped[float | None] = mapped_column(Float)
    salt_vertex_pct: Mapped[float | None] = mapped_column(Float)
    salt_posterior_pct: Mapped[float | None] = mapped_column(Float)
    salt_left_pct: Mapped[float | None] = mapped_column(Float)
    salt_right_pct: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (CheckConstraint("scale IN ('norwood','ludwig','sinclair','salt')", name="scale"),)


class Photo(Recorded, Base):
    """A scalp photo: the original kept unaltered (``sha256``) plus a display copy and a thumbnail."""

    __tablename__ = "photo"
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), index=True)
    view: Mapped[str] = mapped_column(String(30))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_key: Mapped[str] = mapped_column(String(200))
    display_key: Mapped[str] = mapped_column(String(200))
    thumbnail_key: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    captured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    original_file_name: Mapped[str | None] = mapped_column(String(255))
    # What the capture checks found (``tracker.photos.quality``): measures, problems, kept anyway; None for
    # photos taken before the checks existed.
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    __table_args__ = (UniqueConstraint("visit_id", "view", "sha256", name="visit_view_sha256"),)


class CaptureDevice(Base):
    """A camera or trichoscope the clinic uses, with the field its close-ups cover in mm (width × height): a
    count of hairs in the frame divided by that area is the density (hairs/cm² = count / (w × h / 100))."""

    __tablename__ = "capture_device"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    field_width_mm: Mapped[float] = mapped_column(Float)
    field_height_mm: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(120))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("field_width_mm > 0 AND field_width_mm <= 100 AND field_height_mm > 0 "
                        "AND field_height_mm <= 100", name="field_mm"),
    )


class User(Base):
    """A local account. A ``patient`` account is linked to exactly one patient record.

    Sign-in state (``tracker.access.sign_in``): ``failed_attempts`` counts consecutive failures (claimed before the
    password is checked); ``locked_until`` is the end of the current throttling delay and ``locked_at`` when
    the current run of delays began. ``disabled_at`` is the only hard lock, set by an admin.
    ``session_version`` changes whenever the account is disabled or given a new password: a signed-in
    session that carries an older one is ended. ``must_change_password`` after an admin's reset.
    """

    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), unique=True)
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(120))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    __table_args__ = (CheckConstraint("role IN ('admin','clinician','patient')", name="role"),)


class SignInAttempt(Base):
    """Every sign-in attempt and what became of it (``tracker.access.sign_in.Outcome``).

    ``audited``: this attempt wrote the folded ``sign_in_failed`` audit entry for its username and address
    (at most one a minute; the entry counts the failures since the previous one).
    """

    __tablename__ = "sign_in_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str | None] = mapped_column(String(80), index=True)
    succeeded: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str | None] = mapped_column(String(20))
    audited: Mapped[bool] = mapped_column(default=False, server_default=false())


class AddressThrottle(Base):
    """Failed sign-ins from one client address (``""`` when the server cannot tell it), counted atomically:
    the row is locked while an attempt is counted. Forgotten after a quiet day (``tracker.access.sign_in``)."""

    __tablename__ = "address_throttle"
    address: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """One browser's sign-in, kept across page reloads by the ``rt_session`` cookie (``tracker.access.web_sessions``).

    Only the SHA-256 of the cookie's random token is stored. The session stands while it is not revoked,
    its account is enabled and still has ``session_version``, and ``last_seen`` is within the idle limit.
    ``consult_mrn``: the consult screen is open for this patient (a reload opens it again, not the menu).
    """

    __tablename__ = "web_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    session_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consult_mrn: Mapped[str | None] = mapped_column(String(40))


class ChangeRecord(Base):
    """One corrected field: the previous value, the new one, who changed it, when and why."""

    __tablename__ = "change_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    table_name: Mapped[str] = mapped_column(String(60))
    row_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(120))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """Append-only access trail; each entry carries the hash of the previous one (tamper evidence)."""

    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    username: Mapped[str | None] = mapped_column(String(80), index=True)
    role: Mapped[str | None] = mapped_column(String(20))
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(String(80))
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # How many ``audit_patient`` rows the entry has, set only by ``record(patient_ids=...)``; None on every
    # other entry (and on entries written before the column existed).
    patient_count: Mapped[int | None] = mapped_column(Integer)


class AuditPatient(Base):
    """One patient an audit entry concerns, when the entry concerns many (a list, a schedule, an export).

    The entry itself says how many and a digest of their ids (``tracker.access.audit``); this table makes
    "who viewed patient X" one indexed query instead of a search through entry texts.
    """

    __tablename__ = "audit_patient"
    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entry.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)


class PatientOutlook(Base):
    """One live patient's row in the whole-clinic lists, kept by ``tracker.progress.outlook`` in the same
    transaction as every write that changes it. ``name_key``: the name as search and sort compare it
    (``tracker.validation.fold``), indexed with the MRN so that a search or the list by name reads one index.
    ``covers_from``: the spans hold every day from then on.
    ``engine_version``: the outlook's own version; rows of an older one
    are rebuilt at start-up."""

    __tablename__ = "patient_outlook"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), primary_key=True)
    __table_args__ = (Index("ix_patient_outlook_search", "name_key", "mrn", "patient_id"),)
    name_key: Mapped[str] = mapped_column(String(200))
    mrn: Mapped[str] = mapped_column(String(40), default="")
    covers_from: Mapped[date] = mapped_column(Date, index=True)  # the first span's ``valid_from``
    engine_version: Mapped[int] = mapped_column(Integer, index=True)
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


SPAN_FOREVER = date(9999, 12, 31)  # ``OutlookSpan.valid_until`` of a patient's last span: from then on


class OutlookSpan(Base):
    """What the whole-clinic lists show for one patient on every day from ``valid_from`` up to, not including,
    ``valid_until`` (``9999-12-31``: from then on). Within a span nothing the lists show changes except what is
    counted from "today" (days to a target, which list a date falls in), so "due", "overdue" and "behind" on
    any day are indexed range queries (``tracker.progress.outlook`` writes and reads them).

    ``next_*``: the next milestone not yet visited whose window has not closed (``Outlook``); ``visit_*``: the
    milestone a follow-up list shows (``NextVisit``; ``visit_status`` is ``None`` when there is none);
    ``status_kind``: which sentence the patient list says; ``latest_session`` and ``repeat_*``: the latest
    session and the window of a repeat session.
    """

    __tablename__ = "outlook_span"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    day0: Mapped[date | None] = mapped_column(Date)
    measured: Mapped[bool] = mapped_column(default=False)
    status_kind: Mapped[str] = mapped_column(String(20))
    next_name: Mapped[str | None] = mapped_column(String(60))
    next_status: Mapped[str | None] = mapped_column(String(20))
    next_window_start: Mapped[date | None] = mapped_column(Date)
    next_window_end: Mapped[date | None] = mapped_column(Date)
    next_due: Mapped[date | None] = mapped_column(Date)
    overdue: Mapped[bool] = mapped_column(default=False)
    behind: Mapped[bool] = mapped_column(default=False)
    visit_status: Mapped[str | None] = mapped_column(String(20))
    visit_milestone: Mapped[str | None] = mapped_column(String(60))
    visit_window_start: Mapped[date | None] = mapped_column(Date)
    visit_window_end: Mapped[date | None] = mapped_column(Date)
    visit_target: Mapped[date | None] = mapped_column(Date)
    overdue_since: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    last_visit: Mapped[date | None] = mapped_column(Date)
    latest_change: Mapped[str] = mapped_column(Text, default="")
    latest_session: Mapped[date | None] = mapped_column(Date)
    repeat_start: Mapped[date | None] = mapped_column(Date)
    repeat_end: Mapped[date | None] = mapped_column(Date)
    # What the lists filter and sort on, kept beside the facts so that each list is one index range read in its
    # order (each index ends with the validity dates, so a span not holding the day is skipped in the index):
    # the patient's MRN; on the overdue list; the visit's window open (constant within a span, whose limits
    # include every window's); urgency (0: overdue since ``urgency_day``, 1: target date ``urgency_day``, 2: none).
    mrn: Mapped[str] = mapped_column(String(40))
    on_overdue: Mapped[bool] = mapped_column(default=False)
    window_open: Mapped[bool] = mapped_column(default=False)
    target_soon: Mapped[bool] = mapped_column(default=False)  # target date within 7 days (``outlook.soon``)
    opens_soon: Mapped[bool] = mapped_column(default=False)  # window opens within the default look-ahead
    urgency: Mapped[int] = mapped_column(Integer)
    urgency_day: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (
        Index("ix_outlook_span_patient", "patient_id", "valid_from", "valid_until"),
        Index("ix_outlook_span_overdue", "on_overdue", "urgency", "urgency_day", "mrn", "valid_from", "valid_until",
              "measured"),
        Index("ix_outlook_span_window_open", "window_open", "urgency", "urgency_day", "mrn", "valid_from",
              "valid_until", "measured", "on_overdue"),
        Index("ix_outlook_span_behind", "behind", "urgency", "urgency_day", "mrn", "valid_from", "valid_until"),
        Index("ix_outlook_span_target_soon", "target_soon", "urgency", "urgency_day", "mrn", "valid_from",
              "valid_until", "measured", "on_overdue", "window_open"),
        Index("ix_outlook_span_opens_soon", "opens_soon", "urgency", "urgency_day", "mrn", "valid_from",
              "valid_until", "measured", "on_overdue", "window_open", "target_soon"),
        # The schedule's every-follow-up parts after the first (``schedule._every_follow_up``): each seeks past the
        # parts before it, which would otherwise be read and skipped in urgency order (a window open on an overdue
        # patient, ...), a number that grows with the clinic.
        Index("ix_outlook_span_open_part", "window_open", "on_overdue", "measured", "urgency", "urgency_day", "mrn",
              "valid_from", "valid_until"),
        Index("ix_outlook_span_target_part", "target_soon", "on_overdue", "window_open", "measured", "urgency",
              "urgency_day", "mrn", "valid_from", "valid_until"),
        Index("ix_outlook_span_opens_part", "opens_soon", "target_soon", "on_overdue", "window_open", "measured",
              "urgency", "urgency_day", "mrn", "valid_from", "valid_until"),
        Index("ix_outlook_span_target", "visit_target", "valid_from", "valid_until"),
        Index("ix_outlook_span_window_start", "visit_window_start", "valid_from", "valid_until"),
        Index("ix_outlook_span_repeat_end", "repeat_end", "mrn", "repeat_start", "valid_from", "valid_until"),
        Index("ix_outlook_span_repeat_start", "repeat_start", "mrn", "valid_from", "valid_until"),
        Index("ix_outlook_span_unmeasured", "measured", "day0", "mrn", "valid_from", "valid_until"),
    )


class OutlookTally(Base):
    """How many patients each whole-clinic list holds, kept as changes by day: the list ``list_name`` holds
    the sum of ``change`` over every ``day`` on or before the day asked (``tracker.progress.outlook_tally``
    writes it with the spans, in the same transaction). A count over the spans grows with the clinic; this
    sum grows only with the number of days on which the lists changed."""

    __tablename__ = "outlook_tally"
    # SQLite: the rows live in the key's own b-tree, so a list's sum reads one range of it and nothing else.
    __table_args__ = {"sqlite_with_rowid": False}
    list_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    change: Mapped[int] = mapped_column(Integer)


class MaintenanceState(Base):
    """Where a recurring maintenance job left off (``name``: the job), e.g. the store check's last file checked
    and the position of its rotating sample."""

    __tablename__ = "maintenance_state"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
