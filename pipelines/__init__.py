"""Storage side: SQLAlchemy models, change detection and the Scrapy storage pipeline."""
