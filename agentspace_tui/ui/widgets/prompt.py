"""The prompt: Enter sends, Ctrl+J (or Shift+Enter where the terminal reports it) inserts a newline,
Up/Down on the first/last line walk the input history."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter")


class PromptInput(TextArea):
    BINDINGS = [
        Binding("up", "history_previous", "Previous input", show=False),
        Binding("down", "history_next", "Next input", show=False),
    ]

    @dataclass
    class Submitted(Message):
        prompt: PromptInput
        text: str

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("placeholder", "Message…  Enter sends · Ctrl+J newline · /help for commands")
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)
        self.input_history: list[str] = []
        self._history_pos: int | None = None
        self._stash = ""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text
            if text.strip():
                self.post_message(self.Submitted(self, text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        await super()._on_key(event)

    def remember(self, text: str) -> None:
        if text.strip() and (not self.input_history or self.input_history[-1] != text):
            self.input_history.append(text)
        self._history_pos = None

    def action_history_previous(self) -> None:
        if self.cursor_location[0] != 0 or not self.input_history:
            self.action_cursor_up()
            return
        if self._history_pos is None:
            self._stash = self.text
            self._history_pos = len(self.input_history)
        if self._history_pos > 0:
            self._history_pos -= 1
            self._load(self.input_history[self._history_pos])

    def action_history_next(self) -> None:
        last_line = self.document.line_count - 1
        if self.cursor_location[0] != last_line or self._history_pos is None:
            self.action_cursor_down()
            return
        self._history_pos += 1
        if self._history_pos >= len(self.input_history):
            self._history_pos = None
            self._load(self._stash)
        else:
            self._load(self.input_history[self._history_pos])

    def _load(self, text: str) -> None:
        self.text = text
        self.move_cursor(self.document.end)
