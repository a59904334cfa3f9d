"""The usage screen's charts, drawn with textual-plotext from a ``services.usage_report.Overview``.

Model and provider names are untrusted text: plotext's output is parsed as ANSI (``Text.from_ansi``), so every
label goes through ``formatting.one_line`` (control characters, ESC included, made visible) and is shortened.
"""

from __future__ import annotations

from typing import Any

from textual_plotext import PlotextPlot

from ...formatting import format_cost, format_tokens, one_line
from ...services.usage_report import Overview, signed_cost

LABEL_WIDTH = 28  # characters of a model or provider name in a legend or axis
BUDGET_COLOR = "red"
SERIES_COLORS = ["cyan", "orange", "green", "magenta", "blue", "gray"]


def label(text: str, width: int = LABEL_WIDTH) -> str:
    shown = one_line(text)
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def _day_ticks(overview: Overview) -> tuple[list[float], list[str]]:
    """About one tick a week, always the first and the last day (MM-DD)."""
    n = len(overview.days)
    positions = sorted({*range(1, n + 1, 7), n})
    if len(positions) > 1 and positions[-1] - positions[-2] < 4:  # labels would touch
        positions.pop(-2)
    return [float(p) for p in positions], [overview.days[i - 1][5:] for i in positions]


def _money_ticks(plot: PlotextPlot, top: float) -> None:
    ticks = [top * i / 4 for i in range(5)]
    plot.plt.yticks(ticks, [format_cost(t) if t else "$0" for t in ticks])


def _start(plot: PlotextPlot, title: str) -> None:
    plt = plot.plt
    plt.clear_figure()
    plt.title(title)
    plot.refresh()


def draw_spend(plot: PlotextPlot, overview: Overview) -> None:
    """Known spend per day, stacked by model (the top models, then "other"), with the daily budget as a line."""
    daily = [s.budget for s in overview.budgets if s.budget.period == "daily" and s.budget.provider is None]
    budget = daily[0].amount if daily else None
    title = "Spend per day by model"
    if budget is not None:
        title += f" · red line: daily budget {format_cost(budget)}"
    _start(plot, title)
    plt = plot.plt
    xs = list(range(1, len(overview.days) + 1))
    series = list(overview.stacked.items())
    if series:
        # plotext takes a list of labels and colours here (its annotations say one)
        options: dict[str, Any] = {"labels": [label(name) for name, _ in series], "color": SERIES_COLORS[: len(series)]}
        plt.stacked_bar(xs, [values for _, values in series], width=0.8, **options)
    totals = [sum(values[i] for _, values in series) for i in range(len(xs))]
    top = max([*totals, budget or 0.0]) * 1.15 or 1.0
    if budget is not None:
        plt.hline(budget, BUDGET_COLOR)
    plt.ylim(0, top)
    plt.xlim(0.5, len(xs) + 0.5)
    _money_ticks(plot, top)
    plt.xticks(*_day_ticks(overview))


def draw_providers(plot: PlotextPlot, overview: Overview) -> None:
    """Known spend per provider over the window, as horizontal bars labelled with the amount."""
    _start(plot, "Spend by provider")
    plt = plot.plt
    rows = list(reversed(overview.by_provider.rows))  # plotext draws the first bar at the bottom
    names = [f"{label(r.key, 16)} {format_cost(r.cost)}" for r in rows]
    values = [r.known_cost for r in rows]
    if rows:
        plt.bar(names, values, orientation="horizontal", width=0.6, color=SERIES_COLORS[0])
    top = max(values, default=0.0) * 1.1 or 1.0
    plt.xlim(0, top)
    ticks = [top * i / 3 for i in range(4)]
    plt.xticks(ticks, [format_cost(t) if t else "$0" for t in ticks])


def draw_tokens(plot: PlotextPlot, overview: Overview) -> None:
    """Input and output tokens per day, as two lines."""
    _start(plot, "Tokens per day: input and output")
    plt = plot.plt
    xs = list(range(1, len(overview.days) + 1))
    plt.plot(xs, overview.tokens_in, label="input", color=SERIES_COLORS[0], marker="braille")
    plt.plot(xs, overview.tokens_out, label="output", color=SERIES_COLORS[1], marker="braille")
    top = max([*overview.tokens_in, *overview.tokens_out, 1]) * 1.15
    plt.ylim(0, top)
    plt.xlim(1, len(xs))
    ticks = [top * i / 4 for i in range(5)]
    plt.yticks(ticks, [format_tokens(int(t)) for t in ticks])
    plt.xticks(*_day_ticks(overview))


def draw_savings(plot: PlotextPlot, overview: Overview) -> None:
    """What prompt caching saved per day (the price of cache reads against full input)."""
    total = sum(overview.savings)
    _start(plot, f"Cache savings per day · {signed_cost(total)} in {len(overview.days)} days")
    plt = plot.plt
    xs = list(range(1, len(overview.days) + 1))
    plt.bar(xs, overview.savings, width=0.8, color=SERIES_COLORS[2])
    top = max([*overview.savings, 0.0]) * 1.15
    bottom = min([*overview.savings, 0.0]) * 1.15
    if top == bottom:
        top = 0.01
    plt.ylim(bottom, top)
    plt.xlim(0.5, len(xs) + 0.5)
    ticks = [bottom + (top - bottom) * i / 4 for i in range(5)]
    plt.yticks(ticks, [signed_cost(t) for t in ticks])
    plt.xticks(*_day_ticks(overview))
