"""Saving a streaming reply: checkpoints while it streams, and the final save with its usage and cost.

``ChatService`` (chat.py) feeds a ``ReplyState`` as chunks arrive; these functions write it to the store, in
threads, so an event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from ..catalog.models import ModelInfo
from ..domain import MessageRecord, MessageStatus, MessageUpdate, ToolRound, UsageSource
from ..pricing import Price, Usage, cache_savings, reply_cost_with_source
from ..storage import StorageError, Store
from ..text_safety import SurrogateJoiner
from .core import estimate_reply_usage

CHECKPOINT_INTERVAL = 1.0
HEARTBEAT_INTERVAL = 10.0  # well under core.STALE_STREAM


@dataclass
class ReplyState:
    """What a streaming reply has accumulated so far; saved by ``finish_reply`` whatever way the stream ends."""

    started: float
    parts: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    received: int = 0  # characters so far (checkpoints skip when nothing new arrived)
    first_token: float | None = None
    usage: Usage | None = None
    usage_source: UsageSource = "provider"
    provider_cost: float | None = None
    status: MessageStatus = "complete"
    finish_reason: str = "stop"
    error: str | None = None
    error_kind: str | None = None  # the StreamError's kind (rate_limit, overloaded, server, ...)
    requested_model: str | None = None  # set when another model answered (services/failover.py)
    failover: list[dict[str, Any]] = field(default_factory=list)  # the models that failed before it
    params_sent: dict[str, float | int] | None = None  # None: not reported (no parameters were requested)
    params_dropped: tuple[str, ...] = ()
    rounds: list[ToolRound] = field(default_factory=list)  # each request's usage, when tools made several


def flush_held(answer: SurrogateJoiner, thought: SurrogateJoiner, state: ReplyState) -> None:
    """A high surrogate whose pair never came ends the text as U+FFFD."""
    for joiner, parts in ((answer, state.parts), (thought, state.reasoning)):
        held = joiner.flush()
        if held:
            parts.append(held)


async def checkpoint_while_streaming(
    store: Store, sid: str, reply_id: str, state: ReplyState, stop: asyncio.Event
) -> None:
    """Save the text received so far about once a second while it is unsaved, whether or not chunks
    keep arriving: a burst followed by a long silence is on disk a second after it was on screen.

    While nothing new arrives (a model thinking silently), ``checkpoint_at`` is still refreshed now
    and then, so other processes do not take the reply for one whose writer died.
    """
    saved, saved_at = 0, time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CHECKPOINT_INTERVAL):
                await stop.wait()
        if stop.is_set():
            break
        if state.received == saved:
            if time.monotonic() - saved_at < HEARTBEAT_INTERVAL:
                continue
            fields: MessageUpdate = {"checkpoint_at": time.time()}
        else:
            fields = {"content": "".join(state.parts), "reasoning": "".join(state.reasoning) or None,
                      "checkpoint_at": time.time()}
        saved, saved_at = state.received, time.monotonic()
        try:
            await asyncio.to_thread(store.update_message, sid, reply_id, **fields)
        except (StorageError, OSError):  # e.g. a full disk: keep streaming; the final save reports it
            continue


async def finish_reply(
    store: Store, sid: str, reply: MessageRecord, info: ModelInfo, price: Price | None, encoding: str,
    input_estimate: int, state: ReplyState, checkpoints: asyncio.Future[None], stop_checkpoints: asyncio.Event,
) -> MessageRecord:
    """The final save, however the stream ended: text, status, usage (estimated here when the provider sent
    none), cost and timings on the reply, and its usage in the ledger. Returns the stored reply."""
    # let a checkpoint already being written land first, so it cannot overwrite the final save
    stop_checkpoints.set()
    with contextlib.suppress(Exception):
        await checkpoints
    content = "".join(state.parts)
    reasoning = "".join(state.reasoning)
    tokens, estimate = estimate_reply_usage(content, reasoning, encoding, input_estimate)
    usage, usage_source = state.usage, state.usage_source
    if usage is None and (content or reasoning):
        # cancelled or cut off before the provider reported usage: record our estimate, flagged as such
        usage, usage_source = estimate, "estimated"
    cost, cost_source = reply_cost_with_source(price, usage, state.provider_cost)
    fields: MessageUpdate = {
        "content": content,
        "reasoning": reasoning or None,
        "tool_calls": state.tool_calls or None,
        "status": state.status,
        "finish_reason": state.finish_reason if state.status == "complete" else state.status,
        "error": state.error,
        "error_kind": state.error_kind,
        "usage": usage.as_dict() if usage else None,
        "usage_source": usage_source if usage else None,
        "usage_estimated": usage_source != "provider" if usage else False,  # the field older readers know
        "cost": cost,
        "cost_source": cost_source,
        "cache_savings": cache_savings(price, usage),
        "ttft": (state.first_token - state.started) if state.first_token is not None else None,
        "duration": time.monotonic() - state.started,
        "tokens": tokens,
    }
    if len(state.rounds) > 1:
        fields["rounds"] = state.rounds
    if state.params_sent is not None:  # what really went out, not what was asked for
        fields["params"] = state.params_sent or None
        fields["params_dropped"] = list(state.params_dropped) or None
    if state.failover:  # another model answered (services/failover.py): the reply is its, at its price
        fields.update({"model": info.id, "prices": price.snapshot() if price else None,
                       "requested_model": state.requested_model, "failover": state.failover})
    final = await asyncio.to_thread(store.update_message, sid, reply["id"], **fields)
    if usage is not None:
        await asyncio.to_thread(
            store.record_reply_usage, sid, model=info.id, input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens, cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens, reasoning_tokens=usage.reasoning_tokens, cost=cost,
            estimated=usage_source != "provider", message_id=reply["id"], cache_savings=fields["cache_savings"],
        )
    with contextlib.suppress(StorageError, OSError):  # provider stats only: never fail the save for them
        await asyncio.to_thread(store.log_reply, final)
    return final
