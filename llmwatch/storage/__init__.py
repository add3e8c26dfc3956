"""Storage through SQLAlchemy 2.0: SQLite by default, PostgreSQL by URL; Alembic migrations."""

from .migrate import upgrade
from .store import Counts, Store

__all__ = ["Counts", "Store", "upgrade"]
