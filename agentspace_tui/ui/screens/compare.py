"""Two models answering one prompt side by side (services/compare.py): each column streams its Markdown through
``MarkdownSplitter`` + ``MarkdownView`` (settled segments rendered once, a short live tail) under a header with
its model and a live stats line (cost, TTFT, tok/s, tokens). 1 / ← keeps the left answer, 2 / → the right one,
Esc cancels both (their partial replies are saved). Below 100 columns the two stack vertically.

Model text is only ever rendered through ``MarkdownView`` or rich ``Text``: never parsed as markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...formatting import one_line
from ..markdown_split import MarkdownSplitter
from ..widgets.markdown_view import MarkdownView

if TYPE_CHECKING:
    from ...services.chat_session import ChatSession
    from ...services.compare import CompareService, Lane

NARROW = 100
TICK = 0.25  # seconds between refreshes of the live stats and the streaming tails
HELP = "1 / ← keep left · 2 / → keep right · Esc cancel both"
DONE_HELP = "ended: 1 / ← keep left · 2 / → keep right · Esc keep the current model's answer"


class LaneView(Vertical):
    """One column: model header, stats line, streaming Markdown."""

    DEFAULT_CSS = """
    LaneView { width: 1fr; height: 1fr; border: round $primary 50%; padding: 0 1; }
    LaneView .lane-header { text-style: bold; }
    LaneView .lane-stats { color: $text-muted; }
    LaneView VerticalScroll { height: 1fr; }
    """

    def __init__(self, index: int, model: str) -> None:
        super().__init__(id=f"lane-{index}")
        self.index, self.model = index, model
        self.splitter = MarkdownSplitter()
        self.fed = 0

    def compose(self) -> ComposeResult:
        yield Static(classes="lane-header")
        yield Static(classes="lane-stats")
        with VerticalScroll():
            yield MarkdownView(classes="settled")
            yield MarkdownView(classes="tail")
            yield Static(classes="lane-error")

    def on_mount(self) -> None:
        self.show_header(None)

    def show_header(self, lane: Lane | None, kept: bool = False) -> None:
        key = "1 ←" if self.index == 0 else "2 →"
        model = lane.model if lane is not None else self.model
        role = "current model" if self.index == 0 else "compared with"
        self.query_one(".lane-header", Static).update(
            Text.assemble((f"[{key}] ", "dim"), (one_line(model), "bold"), (f"  {role}", "dim"))
        )
        if lane is not None:
            self.query_one(".lane-stats", Static).update(Text(lane.stats_line()))

    def feed(self, text: str) -> None:
        self.splitter.feed(text)
        self.fed += len(text)

    def render_text(self, final: bool = False) -> None:
        settled = self.query_one(".settled", MarkdownView)
        for segment in self.splitter.settle(final=final):
            settled.append(segment)
        self.query_one(".tail", MarkdownView).update("" if final else self.splitter.tail())

    def show_error(self, error: str) -> None:
        self.query_one(".lane-error", Static).update(Text(one_line(error), style="red"))


class CompareScreen(ModalScreen[str | None]):
    """Streams a comparison; dismisses with the kept reply's id, or None (cancelled, or nothing to keep)."""

    DEFAULT_CSS = """
    CompareScreen { align: center middle; }
    #compare-box { width: 100%; height: 100%; background: $surface; padding: 0 1; }
    #compare-title { height: auto; max-height: 2; }
    #compare-lanes { height: 1fr; }
    #compare-lanes.narrow { layout: vertical; }
    #compare-help { color: $text-muted; height: 1; }
    """

    BINDINGS = [
        Binding("1,left", "keep(0)", "Keep left", show=False),
        Binding("2,right", "keep(1)", "Keep right", show=False),
        Binding("escape", "cancel", "Cancel", show=False),
    ]

    def __init__(self, conversation: ChatSession, service: CompareService, text: str, other: str) -> None:
        super().__init__()
        self.conversation, self.service, self.text, self.other = conversation, service, text, other
        self.lanes = [LaneView(0, conversation.model.id), LaneView(1, other)]
        self.finished = False
        self.error: str | None = None  # the compare was refused before anything was stored

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-box"):
            yield Static(Text.assemble(("Compare: ", "bold"), one_line(self.text)), id="compare-title")
            with Horizontal(id="compare-lanes"):
                yield from self.lanes
            yield Static(Text(HELP), id="compare-help")

    def on_mount(self) -> None:
        self._layout()
        self.set_interval(TICK, self._tick)
        self.app.reply_worker = self._stream()  # type: ignore[attr-defined]  # the app's busy checks see it

    def on_resize(self) -> None:
        self._layout()

    def _layout(self) -> None:
        self.query_one("#compare-lanes").set_class(self.app.size.width < NARROW, "narrow")

    def _tick(self) -> None:
        for view, lane in zip(self.lanes, self.service.lanes, strict=False):
            view.show_header(lane)
            if not lane.done:
                view.render_text()

    @work(group="chat", exclusive=False, exit_on_error=False, description="compare two models")
    async def _stream(self) -> None:
        from ...services.api import ConfigError, RefusalDelta, TextDelta
        from ...services.chat import BusyError
        from ...services.compare import LaneFailed
        from ...services.core import NotFoundError

        try:
            async for item in self.service.compare(
                self.text, self.conversation.session_id, self.other, model_id=self.conversation.model.id,
                inspector=self.conversation.inspector,
            ):
                view = self.lanes[item.lane.index]
                if isinstance(item.event, TextDelta | RefusalDelta):
                    view.feed(item.event.text)
                elif isinstance(item.event, LaneFailed):
                    view.show_error(item.event.error)
                if item.lane.done:
                    self._lane_done(view, item.lane)
        except (ConfigError, NotFoundError, BusyError) as exc:
            self.error = str(exc).splitlines()[0]
            self.finished = True
            self.dismiss(None)
            return
        finally:
            if not self.finished:  # ended, or cancelled (Esc): both replies are saved
                self.finished = True
                for view, lane in zip(self.lanes, self.service.lanes, strict=False):
                    self._lane_done(view, lane)
                self.query_one("#compare-help", Static).update(Text(DONE_HELP))

    def _lane_done(self, view: LaneView, lane: Lane) -> None:
        if lane.text and view.fed < len(lane.text):  # e.g. the saved partial reply after a cancel
            view.feed(lane.text[view.fed:])
        view.render_text(final=True)
        view.show_header(lane)
        if lane.error:
            view.show_error(str(lane.error))

    def action_keep(self, index: int) -> None:
        if not self.finished:
            self.app.bell()
            self.notify("both answers are still streaming: wait until they end (Esc cancels)", severity="warning")
            return
        lane = self.service.lanes[index] if len(self.service.lanes) > index else None
        if lane is None or lane.reply_id is None:
            self.app.bell()
            return
        self.dismiss(lane.reply_id)

    def action_cancel(self) -> None:
        worker = self.app.reply_worker  # type: ignore[attr-defined]
        if not self.finished and worker is not None and worker.is_running:
            worker.cancel()  # both partial replies are saved; then the screen stays to pick one or leave
            return
        self.dismiss(None)
