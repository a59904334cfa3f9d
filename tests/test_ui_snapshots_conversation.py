"""Snapshot tests of the conversation's keys in the real app: the empty chat, a focused reply with alternatives,
the details and parameters screens over a conversation, a hidden pair, and a small terminal.

Seeded like test_ui_snapshots_app.py (fixed ids, times and costs; nothing is sent, litellm is never imported).
"""

from __future__ import annotations

from textual.widgets import Input

from agentspace_tui.services.core import build_services
from agentspace_tui.ui.app import ChatScreen
from agentspace_tui.ui.screens.message_details import MessageDetailsScreen
from agentspace_tui.ui.screens.params import ParamsScreen
from agentspace_tui.ui.widgets.conversation import MessageBlock, ReplyBlock
from tests.test_ui_conversation_keys import key_of
from tests.test_ui_snapshots_app import (
    BASE,
    FIRST_REPLY,
    OPENAI,
    SECOND_REPLY,
    TERMINAL,
    _usage,
    app_factory,
    measured,
    seed_conversation,
    wait_until,
)

BRANCHED_ID = "b7a0c0000002"
HIDDEN_ID = "41dde0000003"
CLAUDE = "anthropic:claude-sonnet-4-5"
PRICES_OPENAI = {"input_per_mtok": 0.15, "output_per_mtok": 0.6, "cache_read_per_mtok": 0.075,
                 "cache_write_per_mtok": None, "source": "catalog"}
PRICES_CLAUDE = {"input_per_mtok": 3.0, "output_per_mtok": 15.0, "cache_read_per_mtok": 0.3,
                 "cache_write_per_mtok": 3.75, "source": "catalog"}
CLAUDE_REPLY = """\
Stream it with the `csv` module and keep only what you need:

```python
import csv

with open("big.csv", newline="") as f:
    total = sum(1 for _ in csv.reader(f)) - 1
```

pandas would load the whole 2 GB into memory first."""


def _reply(mid: str, content: str, model: str, prices: dict, at: int, **fields) -> dict:
    return {"id": mid, "role": "assistant", "content": content, "model": model, "status": "complete",
            "finish_reason": "stop", "usage": _usage(412, 146), "usage_source": "provider", "cost": 0.0001494,
            "cost_source": "catalog", "prices": prices, "ttft": 0.42, "duration": 2.10, "created_at": at, **fields}


def _charge(services, session_id: str, replies: dict[str, tuple[str, float]]) -> None:
    """Record the seeded replies in the usage ledger, so the footer's session and today agree with them."""
    for message_id, (model, cost) in replies.items():
        services.store.record_reply_usage(
            session_id, model=model, input_tokens=412, output_tokens=146, cache_read_tokens=0, cache_write_tokens=0,
            cost=cost, message_id=message_id,
        )


def seed_branched() -> str:
    """Two turns; the last reply was retried with Claude (2/2, the active branch), with parameters."""
    services = build_services()
    services.store.bulk_import(
        {"id": BRANCHED_ID, "title": "CSV parsing [python]", "model": CLAUDE, "created_at": BASE,
         "updated_at": BASE + 200, "params": {"temperature": 0.3, "max_tokens": 800}},
        [
            {"id": "f0000000001", "role": "user", "content": "How do I read a CSV file in Python?",
             "created_at": BASE + 10},
            _reply("f0000000002", FIRST_REPLY, OPENAI, PRICES_OPENAI, BASE + 11),
            {"id": "f0000000003", "role": "user", "content": "How do I count the rows of a 2 GB file?",
             "created_at": BASE + 60},
            _reply("f0000000004", SECOND_REPLY, OPENAI, PRICES_OPENAI, BASE + 61),
            _reply("f0000000005", CLAUDE_REPLY, CLAUDE, PRICES_CLAUDE, BASE + 120, parent="f0000000003",
                   cost=0.0034260, params={"temperature": 0.3, "max_tokens": 800}),
        ],
    )
    _charge(services, BRANCHED_ID, {"f0000000002": (OPENAI, 0.0001494), "f0000000004": (OPENAI, 0.0001494),
                                    "f0000000005": (CLAUDE, 0.0034260)})
    services.store.close()
    return BRANCHED_ID


def seed_hidden() -> str:
    """Three turns; the first pair is hidden from the context."""
    services = build_services()
    services.store.bulk_import(
        {"id": HIDDEN_ID, "title": "CSV parsing [python]", "model": OPENAI, "created_at": BASE,
         "updated_at": BASE + 200},
        [
            {"id": "e0000000001", "role": "user", "content": "How do I read a CSV file in Python?",
             "created_at": BASE + 10, "hidden": True},
            _reply("e0000000002", FIRST_REPLY, OPENAI, PRICES_OPENAI, BASE + 11, hidden=True),
            {"id": "e0000000003", "role": "user", "content": "Compare csv, pandas and polars for a 2 GB file.",
             "created_at": BASE + 60},
            _reply("e0000000004", SECOND_REPLY, OPENAI, PRICES_OPENAI, BASE + 61),
        ],
    )
    _charge(services, HIDDEN_ID, {"e0000000002": (OPENAI, 0.0001494), "e0000000004": (OPENAI, 0.0001494)})
    services.store.close()
    return HIDDEN_ID


async def focus_last_reply(pilot) -> MessageBlock:
    app = pilot.app
    await pilot.press("ctrl+up")
    await wait_until(pilot, lambda: isinstance(app.focused, ReplyBlock))
    await pilot.pause()
    return app.focused


# -- (a) the empty chat --------------------------------------------------------------------------------------------
def test_empty_chat_onboarding(snap_compare, home):
    app = app_factory()

    async def run_before(pilot) -> None:
        await measured(pilot)
        assert app.main_screen.conversation.onboarding.display

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- (b) a focused reply with alternatives, its keys in the footer --------------------------------------------------
def test_focused_reply_with_alternatives(snap_compare, home):
    app = app_factory(session=seed_branched())

    async def run_before(pilot) -> None:
        await measured(pilot)
        block = await focus_last_reply(pilot)
        assert block.alternative == (2, 2)

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- (c) the details of that reply ------------------------------------------------------------------------------------
def test_message_details_over_conversation(snap_compare, home):
    app = app_factory(session=seed_branched())

    async def run_before(pilot) -> None:
        await measured(pilot)
        await focus_last_reply(pilot)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDetailsScreen))
        await pilot.pause()

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- (d) the parameters screen -----------------------------------------------------------------------------------------
def test_params_screen_over_conversation(snap_compare, home):
    app = app_factory(session=seed_branched())

    async def run_before(pilot) -> None:
        await measured(pilot)
        await pilot.press(key_of("params"))  # from the prompt
        await wait_until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        for field in app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- (e) a hidden pair ---------------------------------------------------------------------------------------------------
def test_conversation_with_a_hidden_pair(snap_compare, home):
    app = app_factory(session=seed_hidden())

    async def run_before(pilot) -> None:
        await measured(pilot)
        assert [b.hidden for b in app.main_screen.conversation.message_blocks()] == [True, True, False, False]

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- (f) a small terminal ------------------------------------------------------------------------------------------------
def test_conversation_at_80x24(snap_compare, home):
    app = app_factory(session=seed_conversation())

    async def run_before(pilot) -> None:
        await measured(pilot)
        assert isinstance(app.screen, ChatScreen) and not app.main_screen.sidebar.display

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
