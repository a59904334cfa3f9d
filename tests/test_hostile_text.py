"""Hostile text: nothing a model, a user, a file or the config says reaches the terminal as a control sequence.

Model text is input from the network. Written to a terminal as is, ``ESC ] 52`` sets the clipboard, ``ESC ] 0``
the window title, ``ESC [ 6n`` makes the terminal type its answer into the shell, and a lone UTF-16 surrogate
crashes a strict UTF-8 writer. These tests send such text through the real paths: the CLI in a subprocess with
``PYTHONIOENCODING=utf-8:strict``, and the app through litellm and the loopback server, reading what the app
would paint (the compositor's strips: every byte Textual would write, minus its own style codes).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from textual.app import App

from agentspace_tui.services.core import build_services
from agentspace_tui.ui.app import ChatScreen
from agentspace_tui.ui.screens.first_run import KeysScreen
from agentspace_tui.ui.screens.model_switcher import ModelSwitcherScreen
from agentspace_tui.ui.screens.sessions import ConfirmScreen, RenameScreen, SessionsScreen
from tests.conftest import run_cli
from tests.fakeserver import Reply
from tests.test_ui_app import CHAT_PATH, SIZE, command, idle, make_app, send, started, until

ESC = "\x1b"
OSC52_BEL = ESC + "]52;c;ZWNobyBwd25lZA==\x07"  # set the clipboard, BEL-terminated
OSC52_ST = ESC + "]52;c;cm0gLXJmIH4=" + ESC + "\\"  # the same, ended by ST (ESC \)
OSC0 = ESC + "]0;pwned title\x07"  # set the window title
CSI_6N = ESC + "[6n"  # the terminal answers into the shell's input
CSI_2J = ESC + "[2J"  # clear the screen
C1_CSI = "\x9b6n"  # a one-byte CSI
LONE = "\ud83d"  # half an emoji

HOSTILE = (
    f"Intro {OSC52_BEL} clip-bel\n\n"
    f"Then {OSC52_ST} clip-st and {OSC0} title\n\n"
    f"- ask {CSI_6N} and clear {CSI_2J}\n"
    f"- one byte {C1_CSI} and half {LONE} emoji\n\n"
    f"```\ncode {ESC}]0;in code\x07 end\n```\n"
)
# the same text in chunks cut inside the sequences
HOSTILE_CHUNKS = [HOSTILE[i : i + 7] for i in range(0, len(HOSTILE), 7)]
THOUGHT = f"Thinking {OSC0} about {CSI_6N} it\nsecond {OSC52_ST} line {LONE}"
FORBIDDEN = (ESC, "\x07", "\x9b")


def assert_terminal_safe(text: str, where: str = "") -> None:
    for ch in FORBIDDEN:
        assert ch not in text, f"{ch!r} in {where}: {text[max(0, text.find(ch) - 60) : text.find(ch) + 60]!r}"
    assert not any("\ud800" <= ch <= "\udfff" for ch in text), where


def cli(home: Path, *args: str):
    """The CLI with a strict UTF-8 stdout: a lone surrogate would be a UnicodeEncodeError, not mojibake."""
    result = run_cli(home, *args, PYTHONIOENCODING="utf-8:strict")
    assert result.returncode == 0, (args, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    return result


def seed_hostile(**session: object) -> str:
    """A stored session whose every field carries control sequences (as an older version may have stored)."""
    services = build_services()
    messages = [
        {"role": "user", "content": f"user says {OSC0} and {CSI_6N} {LONE}", "status": "complete"},
        {"role": "assistant", "content": HOSTILE, "reasoning": THOUGHT, "model": "openai:gpt-4o-mini",
         "status": "error", "error": f"provider said {OSC52_BEL} {LONE}", "finish_reason": "stop",
         "usage": {"input_tokens": 10, "output_tokens": 20}, "cost": 0.0001},
        {"role": "assistant", "content": "ok", "model": f"openai:gpt{OSC0}", "status": "complete",
         "finish_reason": "tool_calls", "tool_calls": [{"name": f"run{CSI_6N}", "arguments": f"{{\"a\": \"{OSC0}\"}}"}]},
    ]
    meta = {
        "title": f"Title {OSC0} {CSI_2J} {LONE}",
        "model": f"openai:gpt-4o-mini{CSI_6N}",
        "system_prompt": f"Be {OSC52_ST} nice {LONE}",
        "attachments": [{"path": "/tmp/x", "name": f"notes{OSC0}.txt", "content": f"file {CSI_6N}", "bytes": 9}],
        **session,
    }
    sid = services.store.bulk_import(meta, messages)["id"]
    services.store.close()
    return sid


# -- the CLI ------------------------------------------------------------------------------------------------
def test_sessions_show_list_export_are_terminal_safe(home):
    sid = seed_hostile()
    show = cli(home, "sessions", "show", sid).stdout
    assert_terminal_safe(show, "sessions show")
    # what the text said is still there, its controls made visible
    assert "␛]52;c;ZWNobyBwd25lZA==␇ clip-bel" in show and "␛]0;pwned title␇" in show and "␛[6n" in show
    assert "<9B>6n" in show and "half \ufffd emoji" in show
    assert "Title ␛]0;pwned title␇" in show and "Be ␛]52;c;cm0gLXJmIH4=␛\\ nice" in show
    assert "notes␛]0;pwned title␇.txt" in show and "Thinking ␛]0;pwned title␇" in show
    assert "provider said ␛]52" in show and "openai:gpt␛]0;pwned title␇" in show and "run␛[6n" in show
    assert "user says ␛]0;pwned title␇" in show

    export = cli(home, "sessions", "export", sid, "--format", "md").stdout
    assert_terminal_safe(export, "sessions export --format md")
    assert export == show

    listing = cli(home, "sessions", "list").stdout
    assert_terminal_safe(listing, "sessions list")
    assert "Title ␛]0;pwned title␇" in listing and "openai:gpt-4o-mini␛[6n" in listing
    assert len(listing.splitlines()) == 3  # header, rule, one row: no line breaks from the title

    # JSON keeps the text as data (escaped), with the lone surrogate repaired
    data = json.loads(cli(home, "sessions", "list", "--json").stdout)
    assert data[0]["title"] == f"Title {OSC0} {CSI_2J} \ufffd"
    exported = cli(home, "sessions", "export", sid, "--format", "json").stdout
    assert ESC not in exported and "\x07" not in exported and "\x9b" not in exported
    doc = json.loads(exported)
    assert doc["messages"][1]["content"] == HOSTILE.replace(LONE, "\ufffd")
    assert doc["session"]["system_prompt"] == f"Be {OSC52_ST} nice \ufffd"


def test_hostile_reply_end_to_end_cli(home, llm):
    llm.script(Reply(text=HOSTILE, chunks=HOSTILE_CHUNKS, reasoning=THOUGHT))
    # the streamed answer is the ask command's business; here it only has to land in the store
    asked = run_cli(home, "ask", "hello", PYTHONIOENCODING="utf-8:replace")
    assert asked.returncode == 0, asked.stderr
    sid = json.loads(cli(home, "sessions", "list", "--json").stdout)[0]["id"]
    show = cli(home, "sessions", "show", sid).stdout
    assert_terminal_safe(show, "sessions show")
    assert "␛]52;c;ZWNobyBwd25lZA==␇ clip-bel" in show and "␛[2J" in show and "Thinking ␛]0;pwned title␇" in show
    md = cli(home, "sessions", "export", sid).stdout
    assert_terminal_safe(md, "sessions export")
    assert_terminal_safe(cli(home, "sessions", "list").stdout, "sessions list")


def test_models_output_is_terminal_safe(home):
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(
        '[providers.evil]\nkind = "openai"\napi_base = "http://127.0.0.1:9"\n'
        'label = "Evil \\u001b]0;x\\u0007"\n'
        'models = ["m\\u001b]52;c;eA==\\u0007", "n\\u001b[6n", "o\\u009b6n"]\n'
    )
    out = cli(home, "models", "--provider", "evil").stdout
    assert_terminal_safe(out, "models")
    assert "evil:m␛]52;c;eA==␇" in out and "evil:n␛[6n" in out and "evil:o<9B>6n" in out
    data = json.loads(cli(home, "models", "--provider", "evil", "--json").stdout)
    assert [m["id"] for m in data] == ["evil:m\x1b]52;c;eA==\x07", "evil:n\x1b[6n", "evil:o\x9b6n"]


def test_control_characters_in_a_model_id_are_refused(home, llm):
    result = run_cli(home, "ask", "-m", f"openai:gpt{OSC0}", "hi", PYTHONIOENCODING="utf-8:strict")
    assert result.returncode == 3
    assert_terminal_safe(result.stderr, "ask -m stderr")
    assert len(result.stderr.strip().splitlines()) == 1 and "invalid model id" in result.stderr
    assert not llm.requests_to(CHAT_PATH)


# -- the app ------------------------------------------------------------------------------------------------
def painted(app: App) -> str:
    """Every character the app would write for the screen (and its modals), style codes aside."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return "\n".join("".join(strip.text for strip in line) for line in update.strips)


