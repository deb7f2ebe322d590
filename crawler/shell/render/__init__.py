"""JavaScript rendering: when to render (:mod:`.policy`), which browser (:mod:`.browser`), what runs in
the page (:mod:`.probe`) and how browser contexts are recycled (:mod:`.middleware`).

Rendering is one more way to get a response: the rendered DOM goes through the same pure extraction
as static HTML, and :func:`crawler.core.observe.merge_rendered` says where each link was found.
"""
