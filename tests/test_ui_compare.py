"""Pilot tests of comparing two models in the app (/compare, Ctrl+S in the switcher, the compare screen), through
the real services, store and litellm against the loopback server, plus a snapshot of the compare screen."""

from __future__ import annotations

from textual.widgets import Static

from agentspace_tui.services.branches import Tree
from agentspace_tui.ui.app import ChatScreen
from agentspace_tui.ui.screens.compare import CompareScreen
from agentspace_tui.ui.screens.model_switcher import ModelSwitcherScreen
from agentspace_tui.ui.widgets.markdown_view import MarkdownView
from tests.fakeserver import Reply
from tests.test_ui_app import (
    ANTHROPIC_PATH,
    CHAT_PATH,
    CLAUDE,
    OPENAI,
    SIZE,
    command,
    idle,
    make_app,
    no_retries,
    notices,
    replies,
    send,
    send_and_wait,
    started,
    stored,
    toasts,
    until,
)


def lane_text(screen: CompareScreen, index: int) -> str:
    view = screen.lanes[index]
    return "".join(v.text for v in view.query(MarkdownView))


def header_of(block) -> str:
    return str(block.query_one(".reply-header", Static).visual)


def words(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i} " for i in range(n)]


async def test_compare_then_keep_right_continues_on_the_other_model(home, llm):
    no_retries(home)
    llm.script_for(CHAT_PATH, Reply(text="left", chunks=words("left", 8), delay=0.1))
    llm.script_for(ANTHROPIC_PATH, Reply(text="right", chunks=words("right", 8), delay=0.1))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await command(pilot, "/compare claude-sonnet-4-5")
        await until(lambda: any(CLAUDE in n and "next prompt" in n for n in notices(app)), what="the armed notice")
        await send(pilot, "Which one?")
        await until(lambda: isinstance(app.screen, CompareScreen), what="the compare screen")
        screen = app.screen
        # keeping before both ended is refused, in one line
        await until(lambda: "right0" in lane_text(screen, 1) or "left0" in lane_text(screen, 0), what="text")
        await pilot.press("2")
        assert isinstance(app.screen, CompareScreen)
        assert any("still streaming" in t for t in toasts(app))
        await until(lambda: screen.finished, what="both to end")
        await pilot.pause(0.3)
        assert "left7" in lane_text(screen, 0) and "right7" in lane_text(screen, 1)
        header = str(screen.lanes[1].query_one(".lane-header", Static).visual)
        stats = str(screen.lanes[1].query_one(".lane-stats", Static).visual)
        assert CLAUDE in header and "TTFT" in stats and "tok/s" in stats and "$" in stats
        await pilot.press("2")
        await until(lambda: isinstance(app.screen, ChatScreen), what="the screen to close")
        await until(lambda: app.model.id == CLAUDE and any("kept" in n for n in notices(app)), what="the keep")
        sid = app.session["id"]
        assert app.services.store.get_session(sid)["model"] == CLAUDE
        tree = Tree.of(stored(app))
        path = tree.active_path()
        assert path[-1]["model"] == CLAUDE and path[-1]["content"].startswith("right0")
        assert tree.alternatives(path) == {path[-1]["id"]: (2, 2)}
        # the conversation shows the kept answer with the alternatives marker
        await until(lambda: bool(replies(app)) and replies(app)[-1].message["id"] == path[-1]["id"], what="redrawn")
        assert replies(app)[-1].alternative == (2, 2) and "2/2" in header_of(replies(app)[-1])
        # the conversation continues on the kept branch, with the kept model
        llm.script_for(ANTHROPIC_PATH, Reply(text="continued"))
        await send_and_wait(pilot, "go on")
        sent = [m for m in llm.requests_to(ANTHROPIC_PATH)[-1].messages if m[0] != "system"]
        assert sent[-2][0] == "assistant" and sent[-2][1].startswith("right0") and sent[-1] == ("user", "go on")
        assert len(llm.requests_to(CHAT_PATH)) == 1


