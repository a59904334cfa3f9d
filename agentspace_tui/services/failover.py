"""Failover chains (``[failover]`` in config.toml): when the model asked for cannot answer, the next one does.

A chain is tried only while nothing of the reply has arrived: when a stream ends with a StreamError of a kind in
``FAILOVER_KINDS`` (rate limit, overload, server error, timeout, unreachable) before any text, reasoning or
tool call, the next model of the chain that has a key gets the same request. A failure after text started keeps
today's behaviour (the partial reply is kept, marked interrupted/error): a reply is never stitched from two
models. Errors that another model would not fix either (a rejected key, a context window, a bad request) end
the reply as they always did.

Retries: while a model has a next one in its chain, it gets no retries of its own (a 429 fails over at once:
that is what a chain is for); the last model of the chain is retried as ``max_retries`` says, as any model
without a chain is.

The placeholder reply is switched to the answering model as soon as it is chosen (its ``model`` and ``prices``:
the reply is billed at that model's price, and the ledger charges that model), and keeps ``requested_model`` and
``failover`` ([{model, error, kind, duration}], the models that failed, in order).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ..catalog.models import ModelInfo
from ..config.settings import ConfigError
from ..pricing import Price
from ..providers.errors import ProviderContext
from ..providers.events import (
    Event,
    ReasoningDelta,
    RefusalDelta,
    StreamError,
    TextDelta,
    ToolCallRequest,
    UsageReport,
)
from ..providers.stream import ChatRequest, stream_chat
from ..providers.wirefacts import wire_for
from ..storage import StorageError

if TYPE_CHECKING:
    from .core import Services
    from .reply_saving import ReplyState

# kinds of StreamError another model may not have: the provider (or the way to it) is the problem, not the request
FAILOVER_KINDS = frozenset({"rate_limit", "overloaded", "server", "timeout", "unreachable"})
KIND_LABELS = {
    "rate_limit": "rate limit", "overloaded": "overloaded", "server": "server error", "timeout": "timeout",
    "unreachable": "unreachable",
}
SHORT_ERROR = 120  # characters of each failure named in the final error of a chain that failed throughout


@dataclass(frozen=True)
class FailedOver:
    """``from_model`` failed before any text (``error``: one line, ``kind``: the StreamError kind); ``to_model``
    answers instead."""

    from_model: str
    to_model: str
    error: str
    kind: str

    def describe(self, detail: str | None = None) -> str:
        """'anthropic:claude-sonnet-4-5 failed (rate limit); failing over to openai:gpt-4.1' (``detail`` in place of
        the kind's label)."""
        return f"{self.from_model} failed ({detail or KIND_LABELS.get(self.kind, self.kind)}); failing over to {self.to_model}"


def short_error(message: str) -> str:
    """The first clause of a one-line error (what happened, without the advice after ';')."""
    head = message.split(";")[0].strip()
    return head if len(head) <= SHORT_ERROR else head[: SHORT_ERROR - 1] + "…"


class Failover:
    """The stream of one reply across its failover chain; see the module docstring.

    ``info``, ``price`` and ``request`` are those of the model currently asked: after a ``FailedOver`` event the
    caller takes them from here.
    """

    def __init__(
        self, services: Services, sid: str, reply_id: str, info: ModelInfo, price: Price | None,
        request: ChatRequest, state: ReplyState,
    ) -> None:
        self.services, self.sid, self.reply_id, self.state = services, sid, reply_id, state
        self.info, self.price, self.request = info, price, request
        self.requested = info.id
        self.failed: list[dict[str, Any]] = []
        self.next_models = self._usable(services.settings.failover.get(info.id, []))
        self._retries = request.max_retries
        if self.next_models:
            request.max_retries = 0

    def _usable(self, chain: list[str]) -> list[ModelInfo]:
        """The chain's models that resolve and have a key (or need none), in order, without repeats."""
        out: list[ModelInfo] = []
        seen = {self.info.id}
        for model_id in chain:
            try:
                info = self.services.resolve_model(model_id)
                spec = self.services.provider(info.provider)
                if spec.needs_key and self.services.key_for(info.provider).value is None:
                    continue
            except ConfigError:
                continue
            if info.id not in seen:
                seen.add(info.id)
                out.append(info)
        return out

    async def stream(self) -> AsyncIterator[Event | FailedOver]:
        while True:
            output = False
            held: UsageReport | None = None  # before any output it may belong to an attempt that fails over
            started = time.monotonic()
            failed: StreamError | None = None
            attempt = cast(AsyncGenerator[Event, None], stream_chat(self.request))  # an async generator
            async with contextlib.aclosing(attempt) as events:
                async for event in events:
                    if isinstance(event, StreamError) and not output:
                        if event.kind in FAILOVER_KINDS and self.next_models:
                            failed = event
                            break
                        if self.failed:
                            event = dataclasses.replace(event, message=self._all_failed(event))
                    if isinstance(event, UsageReport) and not output:
                        held = event
                        continue
                    if held is not None:
                        yield held
                        held = None
                    if isinstance(event, TextDelta | ReasoningDelta | RefusalDelta | ToolCallRequest):
                        output = True
                    yield event
            if failed is None:
                if held is not None:
                    yield held
                return
            yield await self._switch(failed, time.monotonic() - started)

    async def _switch(self, error: StreamError, duration: float) -> FailedOver:
        """Move the request, the price and the stored placeholder to the next model of the chain."""
        services = self.services
        failed_model = self.info.id
        info = self.next_models.pop(0)
        spec = services.provider(info.provider)
        api_base = services.api_base(info.provider)
        self.failed.append({"model": failed_model, "error": error.message, "kind": error.kind,
                            "duration": round(duration, 3)})
        self.info, self.price = info, services.price_for(info)
        self.request = dataclasses.replace(
            self.request, litellm_model=info.litellm_model, api_key=services.key_for(info.provider).value,
            provider=ProviderContext(spec.label, spec.name, spec.key_env, api_base), api_base=api_base,
            wire=wire_for(spec.litellm_prefix), max_retries=0 if self.next_models else self._retries, sent_at=None,
        )
        self.state.requested_model, self.state.failover = self.requested, list(self.failed)
        with contextlib.suppress(StorageError, OSError):  # the final save stores them anyway
            await asyncio.to_thread(
                services.store.update_message, self.sid, self.reply_id, model=info.id,
                prices=self.price.snapshot() if self.price else None, requested_model=self.requested,
                failover=list(self.failed),
            )
        return FailedOver(failed_model, info.id, error.message, error.kind)

    def _all_failed(self, last: StreamError) -> str:
        """The final error of a chain none of whose models answered: each failure, briefly, in order."""
        parts = [f"{f['model']}: {short_error(str(f['error']))}" for f in self.failed]
        parts.append(f"{self.info.id}: {short_error(last.message)}")
        return f"no model of the failover chain answered ({'; '.join(parts)})"
