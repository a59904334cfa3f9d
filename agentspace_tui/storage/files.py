"""The Store's plumbing: where each file lives, its TinyDB handle, locking and lookups.

Layout under the data dir (every file is a TinyDB JSON document with a ``meta`` table {"schema": 1}):
    index.json          sessions table: one small record per session (no message bodies)
    sessions/<id>.json  messages table + meta (which also keeps the session record, to rebuild the index)
    usage.json          ledger table: one row per (local day, model); outlives deleted sessions
    pricing.json        overrides table: USD per million tokens, per model
    preferences.json    prefs table: what the app remembers between runs (theme, inspector, last model)
    .lock               flock'ed around every read-modify-write

Bookkeeping fields: a reply stored by ``begin_turn`` has ``usage_recorded`` (False until its usage is counted);
an index record has ``open_reply`` while its last turn's reply is open (turns.py) and ``usage_op``, as does the
session file's meta, the last counting operation it took in; the ledger's meta keeps that operation as
``pending`` so a count a kill left half done is finished later (accounting.py).
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document, Table

from . import recovery
from .atomic import SCHEMA_VERSION, TEMP_SUFFIX, AtomicJSONStorage, Tables, fsync_dir
from .charges import ReplyPolicy
from .errors import StorageError
from .lock import FileLock
from .records import ID_RE, session_meta

INDEX_NAME = "index.json"
LEDGER_NAME = "usage.json"
PRICING_NAME = "pricing.json"
PREFS_NAME = "preferences.json"
SESSIONS_DIR = "sessions"
LOCK_NAME = ".lock"
# Parsed session files kept in memory; beyond this the least recently used is dropped.
SESSION_CACHE_SIZE = 8


class StoreFiles:
    def __init__(self, data_dir: Path, *, durable: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.warnings: list[str] = []
        self._durable = durable
        self._lock = FileLock(self.data_dir / LOCK_NAME)
        # Storages reach back through a weak proxy: a cycle would leave a dropped Store, with all its parsed
        # files, to the cyclic GC (measured: 70 ms pauses when opening stores repeatedly).
        self._proxy: StoreFiles = weakref.proxy(self)  # typed: the recovery hooks are checked against it
        self._index = self._open(INDEX_NAME, ("meta", "sessions"), recovery.recover_index)
        self._ledger = self._open(LEDGER_NAME, ("meta", "ledger"), recovery.recover_ledger)
        self._pricing = self._open(PRICING_NAME, ("meta", "overrides"), recovery.recover_pricing)
        self._prefs = self._open(PREFS_NAME, ("meta", "prefs"), recovery.recover_preferences)
        self._session_dbs: OrderedDict[str, TinyDB] = OrderedDict()
        self._swept = False
        self._pending_dirs: set[Path] | None = None
        self.rebuilding_index = False
        # How replies left behind by other processes are judged and closed; None: never (a bare Store).
        self.reply_policy: ReplyPolicy | None = None

    def close(self) -> None:
        self._lock.close()

    # -- files -------------------------------------------------------------------------------------------
    def _open(self, relative: str, tables: tuple[str, ...], hook: recovery.Hook) -> TinyDB:
        proxy = self._proxy
        return TinyDB(
            self.data_dir / relative,
            storage=AtomicJSONStorage,
            tables=tables,
            lock=self._lock,
            recover=partial(hook, proxy),
            durable=self._durable,
            sync_dir=lambda folder: proxy._sync_dir(folder),
            label=relative,
        )

    def _session_db(self, session_id: str) -> TinyDB:
        db = self._session_dbs.get(session_id)
        if db is not None:
            self._session_dbs.move_to_end(session_id)
            return db
        if not ID_RE.fullmatch(session_id):  # ids become file names: never let one escape the folder
            raise StorageError(f"invalid session id {session_id!r}")
        db = self._open(f"{SESSIONS_DIR}/{session_id}.json", ("meta", "messages"), recovery.recover_session)
        self._session_dbs[session_id] = db
        while len(self._session_dbs) > SESSION_CACHE_SIZE:
            self._session_dbs.popitem(last=False)
        return db

    def _storages(self) -> Iterator[AtomicJSONStorage]:
        for db in (self._index, self._ledger, self._pricing, self._prefs, *self._session_dbs.values()):
            yield _storage(db)

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.data_dir).as_posix()
        except ValueError:
            return str(path)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    # -- locking -----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _writing(self, *dbs: TinyDB) -> Iterator[None]:
        """Hold the data-dir lock; refuse up front if a file to change has a newer schema."""
        with self._lock:
            if not self._swept:
                self._sweep_temp_files()
            outermost = self._pending_dirs is None
            if outermost:
                self._pending_dirs = set()
            try:
                self._check_writable(*dbs)
                yield
            except BaseException:
                for storage in self._storages():  # cached dicts may be half-mutated
                    storage.invalidate()
                raise
            finally:
                if outermost:
                    self._flush_dirs()

    def _sync_dir(self, folder: Path) -> None:
        """Inside an operation, fsync each touched dir once at its end rather than after every rename."""
        if self._pending_dirs is None:
            fsync_dir(folder)
        else:
            self._pending_dirs.add(folder)

    def _flush_dirs(self) -> None:
        folders, self._pending_dirs = self._pending_dirs or set(), None
        if self._durable:
            for folder in folders:
                with contextlib.suppress(OSError):
                    fsync_dir(folder)

    @staticmethod
    def _check_writable(*dbs: TinyDB) -> None:
        for db in dbs:
            _storage(db).ensure_writable()

    def _reading(self) -> contextlib.AbstractContextManager[None]:
        return self._lock.thread_only()

    def _sweep_temp_files(self) -> None:
        """Remove temp files left by killed writers. Safe: a live writer only has one while holding the lock."""
        self._swept = True
        for folder in (self.data_dir, self.data_dir / SESSIONS_DIR):
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX):
                        with contextlib.suppress(OSError):
                            os.unlink(entry.path)

    # -- lookups -----------------------------------------------------------------------------------------
    @staticmethod
    def _rows(db: TinyDB, table: str) -> dict[str, dict[str, Any]]:
        """The table's raw (cached) rows. Read only: copy before handing anything out."""
        data: Tables | None = db.storage.read()
        return (data or {}).get(table) or {}

    @staticmethod
    def _table(db: TinyDB, name: str) -> Table:
        return db.table(name, cache_size=0)  # TinyDB's query cache would not see other processes' writes

    def _find(self, session_id: str) -> tuple[int, dict[str, Any]] | str:
        """(doc id, index record) for an id or a unique prefix of >= 4 chars; else why not."""
        rows = self._rows(self._index, "sessions")
        for doc_id, record in rows.items():
            if record.get("id") == session_id:
                return int(doc_id), record
        if len(session_id) >= 4:
            matches = [(int(d), r) for d, r in rows.items() if str(r.get("id", "")).startswith(session_id)]
            if len(matches) == 1:
                return matches[0]
            if matches:
                return f"session id prefix {session_id!r} matches {len(matches)} sessions"
        return f"no session {session_id!r}"

    def _require(self, session_id: str) -> tuple[int, dict[str, Any]]:
        found = self._find(session_id)
        if isinstance(found, str):
            raise StorageError(found)
        return found

    def _session_meta(self, db: TinyDB) -> dict[str, Any] | None:
        session = self._rows(db, "meta").get("1", {}).get("session")
        return session if isinstance(session, dict) else None

    def _write_session_meta(self, db: TinyDB, session: dict[str, Any]) -> None:
        self._put(db, "meta", 1, {"schema": SCHEMA_VERSION, "session": session})

    def _put(self, db: TinyDB, table: str, doc_id: int, doc: dict[str, Any]) -> None:
        """Set the fields of doc ``doc_id``, inserting it if missing (TinyDB's upsert writes twice then)."""
        if str(doc_id) in self._rows(db, table):
            self._table(db, table).update(doc, doc_ids=[doc_id])
        else:
            self._table(db, table).insert(Document(doc, doc_id))

    def _write_tables(self, db: TinyDB, tables: Tables) -> None:
        """One write of ``db`` with these tables replaced whole (the others kept), for changes TinyDB would make
        in several writes. Like TinyDB's own, it replaces records rather than mutating them in place."""
        current = db.storage.read() or {}
        _storage(db).write({**current, **tables})

    def _meta_or_record(self, db: TinyDB, record: dict[str, Any]) -> dict[str, Any]:
        """The session as its file knows it; rebuilt from the index record if the file lost it."""
        return dict(self._session_meta(db) or session_meta(record))


def _storage(db: TinyDB) -> AtomicJSONStorage:
    storage = db.storage
    assert isinstance(storage, AtomicJSONStorage)
    return storage
