"""An assistant reply in the conversation: finished (one Markdown view) or streaming (settled segments + a live tail).

Finished messages hold a Rich ``Markdown`` rendered once per width (``MarkdownView``, cheap to keep). A streaming
reply freezes settled Markdown into such segments and re-renders only a short live tail, on a timer, so cost per
frame stays flat however long the reply or however fast the chunks arrive. Model text is untrusted: it is never
parsed as Rich markup, and every piece of it (content, reasoning, errors, model ids, tool calls, notes) is shown
through ``text_safety.for_terminal``. The keys of a focused reply come from ``MessageBlock``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Static

from ...formatting import one_line, reply_summary
from ...text_safety import for_terminal
from ..markdown_split import MarkdownSplitter
from .markdown_view import MarkdownView
from .message_block import MessageBlock, alternative_text, hidden_text
from .thinking import ThinkingBlock
from .tool_call import ToolCallView, segments

RENDER_INTERVAL = 0.1  # live tail refresh while streaming; stretched when a frame costs more (see _render_tail)
RENDER_BUDGET = 0.3  # at most this share of the event loop goes to re-rendering the live tail
FAST_STREAM = 100  # chunks per frame from which frames are spaced out (RENDER_INTERVAL * 2): a reply that
# fast cannot be read as it arrives, and every frame costs the loop time it needs to take the chunks in

STATUS_TEXT = {
    "interrupted": ("⚠ interrupted", "warning"),
    "cancelled": ("■ cancelled", "warning"),
    "error": ("✗ error", "error"),
}
# how a complete reply ended, when that is not a plain stop: header label and CSS class (see app.tcss)
OUTCOME_TEXT = {
    "length": ("⚠ truncated: max output tokens reached", "-length"),
    "refusal": ("⊘ refused", "-refusal"),
    "content_filter": ("⊘ stopped by the provider's content filter", "-content-filter"),
    "tool_calls": ("⚙ tool call requested", "-tool-calls"),
}
STATUS_CLASSES = ("complete", "interrupted", "cancelled", "error")
# why another model answered (services/failover.py): the failed attempts' error kinds, briefly
FAILOVER_LABELS = {"rate_limit": "rate limit", "overloaded": "overloaded", "server": "server error"}
TOOL_ARGUMENTS_SHOWN = 400  # characters of a tool call's arguments shown before "…"

# The live tail shows code without syntax highlighting: highlighting re-lexes the block on every frame
# (~1.7 ms a line here, 4x the cost of the plain block); a segment is highlighted once, when it settles.
FENCE_INFO_RE = re.compile(r"^( {0,3}(?:`{3,}|~{3,}))[^`\n]+$", re.M)


def outcome(message: Mapping[str, Any]) -> str | None:
    """The finish reason of a complete reply worth a mark ("length", "refusal", ...), else None."""
    if message.get("status") != "complete":
        return None
    reason = message.get("finish_reason")
    if reason in OUTCOME_TEXT:
        return reason
    return "tool_calls" if _unrun(message) else None


def failover_text(message: Mapping[str, Any]) -> str | None:
    """'↪ answered by openai:gpt-4.1 (anthropic rate limit)' for a reply a failover chain answered; else None."""
    attempts = [a for a in message.get("failover") or [] if isinstance(a, Mapping)]
    if not attempts:
        return None
    reasons = ", ".join(
        f"{str(a.get('model') or '?').partition(':')[0]} {FAILOVER_LABELS.get(str(a.get('kind')), str(a.get('kind')))}"
        for a in attempts
    )
    return one_line(f"↪ answered by {message.get('model') or '?'} ({reasons})")


def tool_calls_text(calls: list[dict]) -> Text:
    """Each requested call as ``name(arguments)``: shown, never run (the app has no tools yet)."""
    n = len(calls)
    text = Text(f"⚙ the model asked to call {n} tool{'s' if n != 1 else ''}; no tools are enabled in this chat "
                "(/tools), so nothing was run:")
    for call in calls:
        args = str(call.get("arguments") or "")
        if len(args) > TOOL_ARGUMENTS_SHOWN:
            args = args[:TOOL_ARGUMENTS_SHOWN] + f"… ({len(args):,} chars)"
        text.append("\n  • ")
        text.append(one_line(call.get("name") or "?"), style="bold")
        text.append(f"({for_terminal(args)})")
    return text


def _unrun(message: Mapping[str, Any]) -> list[dict]:
    """Tool calls the model asked for when no tools were offered: listed, never run."""
    return [c for c in message.get("tool_calls") or [] if isinstance(c, dict) and not c.get("round")]


class ReplyBlock(MessageBlock, Vertical):
    """An assistant reply: header (model, status, alternatives), thinking (the model's reasoning, collapsed), body
    (Markdown segments + live tail), tool calls requested, summary line. Hidden from the context: one line."""

    def __init__(
        self,
        message: Mapping[str, Any] | None = None,
        *,
        model: str = "",
        streaming: bool = False,
        alternative: tuple[int, int] | None = None,
    ) -> None:
        self.message = dict(message or {"role": "assistant", "content": "", "model": model})
        self.alternative = alternative
        super().__init__(classes="reply message" + (" -hidden" if self.message.get("hidden") else ""))
        self.streaming = streaming
        self._splitter = MarkdownSplitter() if streaming else None
        self._dirty = False
        self._timer: Timer | None = None
        self.chunks = 0
        self._chunks_at_frame = 0
        self._pending: list[str] = []  # settled segments not yet rendered (see _drain)
        self._pending_tail = ""
        self._interval = RENDER_INTERVAL
        self.first_chunk_at: float | None = None  # perf_counter times, for the streaming benchmark
        self.last_chunk_at: float | None = None
        self.thinking: ThinkingBlock | None = None
        self._text_before = ""  # the text of the segments before the last tool call (streaming)
        self._tool_views: dict[str, ToolCallView] = {}

    def compose(self) -> ComposeResult:
        if self.hidden and not self.streaming:  # one line, nothing else (see app.tcss: .message.-hidden)
            yield Static(hidden_text(self.message), classes="message-hidden")
            return
        yield Static(self._header_text(), classes="reply-header")
        reasoning = self.message.get("reasoning") or ""
        if self.streaming or reasoning:
            # a streaming reply keeps a hidden block ready: it shows with the first reasoning chunk
            self.thinking = ThinkingBlock(reasoning, streaming=self.streaming)
            self.thinking.display = bool(reasoning)
            yield self.thinking
        body = Vertical(classes="reply-body")
        with body:
            content = self.message.get("content") or self.message.get("refusal") or ""
            if not self.streaming:
                for piece in segments(content, self.message.get("tool_calls") or []):
                    if isinstance(piece, str):
                        yield MarkdownView(piece, classes="settled")
                    else:
                        self._tool_views[str(piece.get("id"))] = view = ToolCallView(piece)
                        yield view
            if self.streaming:
                yield MarkdownView(classes="settled")
                yield MarkdownView("…", classes="tail")
        if not self.streaming and _unrun(self.message):
            yield self._tool_calls_view(_unrun(self.message), bool(content))
        yield Static(self._summary_text(), classes="reply-summary")

    def on_mount(self) -> None:
        if self.streaming:
            self._timer = self.set_timer(RENDER_INTERVAL, self._render_tail)
        self._apply_status_class()

    # -- text -----------------------------------------------------------------------------------------
    def _header_text(self) -> Text:
        failover = failover_text(self.message)
        model = one_line((self.message.get("requested_model") if failover else None) or self.message.get("model")
                         or "assistant")
        text = Text.assemble(("● ", "bold"), (model, "bold"))
        if failover:
            text.append(f"  {failover}", style="italic")
        status = self.message.get("status")
        if self.streaming:
            text.append("  streaming…", style="italic dim")
        elif status in STATUS_TEXT:
            label, _ = STATUS_TEXT[status]
            text.append(f"  {label}", style="bold")
        elif (reason := outcome(self.message)) is not None:
            label, _ = OUTCOME_TEXT[reason]
            text.append(f"  {label}", style="bold")
        if self.alternative is not None:
            text.append("  ")
            text.append_text(alternative_text(self.alternative))
        return text

    def _summary_text(self) -> Text:
        if self.streaming or self.hidden or not self.message.get("status"):
            return Text("")
        text = Text(reply_summary(self.message), style="dim")
        error = self.message.get("error")
        if error:
            text.append("\n")
            text.append(for_terminal(str(error)), style="bold")
        return text

    def _apply_status_class(self) -> None:
        for status in STATUS_CLASSES:
            self.set_class(self.message.get("status") == status and not self.streaming, f"-{status}")
        reason = None if self.streaming else outcome(self.message)
        for name, (_, cls) in OUTCOME_TEXT.items():
            self.set_class(reason == name, cls)
        self.set_class(self.streaming, "-streaming")

    # -- streaming ------------------------------------------------------------------------------------
    def append(self, text: str) -> None:
        """Called per chunk: O(1); rendering happens on the timer."""
        if self._splitter is not None:
            self._splitter.feed(text)
            self.chunks += 1
            self._dirty = True
            self.last_chunk_at = time.perf_counter()
            if self.first_chunk_at is None:
                self.first_chunk_at = self.last_chunk_at

    def append_reasoning(self, text: str) -> None:
        """Called per reasoning chunk: O(1); the Thinking block repaints on the timer."""
        thinking = self.thinking
        if thinking is None or not text:
            return
        thinking.append(text)
        if not thinking.display:  # the first chunk: show the block (and the app's toggle key)
            thinking.display = True
            thinking.flush()
            self.app.refresh_bindings()

    @property
    def reasoning(self) -> str:
        return self.thinking.text if self.thinking is not None else (self.message.get("reasoning") or "")

    def failed_over(self, from_model: str, to_model: str, kind: str) -> None:
        """Another model answers (services/failover.py FailedOver): the header says so while it streams."""
        message = self.message
        attempts = [*(message.get("failover") or []), {"model": from_model, "kind": kind}]
        self.message = {**message, "requested_model": message.get("requested_model") or from_model,
                        "model": to_model, "failover": attempts}
        self.query_one(".reply-header", Static).update(self._header_text())

    def note(self, text: str) -> None:
        self.query_one(".reply-summary", Static).update(Text(for_terminal(text), style="italic"))

    def _render_tail(self) -> None:
        if self._splitter is None or not self.is_mounted:
            return
        if self.thinking is not None:
            self.thinking.flush()
        if not self._dirty:
            self._timer = self.set_timer(RENDER_INTERVAL, self._render_tail)
            return
        self._dirty = False
        self._interval = RENDER_INTERVAL * (2 if self.chunks - self._chunks_at_frame >= FAST_STREAM else 1)
        self._chunks_at_frame = self.chunks
        self._timer = None
        self._pending.extend(self._splitter.settle())
        self._pending_tail = FENCE_INFO_RE.sub(r"\1", self._splitter.tail())
        self._drain()

    def _drain(self) -> None:
        """One settled segment per step, then the tail: each step is its own turn of the event loop, so a frame
        that settles several segments never holds the loop for the sum of them."""
        if self._splitter is None or not self.is_mounted:
            return
        body = self.query_one(".reply-body", Vertical)
        if self._pending:
            body.query(".settled").last(MarkdownView).append(self._pending.pop(0))  # rendered once, ~16 lines
            # a timer, not call_later: a message pump runs all its queued messages in one turn of the loop
            self._timer = self.set_timer(0.001, self._drain)
            return
        started = time.perf_counter()
        body.query(".tail").last(MarkdownView).update(self._pending_tail)
        # adaptive frame rate: a costly tail (a big table) spaces the next frame out, so chunks keep flowing
        cost = time.perf_counter() - started
        self._timer = self.set_timer(max(self._interval, cost / RENDER_BUDGET), self._render_tail)

    @property
    def text(self) -> str:
        if self._splitter is not None:
            return self._text_before + self._splitter.full_text
        return self.message.get("content", "")

    # -- tool calls -----------------------------------------------------------------------------------
    def tool_call(self, call: Mapping[str, Any]) -> None:
        """A tool call asked for (services/tool_loop.py ToolCallStarted) or finished: shown where it came in
        the text; the text after it goes on in a new segment."""
        key = str(call.get("id"))
        view = self._tool_views.get(key)
        if view is not None:
            view.update(call)
            return
        self._tool_views[key] = view = ToolCallView(call)
        body = self.query_one(".reply-body", Vertical)
        if self._splitter is None:
            body.mount(view)
            return
        if not self._splitter.full_text and not self._pending:  # nothing since the last call: goes before it
            body.mount(view, before=body.query(".settled").last())
            return
        self._settle_segment(body)
        self._text_before += self._splitter.full_text
        self._splitter = MarkdownSplitter()
        body.mount(view)
        body.mount(MarkdownView(classes="settled"), MarkdownView("…", classes="tail"))

    def _settle_segment(self, body: Vertical) -> None:
        """Render the current segment's text whole and drop its live tail."""
        assert self._splitter is not None
        rest = self._pending + self._splitter.settle(final=True)
        self._pending = []
        settled = body.query(".settled").last(MarkdownView)
        for segment in rest:
            settled.append(segment)
        body.query(".tail").last().remove()

    def finish(self, message: Mapping[str, Any]) -> None:
        """The reply ended (complete, interrupted, cancelled or error): render the rest, show the summary."""
        self.message = dict(message)
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        body = self.query_one(".reply-body", Vertical)
        if self._splitter is not None:
            # the stored content is the truth (it includes every chunk, even ones not rendered yet)
            rendered = self.text
            stored = message.get("content", "")
            if stored.startswith(rendered) and len(stored) > len(rendered):
                self._splitter.feed(stored[len(rendered):])
            self._settle_segment(body)
            self._splitter = None
        for call in message.get("tool_calls") or []:  # the stored outcome of each call is the truth
            if isinstance(call, Mapping) and str(call.get("id")) in self._tool_views:
                self._tool_views[str(call.get("id"))].update(call)
        self._finish_thinking(message.get("reasoning"))
        if _unrun(message) and not self.query(".reply-tool-calls"):
            self.mount(self._tool_calls_view(_unrun(message), bool(self.text)), after=body)
        self.streaming = False
        self.query_one(".reply-header", Static).update(self._header_text())
        self.query_one(".reply-summary", Static).update(self._summary_text())
        self._apply_status_class()

    @staticmethod
    def _tool_calls_view(calls: list[dict], after_text: bool) -> Static:
        return Static(tool_calls_text(calls), classes="reply-tool-calls" + (" -after-text" if after_text else ""))

    def _finish_thinking(self, stored: str | None) -> None:
        """The stored reasoning is the truth; without any, what streamed in stays (a cancelled reply)."""
        thinking = self.thinking
        if thinking is None:
            if stored:
                self.thinking = ThinkingBlock(stored)
                self.mount(self.thinking, after=self.query_one(".reply-header", Static))
            return
        text = stored or thinking.text
        if not text:
            self.thinking = None
            thinking.remove()
            return
        thinking.finish(text)
        if not thinking.display:
            thinking.display = True
            self.app.refresh_bindings()
