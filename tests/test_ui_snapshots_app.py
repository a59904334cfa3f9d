"""Snapshot tests of the whole app (pytest-textual-snapshot), from seeded sessions with fixed ids, times and costs.

Each screen is the real AgentspaceApp over a real store in an isolated home; nothing is sent, so litellm is never
imported (``warm_litellm=False``). The main conversation's two replies are recorded in the usage ledger as
today's (whatever the date), so the footer's "today" includes them, as it would for a user; the other seeds keep
their usage in message fields only.
"""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input

from agentspace_tui.services.core import build_services
from agentspace_tui.ui.app import AgentspaceApp, ChatScreen
from agentspace_tui.ui.screens.first_run import KeysScreen
from agentspace_tui.ui.screens.model_switcher import ModelSwitcherScreen
from tests.conftest import PROVIDER_ENV

TERMINAL = (140, 45)
BASE = 1_735_689_600  # 2025-01-01 00:00 UTC
OPENAI = "openai:gpt-4o-mini"
SESSION_ID = "5a5a00000001"
ERROR_SESSION_ID = "e4404000000e"
THINKING_SESSION_ID = "7b1a00000007"
OUTCOMES_SESSION_ID = "0c0e00000005"
CLAUDE = "anthropic:claude-sonnet-4-5"

FIRST_REPLY = """\
## Reading a CSV in Python

Use the standard library's `csv` module:

```python
import csv

with open("data.csv", newline="") as f:
    for row in csv.DictReader(f):
        print(row["name"], row["age"])
```

- `DictReader` maps each row to a dict keyed by the header
- pass `newline=""` so quoted newlines survive"""

SECOND_REPLY = """\
| library | speed | memory | notes |
|---------|-------|--------|-------|
| csv     | slow  | low    | stdlib, streaming |
| pandas  | fast  | high   | whole file in memory |
| polars  | faster| medium | lazy scans [optional] |

For a **2 GB** file, stream with `csv` or scan lazily with polars."""

ATTACHMENT = "# Notes\n\nThe import job runs nightly at 02:00 UTC.\nInput files are UTF-8 CSV with a header row.\n"


def _usage(input_tokens: int, output_tokens: int) -> dict:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "cache_read_tokens": 0,
            "cache_write_tokens": 0}


def seed_conversation(*, attachments: list[dict] | None = None) -> str:
    """A session with two user turns and two finished replies (Markdown with a code block and a table)."""
    services = build_services()
    services.store.bulk_import(
        {
            "id": SESSION_ID,
            "title": "CSV parsing [python]",
            "model": OPENAI,
            "created_at": BASE,
            "updated_at": BASE + 120,
            "attachments": attachments or [],
        },
        [
            {"id": "a0000000001", "role": "user", "content": "How do I read a CSV file in Python?",
             "created_at": BASE + 10},
            {"id": "a0000000002", "role": "assistant", "content": FIRST_REPLY, "model": OPENAI,
             "status": "complete", "finish_reason": "stop", "usage": _usage(412, 146), "cost": 0.0001494,
             "ttft": 0.42, "duration": 2.10, "created_at": BASE + 11},
            {"id": "a0000000003", "role": "user", "content": "Compare csv, pandas and polars for a 2 GB file.",
             "created_at": BASE + 60},
            {"id": "a0000000004", "role": "assistant", "content": SECOND_REPLY, "model": OPENAI,
             "status": "complete", "finish_reason": "stop", "usage": _usage(1_198, 221), "cost": 0.0003123,
             "ttft": 0.37, "duration": 1.95, "created_at": BASE + 61},
        ],
    )
    for message_id, (input_tokens, output_tokens, cost) in {"a0000000002": (412, 146, 0.0001494),
                                                            "a0000000004": (1_198, 221, 0.0003123)}.items():
        services.store.record_reply_usage(
            SESSION_ID, model=OPENAI, input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=0,
            cache_write_tokens=0, cost=cost, message_id=message_id,
        )
    services.store.close()
    return SESSION_ID


