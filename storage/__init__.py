"""Market history: ``Store`` (blocking, SQLAlchemy Core over SQLite or PostgreSQL) and
``StorageWriter`` (the green-task side that batches the hub's records into it)."""

from . import alerts  # noqa: F401  (the alert tables join the metadata Store creates)
from .store import Store
from .writer import StorageWriter, serialized

__all__ = ["StorageWriter", "Store", "serialized"]
