"""Budgets as the app shows them: the footer's tightest budget, and the toasts when one crosses a threshold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..services.api import BudgetStatus


def footer_budget(statuses: Sequence[BudgetStatus] | None, provider: str | None) -> BudgetStatus | None:
    """The budget the next request (to ``provider``) would run out first: the largest share spent."""
    mine = [s for s in statuses or () if s.budget.applies_to(provider)]
    return max(mine, key=lambda s: s.share, default=None)


def crossings(statuses: Sequence[BudgetStatus], seen: dict[str, str]) -> list[tuple[str, str]]:
    """(text, severity) toasts for the budgets that reached warn or over since last time; ``seen`` (budget name ->
    state last toasted) is updated: a budget is toasted once per crossing, again after it fell back (a new day)."""
    out = []
    for status in statuses:
        name, state = status.budget.name, status.state
        if state == "ok":
            seen.pop(name, None)
            continue
        if seen.get(name) == state:
            continue
        seen[name] = state
        if state == "over":
            out.append((f"{status.describe()}; requests it covers now ask first", "error"))
        else:
            out.append((status.describe(), "warning"))
    return out
