"""Tool calls in the app: the call shows in the reply with its arguments, the confirmation asks, the result folds
away, the model goes on. Real MCP server (stdio), real litellm, loopback LLM server; plus a snapshot of a stored
reply that called tools."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from agentspace_tui.services.core import build_services
from agentspace_tui.ui.screens.tool_confirm import ToolConfirmScreen
from agentspace_tui.ui.widgets.tool_call import ToolCallView
from tests.fakeserver import Reply
from tests.test_ui_app import idle, make_app, replies, send, started, stored, until
from tests.test_ui_snapshots_app import BASE, OPENAI, TERMINAL, app_factory, measured

SERVER = Path(__file__).resolve().parent / "mcp_test_server.py"


def mcp_config(home: Path, extra: str = "") -> None:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'max_retries = 0\n[mcp.t]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(SERVER))}]\n'
        + extra, encoding="utf-8")


def weather_call(city: str = "Paris", call_id: str = "call_1") -> dict:
    return {"id": call_id, "name": "t__weather", "arguments": {"city": city}}


async def test_a_confirmed_call_runs_and_the_reply_goes_on(home, llm):
    mcp_config(home)
    llm.script(Reply(text="Let me check [the sky].", tool_calls=[weather_call()]),
               Reply(text="It is **sunny** in Paris."))
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await started(pilot)
        await send(pilot, "weather in Paris?")
        await until(lambda: isinstance(app.screen, ToolConfirmScreen), 30, "the confirmation")
        view = replies(app)[-1].query_one(ToolCallView)
        assert "t__weather(city=\"Paris\")" in str(view.title) and "confirmation" in str(view.title)
        await pilot.press("y")
        await until(lambda: idle(app), 30, "the reply to end")
        await pilot.pause()
        block = replies(app)[-1]
        assert block.message["status"] == "complete"
        assert block.message["content"] == "Let me check [the sky].It is **sunny** in Paris."
        view = block.query_one(ToolCallView)
        assert view.collapsed and "✓" in str(view.title)
        assert view.call["result"] == "Paris: 21 °C, sunny"
        # the text before the call and after it are separate segments, the call between them
        kinds = [type(w).__name__ for w in block.query_one(".reply-body").children]
        assert kinds == ["MarkdownView", "ToolCallView", "MarkdownView"]
        reply = stored(app)[-1]
        assert reply["tool_calls"][0]["status"] == "ok" and len(reply["rounds"]) == 2
    assert app.services.tools._hub is None  # closed with the app: no server left running


async def test_escape_declines_and_always_allow_sticks(home, llm):
    mcp_config(home)
    llm.script(Reply(text="", tool_calls=[weather_call("Oslo")]), Reply(text="Declined, fine."))
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await started(pilot)
        await send(pilot, "weather?")
        await until(lambda: isinstance(app.screen, ToolConfirmScreen), 30, "the confirmation")
        await pilot.press("escape")
        await until(lambda: idle(app), 30, "the reply to end")
        assert stored(app)[-1]["tool_calls"][0]["status"] == "denied"

        llm.script(Reply(text="", tool_calls=[weather_call("Rome", "c2")]), Reply(text="Rome is sunny."))
        await send(pilot, "and Rome?")
        await until(lambda: isinstance(app.screen, ToolConfirmScreen), 30, "the confirmation")
        await pilot.press("a")
        await until(lambda: idle(app), 30, "the reply to end")
        llm.script(Reply(text="", tool_calls=[weather_call("Bern", "c3")]), Reply(text="Bern too."))
        await send(pilot, "and Bern?")
        await until(lambda: idle(app) and stored(app)[-1].get("status") == "complete", 30, "the third reply")
        assert not isinstance(app.screen, ToolConfirmScreen)  # always allowed: not asked again
        assert stored(app)[-1]["tool_calls"][0]["result"] == "Bern: 21 °C, sunny"


async def test_escape_in_the_chat_while_asked_cancels_the_reply_and_keeps_it(home, llm):
    mcp_config(home)
    llm.script(Reply(text="Looking.", tool_calls=[weather_call()]))
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await started(pilot)
        await send(pilot, "weather?")
        await until(lambda: isinstance(app.screen, ToolConfirmScreen), 30, "the confirmation")
        app.action_cancel()  # the cancel key of the chat (e.g. from the command palette) while the dialog is up
        await until(lambda: idle(app), 30, "the reply to end")
        await pilot.pause()
        reply = stored(app)[-1]
        assert reply["status"] == "cancelled" and reply["content"] == "Looking."


# -- snapshot: a stored reply that called two tools ------------------------------------------------------------
TOOLS_SESSION = "7001500000a1"


def seed_tool_reply() -> str:
    services = build_services()
    calls = [
        {"id": "call_a", "name": "t__weather", "server": "t", "tool": "weather", "arguments": '{"city": "Paris"}',
         "round": 1, "offset": 26, "status": "ok", "result": "Paris: 21 °C, sunny", "duration": 0.4},
        {"id": "call_b", "name": "t__add", "server": "t", "tool": "add", "arguments": '{"a": 19, "b": 23}',
         "round": 1, "offset": 26, "status": "denied", "result": "The user declined to run this tool.",
         "duration": None},
    ]
    usage = {"input_tokens": 812, "output_tokens": 64, "cache_read_tokens": 0, "cache_write_tokens": 0}
    services.store.bulk_import(
        {"id": TOOLS_SESSION, "title": "Weather [tools]", "model": OPENAI, "created_at": BASE, "updated_at": BASE + 60},
        [
            {"id": "t0000000001", "role": "user", "content": "What is the weather in Paris, and 19+23?",
             "created_at": BASE + 10},
            {"id": "t0000000002", "role": "assistant", "model": OPENAI, "status": "complete", "finish_reason": "stop",
             "content": "I'll look both up for you.It is **21 °C and sunny** in Paris. You declined the sum.",
             "tool_calls": calls, "usage": usage, "cost": 0.00016, "created_at": BASE + 12, "ttft": 0.41,
             "duration": 2.3,
             "rounds": [{"usage": {**usage, "input_tokens": 400, "output_tokens": 40}, "cost": 0.00008},
                        {"usage": {**usage, "input_tokens": 412, "output_tokens": 24}, "cost": 0.00008}]},
        ],
    )
    return TOOLS_SESSION


def test_snapshot_tool_call_view(snap_compare, home, utc):
    app = app_factory(session=seed_tool_reply())

    async def run_before(pilot) -> None:
        await measured(pilot)
        view = app.query(ToolCallView).first()
        view.collapsed = False  # the first result opened, as Enter on its title would
        await pilot.pause()

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


@pytest.mark.parametrize("status", ["requested", "error", "unavailable", "cancelled"])
def test_titles_say_what_became_of_a_call(status):
    from agentspace_tui.ui.widgets.tool_call import title_text

    title = title_text({"name": "t__x", "arguments": '{"q": "[b]bold[/b]\\u001b[2J"}', "status": status})
    assert "[b]bold[/b]" in title and "\x1b" not in title
