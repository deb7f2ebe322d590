"""Alembic environment: the engine comes from the caller (`backlinks init`), never from a file."""

from alembic import context

from pipelines.db import database_url, make_engine
from pipelines.models import Base

config = context.config
engine = config.attributes.get("engine") or make_engine(database_url())

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    )
    context.run_migrations()
