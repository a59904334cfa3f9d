"""Budgets and what has been spent against them, without any UI.

A budget limits the spending of a local day or calendar month, for all providers or one. They come from
config.toml (``[budgets]``) and from ``agentspace-tui budget set`` (stored; a stored one replaces the config one
of the same period and provider). Spending is read from the ledger: provider-reported and estimated costs both
count (estimated ones are flagged); requests of unknown price are counted and named, never taken as $0.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..config.settings import BUDGET_PERIODS, BudgetLimit, Settings
from ..formatting import format_cost
from ..storage import Store

BudgetSource = Literal["config", "stored"]
BudgetState = Literal["ok", "warn", "over"]


@dataclass(frozen=True)
class Budget:
    period: str  # "daily" | "monthly"
    amount: float  # USD
    provider: str | None = None  # None: all providers
    source: BudgetSource = "config"

    @property
    def name(self) -> str:
        return BudgetLimit(self.period, self.amount, self.provider).name

    def applies_to(self, provider: str | None) -> bool:
        """Whether a request to ``provider`` counts against (and is held by) this budget."""
        return self.provider is None or self.provider == provider

    def raise_hint(self) -> str:
        flag = f" --provider {self.provider}" if self.provider else ""
        return f"agentspace-tui budget set --{self.period} {_suggest(self.amount)}{flag}"


@dataclass(frozen=True)
class Spend:
    """What the ledger holds for a period: ``cost`` sums the known costs (``estimated_cost`` of them estimated);
    ``unknown`` requests had no price and are not in ``cost``."""

    cost: float = 0.0
    requests: int = 0
    estimated: int = 0
    estimated_cost: float = 0.0
    unknown: int = 0

    def note(self) -> str | None:
        """What the amount leaves out or guesses, in words (None: nothing)."""
        parts = []
        if self.unknown:
            parts.append(f"{self.unknown} request{'s' if self.unknown != 1 else ''} of unknown price not counted")
        if self.estimated:
            parts.append(f"{money(self.estimated_cost)} of it estimated ({self.estimated} request"
                         f"{'s' if self.estimated != 1 else ''} without usage from the provider)")
        return "; ".join(parts) or None

    def as_json(self) -> dict[str, Any]:
        return {"cost": self.cost, "requests": self.requests, "estimated": self.estimated,
                "estimated_cost": self.estimated_cost, "unknown_price_requests": self.unknown}


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    spent: Spend
    warn_at: float
    projection: float | None = None  # monthly budgets: month-end spending at this month's pace

    @property
    def remaining(self) -> float:
        return max(0.0, self.budget.amount - self.spent.cost)

    @property
    def share(self) -> float:
        """The share of the budget spent (1.0 and above: used up). A $0 budget is used up from the start."""
        if self.budget.amount <= 0:
            return 1.0 if self.spent.cost <= 0 else float("inf")
        return self.spent.cost / self.budget.amount

    @property
    def state(self) -> BudgetState:
        share = self.share
        return "over" if share >= 1.0 else "warn" if share >= self.warn_at else "ok"

    @property
    def spent_when(self) -> str:
        return "today" if self.budget.period == "daily" else "this month"

    def describe(self) -> str:
        """One line: how much of the budget is spent, and what that amount leaves out."""
        b = self.budget
        if self.state == "over":
            text = f"{b.name} {money(b.amount)} is used up ({money(self.spent.cost)} spent {self.spent_when})"
        else:
            text = (f"{b.name} {money(b.amount)}: {money(self.spent.cost)} spent {self.spent_when} "
                    f"({min(self.share, 9.99):.0%}), {money(self.remaining)} left")
        note = self.spent.note()
        return f"{text}; {note}" if note else text

    def short(self) -> str:
        """For the footer: "daily budget 62% left", "monthly budget for openai used up"."""
        if self.state == "over":
            return f"{self.budget.name} used up"
        return f"{self.budget.name} {max(0.0, 1 - self.share):.0%} left"

    def as_json(self) -> dict[str, Any]:
        share = self.share
        return {
            "period": self.budget.period, "amount": self.budget.amount, "provider": self.budget.provider,
            "source": self.budget.source, "name": self.budget.name, "spent": self.spent.as_json(),
            "remaining": self.remaining, "share": share if share != float("inf") else None, "state": self.state,
            "month_end_projection": self.projection, "note": self.spent.note(),
        }


def all_budgets(settings: Settings, store: Store) -> list[Budget]:
    """config.toml's budgets, with the stored ones on top (replacing a config one of the same period and provider)."""
    stored = [Budget(e["period"], float(e["amount"]), e.get("provider"), "stored") for e in store.stored_budgets()]
    taken = {(b.period, b.provider) for b in stored}
    config = [Budget(b.period, b.amount, b.provider, "config") for b in settings.budgets
              if (b.period, b.provider) not in taken]
    order = {p: i for i, p in enumerate(BUDGET_PERIODS)}
    return sorted([*config, *stored], key=lambda b: (order.get(b.period, 9), b.provider or ""))


