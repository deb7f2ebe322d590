"""The pure core: URLs, extraction, observation, outcomes, change detection, render policy and the
backlink-file readers. Plain values in, pydantic models and Enums out: no Scrapy, no SQLAlchemy, no
network, no clock (times are passed in). Everything above imports it; it imports nothing of ours
outside itself (tests/test_architecture.py).
"""
