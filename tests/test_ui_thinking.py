"""The model's thinking and the ways a reply can end, in the app.

Two kinds of test: replies reopened from a real store (what a session shows after a restart), and the app's
stream worker fed a scripted sequence of ChatService events, so the UI's handling of ReasoningDelta /
RefusalDelta is checked step by step, each state seen mid-stream. The same paths end to end, through litellm
and the loopback server, are in test_ui_app.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from textual.widgets import Static

from agentspace_tui.providers.events import ReasoningDelta, RefusalDelta, TextDelta
from agentspace_tui.services.chat import ReplyFinished, ReplyStarted
from agentspace_tui.services.core import build_services
from agentspace_tui.ui.app import AgentspaceApp
from agentspace_tui.ui.widgets.conversation import ReplyBlock
from agentspace_tui.ui.widgets.thinking import ThinkingBlock
from tests.test_ui_app import SIZE, header, make_app, notices, plain, replies, screen_text, started, summary, until

MODEL = "openai:gpt-4o-mini"
REASONING = (
    "The user wants a [bold]literal[/bold] answer, not markup.\n"
    "Check the [red]edge[/red] cases: empty input, [link=x]links[/link].\n"
    "Conclusion: answer briefly."
)
ANSWER = "Use `csv.reader`; it streams rows."


def _usage() -> dict:
    return {"input_tokens": 120, "output_tokens": 480, "cache_read_tokens": 0, "cache_write_tokens": 0,
            "reasoning_tokens": 400}


def reply(content: str = ANSWER, **fields) -> dict:
    message = {"role": "assistant", "content": content, "model": MODEL, "status": "complete",
               "finish_reason": "stop", "usage": _usage(), "usage_source": "provider", "cost": 0.0003,
               "cost_source": "catalog", "created_at": time.time()}
    message.update(fields)
    return message


def seed(messages: list[dict]) -> str:
    services = build_services()
    session = services.store.bulk_import({"title": "Thinking", "model": MODEL}, messages)
    services.store.close()
    return session["id"]


def thinking_of(block: ReplyBlock) -> ThinkingBlock:
    assert block.thinking is not None
    return block.thinking


def lines_of(app: AgentspaceApp) -> list[str]:
    """The conversation's lines as shown, each cut after the reply's left border (``│ text``)."""
    out = []
    for line in screen_text(app).splitlines():
        line = line.split("▏")[0].rstrip()  # the inspector's edge
        out.append("│ " + line[3:].strip() if line.startswith(" ▊ ") or line.startswith(" █ ") else line)
    return out


def footer_keys(app: AgentspaceApp) -> str:
    """The key bar at the bottom of the screen."""
    return next((line for line in reversed(screen_text(app).splitlines()) if "^q Quit" in line), "")


# -- scripted chat events ---------------------------------------------------------------------------------------
class ScriptedChat:
    """Stands in for ChatService.send: the test puts events on a queue, ``None`` ends the reply."""

    def __init__(self, app: AgentspaceApp) -> None:
        self.app = app
        self.queue: asyncio.Queue = asyncio.Queue()
        self.final: dict | None = None

    def is_streaming(self, session_id: str) -> bool:
        return False

    async def cancelled_reply(self, session_id: str) -> dict | None:
        return None

    async def send(self, text: str, **kwargs) -> AsyncIterator:
        store = self.app.services.store
        session = store.create_session(title=text, model=MODEL)
        user = {"id": "u1", "role": "user", "content": text, "created_at": time.time()}
        placeholder = {"id": "r1", "role": "assistant", "content": "", "model": MODEL, "status": "streaming"}
        yield ReplyStarted(session, user, placeholder, None, None, None)
        while (event := await self.queue.get()) is not None:
            yield event
        yield ReplyFinished({"id": "r1", **(self.final or reply())}, None)


async def scripted(pilot) -> ScriptedChat:
    app = await started(pilot)
    chat = ScriptedChat(app)
    app.chat = chat
    prompt = app.main_screen.prompt
    prompt.text = "how do I read a CSV?"
    await pilot.press("enter")
    await until(lambda: app.current_reply is not None, what="the reply block")
    return chat


async def test_reasoning_streams_live_into_a_collapsed_block_then_toggles(home):
    app = make_app(warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        chat = await scripted(pilot)
        block = app.current_reply
        thinking = thinking_of(block)
        assert not thinking.display  # nothing yet: no empty "Thinking" line
        assert "^q Quit" in footer_keys(app) and "Thinking" not in footer_keys(app)
        # reasoning arrives in pieces and shows live, collapsed, with a growing count and the newest text
        head, rest = REASONING.split("\n", 1)
        pieces = [head[i:i + 9] for i in range(0, len(head), 9)] + ["\n"]
        half = len(pieces)
        pieces += [rest[i:i + 9] for i in range(0, len(rest), 9)]
        for piece in pieces[:half]:
            chat.queue.put_nowait(ReasoningDelta(piece))
        await until(lambda: thinking.display and thinking.chars == len("".join(pieces[:half])), what="reasoning")
        await until(lambda: f"{thinking.chars:,} chars" in thinking.label, what="the count on screen")
        first = thinking.label
        assert first.startswith("▸ Thinking…")
        assert "[bold]literal[/bold]" in first  # the preview line, verbatim
        assert block.streaming and "streaming" in header(block)
        await until(lambda: "^t Thinking" in footer_keys(app), what="the key in the footer")  # with the block
        for piece in pieces[half:]:
            chat.queue.put_nowait(ReasoningDelta(piece))
        await until(lambda: f"{len(REASONING):,} chars" in thinking.label, what="the count to grow")
        assert "Conclusion: answer briefly." in thinking.label  # the newest line is the preview
        assert "Check the" not in thinking.label  # collapsed: only the newest line
        # then the answer, into the body, never into the block
        chat.queue.put_nowait(TextDelta(ANSWER))
        await until(lambda: "csv.reader" in screen_text(app), what="the answer")
        chat.final = reply(reasoning=REASONING)
        chat.queue.put_nowait(None)
        await until(lambda: not block.streaming and app.current_reply is None, what="the reply to end")
        await pilot.pause()
        assert thinking.label == f"▸ Thinking · {len(REASONING):,} chars"
        assert block.text == ANSWER and block.reasoning == REASONING
        text = screen_text(app)
        assert "Check the [red]edge[/red]" not in text  # collapsed
        # Ctrl+T (from the prompt) opens the newest block: the whole text, brackets and all, dimmed
        assert app.focused is app.main_screen.prompt
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert thinking.expanded and thinking.has_class("-expanded")
        text = screen_text(app)
        for line in REASONING.splitlines():
            assert line in text, line
        assert thinking.label.startswith("▾ Thinking")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert not thinking.expanded and "Check the [red]edge[/red]" not in screen_text(app)
        # the block itself: Tab reaches it, Enter and Space toggle it, Ctrl+T then acts on it
        for _ in range(6):
            if app.focused is thinking:
                break
            await pilot.press("tab")
        assert app.focused is thinking
        await pilot.press("enter")
        assert thinking.expanded
        await pilot.press("space")
        assert not thinking.expanded
        await pilot.press("ctrl+t")
        assert thinking.expanded


async def test_reasoning_can_be_opened_while_it_streams(home):
    app = make_app(warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        chat = await scripted(pilot)
        block = app.current_reply
        thinking = thinking_of(block)
        chat.queue.put_nowait(ReasoningDelta("first line [b]x[/b]\n"))
        await until(lambda: thinking.display, what="the block")
        await pilot.press("ctrl+t")
        assert thinking.expanded
        chat.queue.put_nowait(ReasoningDelta("second line\nthi"))
        await until(lambda: "│ thi" in lines_of(app), what="live text in the opened block")
        assert thinking.label.startswith("▾ Thinking… ·")
        chat.queue.put_nowait(ReasoningDelta("rd [i]line[/i]\nfourth"))  # the unfinished line grows
        await until(lambda: "│ fourth" in lines_of(app), what="the next lines")
        shown = lines_of(app)
        assert shown.index("│ first line [b]x[/b]") < shown.index("│ second line") < shown.index("│ third [i]line[/i]")
        # the stored reasoning is the truth when the reply ends (a chunk the frame had not shown yet included)
        chat.final = reply(reasoning="first line [b]x[/b]\nsecond line\nthird [i]line[/i]\nfourth and last")
        chat.queue.put_nowait(None)
        await until(lambda: not block.streaming, what="the reply to end")
        await pilot.pause()
        assert "│ fourth and last" in lines_of(app) and thinking.expanded
        assert thinking.label == "▾ Thinking · 65 chars"


async def test_refusal_text_is_the_body_and_marked(home):
    app = make_app(warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        chat = await scripted(pilot)
        block = app.current_reply
        chat.queue.put_nowait(RefusalDelta("I can't help with [that]."))
        await until(lambda: "I can't help with [that]." in screen_text(app), what="the refusal text")
        chat.final = reply("I can't help with [that].", finish_reason="refusal")
        chat.queue.put_nowait(None)
        await until(lambda: not block.streaming, what="the reply to end")
        await pilot.pause()
        assert "refused" in header(block) and block.has_class("-refusal")
        assert block.thinking is None  # no reasoning: the hidden block is gone
        assert "I can't help with [that]." in screen_text(app)


async def test_reply_without_reasoning_has_no_block_and_no_key(home):
    app = make_app(warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        chat = await scripted(pilot)
        block = app.current_reply
        chat.queue.put_nowait(TextDelta(ANSWER))
        chat.queue.put_nowait(None)
        await until(lambda: not block.streaming, what="the reply to end")
        await pilot.pause()
        assert block.thinking is None and not block.query(ThinkingBlock)
        assert "Thinking" not in screen_text(app)
        await pilot.press("ctrl+t")  # inert
        assert not app.main_screen.conversation.query(ThinkingBlock)


# -- reopened sessions -----------------------------------------------------------------------------------------
async def test_reopened_session_shows_thinking_and_outcomes(home):
    tool_args = '{"city": "Paris [FR]", "units": "metric"}'
    session_id = seed([
        {"role": "user", "content": "q1", "created_at": 1},
        reply(reasoning=REASONING),
        {"role": "user", "content": "q2", "created_at": 3},
        reply("The list goes on: 1, 2, 3, 4", finish_reason="length"),
        {"role": "user", "content": "q3", "created_at": 5},
        reply("I can't help with that.", finish_reason="refusal"),
        {"role": "user", "content": "q4", "created_at": 7},
        reply("Partial", finish_reason="content_filter"),
        {"role": "user", "content": "q5", "created_at": 9},
        reply("", finish_reason="tool_calls",
              tool_calls=[{"id": "c1", "name": "get_weather", "arguments": tool_args},
                          {"id": "c2", "name": "search", "arguments": "x" * 1000}]),
    ])
    app = make_app(session=session_id, warm_litellm=False)
    async with app.run_test(size=(140, 80)) as pilot:
        await started(pilot)
        await until(lambda: len(replies(app)) == 5, what="the replies")
        await pilot.pause()
        thought, truncated, refused, filtered, tools = replies(app)
        # the thinking, collapsed
        thinking = thinking_of(thought)
        assert thinking.display and not thinking.expanded and not thinking.streaming
        assert thinking.label == f"▸ Thinking · {len(REASONING):,} chars"
        await until(lambda: "^t Thinking" in footer_keys(app), what="the key in the footer")
        assert all(b.thinking is None for b in (truncated, refused, filtered, tools))
        # each outcome is named in the header and styled by a class of its own
        assert "truncated: max output tokens reached" in header(truncated) and truncated.has_class("-length")
        assert "refused" in header(refused) and refused.has_class("-refusal")
        assert "content filter" in header(filtered) and filtered.has_class("-content-filter")
        assert "tool call requested" in header(tools) and tools.has_class("-tool-calls")
        calls = plain(tools.query_one(".reply-tool-calls", Static))
        assert "no tools are enabled" in calls
        assert f"get_weather({tool_args})" in calls  # brackets verbatim
        assert "search(" in calls and "(1,000 chars)" in calls  # long arguments are cut
        assert header(thought) == f"● {MODEL}" and thought.has_class("-complete")
        for block in (truncated, refused, filtered, tools):
            assert block.has_class("-complete") and not block.has_class("-error")
            assert MODEL in summary(block)
        # Ctrl+T opens the newest reply that has thinking, even with later replies below it
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert thinking.expanded
        assert "Check the [red]edge[/red] cases" in screen_text(app)


async def test_new_session_takes_the_thinking_key_away(home):
    session_id = seed([{"role": "user", "content": "q", "created_at": 1}, reply(reasoning="short thought")])
    app = make_app(session=session_id, warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await until(lambda: "^t Thinking" in footer_keys(app), what="the key in the footer")
        await pilot.press("ctrl+n")
        await until(lambda: "Thinking" not in footer_keys(app), timeout=5, what="the key to go")


async def test_thinking_key_is_remappable_and_in_help(home):
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text('[keybindings]\ntoggle_thinking = "f3"\n')
    session_id = seed([{"role": "user", "content": "q", "created_at": 1}, reply(reasoning="a [short] thought")])
    app = make_app(session=session_id, warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await until(lambda: replies(app) and replies(app)[-1].thinking is not None, what="the reply")
        thinking = thinking_of(replies(app)[-1])
        await until(lambda: "f3 Thinking" in footer_keys(app), what="the remapped key in the footer")
        await pilot.press("ctrl+t")
        assert not thinking.expanded
        await pilot.press("f3")
        assert thinking.expanded
        assert "a [short] thought" in screen_text(app)
        await pilot.click(thinking)  # the mouse toggles it too (and focuses it)
        assert not thinking.expanded and app.focused is thinking
        prompt = app.main_screen.prompt
        prompt.focus()
        prompt.text = "/help"
        await pilot.press("enter")
        await pilot.pause()
        await until(lambda: any("Keys:" in n for n in notices(app)), what="the help")
        shown = " ".join(notices(app)[-1].split())
        assert "F3 show/hide the model's thinking" in shown  # /help names the key as remapped
        assert "Ctrl+T show/hide" not in shown
        assert "toggle_thinking" in shown


async def test_text_lines_grown_piece_by_piece_equal_the_whole():
    """The opened block renders only new lines while it streams: the result must equal one full render."""
    from textual.app import App

    from agentspace_tui.ui.widgets.thinking import TextLines

    text = "".join(f"line {i} [b]x[/b] " + "word " * (i % 30) + ("\n\n" if i % 7 == 0 else "\n") for i in range(120))

    class Two(App):
        def compose(self):
            yield TextLines(id="whole")
            yield TextLines(id="grown")

    def shown(view: TextLines) -> list[str]:
        height = view.get_content_height(view.size, view.size, view.size.width)
        return [view.render_line(y).text for y in range(height)]

    app = Two()
    async with app.run_test(size=(80, 40)) as pilot:
        whole, grown = app.query_one("#whole", TextLines), app.query_one("#grown", TextLines)
        whole.show(text)
        for n, end in enumerate(range(1, len(text), 37)):
            grown.show(text[:end])
            if n % 5 == 0:
                await pilot.pause()
        grown.show(text)
        await pilot.pause()
        assert shown(grown) == shown(whole)
        assert len(shown(whole)) > 120 and "[b]x[/b]" in shown(whole)[0]
        await pilot.resize_terminal(50, 40)  # a new width re-wraps everything
        await pilot.pause()
        assert shown(grown) == shown(whole) and max(len(line.rstrip()) for line in shown(whole)) <= 50
