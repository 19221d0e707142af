"""whole-clinic list counts kept by day; "target date soon" and "window opens soon" as span flags; the MRN searched
with the name

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 11:00:00

- ``outlook_tally``: how many patients each whole-clinic list holds, as changes by day, kept with the outlook's
  spans (``tracker.progress.outlook_tally``), so that "Showing 1–50 of 9,591" no longer counts 9,591 spans on
  every click. Created empty here: start-up (``tracker.progress.outlook.rebuild``) counts it from the spans.
- ``outlook_span.target_soon`` and ``opens_soon``: the "target date within 7 days" and "window opens within the
  look-ahead" lists as flags (the spans are now cut where they change), each with an index in urgency order, so that
  their first page no longer reads and sorts every patient whose date falls in the range. Filled by start-up's
  rebuild (the outlook's engine version is raised with them). And one index for each part of the schedule's every
  follow-up after the first, which seeks past the parts before it.
- ``patient_outlook.mrn`` and ``ix_patient_outlook_search`` (name, MRN, patient) in place of the name's index: a
  search, and the list by name, read one index without the patient rows.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


_FLAG_INDEXES = {
    'ix_outlook_span_target_soon': ('target_soon', 'urgency', 'urgency_day', 'mrn', 'valid_from', 'valid_until',
                                    'measured', 'on_overdue', 'window_open'),
    'ix_outlook_span_opens_soon': ('opens_soon', 'urgency', 'urgency_day', 'mrn', 'valid_from', 'valid_until',
                                   'measured', 'on_overdue', 'window_open', 'target_soon'),
    'ix_outlook_span_open_part': ('window_open', 'on_overdue', 'measured', 'urgency', 'urgency_day', 'mrn',
                                  'valid_from', 'valid_until'),
    'ix_outlook_span_target_part': ('target_soon', 'on_overdue', 'window_open', 'measured', 'urgency', 'urgency_day',
                                    'mrn', 'valid_from', 'valid_until'),
    'ix_outlook_span_opens_part': ('opens_soon', 'target_soon', 'on_overdue', 'window_open', 'measured', 'urgency',
                                   'urgency_day', 'mrn', 'valid_from', 'valid_until'),
}


def upgrade() -> None:
    with op.batch_alter_table('outlook_span', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target_soon', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('opens_soon', sa.Boolean(), nullable=False, server_default=sa.false()))
    for name, columns in _FLAG_INDEXES.items():
        op.create_index(name, 'outlook_span', list(columns), unique=False)
    with op.batch_alter_table('patient_outlook', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mrn', sa.String(length=40), nullable=False, server_default=''))
    op.execute("UPDATE patient_outlook SET mrn = (SELECT patient.mrn FROM patient WHERE patient.id = "
               "patient_outlook.patient_id)")
    op.drop_index(op.f('ix_patient_outlook_name_key'), table_name='patient_outlook')
    op.create_index('ix_patient_outlook_search', 'patient_outlook', ['name_key', 'mrn', 'patient_id'], unique=False)
    op.create_table(
        'outlook_tally',
        sa.Column('list_name', sa.String(length=40), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('change', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('list_name', 'day', name=op.f('pk_outlook_tally')),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_index('ix_patient_outlook_search', table_name='patient_outlook')
    op.create_index(op.f('ix_patient_outlook_name_key'), 'patient_outlook', ['name_key'], unique=False)
    with op.batch_alter_table('patient_outlook', schema=None) as batch_op:
        batch_op.drop_column('mrn')
    op.drop_table('outlook_tally')
    for name in _FLAG_INDEXES:
        op.drop_index(name, table_name='outlook_span')
    with op.batch_alter_table('outlook_span', schema=None) as batch_op:
        batch_op.drop_column('opens_soon')
        batch_op.drop_column('target_soon')
