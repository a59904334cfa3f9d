"""End to end: the keys on a focused message of the real app (focus, regenerate, retry with another model, edit,
delete, parameters, copy, keys in the wrong place, onboarding, switching sessions).

Each test drives AgentspaceApp over the loopback server and checks three things: what the user sees, what went
over the wire, and what is stored. Widget-level tests of the same keys: test_ui_message_focus.py.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input, OptionList

from agentspace_tui.services.core import build_services
from agentspace_tui.ui.app import AgentspaceApp, ChatScreen
from agentspace_tui.ui.screens.code_chooser import CodeChooserScreen
from agentspace_tui.ui.screens.message_details import MessageDetailsScreen
from agentspace_tui.ui.screens.model_switcher import ModelSwitcherScreen
from agentspace_tui.ui.screens.params import ParamsScreen
from agentspace_tui.ui.screens.sessions import SessionsScreen
from agentspace_tui.ui.widgets.conversation import MessageBlock, ReplyBlock, UserBlock
from tests import test_ui_app as ui
from tests.fakeserver import Reply
from tests.test_ui_app import CHAT_PATH, SIZE, make_app, replies, send, send_and_wait, started, until

TWO_BLOCKS = "Install:\n\n```bash\npip install rich\n```\n\nThen:\n\n```python\nimport rich\nrich.print('hi')\n```\n"


# -- helpers ---------------------------------------------------------------------------------------------------
def sent(llm, path: str = CHAT_PATH) -> list[tuple[str, str]]:
    """(role, text) of the last request's messages, without the system prompt."""
    return [m for m in llm.requests_to(path)[-1].messages if m[0] != "system"]


def stored(app: AgentspaceApp) -> list[tuple[str, str]]:
    return [(m["role"], m.get("content") or "") for m in app.core_services.messages(app.chat_session.session_id)]


def shown(app: AgentspaceApp) -> list[str]:
    """The text of each message block on screen, oldest first."""
    return [b.text for b in app.main_screen.conversation.message_blocks()]


def key_of(binding_id: str) -> str:
    """The key the app binds to ``binding_id`` (F-keys move when the prompt turns out to use one)."""
    return next(b.key.split(",")[0] for b in AgentspaceApp.BINDINGS if isinstance(b, Binding) and b.id == binding_id)


def focused(app: AgentspaceApp) -> MessageBlock | None:
    return app.focused if isinstance(app.focused, MessageBlock) else None


async def conversation_of(pilot, llm, *turns: tuple[str, str]) -> None:
    for question, answer in turns:
        llm.script(Reply(text=answer))
        await send_and_wait(pilot, question)


async def redrawn(pilot, app: AgentspaceApp, texts: list[str]) -> None:
    await until(lambda: shown(app) == texts, what=f"the view to show {texts}, not {shown(app)}")
    await pilot.pause()


async def focus_message(pilot, app: AgentspaceApp, index: int) -> MessageBlock:
    """Ctrl+Up, then Up until the message ``index`` (from the end: -1 the last) has the focus."""
    await pilot.press("ctrl+up")
    await pilot.press(*["up"] * (-1 - index))
    await pilot.pause()
    block = focused(app)
    assert block is not None and block is app.main_screen.conversation.message_blocks()[index]
    return block


