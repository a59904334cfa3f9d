"""Pilot tests: the footer's budget share, the confirmation before an over-budget or costly request (confirm sends
once, cancel keeps the draft), and the forecast in the inspector; real app, real store, loopback server."""

from __future__ import annotations

from agentspace_tui.services.core import build_services
from agentspace_tui.ui.screens.confirm import ConfirmScreen
from tests.fakeserver import Reply
from tests.test_config_validation import write_config
from tests.test_ui_app import (
    CHAT_PATH,
    OPENAI,
    SIZE,
    footer,
    idle,
    inspector_text,
    make_app,
    replies,
    send,
    started,
    until,
)


def spent(home, cost: float) -> None:
    services = build_services(home)
    session = services.store.create_session(model=OPENAI)
    services.store.record_reply_usage(session["id"], model=OPENAI, input_tokens=10, output_tokens=10,
                                      cache_read_tokens=0, cache_write_tokens=0, cost=cost)


async def test_footer_shows_the_tightest_budget_and_forecast_in_inspector(home, llm):
    write_config(home, "[budgets]\ndaily = 10\nmonthly = 100\n")
    spent(home, 3.8)
    app = make_app(model=OPENAI)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        await until(lambda: "budget" in footer(app), what="the budget in the footer")
        assert "daily budget 62% left" in footer(app)
        app.main_screen.prompt.text = "what will this cost?"
        await until(lambda: "Forecast" in inspector_text(app), what="the forecast")
        text = inspector_text(app)
        assert "Forecast" in text and "input now" in text and "not a bill" in text


async def test_over_budget_asks_cancel_keeps_draft_confirm_sends_once(home, llm):
    write_config(home, "[budgets]\ndaily = 1\n")
    spent(home, 1.5)
    llm.script(Reply(text="sent anyway"))
    app = make_app(model=OPENAI)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        await until(lambda: app.budget_statuses is not None, what="the budgets")
        assert footer(app).startswith("daily budget used up")  # first: a narrow terminal keeps it
        await send(pilot, "over the limit")
        await until(lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "daily budget $1.00 is used up" in app.screen.question
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.main_screen.prompt.text == "over the limit" and llm.requests_to(CHAT_PATH) == []
        await send(pilot, "over the limit")
        await until(lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation again")
        await pilot.click("#confirm-yes")
        await until(lambda: len(replies(app)) == 1 and idle(app), what="the reply")
        assert len(llm.requests_to(CHAT_PATH)) == 1 and app.main_screen.prompt.text == ""


async def test_confirm_above_asks_before_a_costly_request(home, llm):
    write_config(home, "confirm_above = 0.0001\n")
    app = make_app(model=OPENAI)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        await send(pilot, "costly")
        await until(lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "above confirm_above" in app.screen.question
        assert app.screen.question.count("input $") == 1  # the forecast once, not twice
        await pilot.click("#confirm-yes")
        await until(lambda: len(replies(app)) == 1 and idle(app), what="the reply")
        assert len(llm.requests_to(CHAT_PATH)) == 1


def test_a_budget_is_toasted_once_per_crossing():
    from agentspace_tui.services.budgets import Budget, BudgetStatus, Spend
    from agentspace_tui.ui.budget_view import crossings

    def status(cost: float) -> BudgetStatus:
        return BudgetStatus(Budget("daily", 1.0), Spend(cost, 1), 0.8)

    seen: dict[str, str] = {}
    assert crossings([status(0.5)], seen) == []
    assert [s for _, s in crossings([status(0.85)], seen)] == ["warning"]
    assert crossings([status(0.9)], seen) == []  # still past warn_at: not again
    assert [s for _, s in crossings([status(1.2)], seen)] == ["error"]
    assert crossings([status(1.3)], seen) == []
    assert crossings([status(0.0)], seen) == []  # a new day
    assert [s for _, s in crossings([status(0.81)], seen)] == ["warning"]
