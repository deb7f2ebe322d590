"""miss runs: the run of a backlink's last counted miss

Two crawls that overlap in time see the web at the same moment: their misses are one night's
evidence, so a loss is confirmed only by misses from runs that did not overlap. The state keeps
the run whose miss was counted last, to compare the next miss's run with.

Revision ID: 0004
Revises: 0003

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # A plain column (no foreign key): SQLite adds it in place, without copying the table.
    op.add_column('states', sa.Column('miss_run_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('states', schema=None) as batch_op:
        batch_op.drop_column('miss_run_id')
