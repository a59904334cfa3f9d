"""``Store``: sessions and messages, sharded over one TinyDB file per session (see files.py for the layout).

Appending a message rewrites only that session's file and the small index, so its cost does not grow with
the total number of messages stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from tinydb.table import Document

from ..domain import MessageRecord, MessageUpdate, SessionRecord, SessionUpdate
from .atomic import SCHEMA_VERSION, parse_tables
from .budgets import BudgetsMixin
from .charges import is_open
from .errors import StorageError
from .files import SESSIONS_DIR
from .preferences import PreferencesMixin
from .records import (
    ID_RE,
    ROLES,
    SESSION_FIELDS,
    check_attachments,
    clone,
    index_record,
    message_copy,
    new_id,
    new_message,
    next_doc_id,
    public_session,
    session_meta,
)
from .reply_log import ReplyLogMixin
from .turns import TurnsMixin


class Store(TurnsMixin, PreferencesMixin, BudgetsMixin, ReplyLogMixin):
    """Local storage. Opening is free (no I/O until first use); every method returns plain JSON data."""

    # -- sessions ----------------------------------------------------------------------------------------
    def create_session(
        self, *, title: str | None = None, model: str | None = None, system_prompt: str | None = None
    ) -> SessionRecord:
        now = time.time()
        with self._writing(self._index):
            rows = self._rows(self._index, "sessions")
            taken = {r.get("id") for r in rows.values()}
            session_id = new_id()
            while session_id in taken or (self.data_dir / SESSIONS_DIR / f"{session_id}.json").exists():
                session_id = new_id()
            session: dict[str, Any] = {
                "id": session_id,
                "title": title,
                "model": model,
                "system_prompt": system_prompt,
                "attachments": [],
                "created_at": now,
                "updated_at": now,
                "usage": {},
            }
            record = index_record(session, messages=0, updated_at=now)
            # Index first: a crash before the session file is written leaves a record whose file the
            # first append recreates; the other order would leave an orphan file.
            self._table(self._index, "sessions").insert(Document(record, next_doc_id(rows)))
            self._write_session_meta(self._session_db(session_id), session)
        return public_session(record, attachments=[])

    def get_session(self, session_id: str) -> SessionRecord | None:
        """The session by id or unique id prefix (>= 4 chars), with attachment contents; else None."""
        self._heal()
        with self._reading():
            found = self._find(session_id)
            if isinstance(found, str):
                return None
            record = found[1]
            meta = self._session_meta(self._session_db(record["id"])) or {}
            return public_session(record, attachments=meta.get("attachments"))

    def list_sessions(self) -> list[SessionRecord]:
        """Newest updated first. Attachments are listed without their contents (see ``get_session``)."""
        self._heal()
        with self._reading():  # copies are made under the lock: another thread may be updating the records
            records = sorted(self._rows(self._index, "sessions").values(), key=_recency, reverse=True)
            return [public_session(r) for r in records]

    def latest_session(self) -> SessionRecord | None:
        with self._reading():
            records = self._rows(self._index, "sessions").values()
            latest = max(records, key=_recency, default=None)
            return None if latest is None else self.get_session(latest["id"])

    def update_session(self, session_id: str, **fields: Unpack[SessionUpdate]) -> SessionRecord:
        """Change title, model, system_prompt and/or attachments. Does not bump ``updated_at``."""
        unknown = set(fields) - SESSION_FIELDS
        if unknown:
            raise ValueError(f"cannot update session field(s): {', '.join(sorted(unknown))}")
        fields = clone(fields)
        if "attachments" in fields:
            fields["attachments"] = check_attachments(fields["attachments"])
        with self._writing(self._index):
            doc_id, record = self._require(session_id)
            db = self._session_db(record["id"])
            self._check_writable(db)
            session = {**self._meta_or_record(db, record), **fields}
            self._write_session_meta(db, session)
            changes = {k: v for k, v in index_record(session, messages=0, updated_at=0).items() if k in fields}
            self._table(self._index, "sessions").update(changes, doc_ids=[doc_id])
            updated = self._rows(self._index, "sessions")[str(doc_id)]
            return public_session(updated, attachments=session.get("attachments"))

    def delete_session(self, session_id: str) -> bool:
        """Remove the session and its messages. Its spending stays in the global ledger."""
        with self._writing(self._index):
            found = self._find(session_id)
            if isinstance(found, str):
                return False
            doc_id, record = found
            self._table(self._index, "sessions").remove(doc_ids=[doc_id])
            self._session_dbs.pop(record["id"], None)
            folder = self.data_dir / SESSIONS_DIR
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / f"{record['id']}.json")
                self._sync_dir(folder)
        return True

    def search_sessions(self, text: str) -> list[SessionRecord]:
        """Sessions whose title or any message content contains ``text`` (case-insensitive), newest first."""
        needle = text.casefold()
        with self._reading():
            records = [public_session(r) for r in self._rows(self._index, "sessions").values()]
        hits = [r for r in records if needle in (r["title"] or "").casefold() or self._mentions(r["id"], needle)]
        return sorted(hits, key=_recency, reverse=True)

    def _mentions(self, session_id: str, needle: str) -> bool:
        """Whether a message's content contains ``needle`` (casefolded), reading the file without caching it.

        Our files are ASCII JSON, so an ASCII needle is first looked for in the lowercased bytes (as JSON
        would escape it); only files that pass are parsed. (Exotic case folds, e.g. the Kelvin sign to "k",
        are missed by that prefilter.)
        """
        if not ID_RE.fullmatch(session_id):
            return False
        try:
            raw = (self.data_dir / SESSIONS_DIR / f"{session_id}.json").read_bytes()
        except OSError:
            return False
        if needle.isascii() and raw.isascii() and json.dumps(needle)[1:-1].encode() not in raw.lower():
            return False
        data = parse_tables(raw) or {}
        return any(
            isinstance(m.get("content"), str) and needle in m["content"].casefold()
            for m in (data.get("messages") or {}).values()
        )

    # -- messages ----------------------------------------------------------------------------------------
    def append_message(self, session_id: str, message: Mapping[str, Any]) -> MessageRecord:
        """Store a message (assigning id and created_at if missing); bumps the session's updated_at/count."""
        msg = new_message(message)
        with self._writing(self._index):
            doc_id, record = self._require(session_id)
            db = self._session_db(record["id"])
            self._check_writable(db)
            msg["session_id"] = record["id"]
            if self._session_meta(db) is None:  # the file was lost: keep it rebuildable
                self._write_session_meta(db, session_meta(record))
            rows = self._rows(db, "messages")
            self._table(db, "messages").insert(Document(msg, next_doc_id(rows)))
            # The count comes from the file, so a count left stale by a crash between the two writes heals.
            bump = {"messages": len(rows) + 1, "updated_at": max(record.get("updated_at") or 0, msg["created_at"])}
            self._table(self._index, "sessions").update(bump, doc_ids=[doc_id])
        return clone(msg)

    def update_message(self, session_id: str, message_id: str, **fields: Unpack[MessageUpdate]) -> MessageRecord:
        """Set fields of a stored message (e.g. checkpoint a streaming reply); returns the whole message."""
        if {"id", "session_id"} & set(fields):
            raise ValueError("a message's id and session_id cannot change")
        if "role" in fields and fields["role"] not in ROLES:
            raise ValueError(f"role must be one of {sorted(ROLES)}")
        fields = clone(fields)
        with self._writing():
            doc_id, record = self._require(session_id)
            db = self._session_db(record["id"])
            self._check_writable(db)
            rows = self._rows(db, "messages")
            # Updates almost always hit the newest message: search from the end.
            key = next((k for k in reversed(rows) if rows[k].get("id") == message_id), None)
            if key is None:
                raise StorageError(f"no message {message_id!r} in session {record['id']!r}")
            marker = record.get("open_reply")
            marked = isinstance(marker, dict) and marker.get("id") == message_id
            if marked:
                self._check_writable(self._index)
            self._table(db, "messages").update(fields, doc_ids=[int(key)])
            updated = self._rows(db, "messages")[key]
            if marked and not is_open(updated):  # the reply ended with nothing left to count
                self._table(self._index, "sessions").update({"open_reply": None}, doc_ids=[doc_id])
            return message_copy(updated)

    def get_messages(self, session_id: str) -> list[MessageRecord]:
        """All messages of the session, in insertion order."""
        with self._reading():
            _, record = self._require(session_id)
            rows = self._rows(self._session_db(record["id"]), "messages")
            return [message_copy(rows[k]) for k in sorted(rows, key=int)]

    # -- bulk --------------------------------------------------------------------------------------------
    def bulk_import(self, session: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]) -> SessionRecord:
        """Create a session with all its messages in two file writes (imports, benchmarks).

        ``session`` may carry id, title, model, system_prompt, attachments, created_at, updated_at, usage
        (per-model counters). Usage is not added to the global ledger.
        """
        now = time.time()
        session_id = str(session.get("id") or new_id())
        if not ID_RE.fullmatch(session_id):
            raise ValueError(f"invalid session id {session_id!r}")
        created = session.get("created_at") or now
        msgs = [new_message(m, default_time=created) for m in messages]
        for msg in msgs:
            msg["session_id"] = session_id
        meta = session_meta({**clone(dict(session)), "id": session_id, "created_at": created})
        meta["attachments"] = check_attachments(meta.get("attachments") or [])
        meta["usage"] = meta.get("usage") or {}
        meta["updated_at"] = max([session.get("updated_at") or created] + [m["created_at"] for m in msgs])
        record = index_record(meta, messages=len(msgs), updated_at=meta["updated_at"])
        with self._writing(self._index):
            rows = self._rows(self._index, "sessions")
            path = self.data_dir / SESSIONS_DIR / f"{session_id}.json"
            if any(r.get("id") == session_id for r in rows.values()) or path.exists():
                raise StorageError(f"session {session_id!r} already exists")
            self._table(self._index, "sessions").insert(Document(record, next_doc_id(rows)))
            self._session_db(session_id).storage.write(
                {
                    "meta": {"1": {"schema": SCHEMA_VERSION, "session": meta}},
                    "messages": {str(i): m for i, m in enumerate(msgs, 1)},
                }
            )
        return public_session(record, attachments=meta["attachments"])


def _recency(record: Mapping[str, Any]) -> tuple[float, float]:
    return (record.get("updated_at") or 0.0, record.get("created_at") or 0.0)
