"""The sessions browser: search, open, start, rename and delete sessions (its dialogs: confirm.py).

``SessionsScreen`` dismisses with a ``SessionAction`` ("open" a session id, or start a "new" one) or None when
closed with Escape. Every store call runs in a thread worker; results come back as typed messages (``Loaded``, ``Written``, ``Deleted``).
Titles and models are user/model text: they are rendered as ``rich.text.Text`` (markup off), on one line,
with control characters made visible (``formatting.one_line``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from ...formatting import format_cost, format_time, one_line
from ...services.core import Services
from ...text_safety import for_terminal
from .confirm import ConfirmScreen, RenameScreen  # re-exported: the app and tests import them from here

if TYPE_CHECKING:
    from ...services.api import SessionRecord

SEARCH_DEBOUNCE = 0.15  # seconds of quiet typing before a search runs
UNTITLED = "(untitled)"

# Typing always goes to the search box (even from the list): no single letter acts on a session here.
LIST_KEYS = "↑↓ Enter open · type to search · Ctrl+N new · Ctrl+R rename · Ctrl+D delete · Esc close"
SEARCH_KEYS = "Type to search · ↑↓ Enter open · Ctrl+N new · Ctrl+R rename · Ctrl+D delete · Esc close"


@dataclass(frozen=True)
class SessionAction:
    """What the user chose: ``kind="open"`` with ``session_id``, or ``kind="new"`` (``session_id`` None).

    ``deleted_ids`` lists the sessions deleted while the screen was open (the caller may hold one of them).
    """

    kind: Literal["open", "new"]
    session_id: str | None = None
    deleted_ids: frozenset[str] = field(default_factory=frozenset)


def session_title(session: Mapping[str, Any]) -> str:
    return one_line((session.get("title") or "").strip()) or UNTITLED


def session_cost(session: Mapping[str, Any]) -> str:
    """Known cost, "unknown" when every priced reply was unknown, "$x + unknown" when some were."""
    cost = session.get("cost")
    if cost is None:
        return "unknown"
    text = format_cost(cost)
    if session.get("unknown_cost"):
        text += " + unknown"
    return text


def session_prompt(session: Mapping[str, Any], *, current: bool) -> Text:
    """Two lines: the title (marked when current), then model · updated · messages · cost."""
    line = Text()
    line.append("● " if current else "  ", style="bold green" if current else "")
    line.append(session_title(session), style="bold")
    if current:
        line.append("  (current)", style="green")
    count = int(session.get("messages") or 0)
    details = " · ".join(
        [
            one_line(session.get("model") or "default model"),
            f"updated {format_time(session.get('updated_at'))}",
            f"{count} message{'' if count == 1 else 's'}",
            f"cost {session_cost(session)}",
        ]
    )
    line.append("\n  ")
    line.append(details, style="dim")
    return line


class SessionList(OptionList):
    """The list of sessions. It has no letter keys: a printable key typed here goes to the search box."""

    BINDINGS = [Binding("delete", "screen.delete", "Delete", show=False)]

    def action_cursor_up(self) -> None:
        # Up from the first row goes back to the search box.
        if self.highlighted in (None, 0):
            self.screen.query_one("#sessions-search", Input).focus()
            return
        super().action_cursor_up()

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            search = self.screen.query_one("#sessions-search", Input)
            search.focus()
            search.insert_text_at_cursor(event.character)


class SessionsScreen(ModalScreen[SessionAction | None]):
    """Browse sessions. Dismisses with SessionAction("open", id), SessionAction("new") or None (Escape).

    When the current session was deleted here, Escape dismisses with SessionAction("new") instead of None, so
    the caller never keeps showing a session that no longer exists.
    """

    @dataclass
    class Loaded(Message):
        """A query's result (``generation`` tells it from the ones a newer query replaced)."""

        text: str
        generation: int
        sessions: list[SessionRecord]
        keep: str | None

    @dataclass
    class Written(Message):
        message: str
        keep: str | None

    @dataclass
    class Deleted(Message):
        session_id: str
        title: str


    CSS_PATH = "sessions.tcss"
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+n", "new_session", "New session"),
        Binding("ctrl+r", "rename", "Rename", show=False),
        # priority: the search box has the focus and binds ctrl+d itself (delete right)
        Binding("ctrl+d", "delete", "Delete", show=False, priority=True),
        # from the search box (the list handles its own)
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
    ]

    def __init__(
        self,
        services: Services,
        current_session_id: str | None = None,
        is_streaming: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.current_session_id = current_session_id
        self._is_streaming = is_streaming or (lambda _sid: False)
        self.deleted_ids: set[str] = set()
        self.sessions: list[SessionRecord] = []
        self._generation = 0
        self._search_timer: Timer | None = None
        self._query_text = ""
        self._open_on_load = False  # Enter was pressed before the search ran: open its first hit
        self.loaded = False  # True once the first list arrived (tests and callers may poll it)

    # -- layout -----------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="sessions-dialog"):
            yield Static("Sessions", id="sessions-title")
            # select_on_focus off: a letter typed on the list (see SessionList.on_key) adds to the query
            yield Input(placeholder="Search titles and messages…", id="sessions-search", select_on_focus=False)
            yield Static("Loading sessions…", id="sessions-empty", markup=False)
            yield SessionList(id="sessions-list")
            yield Static("", id="sessions-message", markup=False)
            yield Static(SEARCH_KEYS, id="sessions-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#sessions-search", Input).focus()  # typing searches; it never acts on a session
        self._reload()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        keys = SEARCH_KEYS if isinstance(event.widget, Input) else LIST_KEYS
        self.query_one("#sessions-keys", Static).update(keys)

    # -- loading and searching ----------------------------------------------------------------------------
    def _reload(self, keep: str | None = None) -> None:
        """Run the current query again (a full list when the search box is empty)."""
        self._generation += 1
        if keep is None:
            keep = self._highlighted_id()
        self._query(self._query_text, self._generation, keep)

    @work(thread=True, group="sessions-query", exclusive=True, exit_on_error=False, description="list sessions")
    def _query(self, text: str, generation: int, keep: str | None) -> None:
        store = self.services.store
        sessions = store.search_sessions(text) if text else store.list_sessions()
        if get_current_worker().is_cancelled:
            return
        self.post_message(self.Loaded(text, generation, sessions, keep))

    def on_sessions_screen_loaded(self, loaded: SessionsScreen.Loaded) -> None:
        text, generation, sessions, keep = loaded.text, loaded.generation, loaded.sessions, loaded.keep
        if generation != self._generation:
            return  # a newer query is on its way
        self.loaded = True
        self.sessions = sessions
        option_list = self.query_one(SessionList)
        option_list.set_options(
            Option(session_prompt(s, current=s["id"] == self.current_session_id), id=s["id"]) for s in sessions
        )
        empty = self.query_one("#sessions-empty", Static)
        if sessions:
            empty.display = False
            ids = [s["id"] for s in sessions]
            target = keep if keep in ids else None
            if target is None and not text and self.current_session_id in ids:
                target = self.current_session_id
            option_list.highlighted = ids.index(target) if target else 0
        else:
            empty.display = True
            empty.update(f"No sessions match {text!r}" if text else "No sessions yet — press ctrl+n to start one")
        if self._open_on_load:
            self._open_on_load = False
            self._open_highlighted()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "sessions-search":
            return
        event.stop()
        self._query_text = event.value.strip()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DEBOUNCE, self._search_now)

    def _search_now(self) -> None:
        self._search_timer = None
        self._reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the search box opens the highlighted session (once the search typed so far has run)."""
        if event.input.id != "sessions-search":
            return
        event.stop()
        if self._search_timer is not None:  # Enter before the debounce fired: search now, open its hit
            self._search_timer.stop()
            self._open_on_load = True
            self._search_now()
            return
        self._open_highlighted()

    def _open_highlighted(self) -> None:
        session_id = self._highlighted_id()
        if session_id is None:
            self._set_message("No session selected.")
            return
        self.dismiss(SessionAction("open", session_id, frozenset(self.deleted_ids)))

    def action_move(self, step: int) -> None:
        # Reached only from the search box: the list handles its own Up/Down.
        option_list = self.query_one(SessionList)
        if option_list.option_count:
            current = option_list.highlighted if option_list.highlighted is not None else -step
            option_list.highlighted = max(0, min(option_list.option_count - 1, current + step))

    def action_page(self, step: int) -> None:
        option_list = self.query_one(SessionList)
        if step > 0:
            option_list.action_page_down()
        else:
            option_list.action_page_up()

    # -- actions ------------------------------------------------------------------------------------------
    def _highlighted_id(self) -> str | None:
        option = self.query_one(SessionList).highlighted_option
        return option.id if option is not None else None

    def _session(self, session_id: str | None) -> SessionRecord | None:
        return next((s for s in self.sessions if s["id"] == session_id), None)

    def _set_message(self, text: str) -> None:
        self.query_one("#sessions-message", Static).update(for_terminal(text))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.dismiss(SessionAction("open", event.option.id, frozenset(self.deleted_ids)))

    def action_new_session(self) -> None:
        self.dismiss(SessionAction("new", None, frozenset(self.deleted_ids)))

    def action_close(self) -> None:
        if self.current_session_id is not None and self.current_session_id in self.deleted_ids:
            self.dismiss(SessionAction("new", None, frozenset(self.deleted_ids)))
        else:
            self.dismiss(None)

    def action_focus_search(self) -> None:
        self.query_one("#sessions-search", Input).focus()

    def action_rename(self) -> None:
        session = self._session(self._highlighted_id())
        if session is None:
            self._set_message("No session selected.")
            return
        session_id = session["id"]

        def renamed(title: str | None) -> None:
            if title is not None and title != session.get("title"):
                self._rename(session_id, title)

        self.app.push_screen(RenameScreen(session.get("title")), renamed)

    @work(thread=True, group="sessions-write", exit_on_error=False, description="rename session")
    def _rename(self, session_id: str, title: str) -> None:
        self.services.store.update_session(session_id, title=title)
        self.post_message(self.Written(f"Renamed to {title!r}.", session_id))

    def action_delete(self) -> None:
        session = self._session(self._highlighted_id())
        if session is None:
            self._set_message("No session selected.")
            return
        session_id = session["id"]
        if self._is_streaming(session_id):
            self._set_message("A reply is streaming in this session: cancel it first (Esc in the chat).")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._delete(session_id, session_title(session))

        question = f"Delete '{session_title(session)}'? Its spending stays in usage. This cannot be undone."
        self.app.push_screen(ConfirmScreen(question, confirm="Delete", ctrl_d=True), confirmed)

    @work(thread=True, group="sessions-write", exit_on_error=False, description="delete session")
    def _delete(self, session_id: str, title: str) -> None:
        self.services.store.delete_session(session_id)
        self.post_message(self.Deleted(session_id, title))

    def on_sessions_screen_deleted(self, deleted: SessionsScreen.Deleted) -> None:
        session_id, title = deleted.session_id, deleted.title
        self.deleted_ids.add(session_id)
        ids = [s["id"] for s in self.sessions]
        keep = None
        if session_id in ids and len(ids) > 1:  # keep the cursor where it was: the next row, else the previous
            i = ids.index(session_id)
            keep = ids[i + 1] if i + 1 < len(ids) else ids[i - 1]
        self._set_message(f"Deleted {title!r}.")
        self._reload(keep=keep)

    def on_sessions_screen_written(self, written: SessionsScreen.Written) -> None:
        self._set_message(written.message)
        self._reload(keep=written.keep)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self._set_message(f"Could not {event.worker.description}: {error}")
            if not self.loaded:
                empty = self.query_one("#sessions-empty", Static)
                empty.display = True
                empty.update("Could not load sessions (see the message below).")
