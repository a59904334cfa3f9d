"""What the app remembers between runs: theme, the inspector shown or hidden, the last model chosen."""

from __future__ import annotations

from agentspace_tui.services.core import build_services
from agentspace_tui.ui.widgets.inspector import InspectorSidebar
from tests.test_ui_app import SIZE, command, make_app, notices, started, until


async def test_theme_inspector_and_model_survive_a_restart(home, llm):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.main_screen.sidebar.display  # wide enough: shown by default
        app.theme = "nord"
        await pilot.press("ctrl+b")  # hide the inspector
        await command(pilot, "/model anthropic:claude-sonnet-4-5")
        store = app.core_services.store
        await until(lambda: store.preferences().get("model") == "anthropic:claude-sonnet-4-5"
                    and store.preferences().get("theme") == "nord"
                    and store.preferences().get("inspector") is False, what="the preferences to be saved")

    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert again.theme == "nord"
        assert not again.main_screen.sidebar.display
        assert again.active_model.id == "anthropic:claude-sonnet-4-5"  # a new chat starts with the last model


async def test_a_remembered_model_or_theme_that_no_longer_exists_is_ignored(home, llm):
    build_services().store.set_preferences(theme="no-such-theme", model="gone:model", inspector="yes")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.theme != "no-such-theme"
        assert app.active_model.id == build_services().resolve_model(None).id  # config's default model
        assert app.main_screen.sidebar.display  # "yes" is not a bool: the width rule applies
        assert not any("gone" in n for n in notices(app))  # nothing to report: the model simply is not used


async def test_explicit_model_beats_the_remembered_one(home, llm):
    build_services().store.set_preferences(model="anthropic:claude-sonnet-4-5")
    app = make_app(model="openai:gpt-4o-mini")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.active_model.id == "openai:gpt-4o-mini"


async def test_narrow_terminals_collapse_the_inspector_and_keep_the_model_in_the_header(home, llm):
    from agentspace_tui.ui.help import title_bar_text
    from tests.test_ui_app import title_bar

    app = make_app(model="anthropic:claude-sonnet-4-5")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+b", "ctrl+b")  # hidden, then chosen shown
        assert app.main_screen.sidebar.display
        for width in (99, 80, 60):
            await pilot.resize_terminal(width, 30)
            await pilot.pause()
            assert not app.main_screen.sidebar.display, width  # the conversation keeps the room
            bar = title_bar(app)
            assert "anthropic:claude-sonnet-4-5" in bar and len(bar) <= width, (width, bar)
        await pilot.resize_terminal(140, 45)
        await pilot.pause()
        assert app.main_screen.sidebar.display  # the choice holds again once there is room
    for width in (40, 30):
        assert title_bar_text("a long title " * 5, "anthropic:claude-sonnet-4-5", True, width).plain \
            == "anthropic:claude-sonnet-4-5"
    assert title_bar_text("t", "anthropic:claude-sonnet-4-5", False, 12).plain == "anthropic:c…"


