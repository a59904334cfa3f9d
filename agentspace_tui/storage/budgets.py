"""Budgets set from the command line (``agentspace-tui budget set``).

Stored in preferences.json as their own document (``BUDGETS_DOC``) of the ``prefs`` table, apart from the
app's preferences: ``{"limits": [{"period", "amount", "provider", "updated_at"}]}``. A stored budget replaces a
config.toml one of the same period and provider (services/budgets.py combines them).
"""

from __future__ import annotations

import math
import time
from typing import Any

from .files import StoreFiles
from .records import clone

BUDGETS_DOC = 2  # doc 1 is the preferences (preferences.py)
PERIODS = ("daily", "monthly")


class BudgetsMixin(StoreFiles):
    def stored_budgets(self) -> list[dict[str, Any]]:
        """The budgets set with ``set_budget``: ``{"period", "amount", "provider" (None: all), "updated_at"}``.
        Entries a damaged or hand-edited file holds in another shape are left out."""
        with self._reading():
            return self._limits()

    def set_budget(self, period: str, amount: float, provider: str | None = None) -> dict[str, Any]:
        """Store (or replace) the ``period`` budget, for all providers or one. Raises ValueError."""
        if period not in PERIODS:
            raise ValueError(f"a budget's period is daily or monthly, not {period!r}")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount) or amount < 0:
            raise ValueError("a budget is an amount in USD, 0 or more")
        entry = {"period": period, "amount": float(amount), "provider": provider or None, "updated_at": time.time()}
        with self._writing(self._prefs):
            kept = [e for e in self._limits() if (e["period"], e["provider"]) != (period, entry["provider"])]
            self._put(self._prefs, "prefs", BUDGETS_DOC, {"limits": [*kept, entry]})
        return dict(entry)

    def unset_budget(self, period: str, provider: str | None = None) -> bool:
        """Forget the stored ``period`` budget (all providers, or ``provider``'s); False if none was stored."""
        with self._writing(self._prefs):
            limits = self._limits()
            kept = [e for e in limits if (e["period"], e["provider"]) != (period, provider or None)]
            if len(kept) != len(limits):
                self._put(self._prefs, "prefs", BUDGETS_DOC, {"limits": kept})
        return len(kept) != len(limits)

    def _limits(self) -> list[dict[str, Any]]:
        doc = self._rows(self._prefs, "prefs").get(str(BUDGETS_DOC)) or {}
        limits = doc.get("limits")
        return [clone(e) for e in limits if _valid(e)] if isinstance(limits, list) else []


def _valid(entry: Any) -> bool:
    if not isinstance(entry, dict) or entry.get("period") not in PERIODS:
        return False
    amount, provider = entry.get("amount"), entry.get("provider")
    return (
        isinstance(amount, int | float) and not isinstance(amount, bool) and math.isfinite(amount) and amount >= 0
        and (provider is None or isinstance(provider, str))
    )
