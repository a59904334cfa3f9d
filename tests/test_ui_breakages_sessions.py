"""Issue 8, sessions: opening long sessions from Ctrl+R, and typing in the sessions screen.

1. Opening a long session (one with a "load earlier" button) from another long one used to fail with
   DuplicateIds: the view went blank, the title bar kept the old session and model, and the next message went
   to the other session with its model. Opening is now one step: view, title, session, model and history agree
   after every open, nothing can be sent while a session is opening, and a failed open changes nothing.
2. Typing in the sessions screen used to delete sessions ("daily": d asked, y confirmed). Typing now goes to
   the search box; delete is ctrl+d (or Delete on the list) and its confirmation cannot be answered by typing.
"""

from __future__ import annotations

import threading

from textual.widgets import Button, Input, OptionList

from agentspace_tui.services.core import build_services
from agentspace_tui.ui.app import ChatScreen
from agentspace_tui.ui.screens.sessions import ConfirmScreen, SessionsScreen
from agentspace_tui.ui.widgets.conversation import ReplyBlock, UserBlock
from tests.fakeserver import Reply
from tests.test_ui_app import (
    ANTHROPIC_PATH,
    CHAT_PATH,
    CLAUDE,
    OPENAI,
    SIZE,
    make_app,
    screen_text,
    send,
    send_and_wait,
    started,
    title_bar,
    toasts,
    until,
)


def long_messages(tag: str, pairs: int, model: str) -> list[dict]:
    messages = []
    for i in range(pairs):
        messages.append({"role": "user", "content": f"{tag} question {i}", "created_at": 1_700_000_000 + 2 * i})
        messages.append({"role": "assistant", "content": f"{tag} answer {i}", "model": model,
                         "status": "complete", "created_at": 1_700_000_001 + 2 * i})
    return messages


def shown_blocks(app) -> list:
    """The messages the view shows (ignoring widgets already on their way out)."""
    view = app.main_screen.conversation
    return [w for w in view.children if isinstance(w, UserBlock | ReplyBlock) and not w._pruning]


async def open_from_sessions_screen(pilot, session_id: str) -> None:
    app = pilot.app
    await pilot.press("ctrl+r")
    await until(lambda: isinstance(app.screen, SessionsScreen) and app.screen.loaded, what="the sessions list")
    option_list = app.screen.query_one("#sessions-list", OptionList)
    ids = [o.id for o in option_list.options]
    option_list.highlighted = ids.index(session_id)
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, ChatScreen), what="the chat screen")
    await until(lambda: app.ready and app.session is not None and app.session["id"] == session_id,
                timeout=10, what="the session to open")
    await pilot.pause()


