"""protocol measurement noise: the % of baseline density milestone judgement allows for

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 15:40:00

- ``protocol.noise_pct``: a milestone is judged ahead or behind only beyond the band by more than the
  baseline × noise_pct / 100 (DESIGN.md §2). Existing protocols get the default 10 (automated counts vary
  ~10% between repeat measurements), so their patients are judged by the new rule at once.
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.add_column(sa.Column('noise_pct', sa.Float(), server_default='10', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.drop_column('noise_pct')
