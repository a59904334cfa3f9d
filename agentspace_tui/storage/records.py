"""Shapes of stored records and the plain dicts handed to callers, typed as domain.MessageRecord and
domain.SessionRecord.

Rows read from disk are JSON of whatever shape the file holds; ``message_copy`` and ``public_session`` are the
trust boundary where they are declared to be records (a cast each: TypedDicts are plain dicts at runtime)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from ..domain import Attachment, MessageRecord, Role, SessionRecord
from . import usage as usage_math

ID_RE = re.compile(r"[0-9a-f]{4,64}")
ROLES: frozenset[Role] = frozenset({"user", "assistant", "system"})
SESSION_FIELDS = frozenset({"title", "model", "system_prompt", "attachments", "params", "tools"})
# index fields callers never see: the raw per-model usage (summarized instead) and bookkeeping (see turns.py)
INTERNAL_FIELDS = frozenset({"usage", "usage_op", "open_reply"})


def new_id() -> str:
    return secrets.token_hex(6)


_JSON = TypeVar("_JSON")


def clone(value: _JSON) -> _JSON:
    """Deep copy of JSON data. Callers get copies so they can never mutate the parse cache."""
    return cast(_JSON, _copy(value))  # a deep copy has the type of what it copies


def _copy(value: object) -> object:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def check_attachments(value: object) -> list[Attachment]:
    if not isinstance(value, list) or not all(isinstance(a, Mapping) for a in value):
        raise ValueError("attachments must be a list of dicts ({path, name, content, bytes})")
    return [cast(Attachment, clone(dict(a))) for a in value]


def attachment_summaries(attachments: object) -> list[dict[str, Any]]:
    """Attachments without their content: what the small index keeps."""
    if not isinstance(attachments, list):
        return []
    return [{k: v for k, v in a.items() if k != "content"} for a in attachments if isinstance(a, dict)]


def index_record(session: Mapping[str, Any], *, messages: int, updated_at: float) -> dict[str, Any]:
    """The index's record of a session: no message bodies, no attachment contents."""
    return {
        "id": session["id"],
        "title": session.get("title"),
        "model": session.get("model"),
        "system_prompt": session.get("system_prompt"),
        "params": clone(session.get("params")),  # model parameters (services/params.py), checked when read
        "tools": clone(session.get("tools")),  # tool choices (services/tools.py)
        "attachments": attachment_summaries(session.get("attachments")),
        "created_at": session.get("created_at"),
        "updated_at": updated_at,
        "messages": messages,
        "usage": clone(session.get("usage") or {}),
    }


def session_meta(record: Mapping[str, Any]) -> dict[str, Any]:
    """The copy of the session kept inside its own file (so a lost index can be rebuilt)."""
    keys = ("id", "title", "model", "system_prompt", "params", "tools", "attachments", "created_at", "updated_at", "usage")
    return {k: clone(record.get(k)) for k in keys}


def public_session(record: Mapping[str, Any], attachments: list[Attachment] | None = None) -> SessionRecord:
    """What callers see of an index record: its usage summarized per model, with totals."""
    out: dict[str, Any] = {k: clone(v) for k, v in record.items() if k not in INTERNAL_FIELDS}
    summary = usage_math.summarize((record.get("usage") or {}).items())
    out["usage"] = summary["per_model"]
    out["cost"] = summary["total"]["cost"]
    out["unknown_cost"] = summary["total"]["unknown_cost"]
    out["estimated"] = summary["total"]["estimated"]  # replies whose usage we counted ourselves
    out["cache_savings"] = summary["total"]["cache_savings"]  # USD caching saved; None: no price known
    out["attachments"] = clone(attachments if attachments is not None else record.get("attachments") or [])
    out.setdefault("messages", 0)
    return cast(SessionRecord, out)  # trust boundary: an index record as written by index_record


def message_copy(row: Mapping[str, Any]) -> MessageRecord:
    """A copy of a stored message row, for a caller."""
    return cast(MessageRecord, clone(dict(row)))  # trust boundary: a row as written by new_message


def next_doc_id(rows: Mapping[str, Any]) -> int:
    return max(map(int, rows), default=0) + 1


def new_message(message: Mapping[str, Any], default_time: float | None = None) -> MessageRecord:
    """A message as stored: id, session_id, role, content, created_at first, then the caller's other fields."""
    if not isinstance(message, Mapping):
        raise TypeError("a message must be a dict")
    extra = clone(dict(message))
    if extra.get("role") not in ROLES:
        raise ValueError(f"role must be one of {sorted(ROLES)}, not {extra.get('role')!r}")
    created = extra.pop("created_at", None)
    if not isinstance(created, int | float):
        created = time.time() if default_time is None else default_time
    msg = {
        "id": extra.pop("id", None) or new_id(),
        "session_id": extra.pop("session_id", None),
        "role": extra.pop("role"),
        "content": extra.pop("content", ""),
        "created_at": created,
    }
    return cast(MessageRecord, {**msg, **extra})  # the role is checked above; the other fields are the caller's
