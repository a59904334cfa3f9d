"""Prices and cost arithmetic. Pure functions: no I/O, no litellm.

A price we do not know is ``None`` all the way through and shows as "unknown", never as $0.
Local models (Ollama, endpoints marked ``local``) cost exactly 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..domain import CostSource, PriceOverride, PriceSnapshot, PriceSource, UsageRecord

MTOK = 1_000_000
PRICE_SOURCES: frozenset[PriceSource] = frozenset({"override", "catalog", "local"})


@dataclass(frozen=True)
class Price:
    """USD per million tokens, with where it came from: "override", "catalog" (litellm's price map) or "local"."""

    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None
    source: PriceSource = "catalog"

    def snapshot(self) -> PriceSnapshot:
        """What a reply stores, so later price changes never rewrite history."""
        return {
            "input_per_mtok": self.input_per_mtok,
            "output_per_mtok": self.output_per_mtok,
            "cache_read_per_mtok": self.cache_read_per_mtok,
            "cache_write_per_mtok": self.cache_write_per_mtok,
            "source": self.source,
        }


@dataclass(frozen=True)
class Usage:
    """Provider-reported tokens. ``input_tokens`` is the whole prompt, cache reads and writes included
    (litellm's prompt_tokens already counts them: adding them again would double count)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def as_dict(self) -> UsageRecord:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


def resolve_price(
    model_id: str,
    *,
    local: bool,
    catalog_input: float | None,
    catalog_output: float | None,
    catalog_cache_read: float | None = None,
    catalog_cache_write: float | None = None,
    overrides: Mapping[str, PriceOverride] | None = None,
) -> Price | None:
    """User override, then local (free), then litellm's catalog; None when unknown."""
    override = (overrides or {}).get(model_id)
    if override:
        return Price(
            float(override["input_per_mtok"]),
            float(override["output_per_mtok"]),
            override.get("cache_read_per_mtok"),
            override.get("cache_write_per_mtok"),
            "override",
        )
    if local:
        return Price(0.0, 0.0, 0.0, 0.0, "local")
    if catalog_input is None or catalog_output is None:
        return None
    return Price(catalog_input, catalog_output, catalog_cache_read, catalog_cache_write, "catalog")


def input_cost(price: Price | None, tokens: int) -> float | None:
    """Cost of sending ``tokens`` uncached input tokens; None when the price is unknown."""
    if price is None:
        return None
    return tokens * price.input_per_mtok / MTOK


def reply_cost(price: Price | None, usage: Usage) -> float | None:
    if price is None:
        return None
    cache_read = max(0, usage.cache_read_tokens)
    cache_write = max(0, usage.cache_write_tokens)
    uncached = max(0, usage.input_tokens - cache_read - cache_write)
    read_rate = price.cache_read_per_mtok if price.cache_read_per_mtok is not None else price.input_per_mtok
    write_rate = price.cache_write_per_mtok if price.cache_write_per_mtok is not None else price.input_per_mtok
    total = (
        uncached * price.input_per_mtok
        + cache_read * read_rate
        + cache_write * write_rate
        + usage.output_tokens * price.output_per_mtok
    )
    return total / MTOK


def cache_savings(price: Price | None, usage: Usage | None) -> float | None:
    """What prompt caching saved on one request, in USD, against the uncached input price: each cache read
    saves (input - cache read price), each cache write costs (cache write price - input) extra. Negative when
    writes cost more than reads saved; None when the price is unknown (never 0 for unknown). A missing cache
    price counts at the input price, as ``reply_cost`` bills it (so it saves nothing)."""
    if price is None or usage is None:
        return None
    read_rate = price.cache_read_per_mtok if price.cache_read_per_mtok is not None else price.input_per_mtok
    write_rate = price.cache_write_per_mtok if price.cache_write_per_mtok is not None else price.input_per_mtok
    saved = max(0, usage.cache_read_tokens) * (price.input_per_mtok - read_rate)
    extra = max(0, usage.cache_write_tokens) * (write_rate - price.input_per_mtok)
    return (saved - extra) / MTOK


def reply_cost_with_source(
    price: Price | None, usage: Usage | None, provider_cost: float | None = None
) -> tuple[float | None, CostSource | None]:
    """A reply's cost and where it came from: the bill the provider reported in the stream beats our price
    arithmetic ("provider"); else the price's source ("override", "catalog", "local"); (None, None) unknown."""
    if provider_cost is not None:
        return provider_cost, "provider"
    if usage is None or price is None:
        return None, None
    return reply_cost(price, usage), price.source


def format_savings(saved: float | None, *, unknown: str = "savings unknown") -> str:
    """'saved $0.0031', or 'cost $0.0004 extra' when cache writes cost more than reads saved."""
    if saved is None:
        return unknown
    if saved < 0:
        return f"cost {format_cost(-saved)} extra"
    return f"saved {format_cost(saved)}"


def format_cost(cost: float | None, *, unknown: str = "unknown") -> str:
    """$0.0123 style; small amounts keep significant digits; None -> 'unknown'."""
    if cost is None:
        return unknown
    if cost == 0:
        return "$0"
    if cost < 0.0001:
        return f"${cost:.6f}".rstrip("0")
    if cost < 1:
        return f"${cost:.4f}"
    return f"${cost:,.2f}"


def format_price(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"${value:g}/Mtok"
