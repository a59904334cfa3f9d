"""The provider stats screen (F9, or "Provider stats" in the palette): per provider and model, time to first token,
output speed, error and rate-limit rates over the last 7 or 30 days (services/stats.py).

The reply log is read in a thread worker (the first time, it is built from every session file); ``now`` is
injectable so a screenshot of the screen is reproducible. Sorted by clicking a column header or with ``s`` on the
cursor's column (again: reversed); ``w`` switches between 7 and 30 days. Model and provider names are untrusted:
cells are ``rich.text.Text`` made of ``one_line`` text (no markup). No data is shown as "–", never as 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from ...formatting import one_line
from ...services.core import Services
from ...services.stats import WINDOWS, ModelStats, StatsReport, stats_windows
from ..widgets.sortable_table import SortableTable

NO_DATA = "–"
# (header, ModelStats field) of every column
COLUMNS: list[tuple[str, str]] = [
    ("provider", "provider"), ("model", "model"), ("requests", "requests"), ("TTFT p50", "ttft_p50"),
    ("TTFT p95", "ttft_p95"), ("tok/s p50", "tokens_per_s_p50"), ("errors", "error_rate"),
    ("rate-limited", "rate_limit_rate"),
]
TEXT_FIELDS = ("provider", "model")
KEYS = "Esc close · w 7/30 days · ←→↑↓ move · s sort by column (again: reverse) · click a header"
NOTE = ("TTFT: time to first token. tok/s: output tokens per second of streaming (complete replies). "
        "errors: error or interrupted. rate-limited: 429 rate limit or 529 overloaded. "
        "Rates leave out cancelled replies and requests refused for their own reasons (key, context window, bad "
        "request, unknown model). – : no data.")
EMPTY = ("No replies in the last {days} days.\n\nStats show up here after your replies: how fast each model "
         "starts answering, how fast it streams, how often it fails.\nFrom a shell: agentspace-tui stats")


def _seconds(value: float | None) -> str:
    return NO_DATA if value is None else f"{value:.2f} s"


def _rate(value: float | None, count: int) -> Text:
    if value is None:
        return Text(NO_DATA, justify="right")
    style = "bold red" if value >= 0.2 else ("yellow" if value >= 0.05 else "")
    return Text(f"{value:.0%} ({count})", style=style, justify="right")


def cells(stats: ModelStats) -> list[Text]:
    speed = NO_DATA if stats.tokens_per_s_p50 is None else f"{stats.tokens_per_s_p50:.0f}"
    return [
        Text(one_line(stats.provider)), Text(one_line(stats.model), style="bold"),
        Text(str(stats.requests), justify="right"), Text(_seconds(stats.ttft_p50), justify="right"),
        Text(_seconds(stats.ttft_p95), justify="right"), Text(speed, justify="right"),
        _rate(stats.error_rate, stats.errors), _rate(stats.rate_limit_rate, stats.rate_limited),
    ]


class StatsTable(SortableTable[ModelStats]):
    """Model stats by provider, then model, until a column is chosen."""

    text_fields = frozenset(TEXT_FIELDS)

    def column_specs(self) -> list[tuple[str, str]]:
        return COLUMNS

    def cells(self, row: ModelStats) -> list[Text]:
        return cells(row)

    def row_key(self, row: ModelStats) -> str:
        return row.model


class StatsScreen(Screen[None]):
    """Provider stats over the last 7 or 30 days before ``now`` (None: when the data is read)."""

    @dataclass
    class Loaded(Message):
        reports: list[StatsReport]

    CSS_PATH = "stats.tcss"
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("s", "sort", "Sort"),
        Binding("w", "window", "7/30 days"),
    ]

    def __init__(self, services: Services, *, now: float | None = None, days: int = 30) -> None:
        super().__init__()
        self.services = services
        self.now = now
        self.days = days
        self.reports: dict[int, StatsReport] = {}
        self.loaded = False  # True once the data arrived (tests poll it)

    def compose(self) -> ComposeResult:
        yield Static("Provider stats", id="stats-title", markup=False)
        yield Static("Reading the reply log…", id="stats-empty", markup=False)
        yield StatsTable(id="stats-table")
        yield Static(NOTE, id="stats-note", markup=False)
        yield Static(KEYS, id="stats-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one(StatsTable).display = False
        self._load()

    @work(thread=True, group="stats-load", exclusive=True, exit_on_error=False, description="read provider stats")
    def _load(self) -> None:
        now = time.time() if self.now is None else self.now
        self.post_message(self.Loaded(stats_windows(self.services.store, WINDOWS, now)))

    def on_stats_screen_loaded(self, message: StatsScreen.Loaded) -> None:
        self.reports = {r.days: r for r in message.reports}
        self.loaded = True
        self._show()

    def _show(self) -> None:
        report = self.reports.get(self.days)
        if report is None:
            return
        since = time.strftime("%Y-%m-%d", time.localtime(report.since))
        until = time.strftime("%Y-%m-%d", time.localtime(report.now))
        requests = sum(m.requests for m in report.models)
        self.query_one("#stats-title", Static).update(Text.assemble(
            (f"Provider stats · last {report.days} days", "bold"),
            (f" ({since} to {until}) · {requests} requests · {len(report.models)} models", "dim"),
        ))
        empty, table = self.query_one("#stats-empty", Static), self.query_one(StatsTable)
        empty.display, table.display = not report.models, bool(report.models)
        if report.models:
            table.show(report.models)
        else:
            empty.update(EMPTY.format(days=report.days))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "stats-load":
            self.query_one("#stats-empty", Static).update(f"Could not read the stats: {one_line(event.worker.error)}")

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.query_one(StatsTable).sort_by(event.column_index)

    def action_sort(self) -> None:
        table = self.query_one(StatsTable)
        table.sort_by(table.cursor_coordinate.column)

    def action_window(self) -> None:
        self.days = WINDOWS[(WINDOWS.index(self.days) + 1) % len(WINDOWS)] if self.days in WINDOWS else WINDOWS[0]
        self._show()

    def action_close(self) -> None:
        self.dismiss(None)
