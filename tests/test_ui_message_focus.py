"""Pilot tests of keyboard focus on messages and the actions on a focused message (a bare app around a
ConversationView, with stored-looking message records; nothing is sent, so no provider is involved)."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Input

import agentspace_tui.ui.app as app_module
from agentspace_tui.ui.screens.code_chooser import CodeChooserScreen
from agentspace_tui.ui.screens.message_details import MessageDetailsScreen
from agentspace_tui.ui.widgets.conversation import ConversationView, MessageBlock, ReplyBlock, UserBlock
from tests.test_ui_app import until

SIZE = (100, 40)
MODEL = "openai:gpt-4o-mini"
BASE = 1_735_689_600  # 2025-01-01 00:00 UTC
ONE_BLOCK = "Use this:\n\n```python\nprint('one')\n```\n"
TWO_BLOCKS = (
    "First the shell:\n\n```bash\npip install rich\n```\n\nThen Python:\n\n"
    "```python\nimport rich\n\nrich.print('two')\nprint('done')\n```\n"
)


def usage(i: int, o: int, **more: int) -> dict:
    return {"input_tokens": i, "output_tokens": o, "cache_read_tokens": 0, "cache_write_tokens": 0,
            "reasoning_tokens": 0, **more}


def reply(mid: str, content: str, **fields) -> dict:
    record = {"id": mid, "role": "assistant", "content": content, "model": MODEL, "status": "complete",
              "finish_reason": "stop", "usage": usage(120, 45), "usage_source": "provider", "cost": 0.000045,
              "cost_source": "catalog", "prices": {"input_per_mtok": 0.15, "output_per_mtok": 0.6,
                                                   "cache_read_per_mtok": None, "cache_write_per_mtok": None,
                                                   "source": "catalog"},
              "ttft": 0.42, "duration": 1.42, "created_at": BASE + 20}
    record.update(fields)
    return record


def user(mid: str, content: str, **fields) -> dict:
    return {"id": mid, "role": "user", "content": content, "created_at": BASE + 10, **fields}


def conversation() -> list[dict]:
    return [
        user("u1", "How do I print?"),
        reply("a1", ONE_BLOCK),
        user("u2", "And with rich?"),
        reply("a2", TWO_BLOCKS, params={"temperature": 0.2, "top_p": 0.9, "max_tokens": 512}),
    ]


class Host(App):
    """A ConversationView over a prompt-like input, styled as in the app; records what the view asks for."""

    CSS_PATH = Path(app_module.__file__).with_name("app.tcss")

    def __init__(self, messages: list[dict] | None = None, alternatives: dict | None = None) -> None:
        super().__init__()
        self.messages = messages if messages is not None else conversation()
        self.alternatives = alternatives
        self.requests: list[tuple[str, str]] = []
        self.left = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="chat"):
            yield ConversationView(id="conversation")
            yield Input(id="prompt")
        yield Footer()

    def on_mount(self) -> None:
        self.view.show_messages(self.messages, self.alternatives)
        self.query_one(Input).focus()

    @property
    def view(self) -> ConversationView:
        return self.query_one(ConversationView)

    def on_message_block_action_requested(self, event: MessageBlock.ActionRequested) -> None:
        self.requests.append((event.action, event.message_id))

    def on_conversation_view_leave_requested(self, event: ConversationView.LeaveRequested) -> None:
        self.left += 1
        self.query_one(Input).focus()




def focused_id(app: App) -> str | None:
    focused = app.focused
    return focused.message.get("id") if isinstance(focused, MessageBlock) else None


async def enter_conversation(pilot) -> None:
    app = pilot.app
    await until(lambda: len(app.view.message_blocks()) == len(app.messages), what="the messages")
    await pilot.pause()
    assert app.view.focus_last_message()
    await pilot.pause()


async def open_chooser(pilot) -> None:
    """From the newest message (two code blocks): y opens the code chooser."""
    await enter_conversation(pilot)
    await pilot.press("y")
    await until(lambda: isinstance(pilot.app.screen, CodeChooserScreen), what="the chooser")


# -- moving the focus -------------------------------------------------------------------------------------------
async def test_up_down_j_k_home_end_move_focus_between_messages_and_mark_it():
    app = Host(conversation())
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        assert focused_id(app) == "a2"
        assert app.focused.has_class("-focused")
        await pilot.press("up")
        assert focused_id(app) == "u2"
        await pilot.press("k")
        assert focused_id(app) == "a1"
        await pilot.press("j")
        assert focused_id(app) == "u2"
        await pilot.press("down")
        assert focused_id(app) == "a2"
        await pilot.press("down")  # the last one stays focused
        assert focused_id(app) == "a2"
        await pilot.press("home")
        assert focused_id(app) == "u1"
        marked = [b.message["id"] for b in app.view.message_blocks() if b.has_class("-focused")]
        assert marked == ["u1"]
        await pilot.press("end")
        assert focused_id(app) == "a2"


async def test_notices_are_skipped_and_the_focused_block_scrolls_into_view():
    from agentspace_tui.ui.widgets.conversation import NoticeBlock

    many = []
    for i in range(8):
        many += [user(f"u{i}", f"question {i}\n" * 3), reply(f"a{i}", f"answer {i}\n\n" + "line\n\n" * 6)]
    app = Host(many)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.view.message_blocks()) >= 4, what="the messages")
        app.view.add(NoticeBlock("a notice between messages"))
        await pilot.pause()
        app.view.focus_last_message()
        await pilot.pause()
        last = focused_id(app)
        await pilot.press("up")
        assert focused_id(app) != last and focused_id(app) is not None  # the notice was stepped over
        for _ in range(12):
            await pilot.press("up")
        await pilot.pause(0.1)
        block = app.focused
        assert isinstance(block, MessageBlock)
        view = app.view
        top, bottom = view.scroll_y, view.scroll_y + view.scrollable_content_region.height
        assert block.virtual_region.y < bottom and block.virtual_region.bottom > top


async def test_up_past_the_first_mounted_message_loads_the_earlier_page():
    many = []
    for i in range(15):
        many += [user(f"u{i}", f"question {i}"), reply(f"a{i}", f"answer {i}")]
    app = Host(many)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.view.message_blocks()) == 10, what="the first page")
        await pilot.pause()
        first = app.view.message_blocks()[0]
        first.focus()
        await pilot.pause()
        await pilot.press("up")
        # (focusing the first one may scroll to the top, which loads a page by itself: at least one more page)
        await until(lambda: len(app.view.message_blocks()) >= 20, what="the earlier page")
        await until(lambda: focused_id(app) == "a9", what="the message before the first one")


async def test_from_the_view_itself_arrows_focus_a_message_on_screen():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.view.message_blocks()) == 4)
        app.view.focus()
        await pilot.pause()
        await pilot.press("up")
        assert focused_id(app) == "a2"  # the bottom-most message in view


async def test_escape_and_i_ask_for_the_prompt():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        await pilot.press("escape")
        assert app.left == 1 and isinstance(app.focused, Input)
        app.view.focus_last_message()
        await pilot.pause()
        await pilot.press("i")
        assert app.left == 2 and isinstance(app.focused, Input)
        assert app.query_one(Input).value == ""  # the key was not typed anywhere


async def test_escape_on_a_message_is_left_to_the_app_while_a_reply_streams():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        streaming = ReplyBlock({"id": "s1", "role": "assistant", "content": "", "model": MODEL}, streaming=True)
        app.view.add(UserBlock(user("u3", "more")), streaming)
        await pilot.pause()
        app.view.message_blocks()[0].focus()
        await pilot.pause()
        await pilot.press("escape")
        assert app.left == 0
        await pilot.press("i")
        assert app.left == 1


# -- actions ------------------------------------------------------------------------------------------------------
async def test_c_copies_the_focused_message():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        await pilot.press("c")
        assert app.clipboard == TWO_BLOCKS
        assert any(f"copied the reply ({len(TWO_BLOCKS):,} characters)" in n.message for n in app._notifications)
        await pilot.press("up", "c")
        assert app.clipboard == "And with rich?"


async def test_copied_text_has_no_live_control_sequence():
    app = Host([user("u1", "hi"), reply("a1", "before \x1b[201~ after")])
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        await pilot.press("c")
        assert "\x1b" not in app.clipboard and "before" in app.clipboard and "after" in app.clipboard


async def test_y_with_one_code_block_copies_it():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        await pilot.press("up", "up", "y")  # a1 has one block
        assert focused_id(app) == "a1"
        assert app.clipboard == "print('one')\n"
        assert not isinstance(app.screen, CodeChooserScreen)
        assert any("copied the code block (python, 1 line)" in n.message for n in app._notifications)


async def test_y_with_two_blocks_opens_the_chooser_and_copies_the_chosen_one():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await open_chooser(pilot)
        await pilot.press("down", "enter")
        await until(lambda: not isinstance(app.screen, CodeChooserScreen), what="the chooser to close")
        assert app.clipboard == "import rich\n\nrich.print('two')\nprint('done')\n"
        assert any("copied code block 2 of 2 (python, 4 lines)" in n.message for n in app._notifications)


async def test_the_chooser_cancelled_copies_nothing():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await open_chooser(pilot)
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, CodeChooserScreen), what="the chooser to close")
        assert app.clipboard == ""
        assert focused_id(app) == "a2"


async def test_enter_and_d_open_the_details_screen():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        for key in ("enter", "d"):
            await pilot.press(key)
            await until(lambda: isinstance(app.screen, MessageDetailsScreen), what="the details")
            assert app.screen.message["id"] == "a2"
            await pilot.press("escape")
            await until(lambda: not isinstance(app.screen, MessageDetailsScreen), what="the details to close")


async def test_requests_are_posted_with_the_action_and_the_message_id():
    app = Host(alternatives={"a2": (2, 3)})
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        await pilot.press("r", "m", "x", "left_square_bracket", "right_square_bracket")
        await pilot.press("up", "e", "x")
        await pilot.pause()
        assert app.requests == [
            ("regenerate", "a2"), ("retry_other", "a2"), ("delete", "a2"), ("previous_alternative", "a2"),
            ("next_alternative", "a2"), ("edit", "u2"), ("delete", "u2"),
        ]


async def test_keys_that_do_not_apply_do_nothing_and_are_not_offered():
    app = Host(alternatives={"a2": (1, 2)})
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        reply_keys = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert "request('regenerate')" in reply_keys and "request('edit')" not in reply_keys
        assert "request('next_alternative')" in reply_keys
        assert "request('previous_alternative')" not in reply_keys  # the first of two has none before it
        await pilot.press("e", "left_square_bracket")  # edit on a reply, previous of the first: nothing
        await pilot.press("up")
        user_keys = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert "request('edit')" in user_keys and "request('regenerate')" not in user_keys
        assert "copy_code" not in user_keys  # no code in it
        await pilot.press("r", "m", "y", "left_square_bracket", "right_square_bracket")
        await pilot.pause()
        assert app.requests == []
        assert focused_id(app) == "u2" and app.clipboard == ""
        assert isinstance(app.screen.focused, UserBlock)


async def test_a_streaming_reply_offers_no_change():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        streaming = ReplyBlock({"id": "s1", "role": "assistant", "content": "", "model": MODEL}, streaming=True)
        app.view.add(UserBlock(user("u3", "more")), streaming)
        await pilot.pause()
        streaming.focus()
        await pilot.pause()
        await pilot.press("r", "m", "x")
        await pilot.pause()
        assert app.requests == []


# -- alternatives and hidden messages ----------------------------------------------------------------------------
async def test_alternatives_show_in_the_header():
    app = Host(alternatives={"a2": (2, 3), "u2": (1, 2)})
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        blocks = {b.message["id"]: b for b in app.view.message_blocks()}
        header = blocks["a2"].query_one(".reply-header")
        assert "‹ 2/3 ›" in str(header.visual)
        assert "‹ 1/2 ›" in str(blocks["u2"].border_title)
        assert "‹" not in str(blocks["a1"].query_one(".reply-header").visual)


async def test_a_hidden_message_is_one_line_and_offers_restore_and_details():
    long = "secret plan " * 20
    app = Host([user("u1", long, hidden=True), reply("a1", "the answer\n\nin two paragraphs", hidden=True),
                user("u2", "visible"), reply("a2", "shown")])
    async with app.run_test(size=SIZE) as pilot:
        await enter_conversation(pilot)
        blocks = app.view.message_blocks()
        hidden_user, hidden_reply = blocks[0], blocks[1]
        assert hidden_user.hidden and hidden_reply.hidden
        shown = str(hidden_user.visual)
        assert shown.startswith("hidden from the context: secret plan") and "\n" not in shown
        assert len(shown) <= len("hidden from the context: ") + 60
        assert hidden_user.size.height == 1
        assert [str(w.visual) for w in hidden_reply.query(".message-hidden")] == [
            "hidden from the context: the answer in two paragraphs"]
        assert not hidden_reply.query(".reply-header") and hidden_reply.size.height == 1
        await pilot.press("home")
        assert focused_id(app) == "u1"
        keys = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert "request('restore')" in keys and "request('delete')" not in keys and "request('edit')" not in keys
        await pilot.press("e", "c", "x")
        await pilot.pause()
        assert app.requests == [("restore", "u1")] and app.clipboard == ""
        await pilot.press("down", "r", "x")
        await pilot.pause()
        assert app.requests == [("restore", "u1"), ("restore", "a1")]


# -- onboarding --------------------------------------------------------------------------------------------------
async def test_onboarding_shows_on_an_empty_view_and_hides_when_a_message_is_added():
    app = Host([])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.view
        view.set_onboarding(MODEL, "$0.15 in / $0.60 out per Mtok", "128k tokens",
                            [("Enter", "send"), ("Ctrl+J", "newline"), ("Ctrl+O", "model")])
        await pilot.pause()
        panel = view.onboarding
        assert panel.display
        shown = str(panel.visual)
        assert MODEL in shown and "$0.15 in / $0.60 out per Mtok" in shown and "128k tokens" in shown
        assert "Ctrl+J" in shown and "newline" in shown
        view.add(UserBlock(user("u1", "hello")))
        await pilot.pause()
        assert not panel.display
        view.clear()
        await pilot.pause()
        assert panel.display and MODEL in str(panel.visual)  # the values are kept
        view.show_messages(conversation())
        await pilot.pause()
        assert not panel.display
        view.show_messages([])
        await pilot.pause()
        assert panel.display


async def test_onboarding_values_are_never_markup():
    app = Host([])
    async with app.run_test(size=SIZE) as pilot:
        app.view.set_onboarding("evil:[bold red]x[/]", "[link=x]p[/]", "\x1b[2Jw", [("[b]K[/b]", "[i]what[/i]")])
        await pilot.pause()
        shown = str(app.view.onboarding.visual)
        assert "[bold red]x[/]" in shown and "[link=x]p[/]" in shown and "[b]K[/b]" in shown
        assert "\x1b" not in shown
