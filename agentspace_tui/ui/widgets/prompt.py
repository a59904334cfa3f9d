"""The prompt: Enter sends, Ctrl+J (or Shift+Enter where the terminal reports it) inserts a newline,
Up/Down on the first/last line walk the input history.

A large paste (a log, a file) is kept aside and shown as one placeholder line, ``[pasted #1: 16,000 lines,
1.0 MB]``: Textual's TextArea re-measures the whole document on every keystroke (0.2-0.5 s per key with a
1 MB text here), and nobody edits a megabyte in a chat box. The placeholder is expanded when the message is
sent and measured by the inspector like any other text.

A paste that is shown (a small one) has its control characters made visible first (``for_terminal``): text
copied from a reply may hold ``ESC ] 52`` and the like, and the text area would paint it as is. What the
prompt shows is what is sent.

Only Textual's public API is used: keys are bindings (Enter and the newline keys with ``priority``, so they
win over TextArea's own key handling), pastes a public ``on_paste`` handler that runs before TextArea's (Textual
calls each class's handler in MRO order) and stops it with ``prevent_default``, edits ``replace``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from ...formatting import format_bytes
from ...text_safety import for_terminal

NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter")
LARGE_PASTE = 20_000  # characters from which a paste is kept aside as a placeholder
PLACEHOLDER_RE = re.compile(r"\[pasted #(\d+): [^\]]*\]")


class PromptInput(TextArea):
    BINDINGS = [
        Binding("pageup", "app.page_conversation(-1)", "Scroll up", show=False),  # TextArea would move the cursor
        Binding("pagedown", "app.page_conversation(1)", "Scroll down", show=False),
        Binding("up", "history_previous", "Previous input", show=False),
        Binding("down", "history_next", "Next input", show=False),
        # TextArea uses these for redo and delete-to-end-of-line; in a chat box the app's actions win
        Binding("ctrl+y", "app.copy_reply", "Copy reply", show=False),
        Binding("ctrl+k", "app.keys", "Keys", show=False),
    ]

    @dataclass
    class Submitted(Message):
        prompt: PromptInput
        text: str  # with large pastes expanded

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("placeholder", "Message…  Enter sends · Ctrl+J newline · /help for commands")
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)
        self.input_history: list[tuple[str, dict[int, str]]] = []
        self._history_pos: int | None = None
        self._stash: tuple[str, dict[int, str]] = ("", {})
        self.pastes: dict[int, str] = {}
        self._paste_counter = 0

    # -- pastes ---------------------------------------------------------------------------------------
    def on_paste(self, event: events.Paste) -> None:
        if self.read_only:
            return  # TextArea's own handler ignores it too
        # this handler runs before TextArea's: prevent_default stops that one, so the paste is inserted once
        event.stop()
        event.prevent_default()
        # terminals send a paste's line breaks as CR (or CRLF): make them newlines, not visible "␍"s
        text = event.text.replace("\r\n", "\n").replace("\r", "\n")
        if len(text) < LARGE_PASTE:
            shown = for_terminal(text)
        else:
            self._paste_counter += 1
            self.pastes[self._paste_counter] = text
            lines = text.count("\n") + 1
            shown = f"[pasted #{self._paste_counter}: {lines:,} lines, {format_bytes(len(text.encode()))}]"
        self._type_text(shown)
        self.focus()

    def _type_text(self, text: str) -> None:
        """Replace the selection with ``text`` as typing does: the cursor ends up after it."""
        result = self.replace(text, *self.selection, maintain_selection_offset=False)
        self.move_cursor(result.end_location)

    def expanded_text(self) -> str:
        """The draft as it will be sent: placeholders replaced by what was pasted."""
        text = self.text
        if not self.pastes:
            return text
        return PLACEHOLDER_RE.sub(lambda m: self.pastes.get(int(m.group(1)), m.group(0)), text)

    def clear_draft(self) -> None:
        self.text = ""
        self.pastes = {}

    def set_draft(self, text: str, pastes: dict[int, str] | None = None) -> None:
        self.pastes = dict(pastes or {})
        self._paste_counter = max([self._paste_counter, *self.pastes])
        self.text = text
        self.move_cursor(self.document.end)

    # -- keys -------------------------------------------------------------------------------------------
    def on_key(self, event: events.Key) -> None:
        """Enter sends; Ctrl+J, Shift+Enter and Alt+Enter insert a newline.

        Handled here rather than by priority bindings: those run in the app before this widget has processed
        the keys queued ahead of Enter, so a burst ("/new" + Enter from a fast typist, or an unbracketed paste)
        was sent empty. This handler runs before TextArea's, and prevent_default keeps TextArea's "\n" out.
        """
        if event.key == "enter":
            event.prevent_default()
            event.stop()
            self.action_submit()
        elif event.key in NEWLINE_KEYS and not self.read_only:
            event.prevent_default()
            event.stop()
            self.action_newline()

    def action_submit(self) -> None:
        text = self.expanded_text()
        if text.strip():
            self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        self._type_text("\n")

    # -- input history ----------------------------------------------------------------------------------
    def remember(self) -> None:
        """Keep the current draft (placeholders and their pastes) in the input history."""
        entry = (self.text, dict(self.pastes))
        if entry[0].strip() and (not self.input_history or self.input_history[-1] != entry):
            self.input_history.append(entry)
        self._history_pos = None

    def action_history_previous(self) -> None:
        if self.cursor_location[0] != 0 or not self.input_history:
            self.action_cursor_up()
            return
        if self._history_pos is None:
            self._stash = (self.text, dict(self.pastes))
            self._history_pos = len(self.input_history)
        if self._history_pos > 0:
            self._history_pos -= 1
            self.set_draft(*self.input_history[self._history_pos])

    def action_history_next(self) -> None:
        last_line = self.document.line_count - 1
        if self.cursor_location[0] != last_line or self._history_pos is None:
            self.action_cursor_down()
            return
        self._history_pos += 1
        if self._history_pos >= len(self.input_history):
            self._history_pos = None
            self.set_draft(*self._stash)
        else:
            self.set_draft(*self.input_history[self._history_pos])
