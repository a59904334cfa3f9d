"""The cost bar: last reply, this session, today. Unknown prices say so; they are never shown as $0."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Static

from ...formatting import format_cost, format_savings, format_tokens, not_billed, usage_estimated

if TYPE_CHECKING:
    from ...services.api import BudgetStatus

BUDGET_STYLES = {"ok": "green", "warn": "bold yellow", "over": "bold red"}


def _total(cost: float | None, unknown: int) -> str:
    text = format_cost(cost)
    if unknown:
        text += f" + {unknown} unknown" if cost is not None else ""
    return text


class CostFooter(Static):
    def show(
        self, last: Mapping[str, Any] | None, session_usage: dict | None, today: dict | None,
        budget: BudgetStatus | None = None,
    ) -> None:
        """``budget``: the tightest budget the next request counts against (None: no budget applies)."""
        text = Text()
        text.append("last ", style="dim")
        if last and last.get("usage"):
            u = last["usage"]
            text.append(f"{format_tokens(u.get('input_tokens'))} in / {format_tokens(u.get('output_tokens'))} out ")
            text.append(format_cost(last.get("cost")), style="bold")
            if usage_estimated(last):  # the provider reported no usage: our own count
                text.append(" est.", style="italic")
        elif last and not_billed(last):  # rejected before any text (401, 429...): nothing to pay
            text.append("not billed", style="dim")
        elif last:
            text.append("no usage reported", style="dim")
        else:
            text.append("-", style="dim")
        for label, usage in (("session", session_usage), ("today", today)):
            text.append("  │  ", style="dim")
            text.append(f"{label} ", style="dim")
            total = (usage or {}).get("total") or {}
            if not total.get("requests"):
                text.append("$0" if usage is not None else "-", style="bold")
                continue
            text.append(_total(total.get("cost"), total.get("unknown_cost") or 0), style="bold")
            estimated = f", {total['estimated']} est." if total.get("estimated") else ""
            saved = total.get("cache_savings")  # prompt caching's total, when it did anything
            cache = f", cache {format_savings(saved)}" if label == "session" and saved else ""
            text.append(f" ({total.get('requests')} req{estimated}{cache})", style="dim")
        if budget is not None:
            part = Text(budget.short(), style=BUDGET_STYLES.get(budget.state, ""))
            projection = budget.projection
            if projection is not None and projection > budget.budget.amount and budget.state != "over":
                part.append(f" (month-end ≈ {format_cost(projection)})", style="yellow")
            if budget.state == "ok":
                text.append("  │  ", style="dim")
                text.append_text(part)
            else:  # warning or used up: first, so a narrow terminal never cuts it off
                text = Text.assemble(part, ("  │  ", "dim"), text)
        self.update(text)
