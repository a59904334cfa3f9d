"""What to write back in place of a damaged file, and the one-line warning for the user.

Each hook gets the damaged file's path, where it was moved aside, and the records ``salvage`` recovered.
Hooks never raise for bad content: the app must open whatever state the files are in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import SCHEMA_VERSION, Tables
from .records import ID_RE, index_record, session_meta

if TYPE_CHECKING:
    from .files import StoreFiles

Hook = Callable[["StoreFiles", Path, Path, Tables], Tables]


def _meta(extra: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    return {"1": {"schema": SCHEMA_VERSION, **(extra or {})}}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _moved(store: StoreFiles, path: Path, aside: Path) -> str:
    return f"{store.relative(path)} was corrupt: moved aside to {store.relative(aside)}"


def recover_session(store: StoreFiles, path: Path, aside: Path, found: Tables) -> Tables:
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


def recover_index(store: StoreFiles, path: Path, aside: Path, found: Tables) -> Tables:
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


def _record_from_file(store: StoreFiles, session_id: str, old: dict[str, Any] | None) -> dict[str, Any]:
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


def recover_ledger(store: StoreFiles, path: Path, aside: Path, found: Tables) -> Tables:
    rows = found.get("ledger", {})
    store.warn(f"{_moved(store, path, aside)}, recovered {_plural(len(rows), 'usage record')}")
    return {"meta": _meta(), "ledger": rows}


def recover_pricing(store: StoreFiles, path: Path, aside: Path, found: Tables) -> Tables:
    rows = found.get("overrides", {})
    store.warn(f"{_moved(store, path, aside)}, recovered {_plural(len(rows), 'price override')}")
    return {"meta": _meta(), "overrides": rows}
