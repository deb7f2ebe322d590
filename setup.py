"""Only for `scrapyd-deploy`, which builds eggs with `setup.py bdist_egg`: everything is in pyproject.toml.

Without this file scrapyd-deploy would write its own, packaging neither the dependencies' metadata nor
the migrations (package data) that `pipelines.db` needs inside Scrapyd.
"""

from setuptools import setup

setup()