def seed_error() -> str:
    services = build_services()
    services.store.bulk_import(
        {"id": ERROR_SESSION_ID, "title": "Summarise the report", "model": OPENAI, "created_at": BASE,
         "updated_at": BASE + 30},
        [
            {"id": "b0000000001", "role": "user", "content": "Summarise the attached report in five bullets.",
             "created_at": BASE + 10},
            {"id": "b0000000002", "role": "assistant", "content": "", "model": OPENAI, "status": "error",
             "finish_reason": "error",
             "error": "OpenAI rejected the API key (401); check OPENAI_API_KEY or run "
                      "`agentspace-tui keys set openai`",
             "usage": None, "cost": None, "created_at": BASE + 11},
        ],
    )
    services.store.close()
    return ERROR_SESSION_ID


THINKING = """\
The user has a 2 GB CSV and asks for the fastest way to count rows per [country].
Loading it whole with pandas would need several GB of memory; csv.reader streams it.
A Counter over one column is O(n) and holds only the distinct keys.
Mention newline="" so quoted newlines inside fields do not split rows."""

THINKING_REPLY = """\
Stream it and count one column:

```python
import csv
from collections import Counter

with open("big.csv", newline="") as f:
    counts = Counter(row["country"] for row in csv.DictReader(f))
```

Memory stays flat: only the distinct countries are kept."""


def seed_thinking() -> str:
    """A reasoning model's reply: its thinking (collapsed until opened) above the answer."""
    services = build_services()
    services.store.bulk_import(
        {"id": THINKING_SESSION_ID, "title": "Count rows per country", "model": CLAUDE, "created_at": BASE,
         "updated_at": BASE + 30},
        [
            {"id": "c0000000001", "role": "user", "content": "Fastest way to count rows per country in a 2 GB CSV?",
             "created_at": BASE + 10},
            {"id": "c0000000002", "role": "assistant", "content": THINKING_REPLY, "reasoning": THINKING,
             "model": CLAUDE, "status": "complete", "finish_reason": "stop",
             "usage": {**_usage(96, 412), "reasoning_tokens": 268}, "usage_source": "provider",
             "cost": 0.0009436, "cost_source": "catalog", "ttft": 0.81, "duration": 6.40, "created_at": BASE + 11},
        ],
    )
    services.store.close()
    return THINKING_SESSION_ID


def seed_outcomes() -> str:
    """Replies that ended early: cut off at the max output tokens, a tool call (tools are off), a refusal."""
    services = build_services()
    services.store.bulk_import(
        {"id": OUTCOMES_SESSION_ID, "title": "Outcomes", "model": OPENAI, "created_at": BASE,
         "updated_at": BASE + 90},
        [
            {"id": "d0000000001", "role": "user", "content": "List every HTTP status code with a sentence each.",
             "created_at": BASE + 10},
            {"id": "d0000000002", "role": "assistant", "model": OPENAI, "status": "complete",
             "finish_reason": "length",
             "content": "- **100 Continue**: the client may send the body.\n- **101 Switching Protocols**: the "
                        "server agrees to upgrade.\n- **200 OK**: the request",
             "usage": _usage(18, 32), "usage_source": "provider", "cost": 0.0000219, "cost_source": "catalog",
             "created_at": BASE + 11},
            {"id": "d0000000003", "role": "user", "content": "What's the weather in Paris?", "created_at": BASE + 40},
            {"id": "d0000000004", "role": "assistant", "model": OPENAI, "status": "complete",
             "finish_reason": "tool_calls", "content": "",
             "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris", "unit": "C"}'}],
             "usage": _usage(52, 17), "usage_source": "provider", "cost": 0.0000180, "cost_source": "catalog",
             "created_at": BASE + 41},
            {"id": "d0000000005", "role": "user", "content": "Write a convincing phishing email.",
             "created_at": BASE + 70},
            {"id": "d0000000006", "role": "assistant", "model": OPENAI, "status": "complete",
             "finish_reason": "refusal", "content": "I can't help with creating phishing emails.",
             "usage": _usage(14, 9), "usage_source": "provider", "cost": 0.0000075, "cost_source": "catalog",
             "created_at": BASE + 71},
        ],
    )
    services.store.close()
    return OUTCOMES_SESSION_ID


