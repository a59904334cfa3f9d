"""Pilot and snapshot tests of the sessions browser and the providers/keys screen, against a real store."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

import keyring
import pytest
from keyring.backends import fail
from rich.console import Console
from textual.app import App
from textual.screen import Screen
from textual.widgets import Input, OptionList

from agentspace_tui.services.core import build_services
from agentspace_tui.ui.screens.first_run import CONTINUE_ID, KeysScreen
from agentspace_tui.ui.screens.sessions import ConfirmScreen, RenameScreen, SessionAction, SessionsScreen
from tests.conftest import PROVIDER_ENV

TERMINAL = (120, 36)
PASTED_KEY = "sk-pasted-TOPSECRET-abcdef0123456789"


class Host(App):
    """A bare app that pushes one screen and records what it dismissed with."""

    def __init__(self, make_screen: Callable[[], Screen]) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.results: list = []

    def on_mount(self) -> None:
        self.push_screen(self.make_screen(), self.results.append)


async def wait_for(pilot, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the UI")
        await pilot.pause(0.02)


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: App) -> str:
    """The screen as plain text (what a user sees)."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def option_ids(screen: Screen, selector: str) -> list[str]:
    return [o.id for o in screen.query_one(selector, OptionList).options]


# -- fixtures ----------------------------------------------------------------------------------------------

@pytest.fixture
def services(home):
    return build_services()


@pytest.fixture
def seeded(services):
    """Three sessions, oldest first: 'Alpha', 'Beta' (mentions 'zebra' in a message), 'Gamma'."""
    store = services.store
    made = []
    for i, (title, text) in enumerate([("Alpha", "hello"), ("Beta", "a zebra crossing"), ("Gamma", "bye")]):
        session = store.bulk_import(
            {"title": title, "model": "openai:gpt-4o-mini", "created_at": 1_700_000_000 + i * 100},
            [{"role": "user", "content": text, "created_at": 1_700_000_000 + i * 100 + 10}],
        )
        made.append(session)
    return services, made


@pytest.fixture
def no_keys(home, monkeypatch):
    """No provider key in the environment; Ollama still points at the loopback fake server."""
    for name in PROVIDER_ENV:
        if name != "OLLAMA_HOST":
            monkeypatch.delenv(name, raising=False)
    return home


# -- SessionsScreen ------------------------------------------------------------------------------------------
async def test_sessions_listed_newest_first_and_current_marked(seeded):
    services, made = seeded
    app = Host(lambda: SessionsScreen(services, made[0]["id"]))
    async with app.run_test(size=TERMINAL) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", False))
        screen = app.screen
        assert option_ids(screen, "#sessions-list") == [made[2]["id"], made[1]["id"], made[0]["id"]]
        text = screen_text(app)
        assert text.index("Gamma") < text.index("Beta") < text.index("Alpha")
        assert "(current)" in text and "openai:gpt-4o-mini" in text and "1 message" in text
        # the current session is highlighted when the list opens
        assert screen.query_one("#sessions-list", OptionList).highlighted_option.id == made[0]["id"]


async def test_sessions_empty_store(services):
    app = Host(lambda: SessionsScreen(services, None))
    async with app.run_test(size=TERMINAL) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", False))
        assert "No sessions yet" in screen_text(app)
        await pilot.press("ctrl+n")
    assert app.results == [SessionAction("new", None)]


async def test_search_finds_message_content(seeded):
    services, made = seeded
    app = Host(lambda: SessionsScreen(services, None))
    async with app.run_test(size=TERMINAL) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.loaded)
        assert isinstance(screen.focused, Input)  # the search box has the focus from the start
        # letters only ever type: "nrd" acts on no session
        await pilot.press(*"zebra")
        await wait_for(pilot, lambda: option_ids(screen, "#sessions-list") == [made[1]["id"]])
        assert screen.query_one("#sessions-search", Input).value == "zebra"
        await pilot.press("ctrl+a", "ctrl+k", *"nrd")
        assert screen.query_one("#sessions-search", Input).value == "nrd"
        assert app.results == []  # no action was triggered by typing
        await wait_for(pilot, lambda: "No sessions match" in screen_text(app))
        await pilot.press("ctrl+a", "ctrl+k")
        await wait_for(pilot, lambda: len(option_ids(screen, "#sessions-list")) == 3)


async def test_enter_opens_highlighted_session(seeded):
    services, made = seeded
    app = Host(lambda: SessionsScreen(services, None))
    async with app.run_test(size=TERMINAL) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded)
        await pilot.press("down", "enter")
        await pilot.pause()
    assert app.results == [SessionAction("open", made[1]["id"])]


