"""sign-in throttling and account admin: delays instead of lock-out, session versions, password resets

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 11:00:00

- ``user_account``: ``locked_until`` (end of the current throttling delay), ``session_version`` (a signed-in
  session with an older one is ended), ``must_change_password`` (after an admin's reset).
- ``sign_in_attempt``: ``outcome`` and ``audited`` (the attempt that wrote the folded audit entry). Attempts
  made before this revision were each audited already, so they are marked audited.
- ``address_throttle``: failed sign-ins per client address, counted under a row lock.

An account locked by the old rule (``locked_at`` set, no end) is not locked by the new one: its failures
stay counted, so its next failure starts a delay.
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))

    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('audited', sa.Boolean(), server_default=sa.false(), nullable=False))
    attempts = sa.table('sign_in_attempt', sa.column('audited', sa.Boolean()))
    op.execute(attempts.update().values(audited=True))

    op.create_table('address_throttle',
    sa.Column('address', sa.String(length=80), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_address_throttle'))
    )


def downgrade() -> None:
    op.drop_table('address_throttle')
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.drop_column('audited')
        batch_op.drop_column('outcome')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('session_version')
        batch_op.drop_column('locked_until')
