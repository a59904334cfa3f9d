"""Pilot tests of the whole app: real services, real store, real litellm streaming from the loopback server.

Nothing is mocked: every reply travels AgentspaceApp -> ChatService -> litellm -> HTTP -> tests/fakeserver.py.
The first request of the process imports litellm (~3-4 s), so waits are generous polls, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from textual.app import App
from textual.command import CommandPalette
from textual.widgets import Button, Input, OptionList, Static

from agentspace_tui.services.core import build_services
from agentspace_tui.ui.app import AgentspaceApp, ChatScreen
from agentspace_tui.ui.screens.first_run import CONTINUE_ID, KeysScreen
from agentspace_tui.ui.screens.model_switcher import ModelSwitcherScreen
from agentspace_tui.ui.screens.sessions import ConfirmScreen, SessionsScreen
from agentspace_tui.ui.widgets.conversation import NoticeBlock, ReplyBlock, UserBlock
from tests.conftest import OPENAI_KEY
from tests.fakeserver import Reply

SIZE = (140, 45)
OPENAI = "openai:gpt-4o-mini"
CLAUDE = "anthropic:claude-sonnet-4-5"
CHAT_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"

CODE = "def hello(name):\n    return f'hi {name}'\n"
MARKDOWN_REPLY = (
    "# Release plan\n\n"
    "Steps for the [beta] release, with [bold]no markup[/bold] parsed:\n\n"
    "- write the changelog\n"
    "- tag the version\n\n"
    f"```python\n{CODE}```\n\n"
    "| step | owner |\n"
    "|------|-------|\n"
    "| tag | alice |\n"
    "| ship | bob |\n\n"
    "That is all [done]."
)


# -- helpers -------------------------------------------------------------------------------------------------
def make_app(**kwargs) -> AgentspaceApp:
    kwargs.setdefault("check_providers", False)
    return AgentspaceApp(**kwargs)


async def until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll ``predicate`` while the app runs on the same loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


async def started(pilot, *, measured: bool = False) -> AgentspaceApp:
    app = pilot.app
    await until(lambda: app.ready, what="the session to open")
    if measured:
        await until(lambda: app.measured and app.last_inspection is not None, what="the first measurement")
    await pilot.pause()
    return app


def screen_text(app: App) -> str:
    """The screen as plain text (what a user sees)."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def plain(widget: Static) -> str:
    """The text a Static displays (after any markup parsing: model and user text must come out verbatim)."""
    return str(widget.visual)


def replies(app: AgentspaceApp) -> list[ReplyBlock]:
    return list(app.main_screen.conversation.query(ReplyBlock))


def notices(app: AgentspaceApp) -> list[str]:
    return [plain(n) for n in app.main_screen.conversation.query(NoticeBlock)]


def title_bar(app: AgentspaceApp) -> str:
    return plain(app.main_screen.title_bar)


def footer(app: AgentspaceApp) -> str:
    return plain(app.main_screen.cost_footer)


def summary(block: ReplyBlock) -> str:
    return plain(block.query_one(".reply-summary", Static))


def header(block: ReplyBlock) -> str:
    return plain(block.query_one(".reply-header", Static))


def inspector_text(app: AgentspaceApp) -> str:
    body = app.main_screen.sidebar.query_one("#inspector-body", Static)
    console = Console(width=60, file=io.StringIO(), record=True)
    console.print(body.content)
    return console.export_text()


