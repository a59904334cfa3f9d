"""The details screen and the code chooser of a focused message, and snapshots of the message keys, the two
screens and the empty chat's onboarding panel (pytest-textual-snapshot)."""

from __future__ import annotations

import io

from rich.console import Console

from agentspace_tui.ui.screens.message_details import MessageDetailsScreen, detail_rows
from tests.test_ui_message_focus import (
    MODEL,
    SIZE,
    Host,
    enter_conversation,
    open_chooser,
    reply,
    until,
    usage,
    user,
)

KEYS = [("Enter", "send"), ("Ctrl+J", "newline"), ("Ctrl+O", "model"), ("Ctrl+R", "sessions"),
        ("Ctrl+B", "inspector"), ("Ctrl+Up", "enter the conversation"), ("F1", "help")]


def screen_text(app) -> str:
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def open_details(pilot) -> str:
    await enter_conversation(pilot)
    await pilot.press("d")
    await until(lambda: isinstance(pilot.app.screen, MessageDetailsScreen), what="the details")
    await pilot.pause()
    return screen_text(pilot.app)


# -- details -----------------------------------------------------------------------------------------------------
async def test_details_of_a_reply_priced_by_us():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        text = await open_details(pilot)
        assert MODEL in text and "complete" in text and "stop" in text
        assert "120 in · 45 out (reported by the provider)" in text
        assert "$0.000045 (estimated from our price: catalog)" in text
        assert "$0.15 in / $0.6 out per Mtok (catalog)" in text
        assert "0.42 s" in text and "1.42 s" in text and "45 tokens/s" in text
        assert "temperature 0.2 · top_p 0.9 · max_tokens 512" in text
        assert "2025-01-01" in text and "a2" in text
        await pilot.press("enter")
        await until(lambda: not isinstance(app.screen, MessageDetailsScreen), what="the details to close")


async def test_details_of_a_rejected_request_say_not_billed():
    rejected = reply("a9", "", status="error", finish_reason="error", usage=None, usage_source=None, cost=None,
                     cost_source=None, ttft=None, error="401 [bold]invalid api key[/bold]")
    app = Host([user("u9", "hi"), rejected])
    async with app.run_test(size=SIZE) as pilot:
        text = await open_details(pilot)
        assert "not billed" in text and "unknown price" not in text
        assert "401 [bold]invalid api key[/bold]" in text  # shown as text, never markup


def test_detail_rows_say_where_the_cost_came_from():
    provider = dict(detail_rows(reply("a", "x", cost=0.5, cost_source="provider")))
    assert provider["Cost"] == "$0.5000 (reported by the provider)"
    estimated = dict(detail_rows(reply("a", "x", usage_source="estimated", usage=usage(10, 5))))
    assert "estimated from our price: catalog, from estimated tokens" in estimated["Cost"]
    assert "estimated here" in estimated["Tokens"]
    unknown = dict(detail_rows(reply("a", "x", cost=None, cost_source=None, prices=None)))
    assert unknown["Cost"].startswith("unknown price") and "Price billed" not in unknown
    cached = dict(detail_rows(reply("a", "x", usage=usage(100, 5, cache_read_tokens=80, reasoning_tokens=3))))
    assert "80 cache read" in cached["Tokens"] and "3 reasoning" in cached["Tokens"]
    mine = dict(detail_rows(user("u", "hello", tokens=12)))
    assert mine["Role"] == "you (user)" and mine["Tokens"] == "12 (counted here)" and "Cost" not in mine


# -- the chooser --------------------------------------------------------------------------------------------------
async def test_the_chooser_lists_each_block_by_language_size_and_first_line():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await open_chooser(pilot)
        await pilot.pause()
        text = screen_text(app)
        assert "1. bash · 1 line" in text and "pip install rich" in text
        assert "2. python · 4 lines" in text and "import rich" in text


# -- snapshots ------------------------------------------------------------------------------------------------------
SNAP_SIZE = (110, 34)


def test_snapshot_focused_reply_with_its_keys(snap_compare):
    app = Host(alternatives={"a2": (2, 3)})

    async def run_before(pilot) -> None:
        await enter_conversation(pilot)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_snapshot_details_screen(snap_compare):
    app = Host()

    async def run_before(pilot) -> None:
        await open_details(pilot)

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_snapshot_code_chooser(snap_compare):
    app = Host()

    async def run_before(pilot) -> None:
        await open_chooser(pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)


def test_snapshot_onboarding_panel(snap_compare):
    app = Host([])

    async def run_before(pilot) -> None:
        app.view.set_onboarding(MODEL, "$0.15 in / $0.60 out per Mtok", "128k tokens", KEYS)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SNAP_SIZE, run_before=run_before)



def test_token_line_reads_the_stored_per_tokenizer_counts():
    """A stored user message keeps {encoding: count}: the details show it (an int was never stored)."""
    from agentspace_tui.ui.screens.message_details import token_line

    assert token_line({"role": "user", "tokens": {"o200k_base": 1234}}) == "1,234 (o200k_base) (counted here)"
    assert token_line({"role": "user"}) is None
