"""What to write back in place of a damaged file, and the one-line warning for the user.

Each hook gets the damaged file's path, where it was moved aside, and the records ``salvage`` recovered.
Hooks never raise for bad content: the app must open whatever state the files are in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from tinydb import TinyDB
from tinydb.table import Table

from . import usage as usage_math
from .atomic import SCHEMA_VERSION, Tables
from .charges import charge_of
from .records import ID_RE, index_record, session_meta


class DamagedFiles(Protocol):
    """What the hooks use of the store whose file they repair (files.py ``StoreFiles``, which imports this
    module: this side names only what it needs, so neither module imports the other's types)."""

    data_dir: Path
    rebuilding_index: bool  # recovering the index itself: session files must not look it up
    _index: TinyDB

    def relative(self, path: Path) -> str: ...
    def warn(self, message: str) -> None: ...
    def _find(self, session_id: str) -> tuple[int, dict[str, Any]] | str: ...
    def _session_db(self, session_id: str) -> TinyDB: ...
    def _session_meta(self, db: TinyDB) -> dict[str, Any] | None: ...
    @staticmethod
    def _rows(db: TinyDB, table: str) -> dict[str, dict[str, Any]]: ...
    @staticmethod
    def _table(db: TinyDB, name: str) -> Table: ...


Hook = Callable[[DamagedFiles, Path, Path, Tables], Tables]


def _meta(extra: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    return {"1": {"schema": SCHEMA_VERSION, **(extra or {})}}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _moved(store: DamagedFiles, path: Path, aside: Path) -> str:
    return f"{store.relative(path)} was corrupt: moved aside to {store.relative(aside)}"


def recover_session(store: DamagedFiles, path: Path, aside: Path, found: Tables) -> Tables:
    messages = {k: v for k, v in found.get("messages", {}).items() if isinstance(v, dict)}
    session = found.get("meta", {}).get("1", {}).get("session")
    record = None if store.rebuilding_index else store._find(path.stem)
    if not isinstance(session, dict) and isinstance(record, tuple):
        session = session_meta(record[1])
    store.warn(f"{_moved(store, path, aside)}, recovered {_plural(len(messages), 'message')}")
    if isinstance(record, tuple):
        with contextlib.suppress(Exception):  # the count self-heals on the next append anyway
            store._table(store._index, "sessions").update({"messages": len(messages)}, doc_ids=[record[0]])
    return {"meta": _meta({"session": session} if isinstance(session, dict) else None), "messages": messages}


def recover_index(store: DamagedFiles, path: Path, aside: Path, found: Tables) -> Tables:
    """Rebuild the sessions table from the session files (the truth for messages), helped by salvage."""
    salvaged = {r.get("id"): r for r in found.get("sessions", {}).values() if isinstance(r, dict)}
    records = []
    store.rebuilding_index = True
    try:
        folder = store.data_dir / "sessions"
        for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            if not ID_RE.fullmatch(file.stem):
                continue
            with contextlib.suppress(Exception):
                records.append(_record_from_file(store, file.stem, salvaged.pop(file.stem, None)))
    finally:
        store.rebuilding_index = False
    # Sessions the old index knew whose file is gone keep their title and spending.
    records += [dict(r, messages=0) for sid, r in salvaged.items() if isinstance(sid, str)]
    store.warn(f"{_moved(store, path, aside)}, rebuilt {_plural(len(records), 'session')} from session files")
    return {"meta": _meta(), "sessions": {str(i): r for i, r in enumerate(records, 1)}}


def _record_from_file(store: DamagedFiles, session_id: str, old: dict[str, Any] | None) -> dict[str, Any]:
    db = store._session_db(session_id)
    rows = store._rows(db, "messages")
    session = dict(store._session_meta(db) or old or {})
    session["id"] = session_id
    if not session.get("usage") and old:
        session["usage"] = old.get("usage")
    times = [m.get("created_at") for m in rows.values()]
    times += [session.get("created_at"), session.get("updated_at"), (old or {}).get("updated_at")]
    numbers = [t for t in times if isinstance(t, int | float)]
    if session.get("created_at") is None:
        session["created_at"] = min(numbers, default=0.0)
    return index_record(session, messages=len(rows), updated_at=max(numbers, default=0.0))


def recover_ledger(store: DamagedFiles, path: Path, aside: Path, found: Tables) -> Tables:
    """Rebuild the ledger from the session files (every counted reply stores its usage, cost, model, time),
    merged with what salvage recovered of the damaged file.

    Merge rule, per (day, model) row and per counter: the larger of the salvaged and the rebuilt value. Both are
    sums over the same set of requests, each possibly missing some: a salvaged row, when it survived whole,
    counts every request (deleted sessions' too, which live in the ledger alone), but rows torn by the damage
    are lost; the rebuilt row counts exactly the replies still in session files. So the true value is at least
    each of them, and the larger is the best figure we can prove without ever counting a request twice. Rows
    only salvage knows (days of deleted sessions) are kept as they are.
    """
    rows = {k: r for k, r in (found.get("ledger") or {}).items() if isinstance(r, dict)}
    salvaged = len(rows)
    raised = 0
    for (day, model), bucket in _ledger_from_sessions(store).items():
        key = next((k for k, r in rows.items() if r.get("day") == day and r.get("model") == model), None)
        old = rows.get(key) if key is not None else None
        merged = {name: _larger((old or {}).get(name), value) for name, value in bucket.items()}
        if old is None or any(merged[name] != old.get(name) for name in merged):
            raised += 1
            rows[key or str(max(map(int, rows), default=0) + 1)] = {**(old or {}), "day": day, "model": model, **merged}
    meta = (found.get("meta") or {}).get("1")
    pending = meta.get("pending") if isinstance(meta, dict) else None
    message = f"{_moved(store, path, aside)}, recovered {_plural(salvaged, 'usage record')}"
    if raised:
        message += f", rebuilt {_plural(raised, 'usage record')} from the session files"
    store.warn(message)
    return {"meta": _meta({"pending": pending} if isinstance(pending, dict) else None), "ledger": rows}


def _ledger_from_sessions(store: DamagedFiles) -> dict[tuple[str, str], dict[str, Any]]:
    """(day, model) -> usage bucket of every counted reply in the session files."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    folder = store.data_dir / "sessions"
    for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if not ID_RE.fullmatch(file.stem):
            continue
        with contextlib.suppress(Exception):
            for msg in store._rows(store._session_db(file.stem), "messages").values():
                # usage_recorded False: stored but not counted yet (it is counted when its reply is closed)
                if msg.get("role") != "assistant" or msg.get("usage_recorded") is False:
                    continue
                charge = charge_of(msg)
                if charge is not None:
                    key = (usage_math.local_day(charge.when), charge.model)
                    out[key] = usage_math.add_request(
                        out.get(key), charge.tokens, charge.cost, charge.estimated, charge.cache_savings
                    )
    return out


def _larger(old: Any, new: Any) -> Any:
    if type(old) in (int, float) and old > new:
        return old
    return new


def recover_pricing(store: DamagedFiles, path: Path, aside: Path, found: Tables) -> Tables:
    rows = found.get("overrides", {})
    store.warn(f"{_moved(store, path, aside)}, recovered {_plural(len(rows), 'price override')}")
    return {"meta": _meta(), "overrides": rows}


def recover_preferences(store: DamagedFiles, path: Path, aside: Path, found: Tables) -> Tables:
    rows = {k: v for k, v in found.get("prefs", {}).items() if isinstance(v, dict)}
    store.warn(f"{_moved(store, path, aside)}; preferences {'recovered' if rows else 'reset'}")
    return {"meta": _meta(), "prefs": rows}
