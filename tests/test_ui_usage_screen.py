"""The usage screen (Ctrl+L): pilot tests through the whole app, and snapshots with a fixed "today".

Ledger rows are recorded with ``Store.record_reply_usage`` at explicit local times, so the 30 days ending
TODAY always hold the same data; the screen is given TODAY (its clock is injectable).
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from textual.command import CommandPalette
from textual.widgets import TabbedContent

from agentspace_tui.services.core import build_services
from agentspace_tui.ui.screens.usage import UsageScreen, UsageTable
from tests.test_ui_app import SIZE, make_app, started, until

TODAY = date(2026, 3, 30)
MODELS = {  # model: (cost per 1k input, per 1k output) for the seed; None: unknown price
    "anthropic:claude-sonnet-4-5": (0.003, 0.015),
    "openai:gpt-4o": (0.0025, 0.01),
    "openai:gpt-4o-mini": (0.00015, 0.0006),
    "gemini:gemini-2.5-pro": (0.00125, 0.01),
    "ollama:llama3.1": None,
}
HOSTILE = "openai:[bold red]evil[/]\x1b[31m"  # markup and an escape sequence in a model id


def noon(day: date) -> float:
    return time.mktime((day.year, day.month, day.day, 12, 0, 0, 0, 0, -1))


def seed_month(*, hostile: bool = False) -> None:
    """About a month of realistic spending: weekday peaks, prompt caching on Claude, a local model."""
    services = build_services()
    store = services.store
    sid = store.create_session(title="usage seed")["id"]
    for back in range(34):
        day = TODAY - timedelta(days=back)
        weekday = day.weekday() < 5
        for i, (model, price) in enumerate(MODELS.items()):
            if (back + i) % (2 if weekday else 4):
                continue
            tokens_in = (3000 + 1700 * ((back * 7 + i * 3) % 11)) * (2 if weekday else 1)
            tokens_out = tokens_in // 6
            cache_read = tokens_in // 2 if model.startswith("anthropic") else 0
            cost = None if price is None else (tokens_in * price[0] + tokens_out * price[1]) / 1000 * 25
            savings = cache_read * 0.0027 / 1000 * 25 if cache_read else (None if price is None else 0.0)
            store.record_reply_usage(
                sid, model=model, input_tokens=tokens_in * 25, output_tokens=tokens_out * 25,
                cache_read_tokens=cache_read * 25, cache_write_tokens=0, cost=cost, when=noon(day),
                cache_savings=savings,
            )
    if hostile:
        store.record_reply_usage(sid, model=HOSTILE, input_tokens=10, output_tokens=5, cache_read_tokens=0,
                                 cache_write_tokens=0, cost=0.5, when=noon(TODAY))
    store.close()


def write_budgets(home) -> None:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[budgets]\ndaily = 4.0\nmonthly = 80.0\n\n[budgets.providers.anthropic]\nmonthly = 40.0\n")


async def open_usage(pilot, *, today: date | None = TODAY) -> UsageScreen:
    """The screen as Ctrl+L opens it, but with a fixed today."""
    app = pilot.app
    screen = UsageScreen(app.services, today=today)
    await app.push_screen(screen)
    await until(lambda: screen.loaded, what="the usage data")
    await pilot.pause()
    return screen


# -- pilot tests ----------------------------------------------------------------------------------------------
async def test_ctrl_l_opens_and_escape_closes(home):
    seed_month()
    async with make_app(warm_litellm=False).run_test(size=SIZE) as pilot:
        app = await started(pilot)
        await pilot.press("ctrl+l")
        await until(lambda: isinstance(app.screen, UsageScreen) and app.screen.loaded, what="the usage screen")
        screen = app.screen
        # the real clock: the seed (March 2026) is older than these 30 days, so the ledger is not empty but the
        # window is
        assert screen.overview.days[-1] == date.today().isoformat() and not screen.overview.ledger_empty
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, UsageScreen), what="the screen to close")
        await pilot.press("ctrl+l")
        await until(lambda: isinstance(app.screen, UsageScreen), what="the screen again")
        await pilot.press("ctrl+l")  # Ctrl+L again closes it too
        await until(lambda: not isinstance(app.screen, UsageScreen), what="the screen to close")


async def test_palette_entry_opens_it(home):
    async with make_app(warm_litellm=False).run_test(size=SIZE) as pilot:
        app = await started(pilot)
        await pilot.press("ctrl+p")
        await until(lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"Usage")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, UsageScreen) and app.screen.loaded, what="the usage screen")
        assert app.screen.overview.ledger_empty  # nothing was ever spent in this home


async def test_tables_sort_by_click_and_key(home):
    seed_month()
    async with make_app(warm_litellm=False).run_test(size=SIZE) as pilot:
        await started(pilot)
        screen = await open_usage(pilot)
        await pilot.press("m")
        assert screen.query_one("#usage-tables", TabbedContent).active == "tab-model"
        table = screen.query_one("#table-model", UsageTable)
        assert table.has_focus
        by_cost = table.keys_in_order
        assert by_cost[0] == "anthropic:claude-sonnet-4-5" and by_cost[-1] == "ollama:llama3.1"
        await pilot.click(table, offset=(2, 0))  # the first column's header: names A to Z
        assert table.keys_in_order == sorted(by_cost)
        await pilot.click(table, offset=(2, 0))  # again: Z to A
        assert table.keys_in_order == sorted(by_cost, reverse=True)
        table.cursor_coordinate = table.cursor_coordinate._replace(column=1)  # requests
        await pilot.press("s")
        requests = [r.requests for r in sorted(table.rows_data, key=lambda r: -r.requests)]
        assert [next(r.requests for r in table.rows_data if r.key == k) for k in table.keys_in_order] == requests
        await pilot.press("s")
        assert table.sort_reverse is False
        await pilot.press("p")
        assert screen.current_table().id == "table-provider"
        assert set(screen.current_table().keys_in_order) == {"anthropic", "openai", "gemini", "ollama"}


async def test_model_names_are_not_markup(home):
    seed_month(hostile=True)
    async with make_app(warm_litellm=False).run_test(size=SIZE) as pilot:
        await started(pilot)
        screen = await open_usage(pilot)
        table = screen.query_one("#table-model", UsageTable)
        assert HOSTILE in table.keys_in_order
        row = table.get_row(HOSTILE)
        assert str(row[0]).startswith("openai:[bold red]evil[/]") and "\x1b" not in str(row[0])


# -- snapshots ----------------------------------------------------------------------------------------------------
def _snapshot_app():
    from tests.test_ui_snapshots_app import app_factory

    return app_factory()


async def _show(pilot) -> None:
    from tests.test_ui_snapshots_app import measured

    await measured(pilot)
    await open_usage(pilot)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_snapshot_usage_screen(snap_compare, home):
    seed_month()
    write_budgets(home)
    assert snap_compare(_snapshot_app(), terminal_size=(140, 45), run_before=_show)


def test_snapshot_usage_screen_small(snap_compare, home):
    seed_month()
    write_budgets(home)
    assert snap_compare(_snapshot_app(), terminal_size=(80, 24), run_before=_show)


def test_snapshot_usage_screen_empty(snap_compare, home):
    assert snap_compare(_snapshot_app(), terminal_size=(140, 45), run_before=_show)
