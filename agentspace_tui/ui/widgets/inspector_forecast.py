"""The inspector's forecast of the next request: input cost now plus the reply's range, labelled a forecast."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ...formatting import format_cost, format_tokens, one_line

if TYPE_CHECKING:
    from ...services.api import Forecast


def forecast_text(forecast: Forecast) -> Table | Group:
    """Input now, the reply's range and the total, one row each; unknown prices say so, never $0."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(ratio=1)
    grid.add_column(justify="right")
    grid.add_row(Text("Forecast", style="bold"), Text("not a bill", style="dim italic"))
    if forecast.input_cost is None:
        grid.add_row(Text(f"price unknown for {one_line(forecast.model)}", style="yellow"), "")
        return grid
    cached = " (with cache)" if forecast.cache_discounted else ""
    grid.add_row(Text(f"input now{cached}"), format_cost(forecast.input_cost))
    if forecast.output_cost_high is None:
        grid.add_row(Text("reply", style="yellow"), Text("unknown", style="yellow"))
        return grid
    low, high = format_tokens(forecast.output_tokens_low), format_tokens(forecast.output_tokens_high)
    tokens = f"{high} tokens" if low == high else f"{low}–{high} tokens"
    grid.add_row(Text(f"reply {tokens}"), _span(forecast.output_cost_low, forecast.output_cost_high))
    grid.add_row(Text("total", style="bold"), Text(_span(forecast.total_low, forecast.total_high), style="bold"))
    return Group(grid, Text(f"reply range: {forecast.basis_text()}", style="dim"))  # full width: it wraps less


def _span(low: float | None, high: float | None) -> str:
    low_text, high_text = format_cost(low), format_cost(high)
    return high_text if low_text == high_text else f"{low_text}–{high_text}"
