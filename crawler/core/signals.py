"""Link quality signals: facts that make a link worth less, from what the crawler already fetched.

Signals, not verdicts: a footer link or a page full of sponsored links is not wrong, but a link
builder weighs it. Each is computed from a backlink's last conclusive check (its page facts) and its
state (where the link sits). Pure.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from crawler.core.items import Position

# Where a site's template repeats a link on every page: navigation, header, footer, sidebar.
TEMPLATE_POSITIONS = frozenset({Position.NAV.value, Position.HEADER.value, Position.FOOTER.value, Position.ASIDE.value})
SITEWIDE_PAGES = 2  # template links from this many known pages of one referring domain
CROWDED_PAGE = 100  # external links on the page: the link shares the page's weight with that many
MOSTLY_SPONSORED_SHARE = 0.5
MOSTLY_SPONSORED_MIN_LINKS = 5
# Referring domains of yours on one server address, or built from one template: the link-farm
# pattern. Three, because two sites of one owner on one host are common and harmless.
SHARED_BY_DOMAINS = 3


class Signals(BaseModel):
    model_config = ConfigDict(frozen=True)

    template_placement: bool  # the link sits in nav, header, footer or sidebar
    sitewide: bool  # ...and so on several known pages of the referring domain
    external_links: int | None  # on the page, at the last conclusive check
    crowded_page: bool
    sponsored_share: float | None  # of the page's external links, the share with rel=sponsored
    mostly_sponsored: bool  # a page of paid links
    reciprocal: bool  # one of your own pages (targets, BACKLINKS_OWN_PAGES) links to the referring domain
    address_domains: int  # your referring domains served from the page's address (0: not known)
    shared_address: bool  # ...at least SHARED_BY_DOMAINS of them
    template_domains: int  # your referring domains whose pages have the page's template (0: none known)
    shared_template: bool  # ...at least SHARED_BY_DOMAINS of them

    @property
    def names(self) -> list[str]:
        """The signals that hold, by name."""
        return [name for name in NAMES if getattr(self, name)]


NAMES = ("template_placement", "sitewide", "crowded_page", "mostly_sponsored", "reciprocal", "shared_address",
         "shared_template")


def signals(
    position: str | None, template_pages_of_domain: int, external_links: int | None, sponsored_links: int | None,
    *, reciprocal: bool = False, address_domains: int = 0, template_domains: int = 0,
) -> Signals:
    """The signals of a link at ``position``, whose referring domain has ``template_pages_of_domain``
    known pages with a template-placed link, on a page with these link counts (None: not known);
    ``reciprocal``: your own pages link to the referring domain; ``address_domains`` and
    ``template_domains``: how many of your referring domains share the page's address and template."""
    template = position in TEMPLATE_POSITIONS
    share = None
    if external_links and sponsored_links is not None:
        share = round(sponsored_links / external_links, 3)
    return Signals(
        template_placement=template,
        sitewide=template and template_pages_of_domain >= SITEWIDE_PAGES,
        external_links=external_links,
        crowded_page=(external_links or 0) >= CROWDED_PAGE,
        sponsored_share=share,
        mostly_sponsored=share is not None and external_links is not None
        and external_links >= MOSTLY_SPONSORED_MIN_LINKS and share >= MOSTLY_SPONSORED_SHARE,
        reciprocal=reciprocal,
        address_domains=address_domains,
        shared_address=address_domains >= SHARED_BY_DOMAINS,
        template_domains=template_domains,
        shared_template=template_domains >= SHARED_BY_DOMAINS,
    )
