"""Issue 8, prompt side: the prompt uses Textual's public API only, and a failed turn is never sent twice
(it can be retried instead)."""

from __future__ import annotations

import inspect

from textual import events

from agentspace_tui.ui.widgets import prompt as prompt_module
from agentspace_tui.ui.widgets.prompt import PromptInput
from tests.fakeserver import Reply
from tests.test_ui_app import (
    CHAT_PATH,
    SIZE,
    idle,
    make_app,
    no_retries,
    notices,
    replies,
    send_and_wait,
    started,
    stored,
    until,
)


def conversation_turns(messages: list[dict]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in messages if m["role"] in ("user", "assistant")]


def assert_alternating(turns: list[tuple[str, str]]) -> None:
    roles = [role for role, _ in turns]
    for a, b in zip(roles, roles[1:], strict=False):
        assert a != b, f"two {a} turns in a row: {turns}"


# -- 1. no private Textual hooks ------------------------------------------------------------------------------
def test_prompt_overrides_no_private_textual_methods():
    private_hooks = sorted(name for name in vars(PromptInput) if name.startswith("_on_"))
    assert private_hooks == [], private_hooks
    source = inspect.getsource(prompt_module)
    assert "_replace_via_keyboard" not in source
    assert "_restart_blink" not in source


async def test_prompt_keys_and_pastes_behave_as_before(home, llm):
    """Enter sends, Ctrl+J / Shift+Enter / Alt+Enter insert a newline over the selection, Up/Down walk the
    input history only from the first/last line, pastes are normalised and inserted once."""
    llm.script(Reply(text="one"), Reply(text="two"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        prompt = app.main_screen.prompt
        prompt.focus()
        # Enter on a blank draft sends nothing
        await pilot.press("space", "enter")
        await pilot.pause()
        assert llm.requests_to(CHAT_PATH) == []
        prompt.clear_draft()
        await pilot.press(*"ab", "ctrl+j", *"cd", "shift+enter", "e", "alt+enter", "f")
        assert prompt.text == "ab\ncd\ne\nf"
        prompt.select_all()
        await pilot.press("ctrl+j")
        assert prompt.text == "\n"
        prompt.clear_draft()
        # a small paste: CR / CRLF become newlines, control characters are made visible, inserted once
        await pilot.press(*"say ")
        app.post_message(events.Paste("x\r\ny\rz\x1b]52;c;AAAA\x07"))
        await pilot.pause()
        assert prompt.text.startswith("say x\ny\nz")
        assert "\x1b" not in prompt.text and "\x07" not in prompt.text
        assert prompt.text.count("x") == 1
        assert prompt.cursor_location == prompt.document.end
        # Enter sends the draft (not a newline)
        sent_draft = prompt.text
        await pilot.press("enter")
        await until(lambda: idle(app), what="the first reply")
        assert llm.requests_to(CHAT_PATH)[-1].body["messages"][-1]["content"] == sent_draft
        assert prompt.text == ""
        # a large paste is kept aside as a placeholder, replacing the selection
        await pilot.press(*"big: ")
        big = "\r\n".join(f"line {i}" for i in range(4_000))
        app.post_message(events.Paste(big))
        await pilot.pause()
        assert prompt.document.line_count == 1
        assert prompt.text.startswith("big: [pasted #1: 4,000 lines, ")
        assert prompt.cursor_location == prompt.document.end
        assert prompt.expanded_text() == "big: " + big.replace("\r\n", "\n")
        await pilot.press("enter")
        await until(lambda: len(llm.requests_to(CHAT_PATH)) == 2 and idle(app), what="the second reply")
        # Up on the first line walks back through the input history, Down comes back to the (empty) draft
        await pilot.press("up")
        assert prompt.expanded_text() == "big: " + big.replace("\r\n", "\n")
        await pilot.press("up")
        assert prompt.text == sent_draft
        # Up inside a multi-line entry moves the cursor first; on the last line Down goes forward
        assert prompt.cursor_location[0] == prompt.document.line_count - 1
        await pilot.press("up")
        assert prompt.cursor_location[0] == prompt.document.line_count - 2
        assert prompt.text == sent_draft
        await pilot.press("down", "down")
        assert prompt.text.startswith("big: [pasted #1:")
        await pilot.press("down")
        assert prompt.text == ""


# -- 2. a failed turn is not re-sent; it can be retried -------------------------------------------------------
async def test_a_failed_turn_is_left_out_of_the_next_request(home, llm):
    no_retries(home)
    llm.script(Reply(kind="status", status=401, error_message="bad key"), Reply(text="hello"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        failed = await send_and_wait(pilot, "first", status="error")
        assert failed.has_class("-error")
        # the inspector does not count the failed turn as history
        await until(lambda: app.last_inspection is not None and app.last_inspection.history_messages == 0,
                    what="the inspector to leave the failed turn out")
        await send_and_wait(pilot, "second")
        turns = conversation_turns(llm.requests_to(CHAT_PATH)[-1].body["messages"])
        assert turns == [("user", "second")], turns
        # the failed pair stays stored and shown
        messages = stored(app)
        assert [(m["role"], m["content"], m.get("status")) for m in messages] == [
            ("user", "first", None), ("assistant", "", "error"),
            ("user", "second", None), ("assistant", "hello", "complete"),
        ]
        assert len(replies(app)) == 2 and replies(app)[0].has_class("-error")
        # and it stays out of later requests too
        llm.script(Reply(text="third reply"))
        await send_and_wait(pilot, "third")
        turns = conversation_turns(llm.requests_to(CHAT_PATH)[-1].body["messages"])
        assert turns == [("user", "second"), ("assistant", "hello"), ("user", "third")], turns
        assert_alternating(turns)


async def test_retry_key_resends_the_failed_message_once(home, llm):
    no_retries(home)
    llm.script(Reply(kind="status", status=401, error_message="bad key"), Reply(text="it worked", delay=0.01))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send_and_wait(pilot, "first", status="error")
        prompt = app.main_screen.prompt
        prompt.text = "a draft in progress"
        await pilot.press("f5")
        await until(lambda: replies(app) and replies(app)[-1].message.get("content") == "it worked",
                    what="the retried reply")
        await until(lambda: idle(app), what="the retried reply to end")
        await pilot.pause()
        requests = llm.requests_to(CHAT_PATH)
        assert len(requests) == 2
        turns = conversation_turns(requests[-1].body["messages"])
        assert turns == [("user", "first")], turns
        block = replies(app)[-1]
        assert block.message["status"] == "complete" and block.message["content"] == "it worked"
        # the failed reply is kept as an alternative answer to the same message (1/2), never sent
        assert len(replies(app)) == 1 and block.alternative == (2, 2)
        messages = stored(app)
        assert [(m["role"], m["content"], m.get("status")) for m in messages] == [
            ("user", "first", None), ("assistant", "", "error"), ("assistant", "it worked", "complete"),
        ]
        # the draft being typed is left alone
        assert prompt.text == "a draft in progress"
        # nothing failed since: nothing to retry, nothing sent
        await pilot.press("f5")
        await pilot.pause()
        assert len(llm.requests_to(CHAT_PATH)) == 2
        assert any("nothing to retry" in n for n in notices(app))


async def test_retry_slash_command(home, llm):
    no_retries(home)
    llm.script(Reply(kind="status", status=500), Reply(text="second time lucky"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send_and_wait(pilot, "hello?", status="error")
        prompt = app.main_screen.prompt
        prompt.focus()
        prompt.text = "/retry"
        await pilot.press("enter")
        await until(lambda: replies(app)[-1].message.get("content") == "second time lucky", what="the retried reply")
        await until(lambda: idle(app), what="the retried reply to end")
        turns = conversation_turns(llm.requests_to(CHAT_PATH)[-1].body["messages"])
        assert turns == [("user", "hello?")], turns
        assert replies(app)[-1].message["content"] == "second time lucky"


async def test_a_burst_of_keys_ending_in_enter_sends_all_of_them(home, llm):
    """A terminal delivers "/new" + Enter (a fast typist, tmux send-keys, an unbracketed paste) as one burst of
    key events to the app; Enter must act on the text typed just before it, not on an empty prompt."""
    from textual import events

    from tests.test_ui_app import SIZE, make_app, notices, started, until

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        for key, char in [("slash", "/"), ("h", "h"), ("e", "e"), ("l", "l"), ("p", "p"), ("enter", "\r")]:
            app.post_message(events.Key(key, char))  # all queued before any is handled, as a burst arrives
        await until(lambda: any("Keys:" in n for n in notices(app)), what="/help to run")
        assert app.main_screen.prompt.text == ""