def toasts(app: AgentspaceApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def idle(app: AgentspaceApp) -> bool:
    return app.reply_worker is not None and app.reply_worker.is_finished and app.current_reply is None


async def send(pilot, text: str) -> None:
    """Put ``text`` in the prompt and press Enter, as a paste followed by Enter would."""
    prompt = pilot.app.main_screen.prompt
    prompt.focus()
    prompt.text = text
    await pilot.press("enter")


async def send_and_wait(pilot, text: str, *, status: str | None = "complete", timeout: float = 30.0) -> ReplyBlock:
    app = pilot.app
    before = len(replies(app))
    await send(pilot, text)
    await until(lambda: len(replies(app)) > before, timeout, "the reply block")
    await until(lambda: idle(app), timeout, "the reply to end")
    await pilot.pause()
    block = replies(app)[-1]
    if status is not None:
        assert block.message.get("status") == status, (block.message.get("status"), block.message.get("error"))
    return block


async def command(pilot, line: str) -> None:
    await send(pilot, line)
    await pilot.pause()


def stored(app: AgentspaceApp, session_id: str | None = None) -> list[dict]:
    return app.services.store.get_messages(session_id or app.session["id"])


def no_retries(home: Path, **extra: str) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    lines = ["max_retries = 0", "request_timeout = 10"] + [f"{k} = {v}" for k, v in extra.items()]
    (home / "config" / "config.toml").write_text("\n".join(lines) + "\n")


# -- 1. send and stream --------------------------------------------------------------------------------------
async def test_send_streams_markdown_and_records_everything(home, llm):
    # one word per chunk: long enough a stream (~1.5 s) to watch it grow
    chunks = re.findall(r"\S+\s*|\s+", MARKDOWN_REPLY)
    assert "".join(chunks) == MARKDOWN_REPLY
    llm.script(Reply(chunks=chunks, delay=0.02))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        prompt = app.main_screen.prompt
        assert app.focused is prompt
        await pilot.press(*"Plan it")
        assert prompt.text == "Plan it"
        prompt.text = "Plan it [now] with [b]care[/b]: the release"  # the rest as a paste (brackets are plain text)
        # the pilot's press waits for the screen to go idle, which a streaming reply may not do before it
        # ends: press in a task and watch the reply grow meanwhile
        press = asyncio.create_task(pilot.press("enter"))
        await until(lambda: replies(app), what="the reply to start")
        block = replies(app)[0]
        seen: list[tuple[bool, int]] = []

        shown_mid_stream: list[bool] = []

        def ended() -> bool:
            seen.append((block.streaming, len(block.text)))
            if block.streaming and 60 < len(block.text) < len(MARKDOWN_REPLY) - 60 and not shown_mid_stream:
                shown_mid_stream.append("Release plan" in screen_text(app) and "streaming" in header(block))
            return idle(app)

        await until(ended, what="the reply to end")
        await press
        await pilot.pause()
        # it was seen streaming, growing chunk by chunk, and painted while it grew
        growing = [n for streaming, n in seen if streaming]
        assert len(set(growing)) >= 3, seen
        assert shown_mid_stream == [True]

        assert not block.streaming and block.message["status"] == "complete"
        assert block.chunks >= 10  # it arrived in pieces, not in one go
        assert block.message["content"] == MARKDOWN_REPLY
        text = screen_text(app)
        for shown in ("Release plan", "[beta]", "[bold]no markup[/bold]", "write the changelog",
                      "def hello(name):", "return f'hi {name}'", "alice", "bob", "[done]",
                      "Plan it [now] with [b]care[/b]: the release"):
            assert shown in text, shown
        assert "```" not in text and "|------|" not in text  # rendered, not raw
        assert [plain(u) for u in app.main_screen.conversation.query(UserBlock)] == ["Plan it [now] with [b]care[/b]: the release"]
        # the summary names the model and the cost
        line = summary(block)
        assert OPENAI in line and "$" in line and " in / " in line
        assert OPENAI in header(block)
        # the store has both messages
        messages = stored(app)
        assert [(m["role"], m["content"]) for m in messages] == [
            ("user", "Plan it [now] with [b]care[/b]: the release"), ("assistant", MARKDOWN_REPLY)]
        assert messages[1]["status"] == "complete" and messages[1]["model"] == OPENAI
        assert messages[1]["cost"] is not None and messages[1]["cost"] > 0
        # the footer shows the session's cost once the usage is re-read
        await until(lambda: "(1 req)" in footer(app).split("│")[1], what="the session cost in the footer")
        assert "session $" in footer(app)
        assert "(1 req)" in footer(app).split("│")[2] and "today $" in footer(app)
        # the inspector now counts the exchange as history
        await until(lambda: app.last_inspection.history_messages == 2, what="the history in the inspector")
        assert app.last_inspection.section("history").tokens > 0
        # the request went to OpenAI with the prompt
        assert llm.requests_to(CHAT_PATH)[-1].messages[-1] == ("user", "Plan it [now] with [b]care[/b]: the release")
        # prompt empty and focused; Up recalls the sent prompt
        assert prompt.text == "" and app.focused is prompt
        await pilot.press("up")
        assert prompt.text == "Plan it [now] with [b]care[/b]: the release"
        await pilot.press("down")
        assert prompt.text == ""


# -- 2. cancel -----------------------------------------------------------------------------------------------
async def test_escape_cancels_and_keeps_partial(home, llm):
    words = [f"word{i}" for i in range(300)]
    full = " ".join(words)
    llm.script(Reply(text=full, delay=0.05))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send(pilot, "write a lot")
        await until(lambda: app.current_reply is not None and app.current_reply.chunks >= 4, what="some chunks")
        block = app.current_reply
        # a second send while streaming is refused and the draft stays in the prompt
        prompt = app.main_screen.prompt
        prompt.text = "impatient follow-up"
        await pilot.press("enter")
        assert prompt.text == "impatient follow-up"
        assert any("still streaming" in t for t in toasts(app))
        assert len(llm.requests_to(CHAT_PATH)) == 1 and block.streaming
        # so is starting a new session
        await pilot.press("ctrl+n")
        assert app.session is not None and block in replies(app)
        prompt.text = ""
        await pilot.press("escape")
        await until(lambda: idle(app), what="the cancel to finish")
        await pilot.pause()
        assert block.message["status"] == "cancelled"
        reply = stored(app)[-1]
        assert reply["status"] == "cancelled"
        assert reply["content"] and full.startswith(reply["content"]) and len(reply["content"]) < len(full)
        assert block.message["content"] == reply["content"]
        text = screen_text(app)
        assert "cancelled" in text and "word0 word1" in text
        # still usable
        second = await send_and_wait(pilot, "and now something short")
        assert second.message["content"] == "Hello from the fake server."
        assert [m["status"] for m in stored(app) if m["role"] == "assistant"] == ["cancelled", "complete"]
        # the second request carried the partial reply as history
        sent = llm.requests_to(CHAT_PATH)[-1].messages
        assert ("assistant", reply["content"]) in sent


async def test_escape_before_the_first_chunk(home, llm):
    llm.script(Reply(text="too late", first_delay=5))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send(pilot, "are you slow?")
        await until(lambda: app.current_reply is not None, what="the reply block")
        block = app.current_reply
        await until(lambda: llm.requests_to(CHAT_PATH), what="the request")
        await pilot.press("escape")
        await until(lambda: idle(app), timeout=10, what="the cancel to finish")
        await pilot.pause()
        assert block.message["status"] == "cancelled" and not block.streaming
        assert stored(app)[-1]["status"] == "cancelled" and stored(app)[-1]["content"] == ""
        assert "cancelled" in screen_text(app)
        await send_and_wait(pilot, "second try")


# -- 3. switching models -------------------------------------------------------------------------------------
async def test_switch_model_mid_conversation(home, llm):
    llm.script(Reply(text="first answer"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.model.id == OPENAI and OPENAI in title_bar(app)
        first = await send_and_wait(pilot, "first question")
        await pilot.press("ctrl+o")
        await until(lambda: isinstance(app.screen, ModelSwitcherScreen), what="the switcher")
        await pilot.press(*"claude-sonnet-4-5")
        await pilot.pause()
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ChatScreen), what="the switcher to close")
        assert app.model.id == CLAUDE
        assert CLAUDE in title_bar(app)
        llm.script(Reply(text="second answer"))
        second = await send_and_wait(pilot, "second question")
        body = [m for m in llm.requests_to(ANTHROPIC_PATH)[-1].messages if m[0] != "system"]
        assert body == [("user", "first question"), ("assistant", "first answer"), ("user", "second question")]
        assert first.message["model"] == OPENAI and second.message["model"] == CLAUDE
        assert OPENAI in summary(first) and CLAUDE in summary(second)
        assert [m.get("model") for m in stored(app) if m["role"] == "assistant"] == [OPENAI, CLAUDE]
        assert app.services.store.get_session(app.session["id"])["model"] == CLAUDE

        # /model in the prompt switches too
        await command(pilot, "/model gpt-4o")
        assert app.model.id == "openai:gpt-4o"
        assert "openai:gpt-4o" in title_bar(app) and CLAUDE not in title_bar(app)
        assert app.main_screen.prompt.text == ""


async def test_switch_during_stream_applies_to_next_request(home, llm):
    slow = " ".join(f"tok{i}" for i in range(150))
    llm.script(Reply(text=slow, delay=0.03), Reply(text="from claude"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send(pilot, "slow one")
        await until(lambda: app.current_reply is not None and app.current_reply.chunks >= 2, what="streaming")
        streaming = app.current_reply
        await command(pilot, f"/model {CLAUDE}")
        assert app.model.id == CLAUDE
        assert app.current_reply is streaming and streaming.streaming  # the stream goes on
        assert any("applies to the next request" in t for t in toasts(app))
        await until(lambda: idle(app), what="the slow reply to end")
        assert streaming.message["status"] == "complete" and streaming.message["model"] == OPENAI
        assert streaming.message["content"] == slow
        assert len(llm.requests_to(CHAT_PATH)) == 1 and not llm.requests_to(ANTHROPIC_PATH)
        nxt = await send_and_wait(pilot, "next one")
        assert nxt.message["model"] == CLAUDE
        assert len(llm.requests_to(ANTHROPIC_PATH)) == 1
        assert [m.get("model") for m in stored(app) if m["role"] == "assistant"] == [OPENAI, CLAUDE]


# -- 4. inspector --------------------------------------------------------------------------------------------
async def test_inspector_follows_draft_model_and_attachments(home, llm, tmp_path):
    app = make_app(warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        assert app.main_screen.sidebar.display
        first = app.last_inspection
        draft_tokens = first.section("user_message").tokens
        before = inspector_text(app)
        await pilot.press(*"how many tokens is this draft")
        await pilot.pause()
        grown = app.last_inspection
        assert grown.section("user_message").tokens > draft_tokens
        assert grown.total.tokens > first.total.tokens
        assert inspector_text(app) != before
        await pilot.press("space", *"more")
        await pilot.pause()
        assert app.last_inspection.section("user_message").tokens > grown.section("user_message").tokens

        # a model switch re-measures at once (window and price differ)
        openai_insp = app.last_inspection
        assert openai_insp.context_window == 128000 and openai_insp.model == OPENAI
        openai_text = inspector_text(app)
        await pilot.press("ctrl+o")
        await until(lambda: isinstance(app.screen, ModelSwitcherScreen), what="the switcher")
        await pilot.press(*"claude-sonnet-4-5", "enter")
        await until(lambda: isinstance(app.screen, ChatScreen), what="the switcher to close")
        claude_insp = app.last_inspection
        assert claude_insp.model == CLAUDE and claude_insp.context_window == 200000
        assert claude_insp.total.cost != openai_insp.total.cost
        assert inspector_text(app) != openai_text and "200k" in inspector_text(app)
        assert app.main_screen.prompt.text == "how many tokens is this draft more"  # the draft survived

        # attach a text file
        notes = tmp_path / "notes.txt"
        data = ("Pinned facts: the launch is on Tuesday.\n" * 40).encode()
        notes.write_bytes(data)
        app.main_screen.prompt.text = ""
        await command(pilot, f"/attach {notes}")
        await until(lambda: app.last_inspection.section("attachments").bytes > 0, what="the attachment")
        att = app.last_inspection.section("attachments")
        assert att.bytes >= len(data) and att.tokens > 0
        assert app.session["attachments"][0]["bytes"] == len(data)
        assert "notes.txt" in inspector_text(app) and "Attachments" in inspector_text(app)
        assert any(f"attached notes.txt ({len(data)} bytes)" in n for n in notices(app))
        stored_session = app.services.store.get_session(app.session["id"])
        assert [a["name"] for a in stored_session["attachments"]] == ["notes.txt"]

        # a binary file and a big file are refused, nothing is attached
        binary = tmp_path / "blob.bin"
        binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
        await command(pilot, f"/attach {binary}")
        await until(lambda: any("blob.bin" in n for n in notices(app)), what="the refusal")
        assert any("binary" in n for n in notices(app) if "blob.bin" in n)
        big = tmp_path / "big.txt"
        big.write_bytes(b"x" * (300 * 1024))
        await command(pilot, f"/attach {big}")
        await until(lambda: any("big.txt" in n for n in notices(app)), what="the refusal")
        assert any("256 KB" in n for n in notices(app) if "big.txt" in n)
        await pilot.pause()
        assert [a["name"] for a in app.session["attachments"]] == ["notes.txt"]
        assert [a["name"] for a in app.services.store.get_session(app.session["id"])["attachments"]] == ["notes.txt"]
        assert app.last_inspection.section("attachments").bytes == att.bytes
        text = screen_text(app)
        assert "binary" in text and "256 KB" in text


# -- 5. errors -----------------------------------------------------------------------------------------------
ERRORS = [
    (Reply(kind="status", status=401), "error", ["rejected the API key", "OPENAI_API_KEY"]),
    (Reply(kind="status", status=500), "error", ["server error"]),
    (Reply(kind="status", status=400, error_type="context_length_exceeded",
           error_message="This model's maximum context length is 128000 tokens"), "error", ["context window"]),
    (Reply(kind="cutoff", cut_after=2, text="one two three four five six seven eight nine"), "interrupted",
     ["before the reply was complete"]),
    # an error the provider stated mid-stream ends the reply as "error" (a stream that just stops: "interrupted")
    (Reply(kind="error_event", cut_after=2, text="alpha beta gamma delta epsilon zeta eta theta iota"),
     "error", ["partial reply was kept"]),
]


async def test_error_replies_are_shown_and_app_survives(home, llm):
    no_retries(home)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        for i, (reply, status, phrases) in enumerate(ERRORS):
            llm.script(reply)
            block = await send_and_wait(pilot, f"attempt {i}", status=status)
            error = block.message.get("error") or ""
            for phrase in phrases:
                assert phrase in error, (phrase, error)
            assert OPENAI_KEY not in error
            assert error.splitlines()[0] in summary(block)
            label = "error" if status == "error" else "interrupted"
            assert label in header(block)
            assert block.has_class(f"-{status}")
            text = screen_text(app)
            assert phrases[0] in " ".join(text.split()), phrases[0]
            if reply.kind in ("cutoff", "error_event"):  # what arrived before the break is kept
                partial = "".join(reply.chunk_list()[: reply.cut_after])
                assert block.message["content"] == partial
                assert partial.split()[0] in text
                assert stored(app)[-1]["content"] == partial
            assert stored(app)[-1]["status"] == status
            assert app.is_running and app.return_code is None
            assert app.main_screen.prompt.text == ""
        # after all of that, a normal send still works
        llm.script(Reply(text="all good now"))
        ok = await send_and_wait(pilot, "are you there?")
        assert ok.message["content"] == "all good now"
        assert len(stored(app)) == 2 * (len(ERRORS) + 1)


async def test_rate_limit_retry_note_then_success(home, llm):
    llm.script(Reply(kind="status", status=429, retry_after=0.5), Reply(text="after the wait", delay=0.02))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send(pilot, "hello")
        await until(lambda: app.current_reply is not None, what="the reply block")
        block = app.current_reply
        await until(lambda: "retry 1/2" in summary(block) or idle(app), what="the retry note")
        note = summary(block)
        assert "rate limit" in note and "retry 1/2 in 0.5 s" in note
        assert "retry 1/2" in screen_text(app)
        await until(lambda: idle(app), what="the reply to end")
        await pilot.pause()
        assert block.message["status"] == "complete" and block.message["content"] == "after the wait"
        assert "retry" not in summary(block) and OPENAI in summary(block)
        assert len(llm.requests_to(CHAT_PATH)) == 2


async def test_missing_key_restores_draft_and_stores_nothing(home, llm, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    app = make_app(warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert "no key" in title_bar(app)
        draft = "a long and precious draft\nwith two lines"
        await send(pilot, draft)
        await until(lambda: idle(app), what="the send to fail")
        await until(lambda: notices(app), what="the notice")
        await pilot.pause()
        assert any("OPENAI_API_KEY" in n for n in notices(app))
        assert "OPENAI_API_KEY" in screen_text(app)
        assert app.main_screen.prompt.text == draft  # nothing lost
        assert app.services.store.list_sessions() == []
        assert app.session is None and replies(app) == [] and not list(app.main_screen.conversation.query(UserBlock))
        assert llm.requests_to(CHAT_PATH) == []
        assert app.is_running


async def test_unknown_model_suggests(home, llm):
    app = make_app(warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await command(pilot, "/model nosuch-model")
        await until(lambda: notices(app), what="the notice")
        assert any("nosuch-model" in n for n in notices(app))
        await command(pilot, "/model gpt-4o-mni")
        await until(lambda: len(notices(app)) == 2, what="the second notice")
        assert "did you mean" in notices(app)[-1] and "gpt-4o-mini" in notices(app)[-1]
        assert app.model.id == OPENAI and app.is_running
        await command(pilot, "/frobnicate")
        await until(lambda: any("unknown command /frobnicate" in n for n in notices(app)), what="the notice")
        await command(pilot, "/help")
        await until(lambda: any("Ctrl+O switch model" in n for n in notices(app)), what="the help")


async def test_double_slash_sends_a_leading_slash(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send_and_wait(pilot, "//etc/hosts is the file")
        assert stored(app)[0]["content"] == "/etc/hosts is the file"
        assert llm.requests_to(CHAT_PATH)[-1].messages[-1] == ("user", "/etc/hosts is the file")


async def test_unknown_price_is_never_shown_as_zero(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        await command(pilot, "/model openai:my-custom-finetune")
        assert app.model.id == "openai:my-custom-finetune"
        assert "price unknown" in inspector_text(app) and "window size unknown" in inspector_text(app)
        block = await send_and_wait(pilot, "hello")
        assert stored(app)[-1]["cost"] is None
        assert "unknown" in summary(block) and "$0 " not in summary(block) + " "
        await until(lambda: "session unknown (1 req)" in footer(app), what="the footer")
        assert "$0 " not in footer(app) + " "


# -- 6. sessions ---------------------------------------------------------------------------------------------
async def test_sessions_switch_rename_delete(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        llm.script(Reply(text="answer in the first"))
        await send_and_wait(pilot, "question in the first session")
        first_id = app.session["id"]
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.session is None and replies(app) == []
        assert "New chat" in title_bar(app)
        await command(pilot, f"/model {CLAUDE}")
        llm.script(Reply(text="answer in the second"))
        await send_and_wait(pilot, "question in the second session")
        second_id = app.session["id"]
        assert second_id != first_id
        assert "question in the second session" in title_bar(app) and CLAUDE in title_bar(app)

        # switch to the first session
        await pilot.press("ctrl+r")
        await until(lambda: isinstance(app.screen, SessionsScreen) and app.screen.loaded, what="the sessions list")
        sessions = app.screen
        ids = [o.id for o in sessions.query_one("#sessions-list", OptionList).options]
        assert ids == [second_id, first_id]
        await pilot.press("down", "enter")
        await until(lambda: app.session and app.session["id"] == first_id and isinstance(app.screen, ChatScreen),
                    what="the first session")
        await pilot.pause()
        text = screen_text(app)
        assert "question in the first session" in text and "answer in the first" in text
        assert "second session" not in text
        assert "question in the first session" in title_bar(app)
        assert app.model.id == OPENAI and OPENAI in title_bar(app)  # the session's own model comes back
        assert [m["content"] for m in app.history] == ["question in the first session", "answer in the first"]

        # rename with a slash command
        await command(pilot, "/rename New title")
        await until(lambda: "New title" in title_bar(app), what="the new title")
        assert app.services.store.get_session(first_id)["title"] == "New title"
        # a follow-up goes into the first session, with its history
        await send_and_wait(pilot, "follow up")
        assert app.session["id"] == first_id
        assert [m[1] for m in llm.requests_to(CHAT_PATH)[-1].messages if m[0] != "system"] == [
            "question in the first session", "answer in the first", "follow up"]

        # delete the other session from the sessions screen
        await pilot.press("ctrl+r")
        await until(lambda: isinstance(app.screen, SessionsScreen) and app.screen.loaded, what="the sessions list")
        sessions = app.screen
        option_list = sessions.query_one("#sessions-list", OptionList)
        ids = [o.id for o in option_list.options]
        assert ids == [first_id, second_id]  # most recently updated first
        option_list.highlighted = ids.index(second_id)
        await pilot.press("ctrl+d")
        await until(lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("tab", "enter")
        await until(lambda: app.services.store.get_session(second_id) is None, what="the delete")
        await until(lambda: [o.id for o in option_list.options] == [first_id], what="the list to refresh")
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, ChatScreen), what="the chat screen")
        assert app.session["id"] == first_id  # the open session is untouched
        assert [s["id"] for s in app.services.store.list_sessions()] == [first_id]

        # deleting the open session starts a new chat
        await pilot.press("ctrl+r")
        await until(lambda: isinstance(app.screen, SessionsScreen) and app.screen.loaded, what="the sessions list")
        await pilot.press("ctrl+d")
        await until(lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("ctrl+d")  # the deliberate key again confirms
        await until(lambda: app.services.store.get_session(first_id) is None, what="the delete")
        await pilot.pause()
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, ChatScreen) and app.session is None, what="a new chat")
        assert app.services.store.list_sessions() == []
        assert replies(app) == [] and "New chat" in title_bar(app)


async def test_delete_open_session_while_streaming(home, llm):
    llm.script(Reply(text=" ".join(f"w{i}" for i in range(200)), delay=0.03))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send(pilot, "stream please")
        await until(lambda: app.current_reply is not None and app.current_reply.chunks > 2, what="streaming")
        session_id = app.session["id"]
        await pilot.press("ctrl+r")
        await until(lambda: isinstance(app.screen, SessionsScreen) and app.screen.loaded, what="the sessions list")
        await pilot.press("ctrl+d")
        # the delete is refused while the session streams: no confirmation, the session stays
        await until(lambda: "cancel it first" in screen_text(app), timeout=5, what="the refusal")
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.services.store.get_session(session_id) is not None
        await pilot.press("escape")
        await until(lambda: idle(app), timeout=30, what="the stream to end")
        await pilot.pause()
        assert not any(block.streaming for block in replies(app)), "a reply is stuck in 'streaming…'"
        assert not any("failed: StorageError" in n for n in notices(app)), notices(app)


async def test_first_send_titles_a_session_made_by_attach(home, llm, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("some pinned notes\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await command(pilot, f"/attach {notes}")
        await until(lambda: app.session is not None, what="the session")
        await send_and_wait(pilot, "Summarise my notes")
        assert app.services.store.get_session(app.session["id"])["title"] == "Summarise my notes"
        assert "Summarise my notes" in title_bar(app)


# -- 7. first run --------------------------------------------------------------------------------------------
FIRST_RUN_KEY = "sk-first-run-TOPSECRET-0011223344"


async def test_first_run_asks_for_a_key_then_sends_with_it(home, llm, memkeyring, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    app = make_app(check_providers=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, KeysScreen) and app.screen.loaded, what="the keys screen")
        keys = app.screen
        assert keys.first_run and "Welcome to agentspace-tui" in screen_text(app)
        key_list = keys.query_one("#keys-list", OptionList)
        key_list.highlighted = [o.id for o in key_list.options].index("openai")
        await pilot.press("enter")
        key_input = keys.query_one("#keys-input", Input)
        await until(lambda: key_input.has_focus, what="the key input")
        await pilot.press(*FIRST_RUN_KEY)
        assert FIRST_RUN_KEY not in screen_text(app)
        await pilot.press("enter")
        await until(lambda: "Stored the OpenAI key" in screen_text(app), what="the key to be stored")
        assert memkeyring.store == {("agentspace-tui", "openai"): FIRST_RUN_KEY}
        assert FIRST_RUN_KEY not in screen_text(app)
        assert key_list.highlighted_option.id == CONTINUE_ID
        await pilot.press("enter")  # Continue
        await until(lambda: isinstance(app.screen, ChatScreen), what="the chat screen")
        await pilot.pause()
        assert "no key" not in title_bar(app)
        await send_and_wait(pilot, "hello with my new key")
        request = llm.requests_to(CHAT_PATH)[-1]
        assert request.headers.get("authorization") == f"Bearer {FIRST_RUN_KEY}"
        assert FIRST_RUN_KEY not in screen_text(app)
    for path in home.rglob("*"):
        if path.is_file():
            assert FIRST_RUN_KEY.encode() not in path.read_bytes(), path


async def test_no_keys_screen_when_a_key_is_set(home, llm):
    app = make_app(check_providers=True, warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)


# -- 8. export -----------------------------------------------------------------------------------------------
async def test_export_names_each_model(home, llm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    llm.script(Reply(text="from gpt"), Reply(text="from claude"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await command(pilot, "/export")
        assert any("nothing to export" in n for n in notices(app))
        await send_and_wait(pilot, "Export me please")
        await command(pilot, f"/model {CLAUDE}")
        await send_and_wait(pilot, "and again")
        target = tmp_path / "out" / "conversation.md"
        target.parent.mkdir()
        await command(pilot, f"/export {target}")
        await until(lambda: any(f"exported to {target}" in n for n in notices(app)), what="the export")
        text = target.read_text(encoding="utf-8")
        assert f"## Assistant ({OPENAI})" in text and f"## Assistant ({CLAUDE})" in text
        assert text.index("from gpt") < text.index("from claude")
        assert "# Export me please" in text
        await command(pilot, "/export")
        await until(lambda: len([n for n in notices(app) if "exported to" in n]) == 2, what="the second export")
        written = list(tmp_path.glob("*.md"))
        assert len(written) == 1 and app.session["id"] in written[0].name
        assert written[0].name.startswith("export-me-please")
        assert f"## Assistant ({CLAUDE})" in written[0].read_text(encoding="utf-8")


# -- 9. small terminal ---------------------------------------------------------------------------------------
async def test_resize_hides_inspector_and_toggle_brings_it_back(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        sidebar = app.main_screen.sidebar
        assert sidebar.display
        await pilot.resize_terminal(80, 24)
        await until(lambda: app.size.width == 80, what="the resize")
        await pilot.pause()
        assert not sidebar.display
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert sidebar.display and sidebar.region.width > 0
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert not sidebar.display
        prompt = app.main_screen.prompt
        assert app.focused is prompt and prompt.region.width > 40
        await pilot.press(*"small")
        assert prompt.text == "small"
        block = await send_and_wait(pilot, "small screen works")
        assert block.message["content"] == "Hello from the fake server."
        assert "Hello from the fake server." in screen_text(app)
        # once toggled by hand, a resize no longer overrides the choice
        await pilot.resize_terminal(140, 45)
        await until(lambda: app.size.width == 140, what="the resize")
        await pilot.pause()
        assert not sidebar.display


async def test_starts_small_without_inspector(home, llm):
    app = make_app(warm_litellm=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, measured=True)
        assert not app.main_screen.sidebar.display
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert app.main_screen.sidebar.display
        assert "Next request" in screen_text(app)


# -- 10. copy ------------------------------------------------------------------------------------------------
async def test_copy_code_block_from_the_prompt(home, llm):
    llm.script(Reply(text=MARKDOWN_REPLY))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send_and_wait(pilot, "give me code")
        prompt = app.main_screen.prompt
        assert app.focused is prompt
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert app.clipboard == CODE
        assert prompt.text == ""


async def test_copy_reply_from_the_prompt(home, llm):
    llm.script(Reply(text=MARKDOWN_REPLY))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send_and_wait(pilot, "give me code")
        assert app.focused is app.main_screen.prompt
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert app.clipboard == MARKDOWN_REPLY


async def test_copy_reply_with_the_prompt_unfocused(home, llm):
    """ctrl+y / ctrl+g when no widget swallows the key: the last reply, the last code block of any reply."""
    two_blocks = "First:\n\n```sh\necho one\n```\n\nThen:\n\n```sh\necho two\n```\n"
    llm.script(Reply(text=MARKDOWN_REPLY), Reply(text=two_blocks), Reply(text="no code here, just [text]"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        app.set_focus(None)
        await pilot.press("ctrl+y")  # nothing to copy yet: a warning, nothing copied
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert app.clipboard == ""
        assert any("no reply to copy" in t for t in toasts(app))
        await send_and_wait(pilot, "give me code")
        await send_and_wait(pilot, "two blocks please")
        await send_and_wait(pilot, "and some text")
        app.set_focus(None)
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert app.clipboard == "no code here, just [text]"
        await pilot.press("ctrl+g")  # the last reply has no code: the last block of the one before
        await pilot.pause()
        assert app.clipboard == "echo two\n"


async def test_ctrl_k_opens_keys_from_the_prompt(home, llm):
    app = make_app(warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        prompt = app.main_screen.prompt
        prompt.text = "keep this draft"
        prompt.move_cursor((0, 4))
        await pilot.press("ctrl+k")
        await pilot.pause()
        assert prompt.text == "keep this draft"
        await until(lambda: isinstance(app.screen, KeysScreen), timeout=5, what="the keys screen")


# -- 11. command palette -------------------------------------------------------------------------------------
async def test_command_palette_lists_our_commands(home, llm):
    app = make_app(warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+p")
        await until(lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"Switch model")
        palette = app.screen

        def prompts() -> list[str]:
            options = palette.query_one(OptionList).options
            return [str(getattr(o.prompt, "plain", o.prompt)) for o in options]

        await until(lambda: any("Switch model" in p for p in prompts()), timeout=10, what="the command")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ModelSwitcherScreen), what="the switcher from the palette")
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, ChatScreen), what="back")
        await pilot.press("ctrl+p")
        await until(lambda: isinstance(app.screen, CommandPalette), what="the palette")
        palette = app.screen
        await pilot.press(*"Copy last code")
        await until(lambda: any("Copy last code block" in p for p in prompts()), timeout=10, what="the command")


# -- 12. long sessions open lazily ---------------------------------------------------------------------------
async def test_long_session_mounts_lazily(home, llm):
    services = build_services()
    messages = []
    for i in range(150):
        messages.append({"role": "user", "content": f"question number {i}", "created_at": 1_700_000_000 + 2 * i})
        messages.append({"role": "assistant", "content": f"answer number {i}\n\n- point {i}", "model": OPENAI,
                         "status": "complete", "created_at": 1_700_000_001 + 2 * i})
    session = services.store.bulk_import({"title": "Long one", "model": OPENAI}, messages)
    services.store.close()
    app = make_app(session=session["id"], warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        conversation = app.main_screen.conversation
        await until(lambda: conversation.query("#load-earlier"), what="the load-earlier button")
        assert len(app.history) == 300
        mounted = len(conversation.query(UserBlock)) + len(conversation.query(ReplyBlock))
        assert 2 <= mounted <= 20
        assert "answer number 149" in screen_text(app)
        button = conversation.query_one("#load-earlier", Button)
        assert str(300 - mounted) in str(button.label)
        button.focus()
        await pilot.press("enter")
        await until(lambda: len(conversation.query(UserBlock)) + len(conversation.query(ReplyBlock)) > mounted,
                    what="more messages")
        more = len(conversation.query(UserBlock)) + len(conversation.query(ReplyBlock))
        assert more <= mounted + 20
        users = [b.message["content"] for b in conversation.query(UserBlock)]
        assert users == sorted(users, key=lambda s: int(s.split()[-1]))  # still in order
        assert str(300 - more) in str(conversation.query_one("#load-earlier", Button).label)
        assert "Long one" in title_bar(app)


# -- large pastes ---------------------------------------------------------------------------------------------
async def test_large_paste_is_kept_aside_measured_and_sent_whole(home, llm):
    from textual import events

    pasted = "\n".join(f"log line {i}: [WARN] something [happened] at {i * 7}" for i in range(20_000))
    llm.script(Reply(text="Looks like a log."))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        prompt = app.main_screen.prompt
        prompt.focus()
        await pilot.press(*"Summarise: ")
        prompt.post_message(events.Paste(pasted))
        await pilot.pause()
        # the prompt shows one placeholder line, not 20,000 lines
        assert prompt.document.line_count == 1
        assert re.search(r"\[pasted #1: 20,000 lines, [\d.]+ MB\]", prompt.text), prompt.text
        # the inspector measures what will really be sent
        await until(lambda: app.last_inspection.section("user_message").bytes > len(pasted), timeout=15,
                    what="the inspector to count the paste")
        # typing after a 1 MB paste stays quick: the text box holds one line
        loop = asyncio.get_running_loop()
        started_at = loop.time()
        await pilot.press(*" please")
        assert loop.time() - started_at < 2.0
        await pilot.press("enter")
        # ~300k tokens do not fit gpt-4o-mini's 128k window: a warning first, the second Enter sends it anyway
        await until(lambda: any("cannot fit" in n for n in notices(app)), what="the too-big warning")
        assert not llm.requests_to(CHAT_PATH)
        await pilot.press("enter")
        await until(lambda: idle(app), timeout=60, what="the reply")
        sent = llm.requests_to(CHAT_PATH)[-1].body["messages"][-1]["content"]
        assert sent == "Summarise: " + pasted + " please"
        assert stored(app)[0]["content"] == sent
        # the conversation shows the head of it and says how much was sent
        user = app.main_screen.conversation.query(UserBlock).last()
        assert "more lines" in plain(user) and "log line 0:" in plain(user)
        assert "log line 19999" not in plain(user)
        # and Up brings the draft back with its paste
        await pilot.press("up")
        assert prompt.expanded_text() == sent


# -- keybindings ----------------------------------------------------------------------------------------------
async def test_keybindings_remapped_in_config(home, llm):
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text('[keybindings]\nswitch_model = "f2"\n')
    app = make_app(warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+o")  # the default key no longer opens it
        await pilot.pause()
        assert not isinstance(app.screen, ModelSwitcherScreen)
        await pilot.press("f2")
        await until(lambda: isinstance(app.screen, ModelSwitcherScreen), timeout=5, what="the switcher on f2")


# -- the model's thinking and replies that end early (end to end; widget-level tests: test_ui_thinking.py) --------
THOUGHT = ("The user wants the [bold]release[/bold] steps.\n"
           "List them in order; keep [b]markup[/b] literal.\n"
           "Then answer briefly.")


async def test_reasoning_streams_into_a_collapsed_thinking_block(home, llm):
    from agentspace_tui.ui.widgets.thinking import ThinkingBlock

    llm.script(Reply(reasoning=THOUGHT, text="Tag, then ship.", delay=0.05))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        press = asyncio.create_task(send(pilot, "How do we release?"))
        await until(lambda: app.current_reply is not None, what="the reply block")
        block = app.current_reply
        # the reasoning arrives first, live, into a collapsed block that counts it; the body is still empty
        seen: list[tuple[int, str]] = []

        def thinking_live() -> bool:
            thinking = block.thinking
            if thinking is not None and thinking.display and block.streaming and not block.text:
                seen.append((thinking.chars, thinking.label))
            return idle(app)

        await until(thinking_live, what="the reply to end")
        await press
        await pilot.pause()
        counts = sorted({n for n, _ in seen})
        assert len(counts) >= 2, seen  # it grew while streaming
        assert all(shown.startswith("▸ Thinking…") for _, shown in seen)
        assert any(f"{n:,} chars" in shown for n, shown in seen)
        # it ends collapsed to one line; the answer alone is the body
        thinking = block.thinking
        assert isinstance(thinking, ThinkingBlock) and not thinking.expanded
        assert thinking.label == f"▸ Thinking · {len(THOUGHT):,} chars"
        assert block.text == "Tag, then ship."
        text = screen_text(app)
        assert "Tag, then ship." in text and "List them in order" not in text
        # stored apart from the answer
        reply = stored(app)[-1]
        assert reply["content"] == "Tag, then ship." and reply["reasoning"] == THOUGHT
        # Ctrl+T from the prompt shows all of it, brackets verbatim; again hides it
        await pilot.press("ctrl+t")
        await pilot.pause()
        text = screen_text(app)
        for line in THOUGHT.splitlines():
            assert line in text, line
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "List them in order" not in screen_text(app)
        # the same session reopened shows the same collapsed block
        session_id = app.session["id"]
        app.action_new_session()
        await pilot.pause()
        app.open_session(session_id)
        await until(lambda: replies(app) and replies(app)[-1].message.get("reasoning") == THOUGHT,
                    what="the session to reopen")
        await pilot.pause()
        reopened = replies(app)[-1].thinking
        assert reopened is not None and reopened.display and not reopened.expanded
        assert reopened.label == f"▸ Thinking · {len(THOUGHT):,} chars"


async def test_truncated_refused_and_tool_call_replies_are_marked(home, llm):
    llm.script(
        Reply(text="Step one, step two, step", finish_reason="length"),
        Reply(refusal="I can't help with [that]."),
        Reply(text="", tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris [FR]"}}]),
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        truncated = await send_and_wait(pilot, "list all the steps")
        assert truncated.message["finish_reason"] == "length"
        assert "truncated: max output tokens reached" in header(truncated) and truncated.has_class("-length")
        refused = await send_and_wait(pilot, "do something bad")
        assert refused.message["finish_reason"] == "refusal"
        assert "refused" in header(refused) and refused.has_class("-refusal")
        assert "I can't help with [that]." in screen_text(app)  # the refusal is the body, verbatim
        tools = await send_and_wait(pilot, "weather in Paris?")
        assert tools.message["finish_reason"] == "tool_calls"
        assert "tool call requested" in header(tools) and tools.has_class("-tool-calls")
        calls = plain(tools.query_one(".reply-tool-calls", Static))
        assert 'get_weather({"city": "Paris [FR]"})' in calls and "no tools are enabled" in calls
        for block in (truncated, refused, tools):
            assert block.thinking is None  # no reasoning, no block


async def test_escape_while_thinking_keeps_the_partial_reasoning(home, llm):
    thought = " ".join(f"thought{i} [x]" for i in range(300))
    llm.script(Reply(reasoning=thought, text="never reached", delay=0.03))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send(pilot, "think hard")
        await until(lambda: app.current_reply is not None and app.current_reply.thinking is not None
                    and app.current_reply.thinking.chars > 40, what="some reasoning")
        block = app.current_reply
        at_escape = block.thinking.chars
        await pilot.press("escape")
        await until(lambda: idle(app), what="the cancel to finish")
        await pilot.pause()
        reply = stored(app)[-1]
        assert reply["status"] == "cancelled" and reply["content"] == "", (at_escape, len(thought), reply)
        assert reply["reasoning"] and thought.startswith(reply["reasoning"]) and len(reply["reasoning"]) < len(thought)
        assert block.thinking is not None and block.thinking.display
        assert block.thinking.label == f"▸ Thinking · {len(reply['reasoning']):,} chars"
        assert "cancelled" in header(block)


async def test_pastes_arrive_once_with_newlines_whatever_the_terminal_sends(home, llm):
    """Terminals send a paste's line breaks as CR or CRLF; a small paste is inserted once, a large one counts
    its lines and is sent without a CR."""
    from textual import events

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        prompt = app.main_screen.prompt
        prompt.focus()
        # a terminal's paste reaches the app, which forwards it to the focused widget
        app.post_message(events.Paste("one\rtwo\r\nthree"))
        await pilot.pause()
        assert prompt.text == "one\ntwo\nthree"
        prompt.clear_draft()
        log = "\r".join(f"log line {i}" for i in range(2_000))
        log += "\r" + "x" * 20_000  # large enough to be kept aside
        app.post_message(events.Paste(log))
        await pilot.pause()
        assert re.search(r"\[pasted #1: 2,001 lines, ", prompt.text), prompt.text
        assert "\r" not in prompt.expanded_text()
