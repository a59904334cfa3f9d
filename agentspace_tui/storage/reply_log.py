"""The reply log: one compact row per finished request, for provider stats (services/stats.py).

``replies.json`` holds a ``replies`` table: per finished reply its end time, model, provider, time to first token,
duration, output tokens, status and error kind; a reply that failed over (services/failover.py) adds one row per
model that failed before it, so error and rate-limit rates count those attempts too. Rows come from the stored
reply alone (``log_rows``), the same way when a reply is finished (``log_reply``, one small write) and when the
log is rebuilt from the session files: once, for a data dir that has none yet (``backfill``: existing users get
stats), and when the file is damaged. Rows older than ``RETENTION`` are dropped as new ones are written.

The log is a cache of facts the session files keep: losing it loses nothing that cannot be rebuilt, except the
rows of deleted sessions.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from .atomic import SCHEMA_VERSION, Tables, parse_tables
from .errors import StorageError
from .files import SESSIONS_DIR, StoreFiles, _storage
from .records import ID_RE, clone

REPLY_LOG_NAME = "replies.json"
# seconds of rows kept: stats look back 30 days; the file is rewritten whole on each reply, so it stays small
# (~250 bytes a row: 6,000 replies a month is ~1.5 MB)
RETENTION = 35 * 86400.0
LOG_DOC = 1  # the meta document: {"schema", "backfilled": bool}

# error kinds read back from the one-line message of replies stored before ``error_kind`` existed
_KIND_PATTERNS = (
    ("rate_limit", re.compile(r"rate limit|\(429\)", re.I)),
    ("overloaded", re.compile(r"overloaded|\(529\)", re.I)),
    ("timeout", re.compile(r"did not answer in time", re.I)),
    ("unreachable", re.compile(r"cannot reach ", re.I)),
    ("auth", re.compile(r"rejected the API key|refused access|no API key", re.I)),
    ("context_window", re.compile(r"context window", re.I)),
    ("server", re.compile(r"server error|sent an error in the stream", re.I)),
    ("interrupted", re.compile(r"broke off|stream ended before|closed the connection|app stopped", re.I)),
)


def infer_error_kind(status: object, error: object) -> str | None:
    """The error kind of a reply stored without one, from its status and message; None for a complete reply."""
    if status in ("complete", "cancelled", "streaming", None):
        return None
    text = str(error or "")
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(text):
            return kind
    return "interrupted" if status == "interrupted" else "unknown"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _provider(model: str) -> str:
    return model.partition(":")[0] if ":" in model else "?"


def log_rows(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The log rows of one stored reply: the model that answered, and one per model that failed over before it.
    No rows for a user message, a reply still streaming, or one without a model."""
    status, model, mid = message.get("status"), message.get("model"), message.get("id")
    if message.get("role") != "assistant" or status in (None, "streaming") or not isinstance(model, str):
        return []
    created = _number(message.get("created_at")) or 0.0
    duration = _number(message.get("duration"))
    usage = message.get("usage")
    output = usage.get("output_tokens") if isinstance(usage, Mapping) else None
    kind = message.get("error_kind")
    rows: list[dict[str, Any]] = []
    for n, attempt in enumerate(message.get("failover") or [], 1):
        if not isinstance(attempt, Mapping) or not isinstance(attempt.get("model"), str):
            continue
        failed_kind = attempt.get("kind")
        rows.append({
            "id": f"{mid}#{n}", "session_id": message.get("session_id"), "when": created,
            "model": attempt["model"], "provider": _provider(attempt["model"]), "ttft": None,
            "duration": _number(attempt.get("duration")), "output_tokens": None, "status": "error",
            "error_kind": failed_kind if isinstance(failed_kind, str) else infer_error_kind("error", attempt.get("error")),
        })
    rows.append({
        "id": mid, "session_id": message.get("session_id"), "when": created + (duration or 0.0),
        "model": model, "provider": _provider(model), "ttft": _number(message.get("ttft")), "duration": duration,
        "output_tokens": int(output) if isinstance(output, int) and not isinstance(output, bool) else None,
        "status": status,
        "error_kind": kind if isinstance(kind, str) else infer_error_kind(status, message.get("error")),
    })
    return rows


