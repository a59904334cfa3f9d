"""Two models answer one prompt at once: the current model (lane 0) and another (lane 1), side by side.

Lane 0 is an ordinary turn (the user message and its reply); lane 1 answers that same stored user message again
with the other model (a ``Regenerate``), so both replies are children of one user message: alternatives. Each
reply is stored, checkpointed, billed to its own model and finished by ``ChatService`` exactly as a single reply
is. Lane 1 starts as soon as lane 0's turn is stored, and streams in its own task and its own ``ChatService``
while lane 0 streams: ``STREAMING_ALONGSIDE`` lets its turn begin next to lane 0's still-streaming reply, which
the busy checks (meant for *other* processes) would otherwise refuse. A compare still refuses, like any send,
while this process streams a reply in the session.

When both ended (or were cancelled: both partial replies are saved), lane 0's reply is the active branch and
the session keeps the current model; ``keep`` makes either reply the branch the conversation continues on, and
its model the session's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..catalog.models import ModelInfo
from ..config.settings import ConfigError
from ..context import ContextInspector
from ..domain import MessageRecord
from ..formatting import format_cost, format_tokens
from ..providers.events import ReasoningDelta, RefusalDelta, TextDelta
from ..storage.turns import STREAMING_ALONGSIDE
from .chat import ChatEvent, ChatService, Regenerate, ReplyFinished, ReplyStarted
from .failover import FailedOver

LaneStatus = Literal["waiting", "streaming", "complete", "error", "cancelled"]
LANES = ("current model", "compared with")


@dataclass(frozen=True)
class LaneFailed:
    """A lane that could not start (its request was refused before anything was stored for it)."""

    error: str


@dataclass
class Lane:
    """One side of a comparison: its model, its reply once stored, and live numbers while it streams."""

    index: int
    model: str
    status: LaneStatus = "waiting"
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None
    chars: int = 0
    reply: MessageRecord | None = None
    error: str | None = None

    def feed(self, event: ChatEvent | LaneFailed) -> None:
        if isinstance(event, ReplyStarted):
            self.reply, self.status, self.started = event.reply, "streaming", time.monotonic()
        elif isinstance(event, FailedOver):
            self.model = event.to_model
        elif isinstance(event, TextDelta | RefusalDelta | ReasoningDelta):
            if self.first_token is None:
                self.first_token = time.monotonic()
            self.chars += len(event.text)
        elif isinstance(event, ReplyFinished):
            self.finish(event.reply, event.error)
        elif isinstance(event, LaneFailed):
            self.status, self.error = "error", event.error

    def finish(self, reply: MessageRecord, error: str | None = None) -> None:
        self.reply, self.model = reply, str(reply.get("model") or self.model)
        status = reply.get("status")
        self.status = "complete" if status == "complete" else "cancelled" if status == "cancelled" else "error"
        self.error = error or reply.get("error")

    @property
    def done(self) -> bool:
        return self.status not in ("waiting", "streaming")

    @property
    def reply_id(self) -> str | None:
        return str(self.reply["id"]) if self.reply is not None else None

    @property
    def text(self) -> str:
        return str(self.reply.get("content") or "") if self.reply is not None else ""

    def ttft(self) -> float | None:
        stored = self.reply.get("ttft") if self.done and self.reply is not None else None
        if stored is not None:
            return float(stored)
        return self.first_token - self.started if self.first_token is not None else None

    def output_tokens(self) -> tuple[int, bool]:
        """(output tokens, whether counted by the provider); live: about a token per four characters."""
        usage: Mapping[str, Any] = (self.reply.get("usage") or {}) if self.done and self.reply else {}
        if usage.get("output_tokens") is not None:
            return int(usage["output_tokens"]), self.reply is not None and self.reply.get("usage_source") != "estimated"
        return (self.chars + 3) // 4, False

    def tokens_per_s(self, now: float | None = None) -> float | None:
        tokens, _ = self.output_tokens()
        if self.done and self.reply is not None:
            duration, ttft = self.reply.get("duration"), self.reply.get("ttft")
            if tokens and duration and ttft is not None and duration - ttft > 0.05:
                return float(tokens / (duration - ttft))
            return None
        if self.first_token is None or not tokens:
            return None
        elapsed = (now or time.monotonic()) - self.first_token
        return tokens / elapsed if elapsed > 0.05 else None

    def cost(self) -> float | None:
        return self.reply.get("cost") if self.done and self.reply is not None else None

    def stats_line(self, now: float | None = None) -> str:
        """'$0.0012 · TTFT 0.42 s · 85 tok/s · 120 tok' (live values while streaming, '…' for what is not known yet)."""
        ttft, speed = self.ttft(), self.tokens_per_s(now)
        tokens, exact = self.output_tokens()
        cost = format_cost(self.cost()) if self.done else "…"
        return " · ".join([
            cost,
            f"TTFT {ttft:.2f} s" if ttft is not None else "TTFT …",
            f"{speed:.0f} tok/s" if speed is not None else "… tok/s",
            f"{'' if exact else '~'}{format_tokens(tokens)} tok",
        ] + ([self.status] if self.status not in ("complete", "streaming") else []))

    def summary(self) -> dict[str, Any]:
        """The lane's row of ``ask --compare``'s summary (and its JSON)."""
        usage: Mapping[str, Any] = (self.reply.get("usage") or {}) if self.reply else {}
        speed = self.tokens_per_s()
        return {
            "lane": self.index, "model": self.model, "message_id": self.reply_id, "status": self.status,
            "cost": self.cost(), "ttft": self.ttft(), "tokens_per_s": round(speed, 1) if speed is not None else None,
            "input_tokens": usage.get("input_tokens"), "output_tokens": usage.get("output_tokens"),
            "error": self.error,
        }


@dataclass(frozen=True)
class LaneEvent:
    """What happened in one lane: a ``ChatService`` event, or ``LaneFailed``. ``lane`` holds its numbers."""

    lane: Lane
    event: ChatEvent | LaneFailed


def check_other_model(chat: ChatService, model_id: str) -> ModelInfo:
    """The model to compare with, or ConfigError (one line) when it is unknown or has no key: refused before
    anything is sent. Blocking."""
    services = chat.services
    info = services.resolve_model(model_id)
    spec = services.provider(info.provider)
    if spec.needs_key and services.key_for(info.provider, fresh=True).value is None:
        env = spec.key_env or f"{spec.name.upper()}_API_KEY"
        raise ConfigError(f"no API key for {spec.label}: set {env} or run `agentspace-tui keys set {spec.name}`")
    return info


class CompareService:
    """Runs comparisons in the sessions of one ``ChatService`` (the one whose normal sends it must not overlap)."""

    def __init__(self, chat: ChatService) -> None:
        self.chat = chat
        self.services = chat.services
        self.lanes: list[Lane] = []  # of the comparison running or run last
        self.session_id: str | None = None

    async def compare(
        self, text: str, session_id: str | None, other_model: str, *, model_id: str | None = None,
        system_prompt: str | None = None, params: Mapping[str, float | int] | None = None,
        inspector: ContextInspector | None = None,
    ) -> AsyncIterator[LaneEvent]:
        """Send ``text`` to the session's model (or ``model_id``) and to ``other_model`` at once, and yield both
        streams' events as they come, each tagged with its lane. Raises, with nothing stored, what a send
        raises before its turn is stored (ConfigError, BusyError, NotFoundError); a lane that fails later ends
        with its own error and does not stop the other."""
        other = await asyncio.to_thread(check_other_model, self.chat, other_model)
        queue: asyncio.Queue[LaneEvent | BaseException | None] = asyncio.Queue()
        first = Lane(0, model_id or "")
        second = Lane(1, other.id)
        self.lanes, self.session_id = [first, second], session_id
        turn: asyncio.Future[ReplyStarted] = asyncio.get_running_loop().create_future()
        lane_chat = ChatService(self.services)  # lane 1's own "streaming here" state (see the module doc)

        async def lead() -> None:
            try:
                async for event in self.chat.send(
                    text, session_id=session_id, model_id=model_id, system_prompt=system_prompt,
                    inspector=inspector, params=params,
                ):
                    if isinstance(event, ReplyStarted):
                        first.model, self.session_id = event.model.id, str(event.session["id"])
                        turn.set_result(event)
                    first.feed(event)
                    await queue.put(LaneEvent(first, event))
            except Exception as exc:
                if not turn.done():  # refused before anything was stored: the whole compare is refused
                    turn.set_exception(exc)
                    await queue.put(exc)
                    return
                await self._fail(queue, first, exc)
            finally:
                if not turn.done():
                    turn.cancel()

        async def follow() -> None:
            try:
                started = await turn
            except BaseException:
                return
            STREAMING_ALONGSIDE.set(frozenset({str(started.reply["id"])}))  # this task's context only
            try:
                async for event in lane_chat.send(
                    "", session_id=str(started.session["id"]), model_id=other.id,
                    place=Regenerate(str(started.user_message["id"])), params=params,
                ):
                    second.feed(event)
                    await queue.put(LaneEvent(second, event))
            except Exception as exc:
                await self._fail(queue, second, exc)

        tasks = [asyncio.ensure_future(lead()), asyncio.ensure_future(follow())]
        waiter = asyncio.ensure_future(self._close_when_done(tasks, queue))
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not waiter.done():  # cancelled (Esc, Ctrl-C) or the caller stopped reading: stop both lanes
                lane_chat.stop_reason = self.chat.stop_reason
                for task in tasks:
                    task.cancel()
            await asyncio.shield(self._settle(tasks, waiter))

    @staticmethod
    async def _fail(queue: asyncio.Queue[LaneEvent | BaseException | None], lane: Lane, exc: Exception) -> None:
        failed = LaneFailed(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        lane.feed(failed)
        await queue.put(LaneEvent(lane, failed))

    @staticmethod
    async def _close_when_done(tasks: Sequence[asyncio.Future[None]], queue: asyncio.Queue[Any]) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        await queue.put(None)

    async def _settle(self, tasks: Sequence[asyncio.Future[None]], waiter: asyncio.Future[None]) -> None:
        """After both lanes ended: read back what was saved (a cancelled lane's partial reply too), leave lane 0's
        reply the active branch and the session on its model (``keep`` changes both)."""
        await asyncio.gather(*tasks, return_exceptions=True)
        waiter.cancel()
        sid = self.session_id
        if sid is None or self.lanes[0].reply is None:
            return
        self.chat.cancelled_replies.pop(sid, None)  # read back below; not for a later send to find
        await asyncio.to_thread(self._restore, sid)

    def _restore(self, sid: str) -> None:
        store = self.services.store
        stored = {str(m.get("id")): m for m in store.get_messages(sid)}
        for lane in self.lanes:
            final = stored.get(lane.reply_id or "")
            if final is not None and final.get("status") != "streaming":
                lane.finish(final)
        with contextlib.suppress(ConfigError):
            self.keep(sid, str(self.lanes[0].reply_id), stamp=self.lanes[1].reply is not None)

    def keep(self, session_id: str, reply_id: str, *, stamp: bool = True) -> ModelInfo:
        """Make ``reply_id`` the branch the conversation continues on (the other reply stays an alternative) and
        its model the session's. Returns that model. Blocking; ConfigError when the reply is not in the session."""
        store = self.services.store
        reply = next((m for m in store.get_messages(session_id) if m.get("id") == reply_id), None)
        if reply is None or reply.get("role") != "assistant":
            raise ConfigError("that reply is not in this session any more")
        if stamp:
            store.update_message(session_id, reply_id, chosen_at=time.time())
        info = self.services.resolve_model(str(reply.get("model")))
        store.update_session(session_id, model=info.id)
        return info


__all__ = ["LANES", "CompareService", "Lane", "LaneEvent", "LaneFailed", "check_other_model"]
