"""The Scrapy shell: the verify spider, its middlewares, the download handler and browser, the
storage pipeline, the run service and the add-on that wires them. Thin: each component hands
plain values to :mod:`crawler.core` and to the database layer (:mod:`pipelines`).
"""
