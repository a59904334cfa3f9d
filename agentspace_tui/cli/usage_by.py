"""``usage --by day|model|provider [--since YYYY-MM-DD] [--json]``: the ledger grouped for scripts and people.

Text: an aligned table (requests, tokens in and out, cache reads, cache savings, cost with unknown-price and
estimated requests marked) and a total. JSON: a list of rows, every field present (None where unknown).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import Any

from ..formatting import format_cost, format_tokens, one_line, table
from .app_services import open_services
from .exits import EXIT_OK, EXIT_USAGE, CliError
from .output import print_json

HEADERS = ["requests", "input", "output", "cache read", "cache savings", "cost"]


def cost_cell(row: Mapping[str, Any]) -> str:
    """Known cost, then "+N unknown" (requests whose price we do not know: never counted as $0) and the
    estimated share."""
    text = format_cost(row["cost"])
    if row.get("unknown_cost") and row["cost"] is not None:
        text += f" (+{row['unknown_cost']} unknown)"
    if row.get("estimated"):
        text += f" (incl. {format_cost(row.get('estimated_cost') or 0)} est.)"
    return text


def _cells(key: str, row: Mapping[str, Any]) -> list[str]:
    from ..services.usage_report import signed_cost

    savings = row.get("cache_savings")
    return [
        key,
        str(row["requests"]),
        format_tokens(row["input_tokens"]),
        format_tokens(row["output_tokens"]),
        format_tokens(row["cache_read_tokens"]),
        signed_cost(savings),
        cost_cell(row),
    ]


def _window(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(since, until) from --since / --today; a bad date is a usage error (exit 2), checked before any I/O."""
    from ..services.usage_report import parse_day

    if getattr(args, "session", None):
        raise CliError("usage --by reads the ledger of all sessions; it cannot be combined with --session", EXIT_USAGE)
    today = time.strftime("%Y-%m-%d")
    if getattr(args, "today", False):
        return today, today
    if args.since is None:
        return None, None
    try:
        return parse_day(args.since).isoformat(), None
    except ValueError as exc:
        raise CliError(f"--since: {exc}", EXIT_USAGE) from None


def cmd_usage_by(args: argparse.Namespace) -> int:
    from ..services.usage_report import report

    by = args.by or "model"
    since, until = _window(args)
    services = open_services()
    result = report(services.store.ledger_rows(), by, since=since, until=until)
    if args.json:
        print_json(result.as_json())
        return EXIT_OK
    scope = f" since {since}" if since and since != until else (f" on {since}" if since else "")
    if not result.rows:
        print(f"no usage recorded{scope}")
        return EXIT_OK
    rows = [_cells(r.key, r.as_json(by)) for r in result.rows]
    rows.append(_cells("total", result.total.as_json(by)))
    print(table([by, *HEADERS], rows, right={1, 2, 3, 4, 5}))
    total = result.total
    if total.unknown_cost:
        models = ", ".join(one_line(m) for m in sorted(total.unknown_models))
        print(f"unknown price: {total.unknown_cost} of {total.requests} requests ({models}) are not in the cost; "
              "`agentspace-tui pricing set` adds a price")
    if total.estimated:
        print(f"est.: {total.estimated} of {total.requests} requests had no usage from the provider; their tokens "
              "were counted locally")
    return EXIT_OK
