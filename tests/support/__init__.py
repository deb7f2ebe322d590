"""What the tests and benchmarks need and the product must not ship: the simulated web, the
JavaScript test web, the fault server, the scale-out farm and helpers to crawl them.

Benchmarks import it as ``tests.support`` when run from the checkout as modules
(``python -m benchmarks.verify_bench``); the wheel and the Scrapyd egg hold none of it.
"""
