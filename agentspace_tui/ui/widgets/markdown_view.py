"""Markdown blocks that render once per width, and grow by appending segments.

A ``Static`` holding a Rich ``Markdown`` renders it once to measure its height and again to paint it, and
again after every width change. For long replies and many messages that cost dominates opening a session
and streaming. ``MarkdownView`` renders each of its segments to lines once per width and serves the height
and the painting from that cache; ``append`` renders only the new segment. A streaming reply is therefore
two widgets however long it grows (settled segments + a short live tail), which keeps Textual's per-frame
layout work flat. Text is never parsed as Rich markup, and each segment goes through ``for_terminal`` as it
arrives (a segment is rendered once; the live tail is short), so no control sequence reaches the terminal.
"""

from __future__ import annotations

from rich.color import Color, ColorParseError
from rich.segment import Segment
from rich.theme import Theme
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from ...text_safety import for_terminal

CODE_THEME = "monokai"

# Rich's own Markdown colours (magenta headings and quotes, blue links) read as errors and links in Textual's
# themes: headings here are bold in the theme's primary text colour, never underlined (links are); quotes are
# dim italic, never red (red is kept for errors); inline code is the accent text colour on the surface.
# "{name}" is a Textual CSS variable of the current theme, so every theme gets readable colours.
MARKDOWN_STYLES = {
    "markdown.h1": "bold {text-primary}",
    "markdown.h1.border": "dim",
    "markdown.h2": "bold {text-primary}",
    "markdown.h3": "bold",
    "markdown.h4": "bold italic",
    "markdown.h5": "italic",
    "markdown.h6": "dim italic",
    "markdown.block_quote": "dim italic",
    "markdown.link": "underline {text-secondary}",
    "markdown.link_url": "dim underline",
    "markdown.code": "bold {text-accent} on {surface}",
    "markdown.list": "{text-primary}",
    "markdown.item.number": "{text-primary}",
    "markdown.hr": "dim",
    "markdown.table.border": "dim",
    "markdown.table.header": "bold",
    "markdown.kbd": "bold",
}
_themes: dict[str, Theme] = {}  # per Textual theme name


def markdown_theme(variables: dict[str, str]) -> Theme:
    """``MARKDOWN_STYLES`` with the theme's colours; a variable that is not a plain colour is left out."""

    def colour(name: str) -> str:
        value = variables.get(name, "")
        try:
            Color.parse(value)
        except ColorParseError:
            return ""
        return value

    styles = {}
    for key, spec in MARKDOWN_STYLES.items():
        words = [colour(w[1:-1]) if w.startswith("{") else w for w in spec.split()]
        if words and words[-1] == "on":  # no background colour known
            words.pop()
        styles[key] = " ".join(w for w in words if w) or "none"
    return Theme(styles, inherit=True)


def _safe(text: str) -> str:
    """``for_terminal``; a CR ending the text is the first half of a CRLF split across two chunks (or, at the
    very end, moves nothing): dropped rather than shown as ␍ until the next frame."""
    return for_terminal(text[:-1] if text.endswith("\r") else text)


def markdown(text: str):
    from rich.markdown import Markdown  # ~40 ms of imports: not before the first paint

    return Markdown(text, code_theme=CODE_THEME, hyperlinks=False)


class MarkdownView(Widget):
    DEFAULT_CLASSES = "markdown-view"

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        text = _safe(text)
        self._segments: list[str] = [text] if text else []
        self._width = -1
        self._rendered: list[list[Strip]] = []  # per segment, at self._width
        self._lines: list[Strip] = []
        self._styled: list[Strip] = []  # _lines padded to the width with the widget's style
        self._style_key: tuple | None = None
        self._theme_name = ""  # the Textual theme the lines were rendered in

    @property
    def text(self) -> str:
        return "".join(self._segments)

    # -- content --------------------------------------------------------------------------------------
    def update(self, text: str) -> None:
        """Replace the content. Relayout the screen only when the height changed (a repaint is cheaper)."""
        text = _safe(text)
        if [text] == self._segments:
            return
        old_height = len(self._lines)
        self._segments = [text] if text else []
        self._rerender(self._width)
        self.refresh(layout=self._width <= 0 or len(self._lines) != old_height)

    def append(self, text: str) -> None:
        """Add a settled segment: only it is rendered."""
        text = _safe(text)
        if not text:
            return
        self._segments.append(text)
        if self._width > 0:
            lines = self._render_segment(text, self._width)
            self._rendered.append(lines)
            self._lines.extend(lines)
            self._restyle_from(len(self._lines) - len(lines))
        self.refresh(layout=True)

    # -- rendering ------------------------------------------------------------------------------------
    def _render_segment(self, text: str, width: int) -> list[Strip]:
        console = self.app.console
        options = console.options.update(width=width, height=None, highlight=False, markup=False)
        with console.use_theme(self._markdown_theme()):
            rendered = console.render_lines(markdown(text), options, pad=False, new_lines=False)
        lines = [Strip(Segment.simplify(line)) for line in rendered]
        while lines and not lines[-1].text.strip():  # Rich ends every block with a blank line
            lines.pop()
        if self._rendered and lines:
            lines.insert(0, Strip.blank(0))  # the blank line between two segments
        return lines

    def _markdown_theme(self) -> Theme:
        name = self.app.theme
        theme = _themes.get(name)
        if theme is None:
            theme = _themes[name] = markdown_theme(self.app.get_css_variables())
        self._theme_name = name
        return theme

    def _rerender(self, width: int) -> None:
        self._width = width
        self._rendered = []
        self._lines = []
        if width > 0:
            for seg in self._segments:
                lines = self._render_segment(seg, width)
                self._rendered.append(lines)
                self._lines.extend(lines)
        self._styled = []
        self._style_key = None

    def _lines_for(self, width: int) -> list[Strip]:
        if width != self._width:
            self._rerender(width)
        return self._lines

    def _restyle_from(self, start: int) -> None:
        if self._style_key is None:
            return
        width, style = self._style_key[0], self._style_key[1]
        del self._styled[start:]
        self._styled.extend(line.extend_cell_length(width).apply_style(style) for line in self._lines[start:])

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_key = None
        if self._width > 0 and self._rendered and self._theme_name != self.app.theme:  # another theme's colours
            self._rerender(self._width)
            self.refresh()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines_for(width))

    def render_line(self, y: int) -> Strip:
        # Scrolling repaints every visible line each frame while a reply streams: serve them from a cache
        # (rich_style alone walks the DOM) instead of restyling on every call.
        width = self.size.width
        lines = self._lines_for(width)
        if self._style_key is None or self._style_key[0] != width or len(self._styled) != len(lines):
            style = self.rich_style
            self._style_key = (width, style)
            self._styled = [line.extend_cell_length(width).apply_style(style) for line in lines]
        if y < len(self._styled):
            return self._styled[y]
        return Strip.blank(width, self._style_key[1])
