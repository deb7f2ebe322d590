"""The commands users run: the ``backlinks`` typer app, the project's Scrapy ``crawl`` command
(its exit status) and the Scrapyd scheduler. The top layer: it may import everything below.
"""