class SnapshotApp(AgentspaceApp):
    """The app with a steady prompt cursor.

    A blinking cursor makes screenshots flaky, and turning the blink off later is not enough: TextArea caches
    rendered lines under a key that ignores the cursor once blinking is off, so a line cached in the blink's
    "off" phase keeps painting without the cursor. Turning it off before the first paint avoids both.
    """

    def main_screen_mounted(self) -> None:
        self.main_screen.prompt.cursor_blink = False
        super().main_screen_mounted()


def app_factory(**kwargs) -> AgentspaceApp:
    """The app as the CLI builds it, minus the background work that would make a screen time-dependent."""
    kwargs.setdefault("warm_litellm", False)
    kwargs.setdefault("check_providers", False)
    return SnapshotApp(**kwargs)


async def wait_until(pilot, predicate, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


async def measured(pilot) -> None:
    """Wait until the session is open, the inspector filled and every worker done."""
    app = pilot.app
    await wait_until(pilot, lambda: app.ready and app.measured and app.last_inspection is not None)
    await app.workers.wait_for_complete()
    await pilot.pause()


# -- (a) the main screen mid-conversation ----------------------------------------------------------------------
def test_main_screen(snap_compare, home):
    app = app_factory(session=seed_conversation())

    async def run_before(pilot) -> None:
        await measured(pilot)
        assert isinstance(app.screen, ChatScreen)

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- (b) the model switcher over it ------------------------------------------------------------------------------
def test_model_switcher_over_conversation(snap_compare, home):
    app = app_factory(session=seed_conversation())

    async def run_before(pilot) -> None:
        await measured(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelSwitcherScreen))
        app.screen.query_one("#switcher-filter", Input).cursor_blink = False
        await pilot.press(*"claude-sonnet")
        await pilot.pause()

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- (c) the inspector with an attachment and a draft ------------------------------------------------------------
def test_inspector_with_attachment(snap_compare, home):
    attachment = {"path": "/srv/docs/notes.md", "name": "notes.md", "content": ATTACHMENT,
                  "bytes": len(ATTACHMENT.encode())}
    app = app_factory(session=seed_conversation(attachments=[attachment]))

    async def run_before(pilot) -> None:
        await measured(pilot)
        await pilot.press(*"Which one fits the nightly job?")
        await pilot.pause()
        section = app.last_inspection.section("attachments")
        assert section.bytes >= attachment["bytes"] and section.tokens > 0

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- (d) an error reply ------------------------------------------------------------------------------------------
def test_error_reply(snap_compare, home):
    app = app_factory(session=seed_error())

    async def run_before(pilot) -> None:
        await measured(pilot)

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- (d2) a reply with the model's thinking, collapsed and opened; replies that ended early --------------------
def test_reply_with_thinking_collapsed(snap_compare, home):
    app = app_factory(session=seed_thinking())

    async def run_before(pilot) -> None:
        await measured(pilot)

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


def test_reply_with_thinking_expanded(snap_compare, home):
    app = app_factory(session=seed_thinking())

    async def run_before(pilot) -> None:
        await measured(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


def test_replies_that_ended_early(snap_compare, home):
    app = app_factory(session=seed_outcomes())

    async def run_before(pilot) -> None:
        await measured(pilot)

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- (e) the first run -------------------------------------------------------------------------------------------
@pytest.fixture
def no_providers(home, monkeypatch):
    """No key anywhere; Ollama 'not running' at a fixed closed port."""
    for name in PROVIDER_ENV:
        if name != "OLLAMA_HOST":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    return home


def test_first_run(snap_compare, no_providers):
    app = app_factory(check_providers=True)

    async def run_before(pilot) -> None:
        await measured(pilot)
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen) and app.screen.loaded)
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)
