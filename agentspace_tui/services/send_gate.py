"""The one check before a request is sent, for the CLI and the app alike: what holds it, and what to warn about.

A request is held when a budget it counts against is used up (100% or more: the CLI needs ``--over-budget``,
the app asks), or when its forecast is above ``confirm_above`` (the CLI needs ``--yes``, the app asks); a
forecast that cannot be priced holds too while ``confirm_above`` is set: an unknown price is never taken as $0.
Budgets of another provider never hold. A budget past ``warn_at`` (but not used up) only warns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..config.settings import Settings
from ..formatting import format_cost
from ..storage import Store
from . import budgets as budget_math
from .budgets import BudgetStatus
from .forecast import Forecast

HoldKind = Literal["budget", "forecast"]


@dataclass(frozen=True)
class Hold:
    kind: HoldKind
    message: str  # one line, naming the budget (or the threshold) and how to raise it or send once anyway

    @property
    def flag(self) -> str:
        """The ``ask`` option that sends once anyway."""
        return "--over-budget" if self.kind == "budget" else "--yes"


@dataclass(frozen=True)
class GateCheck:
    forecast: Forecast
    holds: list[Hold] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # budgets past warn_at, not used up
    statuses: list[BudgetStatus] = field(default_factory=list)  # of the budgets this request counts against

    def held(self, *, over_budget: bool = False, confirmed: bool = False) -> list[Hold]:
        """The holds left once the user said "send anyway" (``over_budget``) or "yes" (``confirmed``)."""
        return [h for h in self.holds if not (h.kind == "budget" and over_budget) and not (h.kind == "forecast" and confirmed)]

    def question(self) -> str:
        """The app's confirmation: every hold, then the forecast."""
        lines = [h.message for h in self.holds]
        if all(h.kind != "forecast" for h in self.holds):  # a forecast hold already gives the forecast
            lines.append(f"forecast: {self.forecast.describe()}")
        lines.append("Send this request once anyway?")
        return "\n".join(lines)


def check_send(
    settings: Settings, forecast: Forecast, found: Sequence[BudgetStatus], *, provider: str | None = None
) -> GateCheck:
    """The holds and warnings for a request to ``provider`` (default: the forecast model's) given budget statuses
    ``found`` (statuses of other providers are ignored)."""
    provider = provider or budget_math.provider_of(forecast.model)
    mine = [s for s in found if s.budget.applies_to(provider)]
    holds: list[Hold] = []
    free = forecast.total_high == 0.0  # a local model: a budget of money cannot be exceeded by it
    for status in mine:
        if status.state == "over" and not free:
            holds.append(Hold("budget", f"{status.describe()}; raise it with `{status.budget.raise_hint()}` "
                                        "or send once anyway"))
    warnings = [status.describe() for status in mine if status.state == "warn"]
    limit = settings.confirm_above
    if limit is not None:
        high = forecast.total_high
        if high is None:
            holds.append(Hold("forecast", f"the cost of this request cannot be forecast ({forecast.describe()}) "
                                          f"and confirm_above is {format_cost(limit)}; confirm to send it"))
        elif high > limit:
            holds.append(Hold("forecast", f"this request may cost up to {format_cost(high)}, above confirm_above "
                                          f"{format_cost(limit)} ({forecast.describe()}); confirm to send it"))
    return GateCheck(forecast, holds, warnings, mine)


def check_request(
    settings: Settings, store: Store, forecast: Forecast, *, today: dt.date | None = None
) -> GateCheck:
    """``check_send`` with the budgets' statuses read from the ledger now (blocking: a small file)."""
    provider = budget_math.provider_of(forecast.model)
    return check_send(settings, forecast, budget_math.budget_statuses(settings, store, today=today, provider=provider))
