"""snapshots: a compressed copy of the page at each check that changed something

A new table (``BACKLINKS_SNAPSHOTS``): one row per check at most, removed with its check, pruned by
``taken_at`` after ``BACKLINKS_SNAPSHOT_DAYS``.

Revision ID: 0012
Revises: 0011

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'snapshots',
        sa.Column('check_id', sa.Integer(), nullable=False),
        sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('media_type', sa.String(length=255), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('truncated_at', sa.BigInteger(), nullable=True),
        sa.Column('encoding', sa.String(length=16), nullable=False),
        sa.Column('compressed_size', sa.BigInteger(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['check_id'], ['checks.id'], name=op.f('fk_snapshots_check_id_checks'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('check_id', name=op.f('pk_snapshots')),
    )
    op.create_index(op.f('ix_snapshots_taken_at'), 'snapshots', ['taken_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_snapshots_taken_at'), table_name='snapshots')
    op.drop_table('snapshots')
