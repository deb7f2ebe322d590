"""mentions: whether a backlink's page names the brand without linking

``states.mentioned`` remembers it, so that a mention found and a mention that links again are
events (the sentences are in the check's details). A plain nullable column, added in place.

Revision ID: 0010
Revises: 0009

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('states', sa.Column('mentioned', sa.Boolean(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    # In place, not a batch copy: the reporting views read the table (see 0007).
    op.execute("ALTER TABLE states DROP COLUMN mentioned")
