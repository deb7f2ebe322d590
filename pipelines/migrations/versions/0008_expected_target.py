"""expected target: the landing page a backlink must point to exactly

A backlink matched by domain or prefix is live whatever page of the site it points to; a link
builder who paid for a link to one page wants to know when it points elsewhere (``target`` in
the mismatch list). A plain nullable column: added in place, the reporting views unaffected.

Revision ID: 0008
Revises: 0007

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('backlinks', sa.Column('expected_target', sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    # In place, not a batch copy: the reporting views read the table (see 0007).
    op.execute("ALTER TABLE backlinks DROP COLUMN expected_target")
