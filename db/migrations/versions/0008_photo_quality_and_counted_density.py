"""photo quality checks, capture devices and densities counted from close-ups

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 04:00:00

- ``photo.quality``: what the capture checks found when the photo was taken (sharpness, clipped shadows and
  highlights, size, how well it lines up with the same view at the previous visit, the problems named in plain
  words, and whether the clinician kept it anyway); empty for photos taken before the checks existed.
- ``capture_device``: a camera or trichoscope the clinic uses, with the size in mm of the field its close-ups
  cover (width × height), so that a count of hairs in the frame becomes hairs/cm².
- ``density_measurement.method``: ``typed`` (every existing row) or ``counted`` (an assisted count from a
  close-up); ``photo_id``: the close-up it was counted on; ``count_detail``: the detections, the clinician's
  added and removed marks, the field size and the device, so that a count can be reviewed and redone.
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'capture_device',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('field_width_mm', sa.Float(), nullable=False),
        sa.Column('field_height_mm', sa.Float(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=True),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('field_width_mm > 0 AND field_width_mm <= 100 AND field_height_mm > 0 '
                           'AND field_height_mm <= 100', name=op.f('ck_capture_device_field_mm')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_capture_device')),
        sa.UniqueConstraint('name', name=op.f('uq_capture_device_name')),
    )
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quality', sa.JSON(), nullable=True))
    with op.batch_alter_table('density_measurement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method', sa.String(length=20), server_default='typed', nullable=False))
        batch_op.add_column(sa.Column('photo_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('count_detail', sa.JSON(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_density_measurement_photo_id_photo'), 'photo', ['photo_id'],
                                    ['id'])
        batch_op.create_index(batch_op.f('ix_density_measurement_photo_id'), ['photo_id'], unique=False)
        batch_op.create_check_constraint(batch_op.f('ck_density_measurement_method'),
                                         "method IN ('typed','counted')")


def downgrade() -> None:
    with op.batch_alter_table('density_measurement', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_density_measurement_method'), type_='check')
        batch_op.drop_index(batch_op.f('ix_density_measurement_photo_id'))
        batch_op.drop_constraint(batch_op.f('fk_density_measurement_photo_id_photo'), type_='foreignkey')
        batch_op.drop_column('count_detail')
        batch_op.drop_column('photo_id')
        batch_op.drop_column('method')
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.drop_column('quality')
    op.drop_table('capture_device')
