"""Everything stored about one message: model, status, tokens, cost and where it came from, the price it was
billed at, timings and the parameters of the request.

``MessageDetailsScreen`` shows a stored message record; Esc or Enter closes it. Every value is plain ``Text``
(model ids, errors and parameters are model or user text: one line, control characters made visible).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...formatting import cache_line, format_cost, format_time, not_billed, one_line, usage_estimated

LABEL_WIDTH = 20
PARAMS = ("temperature", "top_p", "max_tokens")  # shown first, in this order; others follow as stored
ERROR_SHOWN = 300  # characters of an error message shown


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else one_line(value)


def _price(value: object) -> str:
    return f"${value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else "unknown"


def token_line(message: Mapping[str, Any]) -> str | None:
    usage = message.get("usage") or {}
    if not usage:
        tokens = message.get("tokens")  # a user message: our counts of it, per tokenizer
        if isinstance(tokens, dict) and tokens:
            return " · ".join(f"{count:,} ({encoding})" for encoding, count in tokens.items()
                              if isinstance(count, int)) + " (counted here)"
        return f"{tokens:,} (counted here)" if isinstance(tokens, int) else None
    parts = [f"{_number(usage.get('input_tokens') or 0)} in", f"{_number(usage.get('output_tokens') or 0)} out"]
    for key, name in (("cache_read_tokens", "cache read"), ("cache_write_tokens", "cache write"),
                      ("reasoning_tokens", "reasoning")):
        if usage.get(key):
            parts.append(f"{_number(usage[key])} {name}")
    source = "estimated here (the provider sent no usage)" if usage_estimated(message) else "reported by the provider"
    return " · ".join(parts) + f" ({source})"


def cost_line(message: Mapping[str, Any]) -> str:
    cost = message.get("cost")
    if not_billed(message):
        return "not billed (the provider rejected the request before any text)"
    if cost is None:
        return "unknown price (no price known for this model)" if message.get("usage") else "unknown (no usage reported)"
    if message.get("cost_source") == "provider":
        return f"{format_cost(cost)} (reported by the provider)"
    source = one_line(message.get("cost_source") or "catalog")
    tokens = ", from estimated tokens" if usage_estimated(message) else ""
    return f"{format_cost(cost)} (estimated from our price: {source}{tokens})"


def price_line(prices: object) -> str | None:
    if not isinstance(prices, dict):
        return None
    text = f"{_price(prices.get('input_per_mtok'))} in / {_price(prices.get('output_per_mtok'))} out per Mtok"
    if prices.get("cache_read_per_mtok") is not None:
        text += f" · cache read {_price(prices['cache_read_per_mtok'])}"
    if prices.get("cache_write_per_mtok") is not None:
        text += f" · cache write {_price(prices['cache_write_per_mtok'])}"
    if prices.get("source"):
        text += f" ({one_line(prices['source'])})"
    return text


def params_line(params: object) -> str | None:
    if not isinstance(params, dict) or not params:
        return None
    keys = [k for k in PARAMS if k in params] + sorted(str(k) for k in params if k not in PARAMS)
    return " · ".join(f"{one_line(k)} {one_line(params[k])}" for k in keys if params[k] is not None) or None


def speed_line(message: Mapping[str, Any]) -> str | None:
    output = (message.get("usage") or {}).get("output_tokens")
    duration, ttft = message.get("duration"), message.get("ttft")
    if not output or not isinstance(duration, int | float) or not isinstance(ttft, int | float):
        return None
    if duration - ttft <= 0.05:
        return None
    return f"{output / (duration - ttft):.0f} tokens/s"


def detail_rows(message: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows for the message; rows without a value are left out."""
    assistant = message.get("role") != "user"
    status = message.get("status")
    reason = message.get("finish_reason")
    rows: list[tuple[str, str | None]] = [
        ("Role", "assistant" if assistant else "you (user)"),
        ("Model", one_line(message["model"]) if message.get("model") else None),
        ("Status", one_line(status) if status else None),
        ("Finish reason", one_line(reason) if reason and reason != status else None),
        ("Hidden", "yes: left out of the context" if message.get("hidden") else None),
        ("Tokens", token_line(message)),
    ]
    if assistant:
        ttft, duration = message.get("ttft"), message.get("duration")
        rows += [
            ("Cost", cost_line(message)),
            ("Cache", cache_line(message, prefix="")),  # reads / writes and what they saved against the uncached price
            ("Price billed", price_line(message.get("prices"))),
            ("Time to first token", f"{ttft:.2f} s" if isinstance(ttft, int | float) else None),
            ("Duration", f"{duration:.2f} s" if isinstance(duration, int | float) else None),
            ("Speed", speed_line(message)),
            ("Parameters", params_line(message.get("params"))),
            ("Not sent", ", ".join(one_line(str(n)) for n in message.get("params_dropped") or []) or None),
        ]
    error = message.get("error")
    if error:
        shown = one_line(error)
        rows.append(("Error", shown if len(shown) <= ERROR_SHOWN else shown[: ERROR_SHOWN - 1] + "…"))
    rows += [
        ("Created", format_time(message.get("created_at")) if message.get("created_at") else None),
        ("Id", one_line(message["id"]) if message.get("id") else None),
    ]
    return [(label, value) for label, value in rows if value]


def details_text(message: Mapping[str, Any]) -> Table:
    """The rows as a two-column grid: a long value (a price with its cache rates) wraps within its own column."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=LABEL_WIDTH - 1, no_wrap=True, style="dim")
    grid.add_column()
    for label, value in detail_rows(message):
        grid.add_row(Text(label), Text(value))
    return grid


class MessageDetailsScreen(ModalScreen[None]):
    """The details of one stored message. Esc or Enter closes."""

    CSS_PATH = "message_details.tcss"
    BINDINGS = [Binding("escape,enter", "close", "Close")]

    def __init__(self, message: Mapping[str, Any]) -> None:
        super().__init__()
        self.message = dict(message)

    def compose(self) -> ComposeResult:
        title = "Reply details" if self.message.get("role") != "user" else "Message details"
        with Vertical(id="details-dialog"):
            yield Static(Text(title, style="bold"), id="details-title")
            with VerticalScroll(id="details-scroll"):
                yield Static(details_text(self.message), id="details-body")
            yield Static(Text("Esc or Enter close"), id="details-keys")

    def on_mount(self) -> None:
        self.query_one("#details-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)