async def test_search_then_enter_opens_hit(seeded):
    services, made = seeded
    app = Host(lambda: SessionsScreen(services, None))
    async with app.run_test(size=TERMINAL) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.loaded)
        await pilot.press(*"alpha")
        await wait_for(pilot, lambda: option_ids(screen, "#sessions-list") == [made[0]["id"]])
        await pilot.press("enter")  # Enter in the search box opens the highlighted hit
        await pilot.pause()
    assert app.results == [SessionAction("open", made[0]["id"])]


async def test_new_session_and_escape(seeded):
    services, made = seeded
    app = Host(lambda: SessionsScreen(services, made[0]["id"]))
    async with app.run_test(size=TERMINAL) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded)
        await pilot.press("ctrl+n")
        await pilot.pause()
        app.push_screen(SessionsScreen(services, made[0]["id"]), app.results.append)
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", False))
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [SessionAction("new", None), None]


async def test_rename_persists(seeded):
    services, made = seeded
    target = made[2]  # newest: highlighted first
    app = Host(lambda: SessionsScreen(services, None))
    async with app.run_test(size=TERMINAL) as pilot:
        sessions_screen = app.screen
        await wait_for(pilot, lambda: sessions_screen.loaded)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, RenameScreen)
        rename_input = app.screen.query_one(Input)
        assert rename_input.value == "Gamma"
        # an empty title is refused with a message
        rename_input.value = "   "
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RenameScreen)
        assert "can't be empty" in screen_text(app)
        rename_input.value = "Renamed [with] brackets"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is sessions_screen)
        await wait_for(pilot, lambda: "Renamed [with] brackets" in screen_text(app))
        await settle(pilot)
        assert services.store.get_session(target["id"])["title"] == "Renamed [with] brackets"
        assert sessions_screen.query_one("#sessions-list", OptionList).highlighted_option.id == target["id"]


async def test_delete_asks_and_removes(seeded):
    services, made = seeded
    target = made[2]
    app = Host(lambda: SessionsScreen(services, target["id"]))
    async with app.run_test(size=TERMINAL) as pilot:
        sessions_screen = app.screen
        await wait_for(pilot, lambda: sessions_screen.loaded)
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Delete 'Gamma'? Its spending stays in usage." in screen_text(app)
        await pilot.press("y", "enter")  # y does nothing; Enter alone presses Cancel: nothing happens
        await pilot.pause()
        assert app.screen is sessions_screen
        assert services.store.get_session(target["id"]) is not None
        sessions_screen.query_one("#sessions-list", OptionList).focus()
        await pilot.press("delete")  # Delete on the list asks too
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("tab", "enter")  # to the Delete button, then Enter
        await wait_for(pilot, lambda: len(option_ids(sessions_screen, "#sessions-list")) == 2)
        await settle(pilot)
        assert services.store.get_session(target["id"]) is None
        assert [s["id"] for s in services.store.list_sessions()] == [made[1]["id"], made[0]["id"]]
        assert sessions_screen.deleted_ids == {target["id"]}
        # the current session is gone: closing asks the caller to start a new one
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [SessionAction("new", None, frozenset({target["id"]}))]


def test_sessions_snapshot(snap_compare, home, utc):
    services = build_services()
    store = services.store
    base = 1_735_689_600  # 2025-01-01 00:00 UTC
    store.bulk_import(
        {
            "id": "aaaa00000001",
            "title": "Plan the [trip] to Lisbon",
            "model": "openai:gpt-4o-mini",
            "created_at": base,
            "updated_at": base + 3600,
            "usage": {
                "openai:gpt-4o-mini": {
                    "requests": 2,
                    "input_tokens": 900,
                    "output_tokens": 300,
                    "cost": 0.0123,
                    "unknown_cost": 0,
                }
            },
        },
        [
            {"role": "user", "content": "hi", "created_at": base + 60},
            {"role": "assistant", "content": "hello", "created_at": base + 120},
        ],
    )
    store.bulk_import(
        {
            "id": "bbbb00000002",
            "title": "Refactor the parser",
            "model": "openrouter:some/unpriced-model",
            "created_at": base + 86_400,
            "updated_at": base + 86_400 + 600,
            "usage": {
                "openrouter:some/unpriced-model": {
                    "requests": 1,
                    "input_tokens": 50,
                    "output_tokens": 20,
                    "cost": 0.0,
                    "unknown_cost": 1,
                }
            },
        },
        [{"role": "user", "content": "go", "created_at": base + 86_400 + 60}],
    )
    store.bulk_import(
        {
            "id": "cccc00000003",
            "title": None,
            "model": "ollama:llama3.2",
            "created_at": base + 2 * 86_400,
            "updated_at": base + 2 * 86_400,
        },
        [],
    )
    app = Host(lambda: SessionsScreen(services, "aaaa00000001"))

    async def run_before(pilot) -> None:
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", False))
        await settle(pilot)

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


