"""targets: target health checks, and the page facts the link-farm signals group by

``target_checks`` holds one check per run of each of the user's own pages (a backlinks' target or a
listed own page, crawler/core/targets.py). ``checks.ip`` and ``checks.template`` are the referring
page's server address and template fingerprint: columns, added in place (the reporting views read
``checks``), because the signals count referring domains per address and per template.

Revision ID: 0011
Revises: 0010

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('target_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verdict', sa.String(length=16), nullable=True),
    sa.Column('detail', sa.String(length=255), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('final_url', sa.Text(), nullable=True),
    sa.Column('redirects', _JSON, nullable=True),
    sa.Column('noindex', sa.Boolean(), nullable=True),
    sa.Column('canonical', sa.Text(), nullable=True),
    sa.Column('linked_domains', _JSON, nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_target_checks_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_target_checks')),
    sa.UniqueConstraint('run_id', 'url', name=op.f('uq_target_checks_run_id'))
    )
    op.create_index(op.f('ix_target_checks_url'), 'target_checks', ['url'], unique=False)
    op.add_column('checks', sa.Column('ip', sa.String(length=45), nullable=True))
    op.add_column('checks', sa.Column('template', sa.String(length=16), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    # In place, not a batch copy: the reporting views read the table (see 0010).
    op.execute("ALTER TABLE checks DROP COLUMN template")
    op.execute("ALTER TABLE checks DROP COLUMN ip")
    op.drop_index(op.f('ix_target_checks_url'), table_name='target_checks')
    op.drop_table('target_checks')