def provider_of(model_id: str) -> str:
    return model_id.partition(":")[0]


def spend(rows: Iterable[Mapping[str, Any]], *, day: str | None = None, provider: str | None = None) -> Spend:
    """The spending of ledger ``rows`` (of one month): of ``day`` only when given, of ``provider`` only when given."""
    cost, requests, estimated, estimated_cost, unknown = 0.0, 0, 0, 0.0, 0
    for row in rows:
        if day is not None and row.get("day") != day:
            continue
        if provider is not None and provider_of(str(row.get("model") or "")) != provider:
            continue
        cost += _number(row.get("cost"))
        requests += int(_number(row.get("requests")))
        estimated += int(_number(row.get("estimated")))
        estimated_cost += _number(row.get("estimated_cost"))
        unknown += int(_number(row.get("unknown_cost")))
    return Spend(cost, requests, estimated, estimated_cost, unknown)


def month_rows(store: Store, today: dt.date) -> list[dict[str, Any]]:
    """The ledger's rows (one per local day and model) of ``today``'s month: what budgets are checked against."""
    prefix = today.strftime("%Y-%m-")
    return [r for r in store.ledger_rows() if str(r.get("day") or "").startswith(prefix)]


def month_end_projection(spent: float, today: dt.date) -> float:
    """This month's spending at its pace so far (spent / days elapsed, today included) over the whole month."""
    days = calendar.monthrange(today.year, today.month)[1]
    return spent / today.day * days


def budget_statuses(
    settings: Settings, store: Store, *, today: dt.date | None = None, provider: str | None = None,
    budgets: Sequence[Budget] | None = None,
) -> list[BudgetStatus]:
    """Every budget's status (only those a request to ``provider`` counts against, when given)."""
    today = today or dt.date.today()
    chosen = [b for b in (all_budgets(settings, store) if budgets is None else budgets)
              if provider is None or b.applies_to(provider)]
    if not chosen:
        return []
    return statuses_of(chosen, month_rows(store, today), today, settings.budget_warn_at)


def statuses_of(
    chosen: Iterable[Budget], rows: Iterable[Mapping[str, Any]], today: dt.date, warn_at: float
) -> list[BudgetStatus]:
    """The status of each budget from ledger ``rows`` (rows of other months are left out)."""
    prefix = today.strftime("%Y-%m-")
    month = [r for r in rows if str(r.get("day") or "").startswith(prefix)]
    out = []
    for b in chosen:
        spent = spend(month, day=today.isoformat() if b.period == "daily" else None, provider=b.provider)
        projection = month_end_projection(spent.cost, today) if b.period == "monthly" else None
        out.append(BudgetStatus(b, spent, warn_at, projection))
    return out


def tightest(found: Sequence[BudgetStatus]) -> BudgetStatus | None:
    """The budget with the largest share spent (the first to run out)."""
    return max(found, key=lambda s: s.share, default=None)


def report(settings: Settings, store: Store, *, today: dt.date | None = None) -> dict[str, Any]:
    """The ``budget list --json`` contract: every budget's status, today's and this month's spending, and the
    month-end projection at this month's pace."""
    today = today or dt.date.today()
    found = budget_statuses(settings, store, today=today)
    rows = month_rows(store, today)
    month = spend(rows)
    top = tightest(found)
    return {
        "date": today.isoformat(),
        "warn_at": settings.budget_warn_at,
        "budgets": [s.as_json() for s in found],
        "tightest": top.budget.name if top else None,
        "today": spend(rows, day=today.isoformat()).as_json(),
        "month": month.as_json(),
        "month_end_projection": month_end_projection(month.cost, today),
    }


def money(amount: float | None) -> str:
    """Budget amounts in cents ("$5.00", "$0.50"); below a cent, with significant digits ("$0.0031")."""
    if amount is None or (0 < abs(amount) < 0.01):
        return format_cost(amount)
    return f"${amount:,.2f}"


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _suggest(amount: float) -> str:
    """A round amount above ``amount`` to offer in "raise it with ..." (twice it, at least 1)."""
    value = max(1.0, amount * 2)
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.2f}"
