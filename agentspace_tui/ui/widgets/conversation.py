"""The conversation pane: user turns, streaming replies, notices and error blocks.

Finished messages are single ``Static`` widgets holding a Rich ``Markdown`` (rendered once per width, cheap to
keep). A streaming reply freezes settled Markdown into such segments and re-renders only a short live tail,
on a timer, so cost per frame stays flat however long the reply or however fast the chunks arrive.
Model text is untrusted: it is never parsed as Rich markup.
"""

from __future__ import annotations

import re
import time

from rich.markdown import Markdown
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Button, Static

from ...formatting import reply_summary
from ..markdown_split import MarkdownSplitter

CODE_THEME = "monokai"
RENDER_INTERVAL = 1 / 15  # live tail refresh rate while streaming
PAGE = 40  # messages mounted at a time when opening a long session

STATUS_TEXT = {
    "interrupted": ("⚠ interrupted", "warning"),
    "cancelled": ("■ cancelled", "warning"),
    "error": ("✗ error", "error"),
}


def markdown(text: str) -> Markdown:
    return Markdown(text, code_theme=CODE_THEME, hyperlinks=False)


def code_blocks(text: str) -> list[str]:
    return [m.group(2) for m in re.finditer(r"^(```|~~~)[^\n]*\n(.*?)^\1\s*$", text, re.S | re.M)]


class UserBlock(Static):
    """A user turn: shown verbatim (no markup, no Markdown)."""

    def __init__(self, message: dict) -> None:
        super().__init__(Text(message.get("content", "")), classes="user-message")
        self.message = message
        self.border_title = "You"


class NoticeBlock(Static):
    """An app notice in the conversation (help, errors that are not replies, results of slash commands)."""

    def __init__(self, text: str, kind: str = "info") -> None:
        super().__init__(Text(text), classes=f"notice notice-{kind}")


class ReplyBlock(Vertical):
    """An assistant reply: header (model, status), body (Markdown segments + live tail), summary line."""

    def __init__(self, message: dict | None = None, *, model: str = "", streaming: bool = False) -> None:
        super().__init__(classes="reply")
        self.message = dict(message or {"role": "assistant", "content": "", "model": model})
        self.streaming = streaming
        self._splitter = MarkdownSplitter() if streaming else None
        self._dirty = False
        self._timer = None
        self.chunks = 0
        self.started = time.monotonic()

    def compose(self) -> ComposeResult:
        yield Static(self._header_text(), classes="reply-header")
        body = Vertical(classes="reply-body")
        with body:
            if not self.streaming and self.message.get("content"):
                yield Static(markdown(self.message["content"]), classes="segment")
            if self.streaming:
                yield Static(Text("…", style="dim"), classes="tail")
        yield Static(self._summary_text(), classes="reply-summary")

    def on_mount(self) -> None:
        if self.streaming:
            self._timer = self.set_interval(RENDER_INTERVAL, self._render_tail)
        self._apply_status_class()

    # -- text -----------------------------------------------------------------------------------------
    def _header_text(self) -> Text:
        model = self.message.get("model") or "assistant"
        text = Text.assemble(("● ", "bold"), (model, "bold"))
        status = self.message.get("status")
        if self.streaming:
            text.append("  streaming…", style="italic dim")
        elif status in STATUS_TEXT:
            label, _ = STATUS_TEXT[status]
            text.append(f"  {label}", style="bold")
        return text

    def _summary_text(self) -> Text:
        if self.streaming or not self.message.get("status"):
            return Text("")
        text = Text(reply_summary(self.message), style="dim")
        error = self.message.get("error")
        if error:
            text.append("\n")
            text.append(error, style="bold")
        return text

    def _apply_status_class(self) -> None:
        for status in ("complete", "interrupted", "cancelled", "error"):
            self.set_class(self.message.get("status") == status and not self.streaming, f"-{status}")
        self.set_class(self.streaming, "-streaming")

    # -- streaming ------------------------------------------------------------------------------------
    def append(self, text: str) -> None:
        """Called per chunk: O(1); rendering happens on the timer."""
        if self._splitter is not None:
            self._splitter.feed(text)
            self.chunks += 1
            self._dirty = True

    def note(self, text: str) -> None:
        self.query_one(".reply-summary", Static).update(Text(text, style="italic"))

    def _render_tail(self) -> None:
        if not self._dirty or self._splitter is None or not self.is_mounted:
            return
        self._dirty = False
        body = self.query_one(".reply-body", Vertical)
        tail = body.query_one(".tail", Static)
        settled = self._splitter.settle()
        if settled:
            body.mount_all([Static(markdown(seg), classes="segment") for seg in settled], before=tail)
        tail.update(markdown(self._splitter.tail()))

    @property
    def text(self) -> str:
        if self._splitter is not None:
            return self._splitter.full_text
        return self.message.get("content", "")

    def finish(self, message: dict) -> None:
        """The reply ended (complete, interrupted, cancelled or error): render the rest, show the summary."""
        self.message = dict(message)
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        body = self.query_one(".reply-body", Vertical)
        if self._splitter is not None:
            # the stored content is the truth (it includes every chunk, even ones not rendered yet)
            rendered = self._splitter.full_text
            stored = message.get("content", "")
            if stored.startswith(rendered) and len(stored) > len(rendered):
                self._splitter.feed(stored[len(rendered):])
            rest = self._splitter.settle(final=True)
            tail = body.query_one(".tail", Static)
            if rest:
                body.mount_all([Static(markdown(seg), classes="segment") for seg in rest], before=tail)
            tail.remove()
            self._splitter = None
        self.streaming = False
        self.query_one(".reply-header", Static).update(self._header_text())
        self.query_one(".reply-summary", Static).update(self._summary_text())
        self._apply_status_class()


class ConversationView(VerticalScroll):
    """Scrolls with the newest message at the bottom, following it unless the user scrolled up."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._earlier: list[dict] = []

    def clear(self) -> None:
        self._earlier = []
        self.remove_children()

    def show_messages(self, messages: list[dict]) -> None:
        """Mount the newest page of a session; older pages mount on demand (long sessions open fast)."""
        self.clear()
        self._earlier = list(messages[:-PAGE]) if len(messages) > PAGE else []
        page = messages[-PAGE:]
        widgets = [block_for(m) for m in page]
        if self._earlier:
            widgets.insert(0, self._earlier_button())
        if widgets:
            self.mount_all(widgets)
        self.anchor()

    def _earlier_button(self) -> Button:
        return Button(f"▲ {len(self._earlier)} earlier messages (click or Enter to load)", id="load-earlier",
                      classes="load-earlier")

    def load_earlier(self) -> None:
        if not self._earlier:
            return
        page, self._earlier = self._earlier[-PAGE:], self._earlier[:-PAGE]
        button = self.query_one("#load-earlier", Button)
        widgets = [block_for(m) for m in page]
        self.mount_all(widgets, after=button)
        if self._earlier:
            button.label = f"▲ {len(self._earlier)} earlier messages (click or Enter to load)"
        else:
            button.remove()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "load-earlier":
            event.stop()
            self.load_earlier()

    def add(self, *widgets) -> None:
        self.mount_all(widgets)
        self.anchor()


def block_for(message: dict):
    if message.get("role") == "user":
        return UserBlock(message)
    return ReplyBlock(message)
