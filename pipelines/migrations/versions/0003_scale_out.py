"""scale-out: run keys, workers, domain leases, degraded runs

Several verify processes join one run by its key, claim its due referring domains with leases, and
keep their own tallies; a run with too many inconclusive results is marked degraded.

Revision ID: 0003
Revises: 0002

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('run_workers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('finish_reason', sa.String(length=64), nullable=True),
    sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('events', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_workers_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_workers'))
    )
    with op.batch_alter_table('run_workers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_workers_run_id'), ['run_id'], unique=False)

    op.create_table('run_domains',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('bucket', sa.BigInteger(), nullable=False),
    sa.Column('owner', sa.Integer(), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner'], ['run_workers.id'], name=op.f('fk_run_domains_owner_run_workers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_domains_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'domain', name=op.f('pk_run_domains'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('cutoff', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('degraded', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_runs_key'), ['key'])



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_runs_key'), type_='unique')
        batch_op.drop_column('degraded')
        batch_op.drop_column('cutoff')
        batch_op.drop_column('key')

    op.drop_table('run_domains')
    with op.batch_alter_table('run_workers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_workers_run_id'))

    op.drop_table('run_workers')
