"""Usage (per session and in the global ledger) and pricing overrides."""

from __future__ import annotations

import math
import time
from typing import Any

from tinydb.table import Document

from . import usage as usage_math
from .files import StoreFiles
from .records import clone, next_doc_id


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
    ) -> None:
        """Add one request to the session's per-model usage and to the ledger (local day, model).

        ``cost=None`` means the price is unknown: counted in ``unknown_cost``, never added as 0.
        ``estimated``: the token counts are our local estimate, not the provider's (counted apart too).
        """
        tokens = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_tokens": cache_read_tokens,
            "cache_write_tokens": cache_write_tokens,
            "reasoning_tokens": reasoning_tokens,
        }
        day = usage_math.local_day(when)
        with self._writing(self._index, self._ledger):
            doc_id, record = self._require(session_id)
            db = self._session_db(record["id"])
            self._check_writable(db)
            # Ledger first: whatever happens to the session later, the money was spent.
            ledger = self._table(self._ledger, "ledger")
            rows = self._rows(self._ledger, "ledger")
            row_id = next((k for k, r in rows.items() if r.get("day") == day and r.get("model") == model), None)
            if row_id is None:
                bucket = usage_math.add_request(None, tokens, cost, estimated)
                ledger.insert(Document({"day": day, "model": model, **bucket}, next_doc_id(rows)))
            else:
                ledger.update(usage_math.add_request(rows[row_id], tokens, cost, estimated), doc_ids=[int(row_id)])
            per_model = clone(record.get("usage") or {})
            per_model[model] = usage_math.add_request(per_model.get(model), tokens, cost, estimated)
            session = self._meta_or_record(db, record)
            session["usage"] = per_model
            self._write_session_meta(db, session)
            self._table(self._index, "sessions").update({"usage": clone(per_model)}, doc_ids=[doc_id])

    def usage(self, session_id: str | None = None, *, day: str | None = None) -> dict[str, Any]:
        """``{"per_model": {model: counters}, "total": counters}`` for a session, or from the ledger.

        The ledger covers all days, or only ``day`` (YYYY-MM-DD, local time). ``cost`` is the sum of known
        costs; None when every request had an unknown price; 0.0 when there were no requests.
        """
        with self._reading():
            if session_id is not None:
                if day is not None:
                    raise ValueError("usage(day=...) applies to the global ledger, not to a session")
                _, record = self._require(session_id)
                return usage_math.summarize((record.get("usage") or {}).items())
            rows = self._rows(self._ledger, "ledger").values()
            return usage_math.summarize((str(r.get("model")), r) for r in rows if day is None or r.get("day") == day)

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

    def price_overrides(self) -> dict[str, dict[str, Any]]:
        with self._reading():
            rows = self._rows(self._pricing, "overrides").values()
            return {str(r.get("model")): clone(r) for r in rows}
