"""Read-only reports: ``models`` (the catalog), ``usage`` (tokens and cost per model) and ``context`` (what
the next request of a session would send, by section)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..formatting import cache_line, format_bytes, format_cost, format_tokens, format_window, table
from ..pricing import format_price
from .app_services import open_services
from .exits import EXIT_OK
from .output import print_json

if TYPE_CHECKING:
    from ..context.cache import CacheForecast

USAGE_FIELDS = ("requests", "input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens",
                "cache_write_tokens", "cost", "unknown_cost", "estimated", "estimated_cost", "cache_savings")


def cmd_models(args: argparse.Namespace) -> int:
    services = open_services()
    if args.provider in (None, "ollama"):
        services.catalog.discover_ollama(timeout=1.0)
    choices = services.model_choices(args.provider)
    if args.json:
        print_json([c.as_json() for c in choices])
        return EXIT_OK
    rows = [
        [
            c.info.id,
            format_window(c.info.context_window),
            format_price(c.price.input_per_mtok) if c.price else "unknown",
            format_price(c.price.output_per_mtok) if c.price else "unknown",
            "yes" if c.key_configured else "no",
        ]
        for c in choices
    ]
    print(table(["model", "window", "input", "output", "key"], rows, right={1}))
    return EXIT_OK


def usage_json(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The ``usage --json`` contract: per model and total, every counter present (None if never counted)."""
    per_model: Mapping[str, Mapping[str, Any]] = raw.get("per_model", {})
    total: Mapping[str, Any] = raw.get("total", {})
    return {
        "per_model": {m: {k: v.get(k) for k in USAGE_FIELDS} for m, v in per_model.items()},
        "total": {k: total.get(k) for k in USAGE_FIELDS},
    }


def _cost_cell(u: Mapping[str, Any]) -> str:
    text = format_cost(u["cost"])
    if u.get("unknown_cost"):
        text += f" (+{u['unknown_cost']} unknown)"
    if u.get("estimated"):  # requests whose tokens we counted ourselves: their cost is an estimate too
        text += f" (incl. {format_cost(u.get('estimated_cost') or 0)} est.)"
    return text


def cache_totals_line(total: Mapping[str, Any]) -> str:
    """'cache: 12,000 read · 3,000 written · saved $0.0310 (against the uncached input price)'."""
    line = cache_line({"usage": total, "cache_savings": total.get("cache_savings")})
    return f"{line} (against the uncached input price)"


def cache_forecast_text(cache: CacheForecast) -> str:
    """One line for ``context``: what the next request has likely cached, and at what input cost."""
    if cache.expired and cache.age is not None:
        return (f"likely expired (last request {cache.age / 60:.0f} min ago, {cache.provider} keeps it "
                f"{cache.lifetime / 60:.0f} min); input {format_cost(cache.cost)} instead of {format_cost(cache.uncached_cost)}")
    if not cache.cached_tokens and not cache.write_tokens:
        return cache.note or "nothing cached"
    text = f"likely cached {format_tokens(cache.cached_tokens)} of {format_tokens(cache.input_tokens)} tokens"
    text += f" ({cache.cached_parts})" if cache.cached_parts else ""
    text += f", writes {format_tokens(cache.write_tokens)}" if cache.write_tokens else ""
    return text + f"; input {format_cost(cache.cost)} instead of {format_cost(cache.uncached_cost)}"


def cmd_usage(args: argparse.Namespace) -> int:
    if getattr(args, "by", None) or getattr(args, "since", None) is not None:
        from .usage_by import cmd_usage_by

        return cmd_usage_by(args)
    services = open_services()
    session_id = services.session(args.session)["id"] if args.session else None
    day = time.strftime("%Y-%m-%d") if args.today else None
    data = usage_json(services.store.usage(session_id, day=day))
    if args.json:
        print_json(data)
        return EXIT_OK
    rows = []
    for model, u in sorted(data["per_model"].items()):
        rows.append([model, str(u["requests"]), format_tokens(u["input_tokens"]), format_tokens(u["output_tokens"]),
                     format_tokens(u.get("reasoning_tokens") or 0), _cost_cell(u)])
    t = data["total"]
    rows.append(["total", str(t["requests"] or 0), format_tokens(t["input_tokens"] or 0),
                 format_tokens(t["output_tokens"] or 0), format_tokens(t.get("reasoning_tokens") or 0), _cost_cell(t)])
    print(table(["model", "requests", "input", "output", "reasoning", "cost"], rows, right={1, 2, 3, 4}))
    if t.get("cache_read_tokens") or t.get("cache_write_tokens"):
        print(cache_totals_line(t))
    if t.get("estimated"):
        print(f"est.: {t['estimated']} of {t['requests']} requests had no usage from the provider; their tokens "
              "were counted locally")
    return EXIT_OK


def cmd_context(args: argparse.Namespace) -> int:
    from ..services.chat_session import ChatSession

    services = open_services()
    conversation, model_error = ChatSession.open(services, args.session)
    if args.ctx_model:
        conversation.model = services.resolve_model(args.ctx_model)
    elif model_error:
        from ..services.api import ConfigError

        raise ConfigError(model_error)
    info = conversation.model
    inspection = conversation.inspect(args.draft)  # the branch on screen, with the session's parameters
    from ..services.forecast import forecast_request

    forecast = forecast_request(services, conversation, args.draft, inspection=inspection)
    if args.json:
        print_json({**inspection.as_json(), "forecast": forecast.as_json()})
        return EXIT_OK
    rows = [[s.name, format_bytes(s.bytes), str(s.tokens), format_cost(s.cost)] for s in inspection.sections]
    rows.append(["total", format_bytes(inspection.total.bytes), str(inspection.total.tokens),
                 format_cost(inspection.total.cost)])
    print(f"next request to {info.id} (window {format_window(info.context_window)}"
          + (f", {inspection.used_fraction:.1%} used" if inspection.used_fraction is not None else "")
          + (", token counts are estimates" if not inspection.exact else "") + ")")
    print(table(["section", "bytes", "tokens", "input cost"], rows, right={1, 2, 3}))
    print(f"forecast: {forecast.describe()}")
    if inspection.cache is not None:
        print(f"prompt cache: {cache_forecast_text(inspection.cache)}")
    if inspection.excluded_messages:
        print(f"{inspection.excluded_messages} oldest messages do not fit the window and will be left out "
              "(they stay in the session)")
    return EXIT_OK
