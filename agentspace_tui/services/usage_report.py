"""Spending from the usage ledger, grouped by day, model or provider: ``usage --by`` and the usage screen.

UI-free: ledger rows ({day, model, counters}, as ``Store.ledger_rows`` gives them) in, plain data out. A price we
do not know is never added as $0: a group counts its unknown-price requests (``unknown_cost``) and names their
models (``unknown_models``), and its ``cost`` is None when every request in it had an unknown price. Requests
whose tokens were counted locally are ``estimated`` (their share of the cost in ``estimated_cost``).
``cache_savings`` is None where no ledger row carried that counter (older rows, or not known).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from .budgets import BudgetStatus, all_budgets, statuses_of

if TYPE_CHECKING:
    from .core import Services

GROUPS = ("day", "model", "provider")
WINDOW_DAYS = 30  # the usage screen's charts and tables
TOP_MODELS = 5  # models charted one by one; the rest are stacked as "other"
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
_COUNTS = ("requests", *TOKEN_FIELDS, "unknown_cost", "estimated")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(text: str) -> date:
    """A date written YYYY-MM-DD; ValueError with a one-line message otherwise."""
    if not _DAY.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2026-03-01")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date on the calendar; use YYYY-MM-DD, e.g. 2026-03-01") from None


def provider_of(model: str) -> str:
    """The provider of a ``provider:name`` model id ("unknown" for an id without one)."""
    provider, sep, _ = model.partition(":")
    return provider if sep and provider else "unknown"


def signed_cost(value: float | None) -> str:
    """A cache saving: "$0.0123", "-$0.0040" when caching cost more than it saved, "-" when unknown."""
    from ..pricing import format_cost

    if value is None:
        return "-"
    if abs(value) < 1e-12:
        return "$0"
    return ("-" if value < 0 else "") + format_cost(abs(value))


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


@dataclass
class UsageRow:
    """One group's counters. ``cost`` sums known costs only; None when every request's price was unknown."""

    key: str
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    unknown_cost: int = 0
    estimated: int = 0
    known_cost: float = 0.0
    estimated_cost: float = 0.0
    savings: float = 0.0
    savings_known: bool = False
    unknown_models: set[str] = field(default_factory=set)

    def add(self, model: str, bucket: Mapping[str, Any]) -> None:
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + int(_number(bucket.get(name))))
        self.known_cost += _number(bucket.get("cost"))
        self.estimated_cost += _number(bucket.get("estimated_cost"))
        saved = bucket.get("cache_savings")
        if type(saved) in (int, float):
            self.savings += _number(saved)
            self.savings_known = True
        if _number(bucket.get("unknown_cost")) > 0:
            self.unknown_models.add(model)

    @property
    def cost(self) -> float | None:
        if self.requests and self.unknown_cost >= self.requests:
            return None
        return self.known_cost

    @property
    def cache_savings(self) -> float | None:
        """None when no row carried the counter, or when no request had a known price (nothing to save on)."""
        return self.savings if self.savings_known and self.cost is not None else None

    def as_json(self, by: str) -> dict[str, Any]:
        """Every field, None where unknown: the ``usage --by ... --json`` row."""
        return {
            by: self.key,
            "requests": self.requests,
            **{name: getattr(self, name) for name in TOKEN_FIELDS},
            "cost": self.cost,
            "unknown_cost": self.unknown_cost,
            "unknown_models": sorted(self.unknown_models),
            "estimated": self.estimated,
            "estimated_cost": self.estimated_cost,
            "cache_savings": self.cache_savings,
        }


@dataclass
class UsageReport:
    """Rows grouped ``by`` day (oldest first), model or provider (highest known cost first), and their total."""

    by: str
    since: str | None
    until: str | None
    rows: list[UsageRow]
    total: UsageRow

    def as_json(self) -> list[dict[str, Any]]:
        return [row.as_json(self.by) for row in self.rows]


def _day(row: Mapping[str, Any]) -> str:
    day = row.get("day")
    return day if isinstance(day, str) else "unknown"


def _model(row: Mapping[str, Any]) -> str:
    model = row.get("model")
    return model if isinstance(model, str) and model else "unknown"


def _key(row: Mapping[str, Any], by: str) -> str:
    if by == "day":
        return _day(row)
    return _model(row) if by == "model" else provider_of(_model(row))


def in_range(row: Mapping[str, Any], since: str | None, until: str | None) -> bool:
    day = _day(row)
    return (since is None or day >= since) and (until is None or day <= until)


def report(
    rows: Iterable[Mapping[str, Any]], by: str, *, since: str | None = None, until: str | None = None
) -> UsageReport:
    """Group ledger rows by "day", "model" or "provider", keeping days from ``since`` to ``until`` (YYYY-MM-DD,
    both included; None: no bound)."""
    if by not in GROUPS:
        raise ValueError(f"cannot group usage by {by!r}; use one of {', '.join(GROUPS)}")
    groups: dict[str, UsageRow] = {}
    total = UsageRow("total")
    for row in rows:
        if not in_range(row, since, until):
            continue
        key = _key(row, by)
        groups.setdefault(key, UsageRow(key)).add(_model(row), row)
        total.add(_model(row), row)
    if by == "day":
        ordered = sorted(groups.values(), key=lambda r: r.key)
    else:
        ordered = sorted(groups.values(), key=lambda r: (-r.known_cost, -r.requests, r.key))
    return UsageReport(by, since, until, ordered, total)


# -- the usage screen's data ----------------------------------------------------------------------------------
@dataclass
class Overview:
    """Everything the usage screen shows, for the ``days`` ending ``today`` (oldest first)."""

    today: date
    days: list[str]
    by_day: UsageReport
    by_model: UsageReport
    by_provider: UsageReport
    stacked: dict[str, list[float]]  # series label -> known cost per day (top models, then "other")
    tokens_in: list[int]
    tokens_out: list[int]
    savings: list[float]  # cache savings per day (0 where unknown; negative: cache writes cost more than they saved)
    savings_known: bool  # some row in the window carried the counter
    budgets: list[BudgetStatus]  # every budget, spent so far (services/budgets.py)
    ledger_empty: bool  # nothing was ever counted (not just in the window)

    @property
    def total(self) -> UsageRow:
        return self.by_day.total


def overview(
    rows: Sequence[Mapping[str, Any]],
    today: date,
    *,
    days: int = WINDOW_DAYS,
    budgets: Sequence[BudgetStatus] = (),
    top_models: int = TOP_MODELS,
) -> Overview:
    """The last ``days`` days up to ``today`` (local dates, as the ledger keeps them), grouped three ways,
    with the per-day series the charts draw and the budgets' spend so far."""
    window = [(today - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    since, until = window[0], window[-1]
    by_day = report(rows, "day", since=since, until=until)
    by_model = report(rows, "model", since=since, until=until)
    index = {day: i for i, day in enumerate(window)}
    charted = [r.key for r in by_model.rows if r.known_cost > 0][:top_models]
    rest = [r.key for r in by_model.rows if r.known_cost > 0][top_models:]
    other = f"other ({len(rest)} models)" if len(rest) > 1 else (rest[0] if rest else "")
    stacked: dict[str, list[float]] = {label: [0.0] * days for label in [*charted, *([other] if rest else [])]}
    tokens_in, tokens_out, savings = [0] * days, [0] * days, [0.0] * days
    savings_known = False
    for row in rows:
        i = index.get(_day(row))
        if i is None:
            continue
        model = _model(row)
        label = model if model in stacked else other
        if label in stacked:
            stacked[label][i] += _number(row.get("cost"))
        tokens_in[i] += int(_number(row.get("input_tokens")))
        tokens_out[i] += int(_number(row.get("output_tokens")))
        if type(row.get("cache_savings")) in (int, float):
            savings[i] += _number(row.get("cache_savings"))
            savings_known = True
    return Overview(
        today=today,
        days=window,
        by_day=by_day,
        by_model=by_model,
        by_provider=report(rows, "provider", since=since, until=until),
        stacked=stacked,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        savings=savings,
        savings_known=savings_known,
        budgets=list(budgets),
        ledger_empty=not any(_number(r.get("requests")) > 0 for r in rows),
    )


def load_overview(services: Services, today: date, *, days: int = WINDOW_DAYS) -> Overview:
    """Read the ledger and the budgets (storage I/O: call from a worker, never on the UI loop)."""
    rows = services.store.ledger_rows()
    settings = services.settings
    budgets = statuses_of(all_budgets(settings, services.store), rows, today, settings.budget_warn_at)
    return overview(rows, today, days=days, budgets=budgets)
