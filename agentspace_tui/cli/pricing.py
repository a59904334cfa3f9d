"""``agentspace-tui pricing``: a user's price overrides (USD per million tokens), which beat litellm's catalog."""

from __future__ import annotations

import argparse

from ..formatting import table
from ..pricing import format_price
from .app_services import open_services
from .exits import EXIT_OK, EXIT_USAGE, CliError
from .output import print_json

PRICE_MAX = 100_000.0  # USD per million tokens; far above any real price, and keeps every cost finite


def check_prices(args: argparse.Namespace) -> None:
    for option, value in (("--input", args.input), ("--output", args.output), ("--cache-read", args.cache_read),
                          ("--cache-write", args.cache_write)):
        if value is not None and not 0 <= value <= PRICE_MAX:  # also false for nan
            raise CliError(f"{option} {value:g} is not allowed: USD per million tokens, a number from 0 to "
                           f"{PRICE_MAX:g}", EXIT_USAGE)


def cmd_pricing(args: argparse.Namespace) -> int:
    if args.action == "set":
        check_prices(args)  # before anything is opened or resolved
    services = open_services()
    store = services.store
    if args.action == "list":
        overrides = store.price_overrides()
        items = [{"model": m, **{k: v for k, v in p.items() if k != "model"}, "source": "override"}
                 for m, p in sorted(overrides.items())]
        if args.json:
            print_json(items)
        elif not items:
            print("no price overrides; prices come from litellm's catalog (see `agentspace-tui models`)")
        else:
            rows = [[m, format_price(p.get("input_per_mtok")), format_price(p.get("output_per_mtok")),
                     format_price(p.get("cache_read_per_mtok")), format_price(p.get("cache_write_per_mtok"))]
                    for m, p in sorted(overrides.items())]
            print(table(["model", "input", "output", "cache read", "cache write"], rows))
        return EXIT_OK
    model_id = services.resolve_model(args.model).id
    if args.action == "set":
        store.set_price_override(model_id, input_per_mtok=args.input, output_per_mtok=args.output,
                                 cache_read_per_mtok=args.cache_read, cache_write_per_mtok=args.cache_write)
        print(f"{model_id}: input {format_price(args.input)}, output {format_price(args.output)} (override)")
    elif args.action == "unset":
        if store.unset_price_override(model_id):
            print(f"{model_id}: override removed; back to the catalog price")
        else:
            raise CliError(f"no price override for {model_id}")
    return EXIT_OK
