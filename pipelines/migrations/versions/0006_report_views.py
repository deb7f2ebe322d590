"""report views: a documented reporting schema in SQL (docs/reporting.md)

Five views that a dashboard (Metabase, Grafana, Looker Studio) or a hand-written query reads
without knowing how the crawler stores its history: report_links (one row per backlink),
report_daily (one row per backlink per UTC day, the verdict carried forward), report_events,
report_domains_daily and report_runs. The same columns with the same meanings on SQLite and
PostgreSQL; only date arithmetic and JSON access are written per dialect.

The SQL is written out here, not imported: a migration is a snapshot of the schema it creates.
A later migration that alters a table these views read must drop them first and create them again
(PostgreSQL refuses to alter a column a view uses; SQLite's batch mode renames tables under them).

Revision ID: 0006
Revises: 0005

"""
from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The conclusive statuses: a verdict is one of these. Every other status is inconclusive (we could
# not see the page) and leaves the verdict standing.
CONCLUSIVE = "('live', 'missing_unconfirmed', 'lost')"


class Dialect:
    """The few expressions SQLite and PostgreSQL spell differently."""

    def __init__(self, name: str) -> None:
        self.postgresql = name == "postgresql"

    def day(self, moment: str) -> str:
        """The UTC calendar day of a timestamp: a DATE on PostgreSQL, 'YYYY-MM-DD' on SQLite."""
        # SQLite keeps UTC timestamps without an offset (pipelines.models.UTCDateTime); on
        # PostgreSQL the day must not depend on the session's time zone.
        return f"CAST(({moment} AT TIME ZONE 'UTC') AS DATE)" if self.postgresql else f"date({moment})"

    def next_day(self, day: str) -> str:
        return f"({day} + 1)" if self.postgresql else f"date({day}, '+1 day')"

    def json_text(self, column: str, *path: str | int) -> str:
        """The value at ``path`` inside a JSON column, as text (integers as numbers on SQLite)."""
        if self.postgresql:
            return f"({column} #>> '{{{','.join(map(str, path))}}}')"
        steps = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)
        return f"json_extract({column}, '${steps}')"

    def json_int(self, column: str, *path: str) -> str:
        text = self.json_text(column, *path)
        return f"COALESCE(CAST({text} AS INTEGER), 0)"

    def joined(self, column: str, separator: str) -> str:
        """A JSON list of strings as one text, in list order; '' for an empty list."""
        if self.postgresql:
            return (f"COALESCE((SELECT string_agg(item, '{separator}' ORDER BY n) "
                    f"FROM jsonb_array_elements_text({column}) WITH ORDINALITY AS items(item, n)), '')")
        return f"COALESCE((SELECT group_concat(value, '{separator}') FROM json_each({column})), '')"

    def json_sum(self, column: str) -> str:
        """The sum of a JSON object's numbers (runs.events: per kind)."""
        if self.postgresql:
            return f"COALESCE((SELECT SUM(CAST(value AS INTEGER)) FROM jsonb_each_text({column})), 0)"
        return f"COALESCE((SELECT SUM(value) FROM json_each({column})), 0)"

    def tag_lists(self) -> str:
        """CTE body: each tagged backlink's tags, sorted by code point, joined with ', '."""
        if self.postgresql:
            # COLLATE "C": code point order, as SQLite sorts, whatever the database's locale.
            return ("SELECT backlink_id, string_agg(tag, ', ' ORDER BY tag COLLATE \"C\") AS tags "
                    "FROM backlink_tags GROUP BY backlink_id")
        # SQLite before 3.44 has no ORDER BY inside an aggregate; group_concat takes the rows of an
        # ordered subquery in their order.
        return ("SELECT backlink_id, group_concat(tag, ', ') AS tags "
                "FROM (SELECT backlink_id, tag FROM backlink_tags ORDER BY backlink_id, tag) AS sorted "
                "GROUP BY backlink_id")

    def context(self, details: str) -> str:
        """The text around a check's first matching link, the anchor in brackets (NULL: no link),
        as pipelines.queries builds it for the events export."""
        link = self.json_text(details, "links", 0)
        left, anchor, right = (self.json_text(details, "links", 0, key) for key in ("left", "anchor", "right"))
        return (f"CASE WHEN {link} IS NOT NULL THEN "
                f"TRIM(COALESCE({left}, '') || ' [' || COALESCE({anchor}, '') || '] ' || COALESCE({right}, '')) END")


