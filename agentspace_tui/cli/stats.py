"""``agentspace-tui stats``: per provider and model, time to first token, output speed, error and rate-limit rates
over the last 7 and 30 days, from the stored replies (services/stats.py)."""

from __future__ import annotations

import argparse

from ..formatting import table
from .app_services import open_services
from .exits import EXIT_OK
from .output import print_json

NO_DATA = "-"


def seconds_cell(value: float | None) -> str:
    return NO_DATA if value is None else f"{value:.2f} s"


def speed_cell(value: float | None) -> str:
    return NO_DATA if value is None else f"{value:.0f}"


def rate_cell(value: float | None, count: int) -> str:
    return NO_DATA if value is None else f"{value:.0%} ({count})"


def cmd_stats(args: argparse.Namespace) -> int:
    from ..services.stats import WINDOWS, stats_json, stats_windows

    services = open_services()
    windows = (args.days,) if args.days else WINDOWS
    reports = stats_windows(services.store, windows)
    if args.json:
        print_json(stats_json(reports))
        return EXIT_OK
    for n, report in enumerate(reports):
        if n:
            print()
        print(f"last {report.days} days")
        if not report.models:
            print("no replies in this period")
            continue
        rows = [
            [m.provider, m.model, str(m.requests), seconds_cell(m.ttft_p50), seconds_cell(m.ttft_p95),
             speed_cell(m.tokens_per_s_p50), rate_cell(m.error_rate, m.errors),
             rate_cell(m.rate_limit_rate, m.rate_limited)]
            for m in report.models
        ]
        print(table(["provider", "model", "requests", "ttft p50", "ttft p95", "tok/s p50", "errors", "rate-limited"],
                    rows, right={2, 3, 4, 5, 6, 7}))
    print(f"\n{NO_DATA}: no data. ttft: time to first token. tok/s: output tokens per second of streaming. "
          "rate-limited: rate limit (429) or overloaded (529).\nRates leave out replies you cancelled and requests "
          "refused for their own reasons (key, context window, bad request, unknown model).")
    return EXIT_OK
