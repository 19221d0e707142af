"""whole-clinic list counts kept by day

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 11:00:00

- ``outlook_tally``: how many patients each whole-clinic list holds, as changes by day, kept with the outlook's
  spans (``tracker.progress.outlook_tally``), so that "Showing 1–50 of 9,591" no longer counts 9,591 spans on
  every click. Created empty here: start-up (``tracker.progress.outlook.rebuild``) counts it from the spans.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outlook_tally',
        sa.Column('list_name', sa.String(length=40), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('change', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('list_name', 'day', name=op.f('pk_outlook_tally')),
    )


def downgrade() -> None:
    op.drop_table('outlook_tally')
