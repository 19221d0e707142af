"""outcome measure per protocol; global photographic assessment and patient satisfaction per visit

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 17:40:00

- ``protocol.outcome_measure``: what a protocol's milestones are judged on, ``density`` (change from the
  site's baseline, hairs/cm²; every existing protocol keeps it) or ``salt`` (alopecia areata: % improvement
  of the SALT score from baseline, DESIGN.md §2).
- ``visit.global_assessment``: the 7-point global photographic assessment, −3 (greatly decreased) … +3
  (greatly increased), DESIGN.md §2; ``visit.satisfaction``: the patient's satisfaction, 0–10. Both optional.
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome_measure', sa.String(length=20), server_default='density',
                                      nullable=False))
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('global_assessment', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('satisfaction', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_column('satisfaction')
        batch_op.drop_column('global_assessment')
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.drop_column('outcome_measure')
