"""Each backlink's link quality signals (crawler/core/signals.py) from what the crawls stored: its
last conclusive check, where its link sits, and what the other referring domains and your own pages
have in common with it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.core.outcome import Status
from crawler.core.scope import Scope
from crawler.core.signals import TEMPLATE_POSITIONS, signals
from pipelines.models import Backlink, Check, State
from pipelines.queries import tagged, last_conclusive_check, scoped
from pipelines.targets import reciprocal_domains

SIGNAL_FIELDS = (
    "referring_url", "target_url", "referring_domain", "status", "verdict", "position", "signals",
    "template_placement", "sitewide", "external_links", "crowded_page", "sponsored_share", "mostly_sponsored",
    "reciprocal", "reciprocal_from", "ip", "address_domains", "shared_address", "template", "template_domains",
    "shared_template",
)
_YIELD = 1000


def iter_signals(session: Session, scope: Scope = Scope()) -> Iterator[dict[str, Any]]:
    scope.require_no_kinds("signals")
    template = list(TEMPLATE_POSITIONS)
    # Per referring domain: how many known pages carry a template-placed link (a site-wide link).
    per_domain = dict(session.execute(
        tagged(select(Backlink.domain, func.count(func.distinct(Backlink.referring_key)))
                .join(State, State.backlink_id == Backlink.id)
                .where(State.verdict == Status.LIVE.value, State.position.in_(template)), None)
        .group_by(Backlink.domain)
    ).all())
    # Across all your backlinks (not only the selected ones): a farm is a farm whatever the tag.
    by_address, by_template = _domains_sharing(session)
    linked_from = reciprocal_domains(session)
    stmt = scoped(
        session,
        select(Backlink, State, Check)
        .join(State, State.backlink_id == Backlink.id)
        .join(Check, Check.id == last_conclusive_check()),
        scope,
    )
    if scope.since:
        stmt = stmt.where(State.last_checked >= scope.since)
    for backlink, state, check in session.execute(stmt.order_by(Backlink.id)).yield_per(_YIELD):
        page = (check.details or {}).get("page") or {}
        position = state.position if state.verdict == Status.LIVE.value else None
        own_pages = linked_from.get(backlink.domain, [])
        found = signals(
            position, per_domain.get(backlink.domain, 0), page.get("external_links"), page.get("sponsored_links"),
            reciprocal=bool(own_pages), address_domains=len(by_address.get(check.ip, ())) if check.ip else 0,
            template_domains=len(by_template.get(check.template, ())) if check.template else 0,
        )
        yield {
            "referring_url": backlink.referring_url, "target_url": backlink.target_url, "referring_domain": backlink.domain,
            "status": state.status, "verdict": state.verdict, "position": position, "signals": found.names,
            "reciprocal_from": own_pages, "ip": check.ip, "template": check.template, **found.model_dump(),
        }


def _domains_sharing(session: Session) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Server address -> referring domains, and template -> referring domains, as last seen."""
    by_address: dict[str, set[str]] = defaultdict(set)
    by_template: dict[str, set[str]] = defaultdict(set)
    rows = session.execute(
        tagged(select(Backlink.domain, Check.ip, Check.template)
                .join(State, State.backlink_id == Backlink.id)
                .join(Check, Check.id == last_conclusive_check()), None)
    )
    for domain, ip, template in rows:
        if ip:
            by_address[ip].add(domain)
        if template:
            by_template[template].add(domain)
    return by_address, by_template