async def test_an_ollama_only_machine_starts_on_a_local_model(home, llm, monkeypatch):
    """No API key anywhere, Ollama running: the default OpenAI model (no key) gives way to a local one."""
    from tests.test_ui_app import replies, send_and_wait

    for env in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(env, raising=False)
    app = make_app(check_providers=True, warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await until(lambda: app.active_model.provider == "ollama", what="the switch to a local model")
        local = app.core_services.resolve_model("ollama:llama3.2:latest").id  # the first model the fake Ollama lists
        assert app.active_model.id == local
        assert any(f"local model {local} found in Ollama" in n for n in notices(app))
        await send_and_wait(pilot, "hello local")
        assert replies(app)[-1].message["model"] == local
        assert llm.requests_to("/api/chat")


async def test_a_chosen_model_is_kept_even_without_a_key(home, llm, monkeypatch):
    for env in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(env, raising=False)
    app = make_app(model="openai:gpt-4o-mini", check_providers=True, warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.active_model.id == "openai:gpt-4o-mini"  # asked for on the command line: not replaced


async def test_tab_stops_are_visible_and_typing_there_reaches_the_prompt(home, llm):
    from agentspace_tui.ui.widgets.conversation import ConversationView

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        prompt = app.main_screen.prompt
        for expected in (InspectorSidebar, ConversationView):
            await pilot.press("tab")
            await pilot.pause()
            focused = app.focused
            assert isinstance(focused, expected)
            assert focused.styles.background_tint.a > 0, expected  # the focused stop is marked
        await pilot.press(*"hi there")
        assert app.focused is prompt and prompt.text == "hi there"  # nothing typed was lost


async def test_help_lists_the_keys_as_bound_now(home, llm):
    config = home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text('[keybindings]\nswitch_model = "f2"\nretry = "f6"\n')
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await command(pilot, "/help")
        text = notices(app)[-1]
        assert "F2 switch model" in text and "Ctrl+O switch model" not in text
        assert "F6 re-send a failed message" in text
        assert "Ctrl+Q quit" in text and "Esc cancel the streaming reply" in text


async def test_esc_is_offered_while_a_reply_streams(home, llm):
    from textual.widgets import Footer

    from agentspace_tui.ui.widgets.prompt import PromptInput
    from tests.fakeserver import Reply
    from tests.test_ui_app import idle, send

    def footer_keys() -> str:
        return " ".join(str(k.description) for k in app.screen.query_one(Footer).query("FooterKey"))

    llm.script(Reply(text=" ".join(f"w{i}" for i in range(300)), delay=0.05))  # ~5 s: time to look
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert "Cancel" not in footer_keys()
        await send(pilot, "stream")
        await until(lambda: app.streaming and "Cancel" in footer_keys(), what="Esc in the footer")
        await pilot.press("escape")
        await until(lambda: idle(app), what="the cancel")
        await pilot.pause()
        assert "Cancel" not in footer_keys()
        app.main_screen.conversation.focus()
        await pilot.press("escape")  # not streaming: Esc goes back to the prompt
        assert isinstance(app.focused, PromptInput)


async def test_a_request_that_cannot_fit_is_warned_about_before_it_goes(home, llm):
    from tests.test_ui_app import idle, send

    config = home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(
        '[providers.tiny]\nkind = "openai"\napi_base = "' + llm.url + '/v1"\nlocal = true\nmodels = ["small"]\n'
        "context_window = 200\n"
    )
    app = make_app(model="tiny:small")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        draft = "word " * 400  # ~400 tokens for a 200-token window
        app.main_screen.prompt.text = draft
        await until(lambda: (app.last_inspection.used_fraction or 0) > 1, what="the inspector to see it")
        before = len(llm.requests_to("/v1/chat/completions"))
        await send(pilot, draft)
        await pilot.pause()
        assert any("cannot fit" in n and "Enter again" in n for n in notices(app))
        assert app.main_screen.prompt.text == draft  # nothing lost, nothing sent
        assert len(llm.requests_to("/v1/chat/completions")) == before
        await pilot.press("enter")  # the user insists
        await until(lambda: idle(app), what="the reply")
        assert len(llm.requests_to("/v1/chat/completions")) == before + 1


async def test_page_keys_in_the_prompt_scroll_the_conversation(home, llm):
    from agentspace_tui.ui.widgets.prompt import PromptInput
    from tests.fakeserver import Reply
    from tests.test_ui_app import send_and_wait

    llm.script(Reply(text="\n\n".join(f"paragraph {i}" for i in range(120))))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send_and_wait(pilot, "long please")
        view = app.main_screen.conversation
        await until(lambda: view.max_scroll_y > 0 and view.scroll_y == view.max_scroll_y, what="the bottom")
        bottom = view.scroll_y
        await pilot.press("pageup")
        await until(lambda: view.scroll_y < bottom, what="a page up")
        assert isinstance(app.focused, PromptInput)
        await pilot.press("pagedown")
        await until(lambda: view.scroll_y == bottom, what="back down")