def flag(condition: str) -> str:
    """A condition as INTEGER 0/1 on both backends (NULL counts as 0), so SUM() counts it."""
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def report_links(d: Dialect) -> str:
    # The link fields say what the last check saw (empty unless it saw the link), as the `current`
    # export does; is_live and is_followed follow the verdict, which an outage night leaves standing.
    seen = "s.status = 'live'"
    return f"""
WITH tag_lists AS ({d.tag_lists()})
SELECT
    b.id AS backlink_id, b.referring_url, b.domain AS referring_domain, b.target_url, b.match,
    COALESCE(t.tags, '') AS tags,
    COALESCE(s.status, 'unchecked') AS status, s.reason, s.verdict,
    {flag("s.verdict = 'live'")} AS is_live,
    {flag("s.verdict = 'live' AND s.follow")} AS is_followed,
    CASE WHEN {seen} THEN {d.joined('s.anchors', ' | ')} ELSE '' END AS anchors,
    CASE WHEN {seen} THEN {d.joined('s.rel', ' ')} ELSE '' END AS rel,
    CASE WHEN {seen} THEN s.link_count ELSE 0 END AS link_count,
    s.http_status, s.final_url,
    CASE WHEN s.noindex THEN 1 WHEN NOT s.noindex THEN 0 END AS noindex,
    s.canonical,
    CASE WHEN {seen} THEN s.found_in END AS found_in,
    s.first_seen, s.last_seen, s.last_checked, s.since, s.consecutive_misses
FROM backlinks b
LEFT JOIN states s ON s.backlink_id = b.id
LEFT JOIN tag_lists t ON t.backlink_id = b.id
"""


def report_daily(d: Dialect) -> str:
    # A check's status is the backlink's status after it, except that a loss held back until the
    # end of a healthy run (ChangePolicy.hold_losses) is confirmed afterwards: the check keeps
    # missing_unconfirmed, and the `lost` event on it says what it became.
    #
    # Carrying forward without IGNORE NULLS (neither backend has it): a running count of the days
    # that have a value numbers the groups "a day with a value and the unchecked days after it";
    # within a group the one non-NULL value is its MAX.
    latest = "ORDER BY checked_at DESC, id DESC"
    return f"""
WITH RECURSIVE
tag_lists AS ({d.tag_lists()}),
judged AS (
    SELECT c.id, c.backlink_id, c.checked_at, {d.day('c.checked_at')} AS day,
        CASE WHEN c.id IN (SELECT check_id FROM events WHERE kind = 'lost') THEN 'lost' ELSE c.status END AS status,
        {flag('c.follow')} AS follow
    FROM checks c
),
last_of_day AS (
    SELECT * FROM (
        SELECT backlink_id, day, id, status,
            ROW_NUMBER() OVER (PARTITION BY backlink_id, day {latest}) AS nth
        FROM judged
    ) AS ranked WHERE nth = 1
),
verdict_of_day AS (
    SELECT * FROM (
        SELECT backlink_id, day, id, status, follow,
            ROW_NUMBER() OVER (PARTITION BY backlink_id, day {latest}) AS nth
        FROM judged WHERE status IN {CONCLUSIVE}
    ) AS ranked WHERE nth = 1
),
first_days AS (
    SELECT backlink_id, MIN(day) AS first_day FROM last_of_day GROUP BY backlink_id
),
last_day AS (
    -- The day of the last run; a run that went on past midnight has checks on the day after.
    SELECT MAX(day) AS day FROM (
        SELECT day FROM last_of_day UNION ALL SELECT {d.day('started_at')} FROM runs
    ) AS ends
),
calendar(day) AS (
    SELECT MIN(first_day) FROM first_days HAVING COUNT(*) > 0
    UNION ALL
    SELECT {d.next_day('calendar.day')} FROM calendar, last_day WHERE calendar.day < last_day.day
),
grid AS (
    SELECT f.backlink_id, calendar.day,
        l.id AS day_check_id, l.status AS day_status,
        v.id AS day_verdict_check_id, v.status AS day_verdict, v.follow AS day_follow
    FROM first_days f
    JOIN calendar ON calendar.day >= f.first_day
    LEFT JOIN last_of_day l ON l.backlink_id = f.backlink_id AND l.day = calendar.day
    LEFT JOIN verdict_of_day v ON v.backlink_id = f.backlink_id AND v.day = calendar.day
),
grouped AS (
    SELECT grid.*,
        COUNT(day_check_id) OVER (PARTITION BY backlink_id ORDER BY day) AS status_group,
        COUNT(day_verdict_check_id) OVER (PARTITION BY backlink_id ORDER BY day) AS verdict_group
    FROM grid
),
carried AS (
    SELECT backlink_id, day, day_check_id,
        MAX(day_check_id) OVER (PARTITION BY backlink_id, status_group) AS check_id,
        MAX(day_status) OVER (PARTITION BY backlink_id, status_group) AS status,
        MAX(day_verdict_check_id) OVER (PARTITION BY backlink_id, verdict_group) AS verdict_check_id,
        MAX(day_verdict) OVER (PARTITION BY backlink_id, verdict_group) AS verdict,
        MAX(day_follow) OVER (PARTITION BY backlink_id, verdict_group) AS follow
    FROM grouped
)
SELECT
    c.day, c.backlink_id, b.referring_url, b.domain AS referring_domain, b.target_url,
    COALESCE(t.tags, '') AS tags,
    c.status, c.verdict,
    {flag("c.verdict = 'live'")} AS is_live,
    {flag("c.verdict = 'live' AND c.follow = 1")} AS is_followed,
    {flag('c.day_check_id IS NOT NULL')} AS checked_that_day,
    c.check_id, c.verdict_check_id
FROM carried c
JOIN backlinks b ON b.id = c.backlink_id
LEFT JOIN tag_lists t ON t.backlink_id = c.backlink_id
"""


