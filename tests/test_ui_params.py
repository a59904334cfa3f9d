"""Pilot and snapshot tests of the model parameters dialog, and the inspector's parameters line."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from agentspace_tui.pricing import Price
from agentspace_tui.services.params import ModelParams
from agentspace_tui.ui.screens.params import ParamsScreen
from agentspace_tui.ui.widgets.inspector import InspectorSidebar
from tests.test_params import inspect as inspection
from tests.test_ui_screens import Host

TERMINAL = (100, 30)
MODEL = "anthropic:claude-sonnet-4-5"




def screen_text(app: App) -> str:
    """The screen as plain text (what a user sees)."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def until(pilot, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting for the UI"
        await pilot.pause(0.02)


def host(params: ModelParams | None = None, max_output: int | None = 64000) -> Host:
    return Host(lambda: ParamsScreen(params or ModelParams(), MODEL, max_output))


def field(app: App, name: str) -> Input:
    return app.screen.query_one(f"#params-{name}", Input)


def error_of(app: App, name: str) -> str:
    return str(app.screen.query_one(f"#params-error-{name}", Static).render())


async def type_into(pilot, name: str, text: str) -> None:
    """Focus a field, clear it and type ``text`` as keystrokes."""
    field(pilot.app, name).focus()
    await pilot.pause()
    field(pilot.app, name).value = ""
    await pilot.press(*text)


# -- ParamsScreen ------------------------------------------------------------------------------------------
async def test_fields_show_current_values_and_enter_saves_typed_ones():
    app = host(ModelParams(temperature=0.7))
    async with app.run_test(size=TERMINAL) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        assert [field(app, n).value for n in ("temperature", "top_p", "max_tokens")] == ["0.7", "", ""]
        assert app.screen.focused is field(app, "temperature")
        await type_into(pilot, "temperature", "0.2")
        await pilot.press("tab")  # Tab moves to the next field
        assert app.screen.focused is field(app, "top_p")
        await pilot.press(*"0.9", "tab", *"500")
        assert app.screen.focused is field(app, "max_tokens")
        await pilot.press("enter")
        await until(pilot, lambda: bool(app.results))
    assert app.results == [ModelParams(temperature=0.2, top_p=0.9, max_tokens=500)]


async def test_bad_value_shows_the_error_under_the_field_and_does_not_dismiss():
    app = host()
    async with app.run_test(size=TERMINAL) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        await type_into(pilot, "top_p", "1.5")
        await pilot.pause()
        assert "top-p '1.5' is not allowed" in error_of(app, "top_p")  # shown as it is typed
        assert error_of(app, "temperature") == ""
        await pilot.press("enter")
        await pilot.pause()
        assert app.results == [] and isinstance(app.screen, ParamsScreen)
        assert "top-p '1.5'" in screen_text(app)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results == []
        # fixing it clears the error, and then Ctrl+S saves
        await type_into(pilot, "top_p", "0.5")
        await pilot.pause()
        assert error_of(app, "top_p") == ""
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(app.results))
    assert app.results == [ModelParams(top_p=0.5)]


async def test_max_tokens_above_the_models_limit_is_refused():
    app = host(max_output=8192)
    async with app.run_test(size=TERMINAL) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        await type_into(pilot, "max_tokens", "9000")
        await pilot.press("enter")
        await pilot.pause()
        assert app.results == []
        assert "limit of 8192 output tokens" in error_of(app, "max_tokens")
        assert app.screen.focused is field(app, "max_tokens")


async def test_errors_focus_the_first_bad_field_on_save():
    app = host()
    async with app.run_test(size=TERMINAL) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        await type_into(pilot, "temperature", "hot")
        await type_into(pilot, "max_tokens", "lots")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.focused is field(app, "temperature")
        assert "temperature 'hot'" in error_of(app, "temperature") and "max-tokens 'lots'" in error_of(
            app, "max_tokens"
        )
        assert app.results == []


async def test_escape_cancels_with_none():
    app = host(ModelParams(temperature=0.7))
    async with app.run_test(size=TERMINAL) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        await type_into(pilot, "temperature", "1.1")
        await pilot.press("escape")
        await until(pilot, lambda: bool(app.results))
    assert app.results == [None]


async def test_reset_to_defaults_empties_the_fields_and_saves_provider_defaults():
    app = host(ModelParams(temperature=0.7, top_p=0.5, max_tokens=300))
    async with app.run_test(size=TERMINAL) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        await type_into(pilot, "temperature", "5")
        await pilot.pause()
        assert error_of(app, "temperature")
        await pilot.click("#params-reset")
        await pilot.pause()
        assert [field(app, n).value for n in ("temperature", "top_p", "max_tokens")] == ["", "", ""]
        assert error_of(app, "temperature") == ""
        assert app.results == []  # reset does not close: Escape would still keep the old values
        await pilot.press("enter")
        await until(pilot, lambda: bool(app.results))
    assert app.results == [ModelParams()]


async def test_model_id_is_shown_as_text_not_markup():
    app = Host(lambda: ParamsScreen(ModelParams(), "openai:[bold]x[/bold]\x1b", None))
    async with app.run_test(size=TERMINAL) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        text = screen_text(app)
    assert "openai:[bold]x[/bold]" in text and "\x1b" not in text


def test_params_screen_snapshot(snap_compare):
    app = host(ModelParams(temperature=0.2, max_tokens=500), max_output=64000)

    async def run_before(pilot) -> None:
        await until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        await type_into(pilot, "top_p", "2")
        await pilot.pause()

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- the inspector's parameters line -----------------------------------------------------------------------
class InspectorHost(App):
    def compose(self) -> ComposeResult:
        yield InspectorSidebar()




async def test_inspector_shows_parameters_and_the_reply_bound():
    app = InspectorHost()
    async with app.run_test(size=(60, 30)) as pilot:
        sidebar = app.query_one(InspectorSidebar)
        params = ModelParams(temperature=0.2, max_tokens=2000)
        sidebar.show(inspection(Price(3.0, 15.0), params.max_tokens), None, params.describe())
        await pilot.pause()
        text = screen_text(app)
        assert "Parameters temperature 0.2 · max 2000 tokens" in text
        assert "reply ≤ $0.0300 (max 2.0k tokens) · forecast bound" in text

        sidebar.show(inspection(None, 2000), None, "provider defaults")
        await pilot.pause()
        text = screen_text(app)
        assert "Parameters provider defaults" in text and "reply ≤ price unknown (max 2.0k tokens)" in text


async def test_inspector_old_call_shows_no_parameters_line():
    app = InspectorHost()
    async with app.run_test(size=(60, 30)) as pilot:
        app.query_one(InspectorSidebar).show(inspection(Price(3.0, 15.0), None))
        await pilot.pause()
        text = screen_text(app)
    assert "Next request" in text and "Parameters" not in text and "reply ≤" not in text
