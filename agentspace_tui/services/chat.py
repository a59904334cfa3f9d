"""Sending a prompt and streaming the reply: the one code path the CLI and the TUI share.

The user message and an assistant placeholder are stored before the request goes out; the reply is
checkpointed about once a second while it streams (a killed process loses at most ~1 s of it) and finished
with its status, provider-reported usage, cost, the price snapshot it was billed at, time to first token
and duration. Storage calls run in threads so an event loop (the TUI's) never blocks on disk.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import time
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from typing import Any

from ..config.settings import ConfigError
from ..context import ContextInspector, Countable, message_tokens
from ..domain import MessageRecord, Role
from ..providers.errors import ProviderContext
from ..providers.events import (
    Finish,
    ParamsSent,
    ReasoningDelta,
    RefusalDelta,
    Retrying,
    StreamError,
    TextDelta,
    ToolCallRequest,
    UsageReport,
)
from ..providers.prompt_cache import prefix_fingerprint
from ..providers.stream import ChatRequest
from ..providers.wirefacts import wire_for
from ..storage.errors import SessionBusy
from ..storage.turns import STREAMING_ALONGSIDE
from ..text_safety import SurrogateJoiner
from ..tokens import encoding_for
from .branches import Tree
from .core import Services, is_stale_stream
from .failover import FailedOver, Failover
from .params import ModelParams
from .reply_saving import ReplyState, checkpoint_while_streaming, finish_reply, flush_held
from .tool_loop import Approve, ToolCallFinished, ToolCallStarted, ToolLoop, ToolsNotice
from .turn_types import BusyError as BusyError
from .turn_types import Fork as Fork
from .turn_types import Placement as Placement
from .turn_types import Prepared as Prepared
from .turn_types import Regenerate as Regenerate
from .turn_types import ReplyFinished as ReplyFinished
from .turn_types import ReplyStarted as ReplyStarted

ChatEvent = (
    ReplyStarted | TextDelta | ReasoningDelta | RefusalDelta | ToolCallRequest | Retrying | ParamsSent | ReplyFinished
    | FailedOver | ToolCallStarted | ToolCallFinished | ToolsNotice
)


class _NewUserMessage(Countable):
    """The user message of a new turn, before ``Store.begin_turn`` stores it."""

    role: Role


def session_title(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "New chat")
    return line if len(line) <= 60 else line[:57].rstrip() + "..."


class ChatService:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._streaming: set[str] = set()
        # session id -> the save of a cancelled reply
        self.cancelled_replies: dict[str, asyncio.Future[MessageRecord]] = {}
        self.stop_reason: str | None = None  # why a cancelled stream was stopped, if not by the user (a signal)

    def is_streaming(self, session_id: str) -> bool:
        return session_id in self._streaming

    async def cancelled_reply(self, session_id: str) -> MessageRecord | None:
        """The stored reply of the last cancelled stream in a session, once its save has finished."""
        task = self.cancelled_replies.pop(session_id, None)
        return await asyncio.shield(task) if task is not None else None

    def history(self, session_id: str) -> list[MessageRecord]:
        return self.services.messages(session_id, live=session_id in self._streaming)

    def _check_busy(self, session_id: str, messages: Sequence[MessageRecord]) -> None:
        if session_id in self._streaming:
            raise BusyError("a reply is already streaming in this session; wait for it or cancel it (Esc)")
        last = messages[-1] if messages else None
        alongside = str(last.get("id")) in STREAMING_ALONGSIDE.get() if last else False  # a compare's lane
        if last and last.get("status") == "streaming" and not is_stale_stream(last) and not alongside:
            raise BusyError("another agentspace-tui process is streaming a reply in this session; wait for it")

    def prepare(
        self,
        text: str,
        *,
        session_id: str | None = None,
        model_id: str | None = None,
        system_prompt: str | None = None,
        place: Placement = None,
    ) -> Prepared:
        """Validate everything that can fail before anything is stored (missing key, unknown model/session),
        and find the branch the turn continues (see services/branches.py)."""
        services = self.services
        if isinstance(place, Regenerate | Fork) and not session_id:
            raise ConfigError("nothing to regenerate or edit: the chat has no messages yet")
        if not isinstance(place, Regenerate) and not text.strip():
            raise ConfigError("empty prompt: nothing to send")
        session = services.session(session_id) if session_id else None
        info = services.resolve_model(model_id) if model_id else services.session_model(session)
        spec = services.provider(info.provider)
        key = services.key_for(info.provider, fresh=True)
        if spec.needs_key and key.value is None:
            env = spec.key_env or f"{spec.name.upper()}_API_KEY"
            raise ConfigError(
                f"no API key for {spec.label}: set {env} or run `agentspace-tui keys set {spec.name}`"
            )
        messages = self.history(session["id"]) if session else []
        tree = Tree.of(messages)
        answering: MessageRecord | None = None
        parent: str | None
        if isinstance(place, Regenerate):
            found = tree.by_id.get(place.user_message_id)
            if found is None or found.get("role") != "user":
                raise ConfigError("that message is not a user message of this session: nothing to regenerate")
            answering, parent = found.copy(), place.user_message_id
            text = str(found.get("content") or "")
            history = [m.copy() for m in tree.lineage(tree.parent[place.user_message_id])]
        elif isinstance(place, Fork):
            if place.parent is not None and place.parent not in tree.by_id:
                raise ConfigError("the message to continue from is not in this session any more")
            parent, history = place.parent, [m.copy() for m in tree.lineage(place.parent)]
        else:
            history = [m.copy() for m in tree.active_path()]
            parent = str(history[-1]["id"]) if history else None
        if session:
            self._check_busy(session["id"], messages)
        else:
            session = services.store.create_session(
                title=session_title(text), model=info.id, system_prompt=system_prompt
            )
        if system_prompt is not None and session.get("system_prompt") != system_prompt:
            session = services.store.update_session(session["id"], system_prompt=system_prompt)
        if session.get("model") != info.id:
            session = services.store.update_session(session["id"], model=info.id)
        if not messages and session.get("title") in (None, "", "New chat"):
            # made before its first message (by /attach or /system): name it after that message
            session = services.store.update_session(session["id"], title=session_title(text))
        return Prepared(session, history, info, text, parent, answering)

    async def send(
        self,
        text: str,
        *,
        session_id: str | None = None,
        model_id: str | None = None,
        system_prompt: str | None = None,
        inspector: ContextInspector | None = None,
        place: Placement = None,
        params: Mapping[str, float | int] | None = None,
        approve: Approve | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Send ``text`` (a regenerated reply answers the stored message instead) and stream the reply.
        ``params``: temperature, top_p, max_tokens for this request; None: the session's own. ``approve``: asked
        before each tool call the session does not always allow (None: such calls are not run)."""
        prepared = await asyncio.to_thread(
            self.prepare, text, session_id=session_id, model_id=model_id, system_prompt=system_prompt, place=place
        )
        sid = prepared.session["id"]
        if sid in self._streaming:
            raise BusyError("a reply is already streaming in this session; wait for it or cancel it (Esc)")
        if params is None:
            params = ModelParams.from_stored(prepared.session.get("params")).as_dict()
        self._streaming.add(sid)
        try:
            async for event in self._run(prepared, inspector or ContextInspector(), dict(params), approve):
                yield event
        finally:
            self._streaming.discard(sid)

    async def _run(
        self, prepared: Prepared, inspector: ContextInspector, params: dict[str, float | int],
        approve: Approve | None = None,
    ) -> AsyncIterator[ChatEvent]:
        session, history, info, text = prepared.session, prepared.history, prepared.model, prepared.text
        services = self.services
        store = services.store
        sid = session["id"]
        spec = services.provider(info.provider)
        price = services.price_for(info)
        system = services.session_system_prompt(session)
        max_tokens = params.get("max_tokens")
        tool_loop = ToolLoop(services, session, approve, price)
        tool_defs = await tool_loop.offer(info)  # starts the session's MCP servers (on demand)
        inspection = services.inspect(
            session, history, info, text, inspector, system,
            max_output_tokens=int(max_tokens) if max_tokens is not None else None, tools=tool_defs or [],
        )
        request_messages = inspector.request_messages(
            inspection, system_prompt=system, attachments=session.get("attachments") or [], history=history,
            user_text=text,
        )
        encoding = encoding_for(info.provider, info.name)
        new_user: _NewUserMessage | None = (
            None if prepared.answering is not None else {"role": "user", "content": text}
        )
        if new_user is not None:
            message_tokens(new_user, encoding)
        now = time.time()
        try:
            # one locked step: refuse if another process is streaming here, else store both messages
            stored_user, reply = await asyncio.to_thread(
                store.begin_turn,
                sid,
                new_user,
                {
                    "role": "assistant",
                    "content": "",
                    "model": info.id,
                    "status": "streaming",
                    "prices": price.snapshot() if price else None,
                    # what the request's input costs by our count: billed if the reply is killed before usage
                    "input_estimate": inspection.total.tokens,
                    "checkpoint_at": now,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "excluded_messages": inspection.excluded_messages,
                    "params": params or None,
                    "cache_prefix": prefix_fingerprint(request_messages, breakpoints=services.settings.prompt_cache == "auto"),
                },
                parent=prepared.parent,
                is_busy=lambda last: last.get("status") == "streaming" and not is_stale_stream(last),
            )
        except SessionBusy:
            raise BusyError(
                "another agentspace-tui process is streaming a reply in this session; wait for it"
            ) from None
        user_msg = stored_user if stored_user is not None else prepared.answering
        assert user_msg is not None  # begin_turn stores a user message unless an existing one is answered again
        yield ReplyStarted(session, user_msg, reply, info, price, inspection)
        for notice in tool_loop.notices:
            yield ToolsNotice(notice)

        api_base = services.api_base(info.provider)
        request = ChatRequest(
            litellm_model=info.litellm_model,
            messages=request_messages,
            provider=ProviderContext(spec.label, spec.name, spec.key_env, api_base),
            api_key=services.key_for(info.provider).value,
            api_base=api_base,
            timeout=services.settings.request_timeout,
            max_retries=services.settings.max_retries,
            wire=wire_for(spec.litellm_prefix),
            params=params,
            prompt_cache=services.settings.prompt_cache == "auto",
            tools=tool_defs,
        )
        state = ReplyState(started=time.monotonic(), rounds=tool_loop.rounds)  # the loop fills them in
        chain = Failover(services, sid, reply["id"], info, price, request, state)  # [failover] in config.toml
        answer, thought = SurrogateJoiner(), SurrogateJoiner()  # an emoji may arrive split across two chunks
        stop_checkpoints = asyncio.Event()
        checkpoints = asyncio.ensure_future(
            checkpoint_while_streaming(store, sid, reply["id"], state, stop_checkpoints)
        )
        try:
            while True:  # one request; more while the model calls tools (services/tool_loop.py)
                calls: list[ToolCallRequest] = []
                report: UsageReport | None = None
                async for event in chain.stream():
                    if isinstance(event, TextDelta | ReasoningDelta | RefusalDelta):
                        if state.first_token is None:
                            state.first_token = time.monotonic()
                            # ttft and duration count from the request going out, not from our own start-up
                            state.started = chain.request.sent_at or state.started
                        is_reasoning = isinstance(event, ReasoningDelta)
                        text = (thought if is_reasoning else answer).feed(event.text)
                        if not text:
                            continue
                        if text != event.text:
                            event = dataclasses.replace(event, text=text)
                        # a refusal is what the model said instead of an answer: it is the reply's text
                        (state.reasoning if is_reasoning else state.parts).append(text)
                        state.received += len(text)
                        yield event
                    elif isinstance(event, ToolCallRequest):
                        calls.append(event)
                        if not tool_loop.active:  # no tools offered: listed on the reply, never run
                            state.tool_calls.append({"id": event.id, "name": event.name, "arguments": event.arguments})
                            yield event
                    elif isinstance(event, UsageReport):
                        report = event
                    elif isinstance(event, Retrying):
                        yield event
                    elif isinstance(event, ParamsSent):
                        state.params_sent, state.params_dropped = event.params, event.dropped
                        yield event
                    elif isinstance(event, Finish):
                        state.finish_reason = event.reason
                    elif isinstance(event, StreamError):
                        state.status, state.error, state.error_kind = event.status, event.message, event.kind
                    elif isinstance(event, FailedOver):  # nothing arrived yet: another model answers, billed as itself
                        info, price = chain.info, chain.price
                        tool_loop.price = price
                        encoding = encoding_for(info.provider, info.name)
                        yield event
                tool_loop.close_round(state, report)
                if not tool_loop.wants_another_round(state, calls):
                    break
                flush_held(answer, thought, state)
                async for tool_event in tool_loop.run_round(state, calls, chain.request.messages):
                    yield tool_event
        except asyncio.CancelledError:
            state.status, state.error = "cancelled", f"{self.stop_reason or 'cancelled'}; the partial reply was kept"
            flush_held(answer, thought, state)
            await self._save(sid, finish_reply(
                store, sid, reply, info, price, encoding, inspection.total.tokens, state, checkpoints, stop_checkpoints
            ))
            raise
        finally:
            stop_checkpoints.set()
        flush_held(answer, thought, state)
        final = await self._save(sid, finish_reply(
            store, sid, reply, info, price, encoding, inspection.total.tokens, state, checkpoints, stop_checkpoints
        ))
        self.cancelled_replies.pop(sid, None)  # finished normally: no cancelled reply to hand out
        yield ReplyFinished(final, state.error)

    async def _save(self, sid: str, finish: Coroutine[Any, Any, MessageRecord]) -> MessageRecord:
        """Run the final save to its end even if the caller is cancelled (Esc, Ctrl-C, a signal) meanwhile;
        the cancellation is passed on once the reply and its usage are stored."""
        task = asyncio.ensure_future(finish)
        self.cancelled_replies[sid] = task  # the caller's cancel path reads the stored reply from here
        cancelled = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError
        return task.result()