def assert_painted_safe(app: App, where: str) -> str:
    text = painted(app)
    assert_terminal_safe(text, where)
    return text


async def test_streamed_and_reopened_reply_paints_no_control_sequence(home, llm):
    llm.script(Reply(text=HOSTILE, chunks=HOSTILE_CHUNKS, reasoning=THOUGHT, delay=0.05))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        press = asyncio.create_task(send(pilot, f"user says {OSC0} and {CSI_6N}"))
        await until(lambda: app.current_reply is not None, what="the reply block")
        block = app.current_reply
        seen_mid_stream: list[str] = []

        def check() -> bool:
            if block.streaming and "clip-bel" in (text := painted(app)):
                seen_mid_stream.append(text)
            return idle(app)

        await until(check, what="the reply to end")
        await press
        await pilot.pause()
        assert seen_mid_stream, "the hostile text was never painted while streaming"
        for text in seen_mid_stream:
            assert_terminal_safe(text, "the streaming reply")
        settled = assert_painted_safe(app, "the settled reply")
        assert "␛]52;c;ZWNobyBwd25lZA==␇ clip-bel" in settled and "␛[2J" in settled and "<9B>6n" in settled
        assert "code ␛]0;in code␇ end" in settled and "user says ␛]0;pwned title␇" in settled
        # the stored reply keeps the provider's text (only the display is made safe)
        stored = app.services.store.get_messages(app.session["id"])[-1]
        assert OSC52_BEL in stored["content"]
        # the thinking block, opened
        await pilot.press("ctrl+t")
        await pilot.pause()
        opened = assert_painted_safe(app, "the opened thinking block")
        assert "Thinking ␛]0;pwned title␇ about ␛[6n it" in opened
        sid = app.session["id"]

    reopened = make_app(session=sid)
    async with reopened.run_test(size=SIZE) as pilot:
        await started(pilot)
        text = assert_painted_safe(reopened, "the reopened session")
        assert "␛]52;c;ZWNobyBwd25lZA==␇ clip-bel" in text and "user says ␛]0;pwned title␇" in text
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "second ␛]52" in assert_painted_safe(reopened, "the reopened thinking block")


