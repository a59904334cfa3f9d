"""Turns: starting one atomically, and closing replies whose writer died (see charges.py for "open" replies).

The index record of a session keeps ``open_reply`` ({id, pid, host, checkpoint_at}) while the reply its last
turn started is open, so reads can find replies left behind by dead processes without opening every session
file. It is set by ``begin_turn`` and cleared in the write that closes the reply.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from ..domain import MessageRecord
from .accounting import AccountingMixin
from .charges import Charge, charge_of, is_open
from .errors import SessionBusy, StorageError
from .records import clone, message_copy, new_message

# ids of replies this process streams that a new turn started in the same context may stream alongside (two
# models answering one prompt at once: services/compare.py); ``asyncio.to_thread`` carries it into the thread
STREAMING_ALONGSIDE: ContextVar[frozenset[str]] = ContextVar("streaming_alongside", default=frozenset())


def _streaming(message: Mapping[str, Any]) -> bool:
    return message.get("status") == "streaming"


class TurnsMixin(AccountingMixin):
    def begin_turn(
        self,
        session_id: str,
        user_msg: Mapping[str, Any] | None,
        placeholder: Mapping[str, Any],
        *,
        parent: str | None = None,
        is_busy: Callable[[MessageRecord], bool] = _streaming,
    ) -> tuple[MessageRecord | None, MessageRecord]:
        """Append a user message and the reply placeholder that will stream its answer, as one step across
        processes: under the data-dir lock, refuse with ``SessionBusy`` when ``is_busy(last message)`` (a copy);
        else append both in one write of the session file (and one of the index).

        A last reply left open by a dead writer (per ``reply_policy``) is closed first, in the same operation
        (marked interrupted, its usage counted once), and so is not busy. The placeholder is stored open: with
        ``usage_recorded`` False until its usage is counted, and as the index's ``open_reply``.
        Branches (see services/branches.py): the user message's ``parent`` is ``parent`` and the reply's is the
        user message. Without a user message (a regenerated reply) the reply's parent is ``parent``, the user
        message it answers. Returns the stored (user message or None, placeholder).
        """
        user = new_message({**user_msg, "parent": parent}) if user_msg is not None else None
        reply_parent = user["id"] if user is not None else parent
        reply = new_message({**placeholder, "parent": reply_parent, "usage_recorded": False})
        with self._writing(self._index, self._ledger):
            self._roll_forward()
            doc_id, record = self._require(session_id)
            db = self._session_db(record["id"])
            self._check_writable(db)
            rows = self._rows(db, "messages")
            updates: dict[str, dict[str, Any]] = {}
            charges: list[Charge] = []
            last = rows[max(rows, key=int)] if rows else None
            if last is not None:
                settled = self._settlement(last)
                if settled is not None:
                    fields, charge = settled
                    updates[last["id"]] = fields
                    charges += [charge] if charge else []
                    last = {**last, **fields}
                if is_busy(message_copy(last)) and str(last.get("id")) not in STREAMING_ALONGSIDE.get():
                    raise SessionBusy("the last reply of this session is still being written")
            reply["session_id"] = record["id"]
            if user is not None:
                user["session_id"] = record["id"]
            marker = {
                "id": reply["id"],
                "pid": reply.get("pid"),
                "host": reply.get("host"),
                "checkpoint_at": reply.get("checkpoint_at") or reply["created_at"],
            }
            self._commit(
                doc_id, record, db, updates=updates, charges=charges,
                new=[user, reply] if user is not None else [reply], index={"open_reply": marker},
            )
        return (clone(user) if user is not None else None), clone(reply)

    def settle_replies(self, session_id: str) -> list[MessageRecord]:
        """The session's messages (as ``get_messages``), after closing every open reply whose writer is gone (per
        ``reply_policy``): a streaming one is marked interrupted, and a reply's usage is counted exactly once,
        even when several processes find it at the same moment (checked and changed under the lock).

        When the store cannot be written (read-only dir, files from a newer version) the returned copies are
        closed in memory only, without an error; the write and the count wait for a writable store.
        """
        messages = self._messages_of(session_id)
        policy = self.reply_policy
        if policy is None or not any(is_open(m) and policy.writer_gone(m) for m in messages):
            return messages
        try:
            with self._writing(self._index, self._ledger):
                self._roll_forward()
                self._settle_locked(session_id)
        except StorageError:
            closed: list[MessageRecord] = []
            for msg in messages:
                settled = self._settlement(msg)
                closed.append(msg if settled is None else message_copy({**msg, **settled[0]}))
            return closed
        return self._messages_of(session_id)

    # -- internals ---------------------------------------------------------------------------------------------
    def _messages_of(self, session_id: str) -> list[MessageRecord]:
        with self._reading():
            _, record = self._require(session_id)
            rows = self._rows(self._session_db(record["id"]), "messages")
            return [message_copy(rows[k]) for k in sorted(rows, key=int)]

    def _settlement(self, message: Mapping[str, Any]) -> tuple[dict[str, Any], Charge | None] | None:
        """(fields to set, what to count) to close ``message`` if it is open and its writer gone; else None."""
        policy = self.reply_policy
        if policy is None or not is_open(message) or not policy.writer_gone(message):
            return None
        if _streaming(message):
            fields = dict(policy.interrupted(clone(dict(message))))
            closed = {**message, **fields}
            return fields, charge_of(closed) if closed.get("usage_recorded") is not True else None
        return {}, charge_of(message)

    def _settle_locked(self, session_id: str) -> None:
        found = self._find(session_id)
        if isinstance(found, str):
            return
        doc_id, record = found
        db = self._session_db(record["id"])
        self._check_writable(db)
        updates: dict[str, dict[str, Any]] = {}
        charges: list[Charge] = []
        for msg in self._rows(db, "messages").values():
            settled = self._settlement(msg)
            if settled is not None:
                if settled[0]:
                    updates[msg["id"]] = settled[0]
                if settled[1] is not None:
                    charges.append(settled[1])
        if updates or charges or isinstance(record.get("open_reply"), dict):
            self._commit(doc_id, record, db, updates=updates, charges=charges)

    def _heal(self) -> None:
        """Before a read: finish a count a killed process left half done, and close the open replies of dead
        writers found through the index. Quietly skipped when the store cannot be written."""
        policy = self.reply_policy
        with self._reading():
            pending = self._pending_op()
            roll = pending is not None and not self._op_done(pending)
            left: list[str] = []
            if policy is not None:
                for record in self._rows(self._index, "sessions").values():
                    marker = record.get("open_reply")
                    if isinstance(marker, dict) and policy.writer_gone(marker):
                        left.append(str(record.get("id")))
        if not roll and not left:
            return
        with contextlib.suppress(StorageError), self._writing(self._index, self._ledger):
            self._roll_forward()
            for session_id in left:
                self._settle_locked(session_id)
