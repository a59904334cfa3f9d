"""The "Thinking" block of a reply: the model's reasoning, dimmed, collapsed to one line until opened.

Reasoning can run to tens of thousands of characters and arrives as fast as answer text does. ``append`` only
collects a chunk (O(1)); the reply's render timer calls ``flush`` at most once per frame, which repaints the
block only if something arrived. Collapsed, the block is one line, ``▸ Thinking · 1,234 chars`` (while
streaming, ``▸ Thinking… · 1,234 chars`` and a second line with the newest text); opened, the whole text in a
``TextLines`` view, which renders each line once per width and, while the reply streams, only the lines that
are new. Model text is untrusted: it is shown as plain ``Text``, never parsed as Rich markup, and each piece
that is rendered (new lines, the preview line) goes through ``for_terminal`` first.

Keyboard: the block is focusable (Shift+Tab from the prompt reaches the newest one); Enter or Space toggles
it. The app's Ctrl+T (binding id ``toggle_thinking``) toggles the focused block, or else the newest one.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from ...text_safety import for_terminal

PREVIEW_MIN = 20  # columns below which the streaming preview line is left out


class TextLines(Widget):
    """Plain text as wrapped lines, rendered once per width. It grows by whole lines: ``show(text)`` renders
    only the complete lines that are new since the last call, and the unfinished last line (the tail)."""

    DEFAULT_CLASSES = "text-lines"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._text = ""
        self._done = 0  # characters of _text rendered into _lines: whole lines, up to and including a "\n"
        self._width = -1
        self._lines: list[Strip] = []  # the whole lines, at _width
        self._tail: list[Strip] = []  # the unfinished last line, at _width
        self._style: Style | None = None  # the widget's style (rich_style walks the DOM: cached)
        self._styled: list[Strip] = []  # _lines padded and styled, a prefix of them
        self._styled_tail: list[Strip] | None = None

    def show(self, text: str) -> None:
        if text == self._text:
            return
        old_height = len(self._lines) + len(self._tail)
        if not text.startswith(self._text[: self._done]):  # not a continuation: start over
            self._reset()
        self._text = text
        if self._width > 0:
            self._render_new()
        self.refresh(layout=self._width <= 0 or len(self._lines) + len(self._tail) != old_height)

    def _reset(self) -> None:
        self._done = 0
        self._lines, self._tail, self._styled, self._styled_tail = [], [], [], None

    def _render_text(self, text: str) -> list[Strip]:  # not _render: that is Widget's own
        console = self.app.console
        options = console.options.update(width=self._width, height=None, highlight=False, markup=False)
        # a CR ending the piece is the first half of a CRLF line end (or, at the very end, moves nothing)
        safe = for_terminal(text[:-1] if text.endswith("\r") else text)
        lines = console.render_lines(Text(safe), options, pad=False, new_lines=False)
        return [Strip(Segment.simplify(line)) for line in lines]

    def _render_new(self) -> None:
        end = self._text.rfind("\n") + 1
        if end > self._done:
            self._lines.extend(self._render_text(self._text[self._done : end - 1]))
            self._done = end
        tail = self._text[self._done :]
        self._tail = self._render_text(tail) if tail else []
        self._styled_tail = None

    def _ensure_width(self, width: int) -> None:
        if width != self._width:
            self._width = width
            self._reset()
            if width > 0:
                self._render_new()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None
        self._styled, self._styled_tail = [], None

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._ensure_width(width)
        return len(self._lines) + len(self._tail)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self._ensure_width(width)
        if self._style is None:
            self._style = self.rich_style
        style = self._style
        if y < len(self._lines):
            if len(self._styled) < len(self._lines):  # style the lines that are new since the last paint
                new = self._lines[len(self._styled) :]
                self._styled.extend(line.extend_cell_length(width).apply_style(style) for line in new)
            return self._styled[y]
        if self._styled_tail is None:
            self._styled_tail = [line.extend_cell_length(width).apply_style(style) for line in self._tail]
        y -= len(self._lines)
        if y < len(self._styled_tail):
            return self._styled_tail[y]
        return Strip.blank(width, style)


class ThinkingBlock(Vertical, can_focus=True):
    """Reasoning text of one reply: a label line, and the text itself when ``expanded``."""

    DEFAULT_CLASSES = "thinking"
    BINDINGS = [Binding("enter,space", "toggle_expanded", "Show/hide thinking", show=False)]

    expanded: reactive[bool] = reactive(False, init=False)

    def __init__(self, text: str = "", *, streaming: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self._parts: list[str] = [text] if text else []
        self._chars = len(text)
        self._dirty = False
        self.streaming = streaming
        self._label = Static(markup=False, classes="thinking-label")
        self._body: TextLines | None = None  # made when first opened

    def compose(self) -> ComposeResult:
        yield self._label

    # -- content --------------------------------------------------------------------------------------
    @property
    def text(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def chars(self) -> int:
        return self._chars

    @property
    def label(self) -> str:
        """The label line(s) as shown (for tests and the app)."""
        return str(self._label.visual)

    def append(self, text: str) -> None:
        """Called per chunk: O(1); the block repaints on the next ``flush``."""
        if text:
            self._parts.append(text)
            self._chars += len(text)
            self._dirty = True

    def flush(self) -> bool:
        """Repaint if text arrived since the last frame. Returns whether it did."""
        if not self._dirty:
            return False
        self._dirty = False
        self._repaint()
        return True

    def finish(self, text: str | None = None) -> None:
        """The reply ended: ``text`` (the stored reasoning, when given) replaces what streamed in."""
        if text is not None and text != self.text:
            self._parts = [text] if text else []
            self._chars = len(text)
        self.streaming = False
        self._dirty = False
        self._repaint()

    # -- toggling -------------------------------------------------------------------------------------
    def toggle(self) -> None:
        self.expanded = not self.expanded
        if self.expanded and not self.streaming:
            # the conversation follows its bottom: without this the opened text pushes the block's first
            # line off the top (while streaming, following the newest text is what is wanted)
            self.call_after_refresh(self.scroll_visible, animate=False)

    def action_toggle_expanded(self) -> None:  # not action_toggle: DOMNode's takes an attribute name
        self.toggle()

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.toggle()

    def watch_expanded(self, expanded: bool) -> None:
        self.set_class(expanded, "-expanded")
        if expanded and self._body is None:
            self._body = TextLines(classes="thinking-body")
            self.mount(self._body)
        if self._body is not None:
            self._body.display = expanded
        self._dirty = False
        self._repaint()

    # -- rendering ------------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._repaint()
        if self.display:
            self.app.refresh_bindings()  # the app's toggle_thinking binding shows once there is a block

    def on_unmount(self) -> None:
        # once it is gone (a new session, another session opened), the app's key may have nothing to toggle
        self.app.call_after_refresh(self.app.refresh_bindings)

    def on_resize(self, event: events.Resize) -> None:
        if self.streaming and not self.expanded:  # the preview line is cut to the width
            self._repaint()

    def _repaint(self) -> None:
        self._label.update(self._label_text())
        if self.expanded and self._body is not None:
            self._body.show(self.text)

    def _label_text(self) -> Text:
        arrow = "▾" if self.expanded else "▸"
        name = "Thinking…" if self.streaming else "Thinking"
        label = Text.assemble(f"{arrow} ", (name, "bold"), f" · {self._chars:,} chars")
        if self.streaming and not self.expanded and self._chars:
            preview = self._preview(self.size.width)
            if preview:
                label.append("\n")
                label.append(preview, style="italic")
            label.no_wrap = True
            label.overflow = "ellipsis"
        return label

    def _preview(self, width: int) -> str:
        """The newest line of the text so far, cut from the left to fit ``width`` columns."""
        if width < PREVIEW_MIN:
            return ""
        line = for_terminal(self.text.rstrip().rsplit("\n", 1)[-1].strip())
        room = width - 2
        if cell_len(line) <= room:
            return line
        line = line[-room:]
        while cell_len(line) > room - 1:  # wide characters take two columns
            line = line[1:]
        return "…" + line
