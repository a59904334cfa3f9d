"""Markup injection: text from users, models, files and config is shown as text, never parsed as markup.

``/model openai:[/]`` used to kill the app (a toast parsed the id as markup) and ``openai:[bold red]X[/]``
rendered red; both ids were also saved as the session's model. Model ids are now checked where they are
resolved (the catalog), so ``ask -m``, ``context --model``, ``/model`` and the switcher all refuse them with
one line, and every widget shows dynamic strings as ``Text`` / with markup off.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from textual.app import App
from textual.widgets import OptionList

from agentspace_tui.catalog.catalog import Catalog
from agentspace_tui.catalog.models import ModelError
from agentspace_tui.catalog.providers import BUILTIN_PROVIDERS
from agentspace_tui.services.core import build_services
from agentspace_tui.ui.app import ChatScreen
from agentspace_tui.ui.screens.model_switcher import ModelSwitcherScreen
from agentspace_tui.ui.screens.sessions import SessionsScreen
from tests.conftest import run_cli
from tests.test_ui_app import (
    CHAT_PATH,
    OPENAI,
    SIZE,
    command,
    inspector_text,
    make_app,
    notices,
    send_and_wait,
    started,
    title_bar,
    toasts,
    until,
)

MARKUP = "[bold]x[/] and [/] and [red]r[/red]"
RENDERED = "x and  and r"  # what MARKUP shows as when it is parsed


def painted(app: App) -> str:
    """The screen (and its modals, toasts) as the app would paint it."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return "\n".join("".join(strip.text for strip in line) for line in update.strips)


# -- the catalog --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model_id",
    ["openai:[/]", "openai:[bold red]X[/]", "openai:gpt 4o", "openai:gpt\x1b]0;x\x07", "gpt-4o\nrm", "openai:" + "a" * 300,
     "openai:gpt\u202e4o", "openai:gpt\ud83d", "openai:gpt{x}", "openai:gpt'4o"],
)
def test_invalid_model_ids_are_refused_by_the_catalog(model_id):
    catalog = Catalog(dict(BUILTIN_PROVIDERS))
    with pytest.raises(ModelError) as caught:
        catalog.resolve(model_id)
    message = str(caught.value)
    assert message.startswith("invalid model id ") and "\n" not in message
    assert "letters, digits" in message and len(message) < 300
    assert "\x1b" not in message and "\ud83d" not in message and "\u202e" not in message


@pytest.mark.parametrize(
    "model_id",
    ["openai:gpt-4o-mini", " openai:gpt-4o ", "ollama:hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
     "openrouter:meta-llama/llama-3.1-8b-instruct:free", "ollama:llama3.2:1b", "ollama:user@host+v1"],
)
def test_valid_model_ids_still_resolve(model_id):
    info = Catalog(dict(BUILTIN_PROVIDERS)).resolve(model_id)
    assert info.id == model_id.strip()


# -- the CLI ------------------------------------------------------------------------------------------------
def test_ask_and_context_refuse_a_markup_model_id(home, llm):
    result = run_cli(home, "ask", "-m", "openai:[/]", "hi")
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "openai:[/]" in lines[0] and "invalid model id" in lines[0]
    assert not llm.requests_to(CHAT_PATH)
    assert run_cli(home, "sessions", "list", "--json").stdout.strip() == "[]"  # nothing stored

    llm.script()
    assert run_cli(home, "ask", "hi").returncode == 0
    sid = json.loads(run_cli(home, "sessions", "list", "--json").stdout)[0]["id"]
    context = run_cli(home, "context", sid, "--model", "openai:[bold]x[/]")
    assert context.returncode == 3 and len(context.stderr.strip().splitlines()) == 1
    assert "openai:[bold]x[/]" in context.stderr


# -- the app ------------------------------------------------------------------------------------------------
async def test_model_command_with_markup_is_refused_and_the_app_stays_up(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send_and_wait(pilot, "first")
        sid = app.session["id"]
        await command(pilot, "/model openai:[/]")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen) and app.model.id == OPENAI
        refusal = notices(app)[-1]
        assert "invalid model id 'openai:[/]'" in refusal and "\n" not in refusal
        assert app.services.store.get_session(sid)["model"] == OPENAI
        assert OPENAI in title_bar(app)

        await command(pilot, "/model openai:[bold red]X[/]")
        await pilot.pause()
        assert app.model.id == OPENAI
        assert "invalid model id 'openai:[bold red]X[/]'" in notices(app)[-1]  # the literal text
        text = painted(app)
        assert "openai:[bold red]X[/]" in text and "openai:X" not in text  # not parsed, in a notice or a toast
        assert not any("openai:X" in t or "openai:[" in t for t in toasts(app))
        assert app.services.store.get_session(sid)["model"] == OPENAI

        # still up and usable; a valid id still switches (and says so in a toast)
        await command(pilot, "/model gpt-4o")
        assert app.model.id == "openai:gpt-4o"
        assert any("model: openai:gpt-4o" in t for t in toasts(app))
        await send_and_wait(pilot, "second")


async def test_switcher_does_not_offer_a_markup_id(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+o")
        await until(lambda: isinstance(app.screen, ModelSwitcherScreen), what="the switcher")
        switcher = app.screen
        await pilot.press(*"openai:[/]")
        await pilot.pause()
        assert "openai:[/]" not in switcher.shown_ids
        count = str(switcher.query_one("#switcher-count").visual)
        assert "not a valid model id" in count
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ModelSwitcherScreen)  # nothing to choose: it stays open
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, ChatScreen), what="the chat screen")
        assert app.model.id == OPENAI
        # a well-formed id that is not in the catalog is still offered
        await pilot.press("ctrl+o")
        await until(lambda: isinstance(app.screen, ModelSwitcherScreen), what="the switcher")
        await pilot.press(*"openai:my-finetune-1")
        await pilot.pause()
        assert app.screen.shown_ids[0] == "openai:my-finetune-1"


async def test_markup_in_title_attachment_and_system_prompt_is_shown_literally(home, llm):
    services = build_services()
    session = services.store.bulk_import(
        {"title": MARKUP, "model": OPENAI, "system_prompt": f"Be {MARKUP}",
         "attachments": [{"path": "/tmp/a", "name": "[/]notes[bold].txt", "content": "x", "bytes": 1}]},
        [{"role": "user", "content": f"user {MARKUP}", "status": "complete"},
         {"role": "assistant", "content": "reply", "model": OPENAI, "status": "error", "error": f"oops {MARKUP}"}],
    )
    services.store.close()
    app = make_app(session=session["id"])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        await until(lambda: "notes" in inspector_text(app), what="the attachment in the inspector")
        assert MARKUP in title_bar(app)
        assert "[/]notes[bold].txt" in inspector_text(app)
        assert app.main_screen.sidebar.display
        await command(pilot, "/system")
        await until(lambda: any("system prompt:" in n for n in notices(app)), what="the /system notice")
        assert f"Be {MARKUP}" in notices(app)[-1]
        text = painted(app)
        assert MARKUP in text and RENDERED not in text
        await pilot.press("ctrl+r")
        await until(lambda: isinstance(app.screen, SessionsScreen) and app.screen.loaded, what="the sessions")
        await pilot.pause()
        option = app.screen.query_one(OptionList).get_option_at_index(0)
        console = Console(width=200, file=io.StringIO(), record=True)
        console.print(option.prompt)
        assert MARKUP in console.export_text()
        assert MARKUP in painted(app) and RENDERED not in painted(app)
