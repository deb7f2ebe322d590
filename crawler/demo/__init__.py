"""The bundled demo web: fake referring sites on loopback that link (or no longer link) to a shop.

:mod:`crawler.demo.site` serves it for the demo walkthrough and for crawl tests alike;
``python -m crawler.demo`` runs it from a terminal.
"""
