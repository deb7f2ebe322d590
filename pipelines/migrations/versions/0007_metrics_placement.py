"""metrics and placement: vendors' metrics per backlink, and a paid link's cost and dates

Imports kept only the link itself; the metrics a user pays a tool for (Domain Rating, Trust Flow,
...) and the price and term of a placed link were dropped. ``metrics`` holds one value per backlink
and metric name (the last import's, with its source and day), ``report_metrics`` shows it for
dashboards. The new ``backlinks`` columns are added in place: the reporting views of 0006 read
other columns of the table, so they stay as they are.

Revision ID: 0007
Revises: 0006

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PLACEMENT = (
    sa.Column('cost', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('placed_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
)

REPORT_METRICS = """
SELECT m.backlink_id, b.referring_url, b.domain AS referring_domain, b.target_url,
    m.name, m.number, m.text, m.source, m.as_of
FROM metrics m JOIN backlinks b ON b.id = m.backlink_id
"""


def upgrade() -> None:
    """Upgrade schema."""
    for column in PLACEMENT:
        # Plain nullable columns: SQLite adds them in place, PostgreSQL without touching the views.
        op.add_column('backlinks', column)
    op.create_table('metrics',
    sa.Column('backlink_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('number', sa.Float(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['backlink_id'], ['backlinks.id'], name=op.f('fk_metrics_backlink_id_backlinks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('backlink_id', 'name', name=op.f('pk_metrics'))
    )
    op.execute(f"CREATE VIEW report_metrics AS {REPORT_METRICS}")


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DROP VIEW IF EXISTS report_metrics")
    op.drop_table('metrics')
    for column in reversed(PLACEMENT):
        # ALTER TABLE ... DROP COLUMN, not a batch copy of the table: SQLite (3.35+) drops a column
        # no view uses in place, and copying would break the views that read the table.
        op.execute(f"ALTER TABLE backlinks DROP COLUMN {column.name}")
