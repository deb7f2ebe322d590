"""The shape shared by backlink tools' exports: a referring page, a target, an anchor, rel flags.

Each tool module describes its columns with a :class:`ToolColumns`; this module binds that
description to a file's header. ``expected_rel`` follows :func:`~crawler.core.importers.base.rel_from_flags`:
sorted tokens (``"nofollow sponsored"``), ``""`` for a link the tool saw followed, ``None`` when the
export says nothing about rel.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from crawler.core.importers.base import REL_TOKENS, Convert, Options, RowError, make_backlink, parse_flag, rel_from_flags
from crawler.core.importers.header import Header, Sample, cell, check_width
from crawler.core.expect import FOLLOW_WORDS
from crawler.core.items import BacklinkIn
from crawler.core.metrics import MetricError, parse_metric


@dataclass(frozen=True, slots=True)
class ToolColumns:
    """Column aliases (normalised, see :func:`~crawler.core.importers.header.normalise`), best first."""

    name: str
    referring: tuple[str, ...]
    target: tuple[str, ...]
    anchor: tuple[str, ...]
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)  # rel token -> boolean columns
    dofollow: tuple[str, ...] = ()  # boolean columns where true means followed
    rel_text: tuple[str, ...] = ()  # free-text columns such as "nofollow, 301"
    metrics: dict[str, tuple[str, ...]] = field(default_factory=dict)  # metric name -> columns

    def has_link_columns(self, header: Header) -> bool:
        return header.has(*self.referring) and header.has(*self.target)

    def bind(self, sample: Sample, options: Options) -> Convert:
        header = sample.header
        referring = header.require(self.name, *self.referring)
        if options.target is None:
            target: int | None = header.require(self.name, *self.target)
        else:
            target = header.find(*self.target)
        anchor = header.find(*self.anchor)
        flags = [(tok, i) for tok, aliases in self.flags.items() if (i := header.find(*aliases)) is not None]
        dofollow = header.find(*self.dofollow)
        rel_text = header.find(*self.rel_text)
        metric_columns = [(name, i) for name, aliases in self.metrics.items() if (i := header.find(*aliases)) is not None]

        def metrics(cells: Sequence[str]) -> dict[str, float | str]:
            found = {}
            for name, i in metric_columns:
                try:
                    value = parse_metric(name, cells[i])
                except MetricError as exc:
                    raise RowError(f"{header.labels[i]}: {exc}") from None
                if value is not None:
                    found[name] = value
            return found

        def rel(cells: Sequence[str]) -> str | None:
            found = rel_from_flags((tok, parse_flag(header.labels[i], cells[i])) for tok, i in flags)
            if found is None and dofollow is not None:
                followed = parse_flag(header.labels[dofollow], cells[dofollow])
                found = None if followed is None else "" if followed else "nofollow"
            if found is None and rel_text is not None:
                found = _rel_from_text(cells[rel_text])
            return found

        def convert(cells: Sequence[str]) -> BacklinkIn:
            cells = check_width(cells, header)
            return make_backlink(
                self.name,
                options,
                referring_url=cells[referring],
                target_url=cell(cells, target),
                expected_anchor=cell(cells, anchor),
                expected_rel=rel(cells),
                metrics=metrics(cells),
            )

        return convert


def _rel_from_text(text: str) -> str | None:
    words = set(re.findall(r"[a-z]+", text.lower()))
    tokens = sorted(words.intersection(REL_TOKENS))
    if tokens:
        return " ".join(tokens)
    return "" if words & FOLLOW_WORDS else None
