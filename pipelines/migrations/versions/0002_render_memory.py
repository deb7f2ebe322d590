"""render memory: pages and domains that needed JavaScript rendering

Revision ID: 0002
Revises: 0001

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('render_memory',
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('first_needed', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_needed', sa.DateTime(timezone=True), nullable=False),
    sa.Column('times_needed', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_render_memory'))
    )
    with op.batch_alter_table('render_memory', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_render_memory_last_needed'), ['last_needed'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('render_memory', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_render_memory_last_needed'))

    op.drop_table('render_memory')
