"""Usage (per session and in the global ledger) and pricing overrides.

Counting one reply changes three files: the ledger (usage.json), the session file (its per-model total, and the
reply's ``usage_recorded`` mark) and the index (a copy of that total, for listing). A process killed between
those writes must not leave them disagreeing, so the ledger write also journals the operation: the ledger's
meta keeps the last counting operation as ``pending`` ({op, session_id, charges, updates}); the session file's
meta and the index record each keep the ``usage_op`` they last took in. The operation is complete when the
index record has its op (the index is written last). Before the next count, and on reads, an incomplete one is
rolled forward: its session part applied unless the session file already has its op, then the index copied
from the session file. Each step is idempotent, so a kill during the roll-forward is harmless too. The ledger
write itself is the commit point: a kill before it leaves nothing counted anywhere.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any, cast

from tinydb import TinyDB

from ..domain import PriceOverride
from . import usage as usage_math
from .atomic import SCHEMA_VERSION
from .charges import Charge, is_open
from .errors import StorageError
from .files import StoreFiles
from .records import clone, new_id, next_doc_id, session_meta


class AccountingMixin(StoreFiles):
    def record_reply_usage(
        self,
        session_id: str,
        *,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int,
        cache_write_tokens: int,
        cost: float | None,
        reasoning_tokens: int = 0,
        estimated: bool = False,
        when: float | None = None,
        message_id: str | None = None,
        cache_savings: float | None = None,
    ) -> None:
        """Add one request to the session's per-model usage and to the ledger (local day, model).

        ``cost=None`` means the price is unknown: counted in ``unknown_cost``, never added as 0.
        ``estimated``: the token counts are our local estimate, not the provider's (counted apart too).
        ``cache_savings``: USD prompt caching saved on it (pricing.cache_savings; None: unknown, not added).
        The reply paid for is marked ``usage_recorded`` in the same write as the session's total: the reply
        ``message_id``, else the newest reply of ``model`` whose stored usage is not counted yet (if any). A
        reply already marked is not counted again: calling this twice for one ``message_id`` counts it once.
        """
        tokens = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_tokens": cache_read_tokens,
            "cache_write_tokens": cache_write_tokens,
            "reasoning_tokens": reasoning_tokens,
        }
        with self._writing(self._index, self._ledger):
            self._roll_forward()
            doc_id, record = self._require(session_id)
            db = self._session_db(record["id"])
            self._check_writable(db)
            rows = self._rows(db, "messages")
            key = _reply_to_mark(rows, message_id, model)
            if key is not None and message_id is not None and rows[key].get("usage_recorded") is True:
                return  # counted already
            paid = rows[key].get("id") if key is not None else None
            charge = Charge(model, tokens, cost, estimated, when, paid if isinstance(paid, str) else None, cache_savings)
            self._commit(doc_id, record, db, charges=[charge])

    # -- the one locked change to a session (caller holds ``_writing(self._index, self._ledger)``) -------------
    def _commit(
        self,
        doc_id: int,
        record: dict[str, Any],
        db: TinyDB,
        *,
        updates: Mapping[str, Mapping[str, Any]] | None = None,
        charges: Iterable[Charge] = (),
        new: Iterable[Mapping[str, Any]] = (),
        index: Mapping[str, Any] | None = None,
        op: str | None = None,
    ) -> None:
        """Set fields of messages (``updates``: id -> fields), count ``charges``, append ``new`` messages.

        Writes the ledger once (only with charges, journaling them), the session file once, the index once.
        ``op``: roll forward that journaled operation (its ledger part is done; its session part too if the
        session file has its op). The index's open-reply marker is cleared when that reply is no longer open.
        """
        charges, new = list(charges), list(new)
        updates = dict(updates or {})
        if charges and op is None:
            op = new_id()
            self._journal(op, record["id"], charges, updates)
        data = db.storage.read() or {}
        meta_doc = dict((data.get("meta") or {}).get("1") or {})
        stored = meta_doc.get("session")
        session = dict(stored) if isinstance(stored, dict) else session_meta(record)
        messages = dict(data.get("messages") or {})
        changes: dict[str, Any] = {}
        if (updates or charges or new) and (op is None or session.get("usage_op") != op):
            keys = _keys_of(messages, [*updates, *(c.message_id for c in charges if c.message_id)])
            for message_id, fields in updates.items():
                if message_id in keys:
                    messages[keys[message_id]] = {**messages[keys[message_id]], **clone(dict(fields))}
            per_model = clone(session.get("usage") or {})
            for charge in charges:
                if charge.message_id in keys:
                    key = keys[charge.message_id]
                    messages[key] = {**messages[key], "usage_recorded": True}
                per_model[charge.model] = usage_math.add_request(
                    per_model.get(charge.model), charge.tokens, charge.cost, charge.estimated, charge.cache_savings
                )
            if op is not None:
                session["usage"], session["usage_op"] = per_model, op
            for msg in new:
                messages[str(next_doc_id(messages))] = msg
            tables: dict[str, dict[str, Any]] = {"messages": messages}
            if op is not None or not isinstance(stored, dict):
                tables["meta"] = {"1": {**meta_doc, "schema": SCHEMA_VERSION, "session": session}}
            self._write_tables(db, tables)
        if op is not None:
            changes["usage"], changes["usage_op"] = clone(session.get("usage") or {}), op
        if new:
            # The count comes from the file, so a count left stale by a crash between two writes heals.
            changes["messages"] = len(messages)
            changes["updated_at"] = max([record.get("updated_at") or 0, *(m["created_at"] for m in new)])
        marker = record.get("open_reply")
        if isinstance(marker, dict) and "open_reply" not in (index or {}):
            marked = _keys_of(messages, [marker.get("id")]).get(str(marker.get("id")))
            if marked is None or not is_open(messages[marked]):
                changes["open_reply"] = None
        changes.update(index or {})
        if changes:
            self._table(self._index, "sessions").update(changes, doc_ids=[doc_id])

    def _journal(self, op: str, session_id: str, charges: list[Charge], updates: dict[str, Any]) -> None:
        """The ledger write: each charge added to its (day, model) row, and the operation kept as pending."""
        rows = dict(self._rows(self._ledger, "ledger"))
        for charge in charges:
            day = usage_math.local_day(charge.when)
            row_id = next((k for k, r in rows.items() if r.get("day") == day and r.get("model") == charge.model), None)
            old = rows.get(row_id) if row_id is not None else None
            bucket = usage_math.add_request(old, charge.tokens, charge.cost, charge.estimated, charge.cache_savings)
            rows[row_id or str(next_doc_id(rows))] = {**(old or {}), "day": day, "model": charge.model, **bucket}
        meta = dict(self._rows(self._ledger, "meta").get("1") or {})
        meta["schema"] = SCHEMA_VERSION
        meta["pending"] = {
            "op": op,
            "session_id": session_id,
            "charges": [c.as_json() for c in charges],
            "updates": clone(updates),
        }
        self._write_tables(self._ledger, {"meta": {"1": meta}, "ledger": rows})

    def _pending_op(self) -> dict[str, Any] | None:
        pending = self._rows(self._ledger, "meta").get("1", {}).get("pending")
        if isinstance(pending, dict) and isinstance(pending.get("op"), str) and isinstance(pending.get("session_id"), str):
            return pending
        return None

    def _op_done(self, pending: Mapping[str, Any]) -> bool:
        found = self._find(pending["session_id"])
        # a deleted session has nothing left to update: its spending lives on in the ledger alone
        return isinstance(found, str) or found[1].get("usage_op") == pending["op"]

    def _needs_roll_forward(self) -> bool:
        with self._reading():
            pending = self._pending_op()
            return pending is not None and not self._op_done(pending)

    def _heal(self) -> None:
        """Before a read: finish a count a killed process left half done. Quietly skipped when the store cannot
        be written (read-only dir, newer files): reading never requires writing."""
        if not self._needs_roll_forward():
            return
        with contextlib.suppress(StorageError), self._writing(self._index, self._ledger):
            self._roll_forward()

    def _roll_forward(self) -> None:
        """Finish the last counting operation if a killed process left it half done. Under the lock."""
        pending = self._pending_op()
        if pending is None or self._op_done(pending):
            return
        found = self._find(pending["session_id"])
        if isinstance(found, str):
            return
        doc_id, record = found
        db = self._session_db(record["id"])
        self._check_writable(db)
        charges = [c for c in map(Charge.from_json, pending.get("charges") or []) if c is not None]
        updates = pending.get("updates") if isinstance(pending.get("updates"), dict) else {}
        self._commit(doc_id, record, db, updates=updates, charges=charges, op=pending["op"])

    def usage(self, session_id: str | None = None, *, day: str | None = None) -> dict[str, Any]:
        """``{"per_model": {model: counters}, "total": counters}`` for a session, or from the ledger.

        The ledger covers all days, or only ``day`` (YYYY-MM-DD, local time). ``cost`` is the sum of known
        costs; None when every request had an unknown price; 0.0 when there were no requests.
        """
        if session_id is not None and day is not None:
            raise ValueError("usage(day=...) applies to the global ledger, not to a session")
        self._heal()
        with self._reading():
            if session_id is not None:
                _, record = self._require(session_id)
                return usage_math.summarize((record.get("usage") or {}).items())
            rows = self._rows(self._ledger, "ledger").values()
            return usage_math.summarize((str(r.get("model")), r) for r in rows if day is None or r.get("day") == day)

    def ledger_rows(self) -> list[dict[str, Any]]:
        """Copies of the ledger's rows as stored: {day (local YYYY-MM-DD), model, counters} per (day, model).
        Healed first, as ``usage`` is: a count a killed process left half done is finished before reading."""
        self._heal()
        with self._reading():
            return [clone(dict(r)) for r in self._rows(self._ledger, "ledger").values() if isinstance(r, dict)]

    # -- pricing overrides (USD per million tokens) ------------------------------------------------------
    def set_price_override(
        self,
        model: str,
        *,
        input_per_mtok: float,
        output_per_mtok: float,
        cache_read_per_mtok: float | None = None,
        cache_write_per_mtok: float | None = None,
    ) -> dict[str, Any]:
        prices = {
            "input_per_mtok": input_per_mtok,
            "output_per_mtok": output_per_mtok,
            "cache_read_per_mtok": cache_read_per_mtok,
            "cache_write_per_mtok": cache_write_per_mtok,
        }
        for name, value in prices.items():
            if value is None and name.startswith("cache"):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a number")
            if value < 0:
                raise ValueError(f"{name} must not be negative")
            prices[name] = float(value)
        entry = {"model": model, **prices, "updated_at": time.time()}
        with self._writing(self._pricing):
            rows = self._rows(self._pricing, "overrides")
            doc_id = next((int(k) for k, r in rows.items() if r.get("model") == model), next_doc_id(rows))
            self._put(self._pricing, "overrides", doc_id, entry)
        return dict(entry)

    def unset_price_override(self, model: str) -> bool:
        with self._writing(self._pricing):
            rows = self._rows(self._pricing, "overrides")
            ids = [int(k) for k, r in rows.items() if r.get("model") == model]
            if ids:
                self._table(self._pricing, "overrides").remove(doc_ids=ids)
        return bool(ids)

    def price_overrides(self) -> dict[str, PriceOverride]:
        with self._reading():
            rows = self._rows(self._pricing, "overrides").values()
            # rows as set_price_override wrote them (a damaged file's are salvaged whole records)
            return {str(r.get("model")): cast(PriceOverride, clone(r)) for r in rows}


def _keys_of(messages: dict[str, Any], ids: Iterable[Any]) -> dict[str, str]:
    """Doc ids of the messages with these ids (searched from the newest: that is where updates land)."""
    wanted = {i for i in ids if isinstance(i, str)}
    found: dict[str, str] = {}
    for key in reversed(messages):
        if len(found) == len(wanted):
            break
        message_id = messages[key].get("id")
        if message_id in wanted:
            found[message_id] = key
    return found


def _reply_to_mark(messages: dict[str, Any], message_id: str | None, model: str) -> str | None:
    """The doc id of the reply a count pays for: ``message_id``, else the newest reply of ``model`` that owes one."""
    if message_id is not None:
        return _keys_of(messages, [message_id]).get(message_id)
    for key in reversed(messages):
        msg = messages[key]
        if msg.get("usage_recorded") is False and isinstance(msg.get("usage"), dict) and msg.get("model") == model:
            return key
    return None
