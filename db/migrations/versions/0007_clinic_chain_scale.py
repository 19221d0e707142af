"""whole-clinic lists in constant time: the patient outlook; audit entries about many patients; indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 00:00:00

- ``patient_outlook`` and ``outlook_span``: what the Patients and Schedule pages show for each patient, kept in
  the same transaction as every write that changes it (``tracker.progress.outlook``). Created empty here: the
  rows are the milestone engine's, so start-up (``tracker.database.initialize``) fills them for every patient
  whose outlook is missing or of an older engine version.
- ``audit_patient``: the patients an audit entry concerns when it concerns many, so that "who viewed patient X"
  is one indexed query; ``audit_entry.patient_count`` says how many (only on such entries); ``audit_entry`` is
  indexed by user and by action.
- ``ix_treatment_session_lot_key``: an expression index on ``lower(trim(lot_number))``, the lot lookup's match.
- ``maintenance_state``: where a recurring job (the store check) left off.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


_VALID = ('valid_from', 'valid_until')
_URGENCY = ('urgency', 'urgency_day', 'mrn', *_VALID)
SPAN_INDEXES = {
    'ix_outlook_span_patient': ('patient_id', *_VALID),
    'ix_outlook_span_overdue': ('on_overdue', *_URGENCY, 'measured'),
    'ix_outlook_span_window_open': ('window_open', *_URGENCY, 'measured', 'on_overdue'),
    'ix_outlook_span_behind': ('behind', *_URGENCY),
    'ix_outlook_span_target': ('visit_target', *_VALID),
    'ix_outlook_span_window_start': ('visit_window_start', *_VALID),
    'ix_outlook_span_repeat_end': ('repeat_end', 'mrn', 'repeat_start', *_VALID),
    'ix_outlook_span_repeat_start': ('repeat_start', 'mrn', *_VALID),
    'ix_outlook_span_unmeasured': ('measured', 'day0', 'mrn', *_VALID),
}


def upgrade() -> None:
    op.create_table(
        'patient_outlook',
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('name_key', sa.String(length=200), nullable=False),
        sa.Column('covers_from', sa.Date(), nullable=False),
        sa.Column('engine_version', sa.Integer(), nullable=False),
        sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_patient_outlook_patient_id_patient')),
        sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_patient_outlook')),
    )
    op.create_index(op.f('ix_patient_outlook_name_key'), 'patient_outlook', ['name_key'], unique=False)
    op.create_index(op.f('ix_patient_outlook_covers_from'), 'patient_outlook', ['covers_from'], unique=False)
    op.create_table(
        'outlook_span',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=False),
        sa.Column('day0', sa.Date(), nullable=True),
        sa.Column('measured', sa.Boolean(), nullable=False),
        sa.Column('status_kind', sa.String(length=20), nullable=False),
        sa.Column('next_name', sa.String(length=60), nullable=True),
        sa.Column('next_status', sa.String(length=20), nullable=True),
        sa.Column('next_window_start', sa.Date(), nullable=True),
        sa.Column('next_window_end', sa.Date(), nullable=True),
        sa.Column('next_due', sa.Date(), nullable=True),
        sa.Column('overdue', sa.Boolean(), nullable=False),
        sa.Column('behind', sa.Boolean(), nullable=False),
        sa.Column('visit_status', sa.String(length=20), nullable=True),
        sa.Column('visit_milestone', sa.String(length=60), nullable=True),
        sa.Column('visit_window_start', sa.Date(), nullable=True),
        sa.Column('visit_window_end', sa.Date(), nullable=True),
        sa.Column('visit_target', sa.Date(), nullable=True),
        sa.Column('overdue_since', sa.Date(), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('last_visit', sa.Date(), nullable=True),
        sa.Column('latest_change', sa.Text(), nullable=False),
        sa.Column('latest_session', sa.Date(), nullable=True),
        sa.Column('repeat_start', sa.Date(), nullable=True),
        sa.Column('repeat_end', sa.Date(), nullable=True),
        sa.Column('mrn', sa.String(length=40), nullable=False),
        sa.Column('on_overdue', sa.Boolean(), nullable=False),
        sa.Column('window_open', sa.Boolean(), nullable=False),
        sa.Column('urgency', sa.Integer(), nullable=False),
        sa.Column('urgency_day', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_outlook_span_patient_id_patient')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outlook_span')),
    )
    for name, columns in SPAN_INDEXES.items():
        op.create_index(name, 'outlook_span', list(columns), unique=False)
    op.create_index('ix_patient_deleted_at', 'patient', ['deleted_at'], unique=False)
    op.create_index(op.f('ix_patient_outlook_engine_version'), 'patient_outlook', ['engine_version'], unique=False)
    op.create_table(
        'audit_patient',
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['audit_entry.id'], name=op.f('fk_audit_patient_entry_id_audit_entry')),
        sa.PrimaryKeyConstraint('entry_id', 'patient_id', name=op.f('pk_audit_patient')),
    )
    op.create_index(op.f('ix_audit_patient_patient_id'), 'audit_patient', ['patient_id'], unique=False)
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('patient_count', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_audit_entry_username'), 'audit_entry', ['username'], unique=False)
    op.create_index(op.f('ix_audit_entry_action'), 'audit_entry', ['action'], unique=False)
    op.create_index('ix_treatment_session_lot_key', 'treatment_session', [sa.text('lower(trim(lot_number))')],
                    unique=False)
    op.create_table(
        'maintenance_state',
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_maintenance_state')),
    )


def downgrade() -> None:
    op.drop_table('maintenance_state')
    op.drop_index('ix_treatment_session_lot_key', table_name='treatment_session')
    op.drop_index(op.f('ix_audit_entry_action'), table_name='audit_entry')
    op.drop_index(op.f('ix_audit_entry_username'), table_name='audit_entry')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_column('patient_count')
    op.drop_index(op.f('ix_audit_patient_patient_id'), table_name='audit_patient')
    op.drop_table('audit_patient')
    op.drop_index(op.f('ix_patient_outlook_engine_version'), table_name='patient_outlook')
    op.drop_index('ix_patient_deleted_at', table_name='patient')
    for name in SPAN_INDEXES:
        op.drop_index(name, table_name='outlook_span')
    op.drop_table('outlook_span')
    op.drop_index(op.f('ix_patient_outlook_covers_from'), table_name='patient_outlook')
    op.drop_index(op.f('ix_patient_outlook_name_key'), table_name='patient_outlook')
    op.drop_table('patient_outlook')