# -- 1. focus ------------------------------------------------------------------------------------------------------
async def test_message_focus_moves_and_typing_goes_to_the_prompt(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await conversation_of(pilot, llm, ("q1", "a1"), ("q2", "a2"))
        blocks = app.main_screen.conversation.message_blocks()
        await pilot.press("ctrl+up")
        assert focused(app) is blocks[3] and blocks[3].has_class("-focused")
        for key, index in (("up", 2), ("k", 1), ("j", 2), ("down", 3), ("k", 2)):
            await pilot.press(key)
            assert focused(app) is blocks[index], key
            assert [b.has_class("-focused") for b in blocks] == [i == index for i in range(4)]
        await pilot.press("escape")
        assert app.focused is app.main_screen.prompt and not any(b.has_class("-focused") for b in blocks)
        await pilot.press("alt+up")
        assert focused(app) is blocks[3]
        await pilot.press("h", "o", "w")  # not bound on a message: the first letter moves to the prompt
        assert app.focused is app.main_screen.prompt and app.main_screen.prompt.text == "how"
        llm.script(Reply(text="a3"))
        await send_and_wait(pilot, app.main_screen.prompt.text + " now")
        assert sent(llm) == [("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2"),
                             ("user", "how now")]
        assert stored(app)[-2:] == [("user", "how now"), ("assistant", "a3")]


# -- 2. regenerate ---------------------------------------------------------------------------------------------------
async def test_regenerate_pages_alternatives_and_continues_from_the_chosen_one(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await conversation_of(pilot, llm, ("q1", "first answer"))
        await pilot.press("ctrl+up")
        llm.script(Reply(text="second answer"))
        await pilot.press("r")
        await until(lambda: len(llm.requests_to(CHAT_PATH)) == 2 and ui.idle(app), what="the second reply")
        await redrawn(pilot, app, ["q1", "second answer"])
        assert sent(llm) == [("user", "q1")]  # the first answer is not part of a regenerate
        assert "2/2" in ui.header(replies(app)[-1])
        # the regenerate key from the prompt: a third
        llm.script(Reply(text="third answer"))
        await pilot.press("escape")
        assert app.focused is app.main_screen.prompt
        await pilot.press(key_of("regenerate"))
        await until(lambda: len(llm.requests_to(CHAT_PATH)) == 3 and ui.idle(app), what="the third reply")
        await redrawn(pilot, app, ["q1", "third answer"])
        assert sent(llm) == [("user", "q1")] and "3/3" in ui.header(replies(app)[-1])
        await focus_message(pilot, app, -1)
        await pilot.press("left_square_bracket")
        await redrawn(pilot, app, ["q1", "second answer"])
        assert "2/3" in ui.header(replies(app)[-1])
        await until(lambda: focused(app) is replies(app)[-1], what="the focus to stay on the reply")
        await pilot.press("left_square_bracket")  # again, at once: the focus stayed at its place
        await redrawn(pilot, app, ["q1", "first answer"])
        assert "1/3" in ui.header(replies(app)[-1])
        llm.script(Reply(text="follow-up answer"))
        await send_and_wait(pilot, "follow up")
        assert sent(llm) == [("user", "q1"), ("assistant", "first answer"), ("user", "follow up")]
        assert stored(app) == [("user", "q1"), ("assistant", "first answer"), ("assistant", "second answer"),
                               ("assistant", "third answer"), ("user", "follow up"),
                               ("assistant", "follow-up answer")]


# -- 3. retry with another model -----------------------------------------------------------------------------------
async def test_retry_with_another_model_records_its_model_and_price(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await conversation_of(pilot, llm, ("q1", "from gpt"))
        await pilot.press("ctrl+up", "m")
        await until(lambda: isinstance(app.screen, ModelSwitcherScreen), what="the switcher")
        await pilot.press(*"claude-sonnet-4-5")
        await pilot.pause()
        llm.script(Reply(text="from claude"))
        await pilot.press("enter")
        await until(lambda: len(llm.requests_to(ui.ANTHROPIC_PATH)) == 1 and ui.idle(app), what="claude's reply")
        await redrawn(pilot, app, ["q1", "from claude"])
        assert sent(llm, ui.ANTHROPIC_PATH) == [("user", "q1")]
        block = replies(app)[-1]
        assert ui.CLAUDE in ui.header(block) and "2/2" in ui.header(block)
        await focus_message(pilot, app, -1)
        await pilot.press("d")
        await until(lambda: isinstance(app.screen, MessageDetailsScreen), what="the details")
        text = ui.screen_text(app)
        assert ui.CLAUDE in text and "$3 in / $15 out per Mtok" in text
        await pilot.press("escape")
        replies_stored = [m for m in app.core_services.messages(app.chat_session.session_id)
                          if m["role"] == "assistant"]
        assert [(m["model"], m["content"]) for m in replies_stored] == [(ui.OPENAI, "from gpt"), (ui.CLAUDE, "from claude")]
        assert replies_stored[0]["prices"]["input_per_mtok"] == 0.15
        assert replies_stored[1]["prices"]["input_per_mtok"] == 3
        # the conversation goes on with the model that answered last: shown, used and stored alike
        session = app.core_services.store.get_session(app.chat_session.session_id)
        assert app.model.id == ui.CLAUDE == session["model"] and ui.CLAUDE in ui.title_bar(app)


# -- 4. edit and resend ------------------------------------------------------------------------------------------------
async def test_edit_forks_and_brackets_page_back_to_the_old_branch(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        await conversation_of(pilot, llm, ("q1", "a1"), ("q2", "a2"), ("q3", "a3"))
        prompt = app.main_screen.prompt
        prompt.text = "half-typed"
        await focus_message(pilot, app, -4)  # q2
        await pilot.press("e")
        assert app.focused is prompt and prompt.text == "q2"
        await pilot.press("up")  # the draft it replaced is in the input history
        assert prompt.text == "half-typed"
        prompt.text = "q2 edited"
        llm.script(Reply(text="a2 edited"))
        await pilot.press("enter")
        await until(lambda: len(llm.requests_to(CHAT_PATH)) == 4 and ui.idle(app), what="the edited turn")
        await redrawn(pilot, app, ["q1", "a1", "q2 edited", "a2 edited"])
        assert sent(llm) == [("user", "q1"), ("assistant", "a1"), ("user", "q2 edited")]
        user_blocks = list(app.main_screen.conversation.query(UserBlock))
        assert "2/2" in str(user_blocks[-1].border_title)
        await until(lambda: app.last_inspection.history_messages == 4, what="the inspector to count 4 messages")
        await focus_message(pilot, app, -2)
        await pilot.press("left_square_bracket")
        await redrawn(pilot, app, ["q1", "a1", "q2", "a2", "q3", "a3"])
        await until(lambda: app.last_inspection.history_messages == 6, what="the inspector to count 6 messages")
        assert len(stored(app)) == 8
        llm.script(Reply(text="a4"))
        await send_and_wait(pilot, "q4")
        assert [t for _, t in sent(llm)] == ["q1", "a1", "q2", "a2", "q3", "a3", "q4"]
        # an edit begun in a conversation that is then left: Enter in the new chat sends a new message
        await focus_message(pilot, app, -2)
        await pilot.press("e", "ctrl+n")
        await pilot.pause()
        llm.script(Reply(text="fresh answer"))
        await send_and_wait(pilot, "fresh start")
        assert sent(llm) == [("user", "fresh start")] and shown(app) == ["fresh start", "fresh answer"]


# -- 5. delete from the context ------------------------------------------------------------------------------------------
async def test_delete_hides_the_pair_keeps_its_cost_and_x_restores(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await conversation_of(pilot, llm, ("q1", "a1"), ("q2", "a2"))
        sid = app.chat_session.session_id
        await until(lambda: (app.core_services.store.usage(sid)["total"].get("requests") or 0) == 2, what="usage")
        cost = app.core_services.store.usage(sid)["total"]["cost"]
        await focus_message(pilot, app, -3)  # a1
        await pilot.press("x")
        await until(lambda: all(b.hidden for b in app.main_screen.conversation.message_blocks()[:2]), what="hidden")
        await pilot.pause()
        assert "hidden from the context: q1" in ui.screen_text(app) and "hidden from the context: a1" in ui.screen_text(app)
        blocks = app.main_screen.conversation.message_blocks()
        await until(lambda: focused(app) is blocks[1], what="the focus to stay on the hidden reply")
        assert [m.get("hidden", False) for m in app.core_services.messages(sid)] == [True, True, False, False]
        assert app.core_services.store.usage(sid)["total"]["cost"] == cost  # hidden, still counted
        llm.script(Reply(text="a3"))
        await send_and_wait(pilot, "q3")
        assert sent(llm) == [("user", "q2"), ("assistant", "a2"), ("user", "q3")]
        assert app.core_services.store.usage(sid)["total"]["requests"] == 3
        await focus_message(pilot, app, -5)  # the hidden a1
        await pilot.press("x")
        await until(lambda: not any(b.hidden for b in app.main_screen.conversation.message_blocks()), what="restored")
        llm.script(Reply(text="a4"))
        await send_and_wait(pilot, "q4")
        assert [t for _, t in sent(llm)] == ["q1", "a1", "q2", "a2", "q3", "a3", "q4"]
        assert not any(m.get("hidden") for m in app.core_services.messages(sid))


# -- 6. parameters -------------------------------------------------------------------------------------------------------
async def test_set_and_params_screen_reach_the_request_details_and_inspector(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        await ui.command(pilot, "/set temperature 0.3")
        await until(lambda: app.conversation.params.temperature == 0.3, what="the parameter")
        await until(lambda: "Parameters" in ui.inspector_text(app) and "0.3" in ui.inspector_text(app), what="inspector")
        llm.script(Reply(text="warm answer"))
        await send_and_wait(pilot, "q1")
        assert llm.requests_to(CHAT_PATH)[-1].body["temperature"] == 0.3
        await pilot.press("ctrl+up", "d")
        await until(lambda: isinstance(app.screen, MessageDetailsScreen), what="the details")
        assert "temperature 0.3" in ui.screen_text(app)
        await pilot.press("escape", "escape")  # the details, then the message: back in the prompt
        assert app.focused is app.main_screen.prompt
        await pilot.press(key_of("params"))
        await until(lambda: isinstance(app.screen, ParamsScreen), what="the parameters screen")
        app.screen.query_one("#params-max_tokens", Input).value = "200"
        await pilot.press("enter")
        await until(lambda: app.conversation.params.max_tokens == 200, what="max tokens stored")
        assert app.conversation.params.temperature == 0.3
        await until(lambda: "reply ≤" in ui.inspector_text(app) and "max 200 tokens" in ui.inspector_text(app),
                    what="the reply bound")
        assert app.core_services.store.get_session(app.chat_session.session_id)["params"] == {
            "temperature": 0.3, "max_tokens": 200}
        before = len(ui.notices(app))
        await ui.command(pilot, "/set temperature 9")
        await until(lambda: len(ui.notices(app)) > before, what="the error")
        error = ui.notices(app)[-1]
        assert "temperature" in error and "\n" not in error
        assert app.conversation.params.temperature == 0.3
        llm.script(Reply(text="bounded"))
        await send_and_wait(pilot, "q2")
        body = llm.requests_to(CHAT_PATH)[-1].body
        assert body["temperature"] == 0.3 and 200 in (body.get("max_tokens"), body.get("max_completion_tokens"))


# -- 7. copy ---------------------------------------------------------------------------------------------------------------
async def test_c_copies_the_reply_and_y_chooses_a_code_block(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await conversation_of(pilot, llm, ("code please", TWO_BLOCKS))
        await pilot.press("ctrl+up", "c")
        assert app.clipboard == TWO_BLOCKS
        await pilot.press("y")
        await until(lambda: isinstance(app.screen, CodeChooserScreen), what="the chooser")
        await pilot.press("down", "enter")
        await until(lambda: isinstance(app.screen, ChatScreen), what="the chooser to close")
        assert app.clipboard == "import rich\nrich.print('hi')\n"
        assert any("code block 2 of 2 (python, 2 lines)" in t for t in ui.toasts(app))


# -- 8. keys in the wrong place --------------------------------------------------------------------------------------------
async def test_keys_that_do_not_apply_send_nothing_and_break_nothing(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await conversation_of(pilot, llm, ("q1", "a1"))
        await focus_message(pilot, app, -2)  # the user message
        await pilot.press("r", "m", "left_square_bracket", "right_square_bracket")
        await focus_message(pilot, app, -1)  # the reply
        await pilot.press("e", "left_square_bracket", "right_square_bracket")
        await pilot.pause(0.3)
        assert len(llm.requests_to(CHAT_PATH)) == 1 and isinstance(app.screen, ChatScreen)
        assert app.main_screen.prompt.text == "" and shown(app) == ["q1", "a1"]  # not typed as text either
        assert any("only your own messages" in t for t in ui.toasts(app))
        # while a reply streams: no change to any message
        # a burst, then nothing for long enough: the keys below all land while it streams
        llm.script(Reply(text=" ".join(f"w{i}" for i in range(120)), stall_after=3, stall_seconds=30))
        await send(pilot, "q2")
        await until(lambda: app.current_reply is not None and app.current_reply.chunks > 2, what="streaming")
        await pilot.press("ctrl+up")
        streaming = focused(app)
        assert isinstance(streaming, ReplyBlock) and streaming.streaming
        await pilot.press("r", "m", "x", "left_square_bracket")
        assert focused(app) is streaming and app.main_screen.prompt.text == ""
        await pilot.press("up", "x", key_of("regenerate"), key_of("retry"))  # refused while it streams
        assert any("still streaming" in t for t in ui.toasts(app))
        await pilot.press("e")  # editing only fills the prompt: the send waits for the reply
        assert app.main_screen.prompt.text == "q2" and streaming.streaming
        await pilot.press("escape")  # from the prompt: cancels the reply
        await until(lambda: ui.idle(app), what="the stream to end")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ChatScreen) and len(llm.requests_to(CHAT_PATH)) == 2
        assert not any(m.get("hidden") for m in app.core_services.messages(app.chat_session.session_id))
        assert stored(app)[:3] == [("user", "q1"), ("assistant", "a1"), ("user", "q2")] and len(stored(app)) == 4
        assert streaming.message["status"] == "cancelled" and shown(app)[:3] == ["q1", "a1", "q2"]


# -- 9. the empty chat ------------------------------------------------------------------------------------------------------
async def test_onboarding_shows_model_price_window_and_comes_back_with_ctrl_n(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        panel = app.main_screen.conversation.onboarding
        text = ui.screen_text(app)
        assert panel.display and ui.OPENAI in text and "$0.15 in / $0.6 out per Mtok" in text and "128k" in text
        await conversation_of(pilot, llm, ("q1", "a1"))
        assert not panel.display and "Type a message below" not in ui.screen_text(app)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert panel.display and "Type a message below" in ui.screen_text(app) and shown(app) == []


# -- 10. switching sessions --------------------------------------------------------------------------------------------------
def seed_branched(title: str, model: str, tag: str) -> str:
    """A long session whose last reply has an older alternative; the newer one is the active branch."""
    base = 1_735_689_600
    messages: list[dict] = []
    for i in range(30):
        messages.append({"id": f"{tag}u{i:03d}", "role": "user", "content": f"{tag} question {i}",
                         "created_at": base + 2 * i})
        messages.append({"id": f"{tag}a{i:03d}", "role": "assistant", "content": f"{tag} answer {i}",
                         "model": model, "status": "complete", "created_at": base + 2 * i + 1})
    messages.append({"id": f"{tag}alt", "role": "assistant", "content": f"{tag} newer answer 29", "model": model,
                     "status": "complete", "parent": f"{tag}u029", "created_at": base + 100})
    services = build_services()
    session = services.store.bulk_import({"title": title, "model": model}, messages)
    services.store.close()
    return str(session["id"])


async def test_switching_sessions_back_and_forth_follows_view_title_model_and_branch(home, llm):
    first = seed_branched("Alpha talk", ui.OPENAI, "alpha")
    second = seed_branched("Beta talk", ui.CLAUDE, "beta")
    app = make_app(warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        for turn in range(10):
            sid, tag, title, model = (first, "alpha", "Alpha talk", ui.OPENAI) if turn % 2 == 0 else (
                second, "beta", "Beta talk", ui.CLAUDE)
            await pilot.press("ctrl+r")
            await until(lambda: isinstance(app.screen, SessionsScreen) and app.screen.loaded, what="sessions")
            options = app.screen.query_one("#sessions-list", OptionList)
            options.highlighted = [o.id for o in options.options].index(sid)
            await pilot.press("enter")
            await until(lambda s=sid: app.ready and app.chat_session.session_id == s
                        and isinstance(app.screen, ChatScreen), what=f"session {sid}")
            await pilot.pause()
            assert shown(app)[-2:] == [f"{tag} question 29", f"{tag} newer answer 29"]
            assert "2/2" in ui.header(replies(app)[-1])
            assert title in ui.title_bar(app) and model in ui.title_bar(app) and app.model.id == model
            other = "beta" if tag == "alpha" else "alpha"
            assert other not in ui.screen_text(app)
        llm.script(Reply(text="beta follow-up"))
        await send_and_wait(pilot, "after switching")
        request = sent(llm, ui.ANTHROPIC_PATH)
        assert request[-3:] == [("user", "beta question 29"), ("assistant", "beta newer answer 29"),
                                ("user", "after switching")]
        assert len(request) == 61 and not llm.requests_to(CHAT_PATH)
        assert app.core_services.messages(second)[-1]["content"] == "beta follow-up"
        assert len(app.core_services.messages(first)) == 61
