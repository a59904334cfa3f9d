"""A Markdown block that renders once per width.

A ``Static`` holding a Rich ``Markdown`` renders it once to measure its height and again to paint it, and
again after every width change (a scrollbar appearing is one). For long replies and many messages that is
the cost that dominates opening a session and streaming. This widget renders to lines once per width and
serves both the height and the painting from that cache. Text is never parsed as Rich markup.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

CODE_THEME = "monokai"


def markdown(text: str):
    from rich.markdown import Markdown  # ~40 ms of imports: not before the first paint

    return Markdown(text, code_theme=CODE_THEME, hyperlinks=False)


class MarkdownView(Widget):
    DEFAULT_CLASSES = "markdown-view"

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self._text = text
        self._width = -1
        self._lines: list[Strip] = []

    @property
    def text(self) -> str:
        return self._text

    def update(self, text: str) -> None:
        """Re-render now; relayout the screen only when the height changed (a repaint is much cheaper)."""
        if text == self._text:
            return
        old_height = len(self._lines)
        width = self._width
        self._text = text
        self._width = -1
        if width > 0:
            self._lines_for(width)
        self.refresh(layout=width <= 0 or len(self._lines) != old_height)

    def _lines_for(self, width: int) -> list[Strip]:
        if width != self._width:
            self._width = width
            if not self._text or width <= 0:
                self._lines = []
            else:
                console = self.app.console
                options = console.options.update(width=width, height=None, highlight=False, markup=False)
                rendered = console.render_lines(markdown(self._text), options, pad=False, new_lines=False)
                self._lines = [Strip(Segment.simplify(line)) for line in rendered]
                while self._lines and not self._lines[-1].text.strip():  # Rich ends blocks with a blank line
                    self._lines.pop()
        return self._lines

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines_for(width))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        lines = self._lines_for(width)
        style = self.rich_style
        if y < len(lines):
            return lines[y].extend_cell_length(width).apply_style(style)
        return Strip.blank(width, style)
