"""The MCP tools of the open chat: which the model may call, what they add to every request, which run unasked.

``ToolsScreen`` starts every configured server when it opens (one worker each: a slow server never holds up
the others, nor the app), showing "starting…" until the server lists its tools or fails (its one-line error).
Each server has a header row (name, transport, where, on/off) and each tool a row: on/off, its function name,
the tokens its definition adds to every request, "always allowed", and its description. Space or Enter toggles
the highlighted row, ``a`` toggles always-allow of a tool, Esc closes. Every change is handed to ``on_change``
with the new choices at once (the app stores them in a worker). Server text (descriptions, errors, names) is
untrusted: made one printable line and shown as ``rich.text.Text``, never markup.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...formatting import format_cost, format_tokens, one_line
from ...services.chat_session import ChatSession
from ...services.session_tools import (
    ServerRow,
    ToolChoiceError,
    ToolRow,
    ToolsOverview,
    is_on,
    overview,
    session_choices,
    start_server,
    toggle_choices,
)
from ...services.tools import with_always_allow

TITLE = "Tools for this chat"
KEYS = "Space/Enter on/off · a always allow (no confirmation) · Esc close"
DESCRIPTION_MAX = 110
STATE_TEXT = {"not started": "not started", "starting": "starting…"}


def _short(text: str, limit: int) -> str:
    text = one_line(text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def server_prompt(server: ServerRow) -> Text:
    text = Text()
    text.append("[x] " if server.on else "[ ] ", style="bold")
    text.append(one_line(server.name), style="bold")
    text.append(f"  {server.transport}  ", style="dim")
    text.append(_short(server.where, 70), style="dim")
    text.append("  on" if server.on else "  off", style="green" if server.on else "yellow")
    if server.state == "failed":
        text.append("\n    ")
        text.append(_short(server.error, 130), style="red")
    elif server.state == "listed":
        text.append(f"  · {len(server.tools)} tool{'s' if len(server.tools) != 1 else ''}", style="dim")
    else:
        text.append(f"  · {STATE_TEXT[server.state]}", style="dim italic")
    return text


def tool_prompt(tool: ToolRow) -> Text:
    text = Text("  ")
    text.append("[x] " if tool.on else "[ ] ", style="bold")
    text.append(one_line(tool.name), style="" if tool.on else "dim")
    text.append(f"  {format_tokens(tool.tokens)} tokens", style="dim")
    if tool.always_allowed:
        text.append("  always allowed", style="magenta")
    if tool.description:
        text.append("\n      ")
        text.append(_short(tool.description, DESCRIPTION_MAX), style="dim")
    return text


def summary_text(view: ToolsOverview) -> Text:
    text = Text(f"for {one_line(view.model)} · ", style="dim")
    cost = format_cost(view.cost, unknown="price unknown")
    text.append(f"{view.enabled} enabled tools add ~{format_tokens(view.tokens)} tokens ({cost}) to every request")
    return text


class ToolsScreen(ModalScreen[None]):
    """The chat's tools; ``on_change`` gets the session's new tool choices after every change."""

    CSS_PATH = "tools.tcss"
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("f3", "close", "Close", show=False),  # the key that opened it (a modal screen keeps app keys out)
        Binding("space", "toggle_row", "On/off", show=False),
        Binding("a", "always_allow", "Always allow", show=False),
    ]

    def __init__(self, chat: ChatSession, on_change: Callable[[dict], None]) -> None:
        super().__init__()
        self.chat = chat
        self.services = chat.services
        self.choices = session_choices(chat.session)
        self.on_change = on_change
        self.starting: set[str] = set()

    def compose(self) -> ComposeResult:
        with Vertical(id="tools-dialog"):
            yield Static(Text(TITLE, style="bold"), id="tools-title")
            yield Static(Text(""), id="tools-summary")
            yield OptionList(id="tools-list")
            yield Static(Text(""), id="tools-note")
            yield Static(Text(KEYS, style="dim"), id="tools-keys")

    def on_mount(self) -> None:
        view = self.view()
        for server in view.servers:
            if server.state == "not started":
                self.starting.add(server.name)
                self.run_worker(self._start(server.name), group=f"start-{server.name}", exit_on_error=False)
        self.show()
        self.query_one(OptionList).focus()

    async def _start(self, name: str) -> None:
        try:
            await start_server(self.services, name)  # the error is shown from the hub's state
        finally:
            self.starting.discard(name)
            if self.is_mounted:
                self.show()

    def view(self) -> ToolsOverview:
        return overview(self.services, {"tools": self.choices}, self.chat.model, self.starting)

    def show(self) -> None:
        view = self.view()
        options: list[Option] = []
        for server in view.servers:
            options.append(Option(server_prompt(server), id=f"server:{server.name}"))
            options.extend(Option(tool_prompt(tool), id=f"tool:{tool.name}") for tool in server.tools)
        listing = self.query_one(OptionList)
        highlighted = listing.highlighted_option.id if listing.highlighted_option is not None else None
        listing.clear_options()
        listing.add_options(options)
        ids = [o.id for o in options]
        listing.highlighted = ids.index(highlighted) if highlighted in ids else (0 if options else None)
        self.query_one("#tools-summary", Static).update(summary_text(view))

    def _note(self, text: str) -> None:
        self.query_one("#tools-note", Static).update(Text(one_line(text), style="yellow"))

    def _highlighted(self) -> tuple[str, str] | None:
        option = self.query_one(OptionList).highlighted_option
        if option is None or not option.id:
            return None
        kind, _, name = option.id.partition(":")
        return kind, name

    def action_toggle_row(self) -> None:
        target = self._highlighted()
        if target is None:
            return
        _, name = target
        try:
            self.choices = toggle_choices(self.services, self.choices, name, not is_on(self.services, self.choices, name))
        except ToolChoiceError as exc:
            self._note(str(exc))
            return
        self._changed()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_toggle_row()

    def action_always_allow(self) -> None:
        target = self._highlighted()
        if target is None:
            return
        kind, name = target
        if kind != "tool":
            self._note("always allow is per tool: move to one of the server's tools")
            return
        allowed = name in (self.choices.get("always_allow") or [])
        self.choices = with_always_allow(self.choices, name, not allowed)
        self._changed()

    def _changed(self) -> None:
        self._note("")
        self.show()
        self.on_change(dict(self.choices))

    def action_close(self) -> None:
        self.dismiss(None)