# -- 1. opening long sessions --------------------------------------------------------------------------------
async def test_opening_long_sessions_alternately_keeps_view_title_session_and_model_together(home, llm):
    services = build_services()
    sessions = {
        "alpha": services.store.bulk_import({"title": "Alpha long", "model": OPENAI},
                                            long_messages("alpha", 30, OPENAI)),
        "beta": services.store.bulk_import({"title": "Beta long", "model": CLAUDE},
                                           long_messages("beta", 30, CLAUDE)),
    }
    models = {"alpha": OPENAI, "beta": CLAUDE}
    titles = {"alpha": "Alpha long", "beta": "Beta long"}
    services.store.close()
    app = make_app(session=sessions["alpha"]["id"], warm_litellm=False)
    # alternately, and re-opening the session already shown
    sequence = ["beta", "alpha", "alpha", "beta", "beta", "alpha", "beta", "alpha", "alpha", "beta"]
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        for round_, tag in enumerate(sequence):
            session_id = sessions[tag]["id"]
            await open_from_sessions_screen(pilot, session_id)
            stored_before = app.services.store.get_messages(session_id)

            # the title bar, the view and the app's session, model and history agree
            bar = title_bar(app)
            assert titles[tag] in bar and models[tag] in bar, (round_, bar)
            assert app.model.id == models[tag]
            assert [m["content"] for m in app.history] == [m["content"] for m in stored_before]
            await until(lambda: shown_blocks(app) and all(
                b.message.get("content", "").startswith(tag) for b in shown_blocks(app)),  # noqa: B023
                timeout=5, what="the view to show only the opened session")
            blocks = shown_blocks(app)
            assert blocks[-1].message["content"] == stored_before[-1]["content"]
            button = app.main_screen.conversation.query_one("#load-earlier", Button)
            assert button.display and str(len(stored_before) - len(blocks)) in str(button.label)
            assert not any("failed" in n for n in toasts(app)), toasts(app)

            # a message goes to the shown session, with its history and its model
            text = f"{tag} message in round {round_}"
            llm.script(Reply(text=f"{tag} reply in round {round_}"))
            await send_and_wait(pilot, text)
            path = CHAT_PATH if models[tag] == OPENAI else ANTHROPIC_PATH
            other = ANTHROPIC_PATH if path == CHAT_PATH else CHAT_PATH
            request = [r for r in llm.requests if r.path.startswith((CHAT_PATH, ANTHROPIC_PATH))][-1]
            assert request.path.startswith(path), (round_, request.path)
            assert models[tag].split(":", 1)[1] in str(request.body.get("model")), request.body.get("model")
            sent = [m[1] for m in request.messages if m[0] != "system"]
            assert sent == [m["content"] for m in stored_before] + [text], round_
            assert all(not m.startswith("beta" if tag == "alpha" else "alpha") for m in sent)
            assert app.session["id"] == session_id
            stored_after = app.services.store.get_messages(session_id)
            assert [m["content"] for m in stored_after[-2:]] == [text, f"{tag} reply in round {round_}"]
            assert len(llm.requests_to(other)) == sum(
                1 for t in sequence[: round_ + 1] if t != tag), "a message went to the other model"


async def test_nothing_is_sent_while_a_session_opens_and_a_failed_open_changes_nothing(home, llm, monkeypatch):
    services = build_services()
    alpha = services.store.bulk_import({"title": "Alpha long", "model": OPENAI}, long_messages("alpha", 20, OPENAI))
    beta = services.store.bulk_import({"title": "Beta long", "model": CLAUDE}, long_messages("beta", 20, CLAUDE))
    services.store.close()
    app = make_app(session=alpha["id"], warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        release = threading.Event()
        real_messages = app.services.messages

        def slow_messages(session_id):
            release.wait(10)
            return real_messages(session_id)

        monkeypatch.setattr(app.services, "messages", slow_messages)
        await pilot.press("ctrl+r")
        await until(lambda: isinstance(app.screen, SessionsScreen) and app.screen.loaded, what="the sessions list")
        option_list = app.screen.query_one("#sessions-list", OptionList)
        option_list.highlighted = [o.id for o in option_list.options].index(beta["id"])
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ChatScreen), what="the chat screen")
        # still opening: Enter sends nothing, to neither session, and the draft stays
        await send(pilot, "too early")
        await pilot.pause()
        assert llm.requests_to(CHAT_PATH) == [] and llm.requests_to(ANTHROPIC_PATH) == []
        assert app.main_screen.prompt.text == "too early"
        assert any("still opening" in t for t in toasts(app))
        release.set()
        await until(lambda: app.ready and app.session["id"] == beta["id"], what="beta to open")
        assert "Beta long" in title_bar(app) and CLAUDE in title_bar(app)

        # a session deleted elsewhere: the open fails with a one-line notice, and nothing changes
        monkeypatch.setattr(app.services, "messages", real_messages)
        app.services.store.delete_session(alpha["id"])
        history = list(app.history)
        app.open_session(alpha["id"])
        await until(lambda: any("could not open the session" in t for t in toasts(app)), what="the notice")
        await until(lambda: app.ready, what="the app to be usable again")
        assert app.session["id"] == beta["id"] and app.model.id == CLAUDE and app.history == history
        assert "Beta long" in title_bar(app)
        assert all(b.message["content"].startswith("beta") for b in app.main_screen.conversation.query(UserBlock))


