"""``agentspace-tui budget``: spending limits per day or month (all providers or one), and where they stand.

``budget set`` stores a budget (it replaces a config.toml one of the same period and provider), ``budget unset``
forgets a stored one, ``budget list`` shows every budget with where it comes from, what is spent against it and
the month-end projection at this month's pace.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from typing import TYPE_CHECKING

from ..config.settings import BUDGET_MAX
from ..formatting import table
from ..text_safety import for_terminal
from .app_services import open_services
from .exits import EXIT_OK, EXIT_USAGE, CliError
from .output import print_json

if TYPE_CHECKING:
    from ..services.core import Services



def _amount(option: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CliError(f"{option} {text!r} is not an amount: give USD as a number, e.g. {option} 5", EXIT_USAGE) from None
    if not math.isfinite(value) or not 0 <= value <= BUDGET_MAX:
        raise CliError(f"{option} {text} is not allowed: an amount in USD from 0 to {BUDGET_MAX:,.0f}", EXIT_USAGE)
    return value


def _periods(args: argparse.Namespace, *, amounts: bool) -> list[tuple[str, float]]:
    chosen = []
    for period in ("daily", "monthly"):
        value = getattr(args, period, None)
        if amounts and value is not None:
            chosen.append((period, _amount(f"--{period}", value)))
        elif not amounts and value:
            chosen.append((period, 0.0))
    if not chosen:
        action = "set" if amounts else "unset"
        example = " 5" if amounts else ""
        raise CliError(f"budget {action} needs --daily{example} or --monthly{example} (and --provider P for one "
                       "provider's)", EXIT_USAGE)
    return chosen


def cmd_budget(args: argparse.Namespace) -> int:
    if args.action == "set":
        chosen = _periods(args, amounts=True)  # checked before anything is opened
    elif args.action == "unset":
        chosen = _periods(args, amounts=False)
    services = open_services()
    provider: str | None = getattr(args, "provider", None)
    if provider is not None and provider not in services.settings.providers:
        raise CliError(f"unknown provider {provider!r}; known: {', '.join(sorted(services.settings.providers))}",
                       EXIT_USAGE)
    if args.action == "list":
        return _list(services, args.json)
    from ..services.budgets import Budget, money

    store = services.store
    if args.action == "set":
        for period, amount in chosen:
            store.set_budget(period, amount, provider)
            print(f"{Budget(period, amount, provider).name}: {money(amount)} (stored; "
                  "`agentspace-tui budget list` shows where it stands)")
        return EXIT_OK
    for period, _ in chosen:
        name = Budget(period, 0, provider).name
        if store.unset_budget(period, provider):
            in_config = any((b.period, b.provider) == (period, provider) for b in services.settings.budgets)
            print(f"{name} removed" + (" (config.toml's applies again)" if in_config else ""))
        elif any((b.period, b.provider) == (period, provider) for b in services.settings.budgets):
            where = services.settings.path or "config.toml"
            raise CliError(f"the {name} comes from {where}: change it there", EXIT_USAGE)
        else:
            raise CliError(f"no {name} is set", EXIT_USAGE)
    return EXIT_OK


def _list(services: Services, as_json: bool) -> int:
    from ..services import budgets
    from ..services.budgets import money

    today = dt.date.today()
    if as_json:
        print_json(budgets.report(services.settings, services.store, today=today))
        return EXIT_OK
    found = budgets.budget_statuses(services.settings, services.store, today=today)
    if not found:
        print("no budgets; set one with `agentspace-tui budget set --daily 5` (or [budgets] in config.toml)")
    else:
        rows = [[for_terminal(s.budget.name), money(s.budget.amount), money(s.spent.cost),
                 money(s.remaining), f"{min(s.share, 9.99):.0%}", s.state, s.budget.source] for s in found]
        print(table(["budget", "limit", "spent", "left", "used", "state", "from"], rows, right={1, 2, 3, 4}))
        for s in found:
            note = s.spent.note()
            if note:
                print(f"{for_terminal(s.budget.name)}: {note}")
    month = budgets.spend(budgets.month_rows(services.store, today))
    note = month.note()
    print(f"this month: {money(month.cost)} spent; at this pace "
          f"{money(budgets.month_end_projection(month.cost, today))} by the month's end"
          + (f" ({note})" if note else ""))
    return EXIT_OK
