"""Local storage on TinyDB: sessions, messages, usage and pricing overrides (see files.py for the layout)."""

from .atomic import SCHEMA_VERSION, AtomicJSONStorage
from .errors import StorageError
from .store import Store

__all__ = ["SCHEMA_VERSION", "AtomicJSONStorage", "Store", "StorageError"]
