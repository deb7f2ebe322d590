"""Should this page be rendered? Pure decisions over plain values: no browser, no Scrapy, no database.

``auto`` fetches static HTML first and renders only when it can change the answer: a backlink is
missing from the static HTML of a page that runs scripts, and either the page looks client-side
rendered or the miss must be confirmed by one render before it counts. Pages and domains where a
render found a link that the static HTML lacked are remembered, so the next run renders them at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import parsel

from crawler.core.items import Observation
from crawler.core.outcome import FoundIn, Status


class RenderMode(str, Enum):
    """The ``render`` spider argument and the ``BACKLINKS_RENDER`` setting."""

    NEVER = "never"  # static HTML only
    AUTO = "auto"  # static first; render where it can change the answer
    ALWAYS = "always"  # every page in the browser


class RenderReason(str, Enum):
    """Why a page went to the browser (the ``backlinks/render/reason/...`` stats)."""

    ALWAYS = "always"
    REMEMBERED_PAGE = "remembered_page"
    REMEMBERED_DOMAIN = "remembered_domain"
    CLIENT_SIDE = "client_side"  # a static miss on a page with signs of client-side rendering
    CONFIRM_MISS = "confirm_miss"  # a static miss on a page that runs scripts, confirmed by one render


@dataclass(frozen=True)
class RenderMemory:
    """Normalised referring URLs and registrable domains that needed rendering in recent runs."""

    pages: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()

    def reason(self, page_key: str, domain: str) -> RenderReason | None:
        if page_key in self.pages:
            return RenderReason.REMEMBERED_PAGE
        if domain in self.domains:
            return RenderReason.REMEMBERED_DOMAIN
        return None


def render_first(mode: RenderMode, memory: RenderMemory, page_key: str, domain: str) -> RenderReason | None:
    """Whether a page goes straight to the browser, skipping the static fetch."""
    if mode is RenderMode.ALWAYS:
        return RenderReason.ALWAYS
    if mode is RenderMode.AUTO:
        return memory.reason(page_key, domain)
    return None


def render_after_static(
    observations: Sequence[Observation], html: str | None, *, confirm_misses: bool = True
) -> RenderReason | None:
    """Whether ``auto`` renders a page after reading its static HTML (``html``, the decoded body).

    Only a conclusive miss on a page that was read (2xx HTML) can be overturned by rendering: links
    found statically are already live, and errors, 404s and challenges say nothing about scripts.
    A page without a single script cannot insert a link, so it is never rendered.
    """
    if html is None or not any(_readable_miss(obs) for obs in observations):
        return None
    if not runs_scripts(html):
        return None
    if client_side_signals(html):
        return RenderReason.CLIENT_SIDE
    return RenderReason.CONFIRM_MISS if confirm_misses else None


def _readable_miss(obs: Observation) -> bool:
    return (
        obs.status is Status.MISSING_UNCONFIRMED
        and obs.page is not None
        and 200 <= obs.page.http_status < 300
    )


def needed_render(observations: Iterable[Observation]) -> bool:
    """Whether a render found a backlink the static HTML lacked: the page needed the browser."""
    return any(obs.status is Status.LIVE and obs.found_in is FoundIn.RENDERED for obs in observations)


# --- Signs of client-side rendering in static HTML ---------------------------------------------------

_SCRIPT_TAG = re.compile(rb"<script\b", re.IGNORECASE)
# Script types a browser executes; everything else (JSON, templates, ld+json) is data.
_EXECUTABLE_TYPES = frozenset(
    {"", "text/javascript", "application/javascript", "module", "text/ecmascript", "application/ecmascript"}
)
# Mount points of the common front-end frameworks (React, Vue, Next, Nuxt, Gatsby, Svelte, Angular).
_APP_ROOT_IDS = frozenset({"root", "app", "__next", "__nuxt", "___gatsby", "svelte", "main-app", "application"})
_APP_ROOT_ATTRS = ("data-reactroot", "ng-version", "ng-app", "data-v-app", "data-server-rendered")
# Calls that build visible markup; an analytics snippet's createElement("script") is not one of them.
_DOM_BUILDING = re.compile(
    r"\.(?:innerHTML|outerHTML)\s*=|\b(?:insertAdjacentHTML|appendChild|replaceChildren|document\.write|"
    r"createRoot|hydrateRoot|ReactDOM\.render|createApp)\s*\(|\.mount\s*\("
)
_NEEDS_JS = re.compile(r"javascript|enable js|js (?:is )?(?:required|disabled)", re.IGNORECASE)
LITTLE_TEXT = 200  # characters of visible body text below which a page with scripts looks app-built
_INVISIBLE = ("script", "style", "noscript", "template")


def runs_scripts(html: str | bytes) -> bool:
    """Whether the page has at least one script a browser would execute."""
    raw = html.encode("utf-8", "surrogatepass") if isinstance(html, str) else html
    if not _SCRIPT_TAG.search(raw):
        return False  # the common case, decided without parsing
    sel = parsel.Selector(text=raw.decode("utf-8", "replace"), type="html")
    return any(_executable(script) for script in sel.xpath("//script"))


def _executable(script: parsel.Selector) -> bool:
    script_type = (script.attrib.get("type") or "").split(";")[0].strip().lower()
    return script_type in _EXECUTABLE_TYPES


def client_side_signals(html: str) -> tuple[str, ...]:
    """The signs that a page is built by its scripts, by name; empty for a server-rendered page."""
    sel = parsel.Selector(text=html, type="html")
    scripts = [s for s in sel.xpath("//script") if _executable(s)]
    if not scripts:
        return ()
    signals = []
    if any(_empty(root) for root in _app_roots(sel)):
        signals.append("empty_app_root")
    noscript = " ".join(" ".join(n.xpath(".//text()").getall()) for n in sel.xpath("//body//noscript"))
    if _NEEDS_JS.search(noscript):
        signals.append("noscript_fallback")
    if len(_visible_text(sel)) < LITTLE_TEXT:
        signals.append("little_text")
    inline = "\n".join("".join(s.xpath("text()").getall()) for s in scripts)
    if _DOM_BUILDING.search(inline) or any(s.attrib.get("type") == "module" for s in scripts):
        signals.append("script_built_body")
    return tuple(signals)


def _app_roots(sel: parsel.Selector) -> list[parsel.Selector]:
    ids = " or ".join(f"@id='{name}'" for name in sorted(_APP_ROOT_IDS))
    attrs = " or ".join(f"@{name}" for name in _APP_ROOT_ATTRS)
    return sel.xpath(f"//body//*[{ids} or {attrs}]")


def _empty(root: parsel.Selector) -> bool:
    """No child elements and at most a short "Loading..." text."""
    children = [c for c in root.xpath("*") if c.root.tag not in _INVISIBLE]
    return not children and len(" ".join(root.xpath("text()").getall()).strip()) < 40


def _visible_text(sel: parsel.Selector) -> str:
    hidden = " and ".join(f"not(ancestor::{tag})" for tag in _INVISIBLE)
    return " ".join(" ".join(sel.xpath(f"//body//text()[{hidden}]").getall()).split())
