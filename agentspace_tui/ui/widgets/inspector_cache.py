"""The inspector's prompt-cache lines: which part of the next request is likely cached, what its input then
costs against the uncached price, and a warning when the provider's cache has likely expired."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from ...formatting import format_cost, format_tokens, one_line

if TYPE_CHECKING:
    from ...services.api import CacheForecast

MODES = {
    "breakpoints": "cache breakpoints on",
    "automatic": "cached by the provider",
    "off": "prompt caching off",
}


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def cache_text(cache: CacheForecast | None) -> Text:
    """Empty when there is no forecast (a provider whose caching we do not know)."""
    out = Text()
    if cache is None:
        return out
    out.append("Prompt cache ", style="bold")
    out.append(f"{one_line(cache.provider)}, {MODES.get(cache.mode, cache.mode)}", style="dim")
    if cache.expired and cache.age is not None:
        out.append(
            f"\n⚠ cache likely expired: last request {_minutes(cache.age)} ago, "
            f"{one_line(cache.provider)} keeps it {_minutes(cache.lifetime)}",
            style="yellow",
        )
    if cache.cached_tokens:
        out.append(f"\nlikely cached {format_tokens(cache.cached_tokens)} of {format_tokens(cache.input_tokens)}")
        if cache.cached_parts:
            out.append(f" ({one_line(cache.cached_parts)})", style="dim")
    elif cache.note and not cache.expired:
        out.append(f"\n{one_line(cache.note)}", style="dim")
    if cache.write_tokens:
        out.append(f"\nwrites {format_tokens(cache.write_tokens)} to the cache", style="dim")
    if cache.cached_tokens or cache.write_tokens:
        if cache.cost is None:
            out.append("\ninput cost unknown (no price)", style="dim")
        else:
            out.append(f"\ninput {format_cost(cache.cost)} instead of {format_cost(cache.uncached_cost)}")
            if cache.uncached_cost is not None and cache.cost > cache.uncached_cost:
                out.append(" (writing the cache costs extra once)", style="dim")
    return out
