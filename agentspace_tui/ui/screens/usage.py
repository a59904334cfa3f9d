"""The usage screen (Ctrl+L, or "Usage" in the palette): what was spent in the last 30 days, as charts and tables.

Charts (textual-plotext): spend per day stacked by model with the daily budget as a line, spend by provider,
tokens in and out per day, cache savings per day. Under them, tables by day / model / provider (tabs; keys d,
m, p), sorted by clicking a column header or with ``s`` on the cursor's column (again: reversed).
The ledger is read in a thread worker; ``today`` is injectable so a screenshot of the screen is reproducible.
Model and provider names are untrusted: cells are ``rich.text.Text`` made of ``one_line`` text (no markup).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot

from ...formatting import format_cost, format_tokens, one_line
from ...services.core import Services
from ...services.usage_report import Overview, UsageRow, load_overview, signed_cost
from ..widgets.sortable_table import SortableTable
from .usage_charts import draw_providers, draw_savings, draw_spend, draw_tokens, label

KINDS = ("day", "model", "provider")
# (header, sort key) for every table; the first column is the group's name
COLUMNS: list[tuple[str, str]] = [
    ("requests", "requests"), ("input", "input_tokens"), ("output", "output_tokens"),
    ("cache read", "cache_read_tokens"), ("cache write", "cache_write_tokens"), ("reasoning", "reasoning_tokens"),
    ("cache savings", "cache_savings"), ("cost", "cost"), ("unknown price", "unknown_cost"), ("est.", "estimated"),
]
KEYS = "Esc close · d/m/p by day, model, provider · ←→↑↓ move · s sort by column (again: reverse) · click a header"
TWO_COLUMNS = 110  # terminal width from which the charts sit two by two
EMPTY = ("No usage recorded yet.\n\nSpending shows up here after your first reply: cost per day and model, "
         "tokens, cache savings and your budgets.\nFrom a shell: agentspace-tui usage --by day")


def cost_text(row: UsageRow) -> Text:
    text = Text(format_cost(row.cost))  # unknown-priced requests have their own column
    if row.estimated:
        text.append(" est.", style="dim")
    return text


def cells(row: UsageRow, kind: str) -> list[Text]:
    key = Text(label(row.key, 40) if kind != "day" else row.key)
    numbers = [
        str(row.requests), format_tokens(row.input_tokens), format_tokens(row.output_tokens),
        format_tokens(row.cache_read_tokens), format_tokens(row.cache_write_tokens),
        format_tokens(row.reasoning_tokens), signed_cost(row.cache_savings),
    ]
    out = [key, *(Text(n, justify="right") for n in numbers)]
    cost = cost_text(row)
    cost.justify = "right"
    out.append(cost)
    out.append(Text(str(row.unknown_cost) if row.unknown_cost else "", justify="right", style="yellow"))
    out.append(Text(str(row.estimated) if row.estimated else "", justify="right"))
    return out


def summary_text(overview: Overview) -> Text:
    t = overview.total
    text = Text()
    text.append(format_cost(t.cost), style="bold")
    text.append(f" spent · {t.requests} request{'' if t.requests == 1 else 's'} · {format_tokens(t.input_tokens)} in / "
                f"{format_tokens(t.output_tokens)} out · {format_tokens(t.cache_read_tokens)} cache reads")
    if t.cache_savings is not None:
        text.append(f" · caching saved {signed_cost(t.cache_savings)}")
    if t.unknown_cost:
        models = ", ".join(label(m, 30) for m in sorted(t.unknown_models)[:3])
        more = f" and {len(t.unknown_models) - 3} more" if len(t.unknown_models) > 3 else ""
        text.append(f"\n{t.unknown_cost} requests of unknown price are not in the cost ({models}{more})",
                    style="yellow")
    if t.estimated:
        text.append(f"\n{t.estimated} requests have estimated tokens (no usage from the provider)", style="dim")
    return text


def budgets_text(overview: Overview) -> Text:
    if not overview.budgets:
        return Text("No budgets: `agentspace-tui budget set --daily USD`, or [budgets] in config.toml", style="dim")
    text = Text("Budgets")
    month = overview.today.strftime("%B")
    for status in overview.budgets:  # one line each: they are read side by side with their charts
        text.append("\n  ")
        budget = status.budget
        period = "today" if budget.period == "daily" else month
        who = f" {one_line(budget.provider)}" if budget.provider else ""
        style = {"over": "bold red", "warn": "yellow"}.get(status.state, "green")
        text.append(f"{budget.period}{who} {format_cost(status.spent.cost)} of {format_cost(budget.amount)} {period} ")
        text.append(f"({min(status.share, 9.99):.0%})", style=style)
        if status.spent.unknown:
            text.append(f" +{status.spent.unknown} unknown", style="yellow")
        if status.projection is not None:
            text.append(f" · {format_cost(status.projection)} by month end at this pace", style="dim")
    return text


class UsageTable(SortableTable[UsageRow]):
    """Usage rows grouped by ``kind`` (day, model or provider), in the report's own order (days oldest first,
    else by cost) until a column is chosen."""

    text_fields = frozenset({"key"})

    def __init__(self, kind: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind

    def column_specs(self) -> list[tuple[str, str]]:
        return [(self.kind, "key"), *COLUMNS]

    def cells(self, row: UsageRow) -> list[Text]:
        return cells(row, self.kind)

    def row_key(self, row: UsageRow) -> str:
        return row.key


class UsageScreen(Screen[None]):
    """Spending over the last 30 days up to ``today`` (None: the local date when the data is read)."""

    @dataclass
    class Loaded(Message):
        overview: Overview

    CSS_PATH = "usage.tcss"
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("s", "sort", "Sort"),
        Binding("d", "tab('day')", "By day", show=False),
        Binding("m", "tab('model')", "By model", show=False),
        Binding("p", "tab('provider')", "By provider", show=False),
    ]

    def __init__(self, services: Services, *, today: date | None = None) -> None:
        super().__init__()
        self.services = services
        self.today = today
        self.overview: Overview | None = None
        self.loaded = False  # True once the data arrived (tests poll it)

    def compose(self) -> ComposeResult:
        with Vertical(id="usage-top"):
            yield Static("Usage", id="usage-title", markup=False)
            yield Static("", id="usage-summary", markup=False)
            yield Static("", id="usage-budgets", markup=False)
        yield Static("Reading the usage ledger…", id="usage-empty", markup=False)
        with VerticalScroll(id="usage-body"):
            with Grid(id="usage-charts"):
                yield PlotextPlot(id="chart-spend")
                yield PlotextPlot(id="chart-providers")
                yield PlotextPlot(id="chart-tokens")
                yield PlotextPlot(id="chart-savings")
                yield Static("", id="no-savings", markup=False)
            with TabbedContent(id="usage-tables"):
                for kind in KINDS:
                    with TabPane(f"By {kind}", id=f"tab-{kind}"):
                        yield UsageTable(kind, id=f"table-{kind}")
        yield Static(KEYS, id="usage-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#usage-body").display = False
        self._layout(self.app.size.width)
        self._load()

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.query_one("#usage-charts").set_class(width < TWO_COLUMNS, "-narrow")

    @work(thread=True, group="usage-load", exclusive=True, exit_on_error=False, description="read usage")
    def _load(self) -> None:
        today = self.today or date.today()
        self.post_message(self.Loaded(load_overview(self.services, today)))

    def on_usage_screen_loaded(self, message: UsageScreen.Loaded) -> None:
        overview = self.overview = message.overview
        self.loaded = True
        first, last = overview.days[0], overview.days[-1]
        self.query_one("#usage-title", Static).update(
            Text(f"Usage · last {len(overview.days)} days ({first} to {last})", style="bold")
        )
        if overview.ledger_empty:
            self.query_one("#usage-empty", Static).update(EMPTY)
            self.query_one("#usage-budgets", Static).update(budgets_text(overview))
            return
        self.query_one("#usage-summary", Static).update(summary_text(overview))
        self.query_one("#usage-budgets", Static).update(budgets_text(overview))
        empty = self.query_one("#usage-empty", Static)
        if overview.total.requests:
            empty.display = False
        else:
            empty.update(f"Nothing spent from {first} to {last}: older usage is in `agentspace-tui usage --by day`.")
        self.query_one("#usage-body").display = True
        draw_spend(self.query_one("#chart-spend", PlotextPlot), overview)
        draw_providers(self.query_one("#chart-providers", PlotextPlot), overview)
        draw_tokens(self.query_one("#chart-tokens", PlotextPlot), overview)
        savings_plot = self.query_one("#chart-savings", PlotextPlot)
        no_savings = self.query_one("#no-savings", Static)
        saved = any(overview.savings)
        savings_plot.display, no_savings.display = saved, not saved
        if saved:
            draw_savings(savings_plot, overview)
        else:
            no_savings.update("Cache savings: none recorded in these days (prompt caching off, or no cache reads).")
        for kind, report in zip(KINDS, (overview.by_day, overview.by_model, overview.by_provider), strict=True):
            self.query_one(f"#table-{kind}", UsageTable).show(report.rows)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "usage-load":
            error = event.worker.error
            self.query_one("#usage-empty", Static).update(f"Could not read usage: {one_line(error)}")

    # -- actions --------------------------------------------------------------------------------------------------
    def current_table(self) -> UsageTable:
        active = self.query_one("#usage-tables", TabbedContent).active or "tab-day"
        return self.query_one(f"#table-{active.removeprefix('tab-')}", UsageTable)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        table = event.data_table
        if isinstance(table, UsageTable):
            table.sort_by(event.column_index)

    def action_sort(self) -> None:
        table = self.current_table()
        table.sort_by(table.cursor_column)

    def action_tab(self, kind: str) -> None:
        self.query_one("#usage-tables", TabbedContent).active = f"tab-{kind}"
        self.query_one(f"#table-{kind}", UsageTable).focus()

    def action_close(self) -> None:
        self.dismiss(None)