# -- 2. typing in the sessions screen ------------------------------------------------------------------------
async def test_typing_in_the_sessions_screen_never_deletes(home, llm):
    services = build_services()
    made = [
        services.store.bulk_import({"title": title, "model": OPENAI, "created_at": 1_700_000_000 + i},
                                   [{"role": "user", "content": f"{title} notes", "created_at": 1_700_000_010 + i}])
        for i, title in enumerate(["daily standup", "weekly review", "yes or no"])
    ]
    services.store.close()
    app = make_app(session=made[0]["id"], warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+r")
        await until(lambda: isinstance(app.screen, SessionsScreen) and app.screen.loaded, what="the sessions list")
        sessions_screen = app.screen
        search = sessions_screen.query_one("#sessions-search", Input)
        assert sessions_screen.focused is search
        assert "Ctrl+D delete" in screen_text(app)

        def count() -> int:
            return len(app.services.store.list_sessions())

        await pilot.press(*"daily")
        await pilot.pause()
        assert search.value == "daily"
        assert app.screen is sessions_screen and count() == 3
        await pilot.press("ctrl+a", "ctrl+k", *"yes", "space", *"ddd", "delete", "backspace")
        assert search.value == "yes dd"
        assert app.screen is sessions_screen and count() == 3
        # from the list too, letters go to the search box
        await pilot.press("ctrl+a", "ctrl+k")
        sessions_screen.query_one("#sessions-list", OptionList).focus()
        await pilot.press(*"dyn")
        assert search.value == "dyn" and sessions_screen.focused is search
        assert app.screen is sessions_screen and count() == 3

        # the deliberate key asks; typed words, y and Enter alone do not confirm
        await pilot.press("ctrl+a", "ctrl+k")
        await until(lambda: len(sessions_screen.query_one("#sessions-list", OptionList).options) == 3,
                    what="the full list")
        target = sessions_screen.query_one("#sessions-list", OptionList).highlighted_option.id
        for answer in (["y"], [*"daily"], [*"yes", "enter"], ["enter"], ["d", "y", "enter"], ["escape"]):
            await pilot.press("ctrl+d")
            await until(lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
            await pilot.pause()
            assert "cannot be undone" in str(app.screen.query_one("#confirm-question").visual)
            assert app.screen.focused.id == "confirm-cancel"
            await pilot.press(*answer)
            await pilot.pause()
            if isinstance(app.screen, ConfirmScreen):
                await pilot.press("escape")
                await pilot.pause()
            assert app.screen is sessions_screen, answer
            assert count() == 3 and app.services.store.get_session(target) is not None, answer

        # an explicit choice deletes: Tab to "Delete", Enter
        await pilot.press("ctrl+d")
        await until(lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("tab", "enter")
        await until(lambda: app.services.store.get_session(target) is None, what="the delete")
        await until(lambda: len(sessions_screen.query_one("#sessions-list", OptionList).options) == 2,
                    what="the list to refresh")
        # ctrl+d pressed again confirms as well
        second = sessions_screen.query_one("#sessions-list", OptionList).highlighted_option.id
        await pilot.press("ctrl+d")
        await until(lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("ctrl+d")
        await until(lambda: app.services.store.get_session(second) is None, what="the second delete")
        assert count() == 1


async def test_plain_confirm_screen_still_answers_y_and_n():
    """The export's replace question keeps its y/n answers (ConfirmScreen without ``confirm``)."""
    from textual.app import App

    results: list = []

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(ConfirmScreen("Replace it? (y / n)"), results.append)

    for key, expected in (("y", True), ("n", False), ("escape", False)):
        app = Host()
        async with app.run_test() as pilot:
            await pilot.pause()
            await pilot.press(key)
            await pilot.pause()
        assert results[-1] is expected