async def test_escape_cancels_both_and_keeps_both_partial_replies(home, llm):
    no_retries(home)
    llm.script_for(CHAT_PATH, Reply(text="a", chunks=words("a", 200), delay=0.05))
    llm.script_for(ANTHROPIC_PATH, Reply(text="b", chunks=words("b", 200), delay=0.05))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await command(pilot, "/compare " + CLAUDE)
        await until(lambda: notices(app), what="the armed notice")
        await send(pilot, "long please")
        await until(lambda: isinstance(app.screen, CompareScreen), what="the compare screen")
        screen = app.screen
        await until(lambda: all(lane.chars > 0 for lane in screen.service.lanes), what="text in both")
        # usable at 80x24: the answers stack, each keeps its header and some text, the keys line stays visible
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        assert screen.query_one("#compare-lanes").has_class("narrow")
        top, bottom = (view.region for view in screen.lanes)
        assert top.width > 70 and bottom.y >= top.bottom and bottom.bottom <= 23 and top.height >= 5
        help_line = screen.query_one("#compare-help").region
        assert help_line.y == 23 and help_line.height == 1
        await pilot.press("escape")
        await until(lambda: screen.finished, what="the cancel")
        assert [lane.status for lane in screen.service.lanes] == ["cancelled", "cancelled"]
        assistants = [m for m in stored(app, screen.service.session_id) if m["role"] == "assistant"]
        assert [m["status"] for m in assistants] == ["cancelled", "cancelled"]
        assert all(m["content"] for m in assistants)
        await pilot.press("escape")  # leave: the current model's answer stays the branch
        await until(lambda: isinstance(app.screen, ChatScreen), what="the screen to close")
        await until(lambda: replies(app), what="the conversation redrawn")
        assert app.model.id == OPENAI
        assert Tree.of(stored(app)).active_path()[-1]["model"] == OPENAI


async def test_wrong_places(home, llm):
    no_retries(home)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        # an unknown model: one line, nothing armed
        await command(pilot, "/compare nosuch-model")
        await until(lambda: notices(app), what="the error")
        assert "nosuch-model" in notices(app)[-1] and "\n" not in notices(app)[-1]
        llm.script(Reply(text="plain"))
        await send_and_wait(pilot, "just one")  # not a compare
        assert len(llm.requests_to(CHAT_PATH)) == 1 and not llm.requests_to(ANTHROPIC_PATH)
        # armed, then off
        await command(pilot, "/compare " + CLAUDE)
        await command(pilot, "/compare off")
        await until(lambda: "compare off" in notices(app)[-1], what="disarmed")
        llm.script(Reply(text="plain again"))
        await send_and_wait(pilot, "still one")
        assert not llm.requests_to(ANTHROPIC_PATH)
        # /compare while a reply streams: armed for the next prompt, the streaming reply is untouched
        llm.script(Reply(text=" ".join(f"w{i}" for i in range(100)), delay=0.03))
        await send(pilot, "slow one")
        await until(lambda: app.current_reply is not None, what="the stream")
        await command(pilot, "/compare " + CLAUDE)
        prompt = app.main_screen.prompt
        prompt.text = "too soon"
        await pilot.press("enter")
        assert not isinstance(app.screen, CompareScreen) and prompt.text == "too soon"
        await until(lambda: idle(app), what="the stream to end")
        # Ctrl+S in the switcher arms a compare with the highlighted model
        prompt.text = ""
        await pilot.press("ctrl+o")
        await until(lambda: isinstance(app.screen, ModelSwitcherScreen), what="the switcher")
        await pilot.press(*"gpt-4o-mini")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await until(lambda: isinstance(app.screen, ChatScreen), what="the switcher to close")
        await until(lambda: f"and {OPENAI}" in notices(app)[-1], what="armed from the switcher")


# -- snapshot ---------------------------------------------------------------------------------------------------
def test_compare_screen_snapshot(snap_compare, home, llm):
    from tests.test_ui_snapshots_app import app_factory

    no_retries(home)
    llm.script_for(CHAT_PATH, Reply(text=LEFT, input_tokens=120, output_tokens=60))
    llm.script_for(ANTHROPIC_PATH, Reply(text=RIGHT, input_tokens=120, output_tokens=45))
    app = app_factory()

    async def run_before(pilot) -> None:
        await until(lambda: app.ready, what="the app")
        await command(pilot, "/compare " + CLAUDE)
        await until(lambda: notices(app), what="armed")
        await send(pilot, "Read a CSV in Python?")
        await until(lambda: isinstance(app.screen, CompareScreen) and app.screen.finished, what="both answers")
        screen = app.screen
        for lane in screen.service.lanes:  # fixed numbers: the timings of a real run vary
            lane.reply = {**lane.reply, "ttft": 0.42 + lane.index, "duration": 1.5 + lane.index}
            lane.first_token = lane.started
        screen._tick()
        for view, lane in zip(screen.lanes, screen.service.lanes, strict=True):
            view.show_header(lane)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


LEFT = "Use the `csv` module:\n\n```python\nimport csv\nwith open('a.csv') as f:\n    rows = list(csv.reader(f))\n```\n"
RIGHT = "## pandas\n\n- `pd.read_csv('a.csv')` loads it whole\n- fine below a few GB [really]\n"