# -- KeysScreen --------------------------------------------------------------------------------------------
async def test_keys_screen_lists_statuses(no_keys, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-SECRET")
    services = build_services()
    app = Host(lambda: KeysScreen(services))
    async with app.run_test(size=TERMINAL) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.loaded)
        text = screen_text(app)
        assert "agentspace-tui needs one provider" in text
        assert "ANTHROPIC_API_KEY set" in text  # from the environment, named
        assert "sk-ant-from-env-SECRET" not in text
        assert "no key — set OPENAI_API_KEY" in text  # missing, names the env var
        assert "set GEMINI_API_KEY" in text
        assert "2 models: llama3.2:latest, qwen2.5-coder:7b" in text  # discovered on the fake Ollama
        ids = option_ids(screen, "#keys-list")
        assert ids[-1] == CONTINUE_ID and {"openai", "anthropic", "ollama"} <= set(ids)
        await pilot.press("c")
        await pilot.pause()
    assert app.results == [True]


async def test_keys_ollama_not_running(no_keys, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    services = build_services()
    app = Host(lambda: KeysScreen(services))
    async with app.run_test(size=TERMINAL) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.loaded)
        assert "Ollama not running at http://127.0.0.1:9" in screen_text(app)
        assert not screen.usable
        # Continue refuses and says why; Escape dismisses False
        await pilot.press("c")
        await pilot.pause()
        assert app.screen is screen
        assert "No provider is usable yet" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [False]


async def test_paste_key_stores_in_keyring(no_keys, memkeyring, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    services = build_services()
    app = Host(lambda: KeysScreen(services))
    async with app.run_test(size=TERMINAL) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.loaded)
        key_list = screen.query_one("#keys-list", OptionList)
        key_list.highlighted = option_ids(screen, "#keys-list").index("openai")
        await pilot.press("enter")
        await pilot.pause()
        key_input = screen.query_one("#keys-input", Input)
        assert key_input.has_focus and key_input.password
        assert "set OPENAI_API_KEY instead" in screen_text(app)
        # typing letters in the key input does not trigger the list's keys (c, r)
        await pilot.press(*PASTED_KEY)
        assert key_input.value == PASTED_KEY
        assert PASTED_KEY not in screen_text(app)  # masked while typing
        await pilot.press("enter")
        assert key_input.value == ""  # cleared at once
        await wait_for(pilot, lambda: "Stored the OpenAI key" in screen_text(app))
        await settle(pilot)
        assert memkeyring.store == {("agentspace-tui", "openai"): PASTED_KEY}
        assert key_input.value == ""
        text = screen_text(app)
        assert "key in the system keyring" in text
        assert PASTED_KEY not in text and PASTED_KEY not in app.export_screenshot()
        assert PASTED_KEY[5:20] not in text
        for widget in screen.query("*"):
            assert PASTED_KEY not in str(getattr(widget, "value", "") or "")
        assert screen.usable
        await pilot.press("enter")  # the highlight moved to "Continue →"
        await pilot.pause()
    assert app.results == [True]
    for path in no_keys.rglob("*"):
        if path.is_file():
            assert PASTED_KEY.encode() not in path.read_bytes(), path


async def test_no_keyring_backend_keeps_a_pasted_key_for_this_session_only(no_keys, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        services = build_services()
        app = Host(lambda: KeysScreen(services))
        async with app.run_test(size=TERMINAL) as pilot:
            screen = app.screen
            await wait_for(pilot, lambda: screen.loaded)
            assert "No system keyring on this machine" in screen_text(app)
            screen.query_one("#keys-list", OptionList).highlighted = option_ids(screen, "#keys-list").index("anthropic")
            await pilot.press("enter")
            await pilot.pause()
            assert "used for this session only, kept in memory" in screen_text(app)
            await pilot.press(*PASTED_KEY, "enter")
            await wait_for(pilot, lambda: "for this session only (in memory, never written)" in screen_text(app))
            await settle(pilot)
            text = screen_text(app)
            assert "key for this session only (in memory)" in text
            assert PASTED_KEY not in text
            assert screen.query_one("#keys-input", Input).value == ""
            assert screen.usable
            resolved = services.key_for("anthropic")
            assert (resolved.value, resolved.source) == (PASTED_KEY, "session")
        # never written anywhere, and gone with the process: a new set of services has no key
        for path in no_keys.rglob("*"):
            if path.is_file():
                assert PASTED_KEY.encode() not in path.read_bytes(), path
        assert build_services().key_for("anthropic").source == "none"
    finally:
        keyring.set_keyring(previous)


def test_first_run_snapshot(snap_compare, no_keys, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    services = build_services()
    app = Host(lambda: KeysScreen(services, first_run=True))

    async def run_before(pilot) -> None:
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", False))
        await settle(pilot)

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)