def report_events(d: Dialect) -> str:
    # As pipelines.queries.events_query: "before" is the last check before the event's that saw
    # the link; "after" is the event's own check, when it saw the link.
    after = "c.observed = 'live'"
    return f"""
WITH tag_lists AS ({d.tag_lists()})
SELECT
    e.id AS event_id, {d.day('e.at')} AS day, e.at, e.run_id, e.kind, e.before, e.after,
    e.backlink_id, b.referring_url, b.domain AS referring_domain, b.target_url,
    COALESCE(t.tags, '') AS tags,
    c.reason, s.last_seen,
    CASE WHEN p.id IS NULL THEN '' ELSE {d.joined('p.anchors', ' | ')} END AS before_anchors,
    CASE WHEN p.id IS NULL THEN '' ELSE {d.joined('p.rel', ' ')} END AS before_rel,
    p.position AS before_position,
    {d.context('p.details')} AS before_context,
    CASE WHEN {after} THEN {d.joined('c.anchors', ' | ')} ELSE '' END AS after_anchors,
    CASE WHEN {after} THEN {d.joined('c.rel', ' ')} ELSE '' END AS after_rel,
    CASE WHEN {after} THEN c.position END AS after_position,
    CASE WHEN {after} THEN {d.context('c.details')} END AS after_context,
    c.id AS check_id, p.id AS before_check_id
FROM events e
JOIN backlinks b ON b.id = e.backlink_id
JOIN checks c ON c.id = e.check_id
LEFT JOIN checks p ON p.id = (
    SELECT MAX(x.id) FROM checks x
    WHERE x.backlink_id = e.backlink_id AND x.id < e.check_id AND x.observed = 'live'
)
LEFT JOIN states s ON s.backlink_id = e.backlink_id
LEFT JOIN tag_lists t ON t.backlink_id = e.backlink_id
"""


def report_domains_daily(d: Dialect) -> str:
    kind = "CASE WHEN e.kind = '{}' THEN 1 ELSE 0 END"
    return f"""
WITH days AS (
    SELECT day, referring_domain, COUNT(*) AS backlinks, SUM(is_live) AS live, SUM(is_followed) AS followed,
        SUM({flag("verdict = 'lost'")}) AS lost
    FROM report_daily
    GROUP BY day, referring_domain
),
happened AS (
    SELECT {d.day('e.at')} AS day, b.domain AS referring_domain,
        SUM({kind.format('first_seen')}) AS new,
        SUM({kind.format('lost')}) AS lost_that_day,
        SUM({kind.format('recovered')}) AS recovered
    FROM events e JOIN backlinks b ON b.id = e.backlink_id
    GROUP BY {d.day('e.at')}, b.domain
)
SELECT days.day, days.referring_domain, days.backlinks, days.live, days.followed, days.lost,
    COALESCE(h.new, 0) AS new, COALESCE(h.lost_that_day, 0) AS lost_that_day,
    COALESCE(h.recovered, 0) AS recovered
FROM days
LEFT JOIN happened h ON h.day = days.day AND h.referring_domain = days.referring_domain
"""


def report_runs(d: Dialect) -> str:
    return f"""
SELECT run_id, key, day, started_at, finished_at, status, finish_reason, degraded,
    pages, checks, live, missing_unconfirmed, lost,
    checks - live - missing_unconfirmed - lost AS inconclusive,
    held_back, errors, events
FROM (
    SELECT r.id AS run_id, r.key, {d.day('r.started_at')} AS day, r.started_at, r.finished_at, r.status,
        r.finish_reason, {flag('r.degraded')} AS degraded,
        (SELECT COUNT(DISTINCT b.referring_key) FROM checks c JOIN backlinks b ON b.id = c.backlink_id
         WHERE c.run_id = r.id) AS pages,
        {d.json_int('r.counts', 'checked')} AS checks,
        {d.json_int('r.counts', 'status', 'live')} AS live,
        {d.json_int('r.counts', 'status', 'missing_unconfirmed')} AS missing_unconfirmed,
        {d.json_int('r.counts', 'status', 'lost')} AS lost,
        {d.json_int('r.counts', 'held_back')} AS held_back,
        {d.json_int('r.counts', 'errors')} AS errors,
        {d.json_sum('r.events')} AS events
    FROM runs r
) AS counted
"""


# Each view after the views it reads: created in this order, dropped in the reverse.
VIEWS = {
    "report_links": report_links, "report_daily": report_daily, "report_events": report_events,
    "report_domains_daily": report_domains_daily, "report_runs": report_runs,
}


def upgrade() -> None:
    """Upgrade schema."""
    dialect = Dialect(op.get_bind().dialect.name)
    for name, select in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {select(dialect)}")


def downgrade() -> None:
    """Downgrade schema."""
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
