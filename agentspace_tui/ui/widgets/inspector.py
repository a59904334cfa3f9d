"""The context-inspector sidebar: what the next request sends, section by section, for the current model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...formatting import format_bytes, format_cost, format_tokens, format_window, one_line
from ...text_safety import for_terminal
from .inspector_cache import cache_text
from .inspector_forecast import forecast_text

if TYPE_CHECKING:
    from ...services.api import Forecast, Inspection

LABELS = {
    "system_prompt": "System prompt",
    "attachments": "Attachments",
    "history": "History",
    "tools": "Tools",
    "user_message": "Your draft",
}


def window_bar(fraction: float | None, width: int = 30) -> Text:
    if fraction is None:
        return Text("window size unknown", style="dim")
    filled = min(width, round(fraction * width))
    style = "green" if fraction < 0.6 else "yellow" if fraction < 0.9 else "red"
    bar = Text("█" * filled, style=style)
    bar.append("░" * (width - filled), style="dim")
    bar.append(f" {fraction:.1%}")
    return bar


def parameters_text(insp: Inspection, params_text: str | None) -> Text:
    """The session's model parameters, and what a reply of the max output tokens would cost: an upper bound
    of the reply's cost, not a forecast of what it will use."""
    out = Text()
    if params_text is not None:
        out.append("Parameters ", style="bold")
        out.append(one_line(params_text))
    if insp.max_output_tokens:
        if out:
            out.append("\n")
        bound = format_cost(insp.output_cost_max, unknown="price unknown")
        out.append(f"reply ≤ {bound} (max {format_tokens(insp.max_output_tokens)} tokens)")
        out.append(" · forecast bound", style="dim")
    return out


def render_inspection(
    insp: Inspection, attachments: Sequence[Mapping[str, Any]] | None = None, params_text: str | None = None,
    forecast: Forecast | None = None,
) -> Group:
    head = Text(one_line(insp.model), style="bold")  # ids and file names shown made safe, never as markup
    head.append(f"\nwindow {format_window(insp.context_window)}", style="dim")
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(ratio=1)
    grid.add_column(justify="right")
    grid.add_column(justify="right")
    grid.add_row(Text("section", style="bold underline"), Text("tokens", style="bold underline"),
                 Text("cost", style="bold underline"))
    for s in insp.sections:
        label = Text(LABELS.get(s.name) or one_line(s.name))
        label.append(f"  {format_bytes(s.bytes)}", style="dim")
        grid.add_row(label, format_tokens(s.tokens), format_cost(s.cost))
        if s.name == "attachments" and attachments:
            for att in attachments:
                grid.add_row(Text(f"  · {one_line(att.get('name'))}", style="dim"), "", "")
    grid.add_row(Text("Next request", style="bold"), Text(format_tokens(insp.total.tokens), style="bold"),
                 Text(format_cost(insp.total.cost), style="bold"))
    notes = Text()
    if insp.excluded_messages:
        notes.append(f"⚠ {insp.excluded_messages} oldest messages left out: the window is full\n", style="yellow")
    if not insp.price_known:
        notes.append("price unknown: set one with `agentspace-tui pricing set`\n", style="yellow")
    if not insp.exact:
        notes.append(f"tokens are local estimates ({insp.encoding})", style="dim italic")
    params = parameters_text(insp, params_text)
    middle = (params, Text("")) if params else ()
    ahead = (forecast_text(forecast), Text("")) if forecast is not None else ()
    cached = (cache_text(insp.cache), Text("")) if insp.cache is not None else ()  # inspector_cache.py
    return Group(head, window_bar(insp.used_fraction), Text(""), grid, Text(""), *ahead, *cached, *middle, notes)


class InspectorSidebar(VerticalScroll):
    def compose(self):
        yield Static(Text("Context inspector", style="bold"), classes="inspector-title")
        yield Static(Text("measuring…", style="dim"), id="inspector-body")

    def show(
        self, inspection: Inspection, attachments: Sequence[Mapping[str, Any]] | None = None,
        params_text: str | None = None, forecast: Forecast | None = None,
    ) -> None:
        """``params_text``: the session's ``ModelParams.describe()``; None leaves the parameters line out."""
        body = render_inspection(inspection, attachments, params_text, forecast)
        self.query_one("#inspector-body", Static).update(body)

    def show_message(self, text: str) -> None:
        self.query_one("#inspector-body", Static).update(Text(for_terminal(text), style="dim"))