def recover_reply_log(store: Any, path: Path, aside: Path, found: Tables) -> Tables:
    """A damaged log: rebuilt from the session files, plus the salvaged rows of replies no session file has."""
    rebuilt = {row["id"]: row for row in rows_from_sessions(Path(store.data_dir))}
    kept = [r for r in (found.get("replies") or {}).values() if isinstance(r, dict) and r.get("id") not in rebuilt]
    rows = sorted([*rebuilt.values(), *kept], key=lambda r: _number(r.get("when")) or 0.0)
    store.warn(f"{store.relative(path)} was corrupt: moved aside to {store.relative(aside)}, "
               "rebuilt the reply log from the session files")
    return {"meta": {str(LOG_DOC): {"schema": SCHEMA_VERSION, "backfilled": True}},
            "replies": {str(i): r for i, r in enumerate(rows, 1)}}


def rows_from_sessions(data_dir: Path) -> Iterable[dict[str, Any]]:
    """Log rows of every finished reply in the session files (read raw: a damaged file is skipped, not repaired)."""
    folder = data_dir / SESSIONS_DIR
    names: list[str] = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if e.name.endswith(".json") and ID_RE.fullmatch(e.name[:-5]))
    for name in names:
        try:
            data = parse_tables((folder / name).read_bytes())
        except OSError:
            continue
        for message in ((data or {}).get("messages") or {}).values():
            if isinstance(message, dict):
                yield from log_rows(message)


class ReplyLogMixin(StoreFiles):
    _reply_log_db: TinyDB | None = None

    def _reply_log(self) -> TinyDB:
        if self._reply_log_db is None:
            self._reply_log_db = self._open(REPLY_LOG_NAME, ("meta", "replies"), recover_reply_log)
        return self._reply_log_db

    def log_reply(self, message: Mapping[str, Any], *, now: float | None = None) -> None:
        """Add a finished reply's rows to the log (again for the same reply: its rows are replaced)."""
        rows = log_rows(message)
        if rows:
            self._add_log_rows(rows, now=time.time() if now is None else now)

    def reply_log(self, since: float | None = None, *, backfill: bool = True) -> list[dict[str, Any]]:
        """Rows ended at or after ``since`` (all: None), oldest first; the first call on a data dir without a
        log (or one not yet backfilled) builds it from the session files first."""
        db = self._reply_log()
        extra: list[dict[str, Any]] = []
        if backfill and not self._backfilled(db):
            try:
                self.backfill_reply_log()
            except (StorageError, OSError):  # a read-only data dir: the same rows, in memory this time
                extra = list(rows_from_sessions(self.data_dir))
        with self._reading():
            rows = list(self._rows(db, "replies").values())
        known = {r.get("id") for r in rows}
        rows += [r for r in extra if r["id"] not in known]
        out = [clone(r) for r in rows if since is None or (_number(r.get("when")) or 0.0) >= since]
        return sorted(out, key=lambda r: _number(r.get("when")) or 0.0)

    def backfill_reply_log(self) -> int:
        """Add the rows of every stored reply the log does not have yet; returns how many were added."""
        found = list(rows_from_sessions(self.data_dir))  # read outside the lock: it can take a while
        return self._add_log_rows(found, now=time.time(), backfilled=True, keep_existing=True)

    @staticmethod
    def _backfilled(db: TinyDB) -> bool:
        meta = StoreFiles._rows(db, "meta").get(str(LOG_DOC)) or {}
        return meta.get("backfilled") is True

    def _add_log_rows(
        self, rows: list[dict[str, Any]], *, now: float, backfilled: bool | None = None, keep_existing: bool = False
    ) -> int:
        db = self._reply_log()
        cutoff = now - RETENTION
        with self._writing(db):
            try:
                # doc ids of existing rows stay as they are, so the write re-encodes only what changed
                table = {k: r for k, r in self._rows(db, "replies").items()
                         if (_number(r.get("when")) or 0.0) >= cutoff}
                meta = dict(self._rows(db, "meta").get(str(LOG_DOC)) or {"schema": SCHEMA_VERSION})
                key_of = {r.get("id"): k for k, r in table.items()}
                next_id = max(map(int, table), default=0) + 1
                added = 0
                for row in rows:
                    key = key_of.get(row["id"])
                    if (key is not None and keep_existing) or (_number(row.get("when")) or 0.0) < cutoff:
                        continue
                    if key is None:
                        key, next_id, added = str(next_id), next_id + 1, added + 1
                        key_of[row["id"]] = key
                    table[key] = row
                if backfilled is not None:
                    meta["backfilled"] = backfilled or meta.get("backfilled") is True
                meta.setdefault("backfilled", False)
                self._write_tables(db, {"meta": {str(LOG_DOC): meta}, "replies": table})
            except BaseException:
                _storage(db).invalidate()
                raise
        return added
