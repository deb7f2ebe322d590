"""A Scrapy response in the plain values the pure core judges (crawler.core.observe.Fetched)."""

from __future__ import annotations

from scrapy.http import Response, TextResponse

from crawler.core.observe import Fetched


def as_fetched(url: str, response: Response) -> Fetched:
    """``response`` to a request for ``url`` (before any redirect), in plain values."""
    return Fetched(
        url=url,
        final_url=response.url,
        http_status=response.status,
        headers={
            key.decode("latin-1").lower(): [v.decode("latin-1") for v in values]
            for key, values in response.headers.items()
        },
        redirects=response.meta.get("redirect_urls", []),
        body=response.body,
        text=response.text if isinstance(response, TextResponse) else None,
        ip=str(response.ip_address) if response.ip_address is not None else None,
    )
