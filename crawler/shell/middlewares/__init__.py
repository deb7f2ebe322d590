"""Downloader middlewares: the address guard and the robots.txt policy."""