async def test_stored_session_fields_paint_no_control_sequence(home, llm):
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(
        '[providers.evil]\nkind = "openai"\napi_base = "http://127.0.0.1:9"\n'
        'label = "Evil \\u001b]0;x\\u0007"\nmodels = ["m\\u001b]52;c;eA==\\u0007"]\n'
    )
    sid = seed_hostile()
    app = make_app(session=sid)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        await until(lambda: "notes" in painted(app), what="the inspector's attachment")
        text = assert_painted_safe(app, "the title bar, conversation and inspector")
        assert "Title ␛]0;pwned title␇" in text  # title bar
        assert "· notes␛]0;pwned" in text  # inspector (the name wraps in the sidebar)
        assert "provider said ␛]52" in text and "run␛[6n" in text  # the error and the tool call
        # a slash command's notice shows the system prompt
        await command(pilot, "/system")
        await until(lambda: "Be ␛]52" in painted(app), what="the system prompt notice")
        assert_painted_safe(app, "the /system notice")
        # the sessions browser
        await pilot.press("ctrl+r")
        await until(lambda: isinstance(app.screen, SessionsScreen) and app.screen.loaded, what="the sessions")
        await pilot.pause()
        text = assert_painted_safe(app, "the sessions screen")
        assert "Title ␛]0;pwned title␇" in text and "openai:gpt-4o-mini␛[6n" in text
        await pilot.press("ctrl+r")  # the rename box starts from the title as shown
        await until(lambda: isinstance(app.screen, RenameScreen), what="the rename box")
        await pilot.pause()
        assert "Title ␛]0;pwned" in assert_painted_safe(app, "the rename box")
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, SessionsScreen), what="the sessions")
        await pilot.press("ctrl+d")  # the delete question names it
        await until(lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.pause()
        assert "Delete 'Title ␛]0;pwned" in assert_painted_safe(app, "the delete question")
        await pilot.press("n")
        await until(lambda: isinstance(app.screen, SessionsScreen), what="the sessions")
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, ChatScreen), what="the chat screen")
        # the providers screen shows the configured label
        await pilot.press("ctrl+k")
        await until(lambda: isinstance(app.screen, KeysScreen) and app.screen.loaded, what="the keys screen")
        await pilot.pause()
        assert "Evil ␛]0;x␇" in assert_painted_safe(app, "the keys screen")
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, ChatScreen), what="the chat screen")
        # the model switcher lists configured models as they are named, made visible
        await pilot.press("ctrl+o")
        await until(lambda: isinstance(app.screen, ModelSwitcherScreen), what="the switcher")
        await pilot.press(*"evil")
        await pilot.pause()
        text = assert_painted_safe(app, "the model switcher")
        assert "evil:m␛]52;c;eA==␇" in text
        # a model id with controls is refused (not stored, not shown raw)
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, ChatScreen), what="the chat screen")
        model = app.model.id
        app.set_model(f"openai:gpt{OSC0}")
        await pilot.pause()
        assert app.model.id == model
        assert_painted_safe(app, "the refusal")



async def test_pasted_control_characters_are_shown_as_stand_ins(home, llm):
    from textual import events


    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        prompt = app.main_screen.prompt
        prompt.focus()
        # what Ctrl+Y copied from a hostile reply, pasted back into the prompt (the terminal's paste goes to
        # the app, which hands it to the focused widget); pasted once, not twice
        app.post_message(events.Paste(f"pasted {OSC52_ST} and {CSI_6N} {C1_CSI}"))
        await until(lambda: "pasted" in prompt.text, what="the paste")
        await pilot.pause()
        assert prompt.text == "pasted ␛]52;c;cm0gLXJmIH4=␛\\ and ␛[6n <9B>6n"
        assert "pasted ␛]52" in assert_painted_safe(app, "the prompt")
