"""initial schema

Revision ID: 0001
Revises: 


"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    
    op.create_table('backlinks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referring_url', sa.Text(), nullable=False),
    sa.Column('referring_key', sa.Text(), nullable=False),
    sa.Column('target_url', sa.Text(), nullable=False),
    sa.Column('target_key', sa.Text(), nullable=False),
    sa.Column('match', sa.String(length=16), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('expected_anchor', sa.Text(), nullable=True),
    sa.Column('expected_rel', sa.String(length=255), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backlinks')),
    sa.UniqueConstraint('referring_key', 'target_key', name=op.f('uq_backlinks_referring_key'))
    )
    with op.batch_alter_table('backlinks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backlinks_domain'), ['domain'], unique=False)
        batch_op.create_index(batch_op.f('ix_backlinks_referring_key'), ['referring_key'], unique=False)

    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('finish_reason', sa.String(length=64), nullable=True),
    sa.Column('arguments', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('events', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    op.create_table('backlink_tags',
    sa.Column('backlink_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['backlink_id'], ['backlinks.id'], name=op.f('fk_backlink_tags_backlink_id_backlinks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('backlink_id', 'tag', name=op.f('pk_backlink_tags'))
    )
    with op.batch_alter_table('backlink_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backlink_tags_tag'), ['tag'], unique=False)

    op.create_table('checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('backlink_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('observed', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('final_url', sa.Text(), nullable=True),
    sa.Column('anchors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rel', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('follow', sa.Boolean(), nullable=True),
    sa.Column('position', sa.String(length=16), nullable=True),
    sa.Column('link_count', sa.Integer(), nullable=False),
    sa.Column('noindex', sa.Boolean(), nullable=True),
    sa.Column('canonical', sa.Text(), nullable=True),
    sa.Column('found_in', sa.String(length=16), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['backlink_id'], ['backlinks.id'], name=op.f('fk_checks_backlink_id_backlinks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_checks_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checks'))
    )
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.create_index('ix_checks_backlink_checked', ['backlink_id', 'checked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_checks_run_id'), ['run_id'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('backlink_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['backlink_id'], ['backlinks.id'], name=op.f('fk_events_backlink_id_backlinks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['check_id'], ['checks.id'], name=op.f('fk_events_check_id_checks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_events_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('check_id', 'kind', name=op.f('uq_events_check_id'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_backlink_id'), ['backlink_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_run_id'), ['run_id'], unique=False)

    op.create_table('states',
    sa.Column('backlink_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('verdict', sa.String(length=32), nullable=True),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_checked', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_check_id', sa.Integer(), nullable=True),
    sa.Column('consecutive_misses', sa.Integer(), nullable=False),
    sa.Column('anchors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rel', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('follow', sa.Boolean(), nullable=True),
    sa.Column('position', sa.String(length=16), nullable=True),
    sa.Column('link_count', sa.Integer(), nullable=False),
    sa.Column('linked_url', sa.Text(), nullable=True),
    sa.Column('found_in', sa.String(length=16), nullable=True),
    sa.Column('hidden', sa.Boolean(), nullable=True),
    sa.Column('mismatch', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('final_url', sa.Text(), nullable=True),
    sa.Column('noindex', sa.Boolean(), nullable=True),
    sa.Column('canonical', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['backlink_id'], ['backlinks.id'], name=op.f('fk_states_backlink_id_backlinks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['last_check_id'], ['checks.id'], name=op.f('fk_states_last_check_id_checks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('backlink_id', name=op.f('pk_states'))
    )
    with op.batch_alter_table('states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_states_last_checked'), ['last_checked'], unique=False)
        batch_op.create_index(batch_op.f('ix_states_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_states_verdict'), ['verdict'], unique=False)

    


def downgrade() -> None:
    """Downgrade schema."""
    
    with op.batch_alter_table('states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_states_verdict'))
        batch_op.drop_index(batch_op.f('ix_states_status'))
        batch_op.drop_index(batch_op.f('ix_states_last_checked'))

    op.drop_table('states')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_run_id'))
        batch_op.drop_index(batch_op.f('ix_events_kind'))
        batch_op.drop_index(batch_op.f('ix_events_backlink_id'))
        batch_op.drop_index(batch_op.f('ix_events_at'))

    op.drop_table('events')
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checks_run_id'))
        batch_op.drop_index('ix_checks_backlink_checked')

    op.drop_table('checks')
    with op.batch_alter_table('backlink_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backlink_tags_tag'))

    op.drop_table('backlink_tags')
    op.drop_table('runs')
    with op.batch_alter_table('backlinks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backlinks_referring_key'))
        batch_op.drop_index(batch_op.f('ix_backlinks_domain'))

    op.drop_table('backlinks')
    
