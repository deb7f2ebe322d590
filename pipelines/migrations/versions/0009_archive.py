"""archive: backlinks kept with their history, but neither crawled nor reported

A link a client no longer pays for, or a batch paused for a while, is archived (``backlinks
archive``): ``archived_at`` says since when. The reporting views leave archived backlinks out; they
are the views of 0006 and 0007 with that one condition added where each reads ``backlinks``.

Revision ID: 0009
Revises: 0008

"""
from typing import Sequence, Union

from alembic import context, op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ACTIVE = "b.archived_at IS NULL"
# Where each view reads backlinks (alias b), as 0006 and 0007 wrote it; each must be found once.
READS = {
    "report_links": ("LEFT JOIN tag_lists t ON t.backlink_id = b.id\n", f"LEFT JOIN tag_lists t ON t.backlink_id = b.id\nWHERE {ACTIVE}\n"),
    "report_daily": ("JOIN backlinks b ON b.id = c.backlink_id\n", f"JOIN backlinks b ON b.id = c.backlink_id AND {ACTIVE}\n"),
    "report_events": ("JOIN backlinks b ON b.id = e.backlink_id\n", f"JOIN backlinks b ON b.id = e.backlink_id AND {ACTIVE}\n"),
    "report_domains_daily": ("FROM events e JOIN backlinks b ON b.id = e.backlink_id\n",
                             f"FROM events e JOIN backlinks b ON b.id = e.backlink_id AND {ACTIVE}\n"),
    "report_metrics": ("FROM metrics m JOIN backlinks b ON b.id = m.backlink_id\n",
                       f"FROM metrics m JOIN backlinks b ON b.id = m.backlink_id AND {ACTIVE}\n"),
}


def _views(active_only: bool) -> dict[str, str]:
    """The views of 0006 and 0007 by name (in creation order), with archived backlinks left out
    when ``active_only``. Read from those revisions' own modules: one text of each view."""
    script = context.script
    views, metrics = script.get_revision("0006").module, script.get_revision("0007").module
    dialect = views.Dialect(op.get_bind().dialect.name)
    found = {name: build(dialect) for name, build in views.VIEWS.items()}
    found["report_metrics"] = metrics.REPORT_METRICS
    if active_only:
        for name, (before, after) in READS.items():
            if found[name].count(before) != 1:
                raise RuntimeError(f"migration 0009: {name} no longer reads backlinks as expected")
            found[name] = found[name].replace(before, after)
    return found


def _recreate(active_only: bool) -> None:
    views = _views(active_only)
    for name in reversed(views):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    for name, select in views.items():
        op.execute(f"CREATE VIEW {name} AS {select}")


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('backlinks', sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
    _recreate(active_only=True)


def downgrade() -> None:
    """Downgrade schema."""
    _recreate(active_only=False)
    op.execute("ALTER TABLE backlinks DROP COLUMN archived_at")
