"""backlinks-verify: the crawler, its extraction, importers and CLI.

A regular package, not a namespace package: Scrapyd runs the project from a zipped egg, and a
namespace package cannot be imported from one (`No module named 'crawler'` on a node set up as
docs/production.md says).
"""
