"""Alembic environment: run by llmwatch.storage.migrate (no alembic.ini needed)."""

from alembic import context

from llmwatch.storage.tables import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
