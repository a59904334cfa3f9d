"""Stream a chat reply through litellm as typed events, with retries and error mapping.

litellm is loaded (lazily, configured) by litellm_setup.py; this module only calls it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..pricing import Usage
from .errors import ProviderContext, is_retryable, map_exception, map_midstream, redact, retry_after_seconds
from .events import (
    Event,
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
from .litellm_setup import litellm_loaded, load_litellm
from .litellm_setup import warm_up as warm_up  # re-exported: callers know it from here
from .params_sent import sent_params
from .prompt_cache import PROMPT_CACHE_WIRES, with_breakpoints
from .thinktags import ThinkSplitter
from .tool_messages import new_call_id, provider_safe_tools
from .wirefacts import WireFacts, normalise_finish, read_facts
from .wiretap import Capture

MAX_RETRY_WAIT = 60.0  # a retry-after longer than this is reported, not waited for
NO_KEY = "no-key"  # stands in where litellm insists on a key for an endpoint that needs none; never sent (openai wire)


@dataclass
class ChatRequest:
    litellm_model: str
    messages: list[dict[str, Any]]
    provider: ProviderContext
    api_key: str | None = None  # None: this provider needs no key, and must not be sent another provider's
    api_base: str | None = None
    timeout: float = 120.0  # seconds without a byte before giving up
    max_retries: int = 2
    wire: str = "openai"  # the provider's wire format, see wirefacts.wire_for
    extra: dict[str, Any] = field(default_factory=dict)
    # temperature / top_p / max_tokens (services.params.ModelParams.as_dict()): litellm maps each to the provider's
    # own name (Ollama options.num_predict, OpenAI reasoning models max_completion_tokens); unset ones are not sent
    params: dict[str, float | int] = field(default_factory=dict)
    # prompt_cache = "auto": cache breakpoints where the wire takes them (Anthropic; see prompt_cache.py)
    prompt_cache: bool = False
    # OpenAI-shaped function definitions ({"type": "function", "function": {...}}); litellm turns them into each
    # provider's own (Anthropic tools, Gemini functionDeclarations, Ollama tools). None: no tools offered
    tools: list[dict[str, Any]] | None = None
    # set by stream_chat (time.monotonic()) as each attempt's HTTP request is sent, after litellm is imported and
    # the request built: time to first token counts from here, not from our own start-up
    sent_at: float | None = None


def _attr(obj: object, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _usage_from(usage: object) -> Usage | None:
    """A Usage from litellm's (OpenAI-shaped) usage object; None when it counts nothing."""
    if usage is None:
        return None

    def get(o: object, name: str) -> int:
        value = _attr(o, name) if o is not None else None
        return int(value or 0)

    prompt, completion = get(usage, "prompt_tokens"), get(usage, "completion_tokens")
    if prompt == 0 and completion == 0:
        return None
    details = _attr(usage, "prompt_tokens_details")
    return Usage(
        prompt,
        completion,
        get(details, "cached_tokens") or get(usage, "cache_read_input_tokens"),
        get(usage, "cache_creation_input_tokens") or get(details, "cache_creation_tokens"),
        get(_attr(usage, "completion_tokens_details"), "reasoning_tokens"),
    )


def _content_pieces(content: str | list[Any] | None) -> list[tuple[str, str]]:
    """("answer" | "reasoning", text) from a delta's content: a string, or typed parts (Mistral thinking)."""
    if isinstance(content, str):
        return [("answer", content)] if content else []
    out: list[tuple[str, str]] = []
    for part in content or []:
        kind = _attr(part, "type")
        if kind == "text" and _attr(part, "text"):
            out.append(("answer", str(_attr(part, "text"))))
        elif kind == "thinking":
            inner = _attr(part, "thinking")
            text = inner if isinstance(inner, str) else "".join(str(_attr(p, "text") or "") for p in inner or [])
            if text:
                out.append(("reasoning", text))
    return out


class _Reply:
    """Turns litellm's chunks into our events; keeps what is only known at the end (tool calls, usage)."""

    def __init__(self) -> None:
        self.splitter = ThinkSplitter()
        self.tools: dict[int, dict[str, Any]] = {}
        self.got_output = False  # any answer, reasoning or tool call: a retry would stitch two replies
        self.last_usage = None  # litellm's last usage object (its own count when the provider sent none)

    def events(self, chunk: Any) -> list[Event]:  # a litellm stream chunk (ModelResponseStream)
        out: list[Event] = []
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.last_usage = usage
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            if delta is None:
                continue
            # litellm maps reasoning_content / reasoning / Anthropic thinking / Ollama thinking to reasoning_content
            reasoning = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
            if reasoning:
                out.append(ReasoningDelta(reasoning))
            for kind, text in _content_pieces(getattr(delta, "content", None)):
                if kind == "reasoning":
                    out.append(ReasoningDelta(text))
                    continue
                for piece_kind, piece in self.splitter.feed(text):
                    out.append(TextDelta(piece) if piece_kind == "answer" else ReasoningDelta(piece))
            for call in getattr(delta, "tool_calls", None) or []:
                index = _attr(call, "index")
                if index is None:  # Mistral sends each call whole, without an index: a new id is a new call
                    call_id = _attr(call, "id")
                    known = [i for i, t in self.tools.items() if t["id"] == call_id]
                    index = known[0] if known else (len(self.tools) if call_id or not self.tools else max(self.tools))
                slot = self.tools.setdefault(index, {"id": None, "name": "", "arguments": ""})
                slot["id"] = slot["id"] or _attr(call, "id")
                function = _attr(call, "function")
                if function is not None:
                    slot["name"] += _attr(function, "name") or ""
                    slot["arguments"] += _attr(function, "arguments") or ""
        if out or self.tools:
            self.got_output = True
        return out

    def flush(self) -> list[Event]:
        return [TextDelta(t) if k == "answer" else ReasoningDelta(t) for k, t in self.splitter.flush()]

    def tool_calls(self) -> list[ToolCallRequest]:
        # an id on every call (litellm fills in Gemini's and Ollama's; any other provider may send none): the
        # tool result sent back names it
        return [ToolCallRequest(t["id"] or new_call_id(), t["name"] or "?", t["arguments"])
                for _, t in sorted(self.tools.items())]


def _provider_finish(response: object) -> str | None:
    """The finish litellm saw from the provider itself; its synthetic "stop" for a cut-off stream is not one.
    Gemini's lands in intermittent_finish_reason (received_finish_reason stays None)."""
    return getattr(response, "received_finish_reason", None) or getattr(response, "intermittent_finish_reason", None)


def _malformed(request: ChatRequest, line: str, got_output: bool, secrets: tuple[str, ...]) -> StreamError:
    """The provider's stream held a line that is not of its format (an HTML page from a proxy, a corrupted
    event): one line naming the provider, with the start of the offending line, made printable and redacted."""
    label = request.provider.label
    shown = "".join(c if c.isprintable() else "?" for c in redact(line, secrets))
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    what = f'{label} sent a line that is not part of its stream format ("{shown}")'
    if got_output:
        return StreamError("malformed", f"{what}; the partial reply was kept, retry to get a full answer", "interrupted")
    where = f" at {request.api_base}" if request.api_base else ""
    return StreamError("malformed", f"{what}{where}; check the base URL and any proxy in between", "error")


def _usage_report(facts: WireFacts, reply: _Reply) -> UsageReport | None:
    """The provider's own counts when its bytes carried them; otherwise litellm's local count, flagged."""
    if facts.usage is not None:
        return UsageReport(facts.usage, "provider", facts.cost)
    estimate = _usage_from(reply.last_usage)
    return UsageReport(estimate, "estimated") if estimate is not None else None


async def stream_chat(request: ChatRequest) -> AsyncIterator[Event]:
    """Yield text, reasoning and refusal deltas, tool-call requests, usage and retry notices, ending with one
    Finish or one StreamError.

    A reply is complete only when the provider said so (a finish reason in its own bytes, or one litellm read
    from them); a stream that just stops is "interrupted" whatever litellm fills in. Retries (rate limits,
    overload, 5xx) happen only before any output arrives: a reply is never stitched from two attempts.
    Cancellation propagates (the caller saves the partial reply).
    """
    if not litellm_loaded():
        await asyncio.to_thread(load_litellm)
    litellm = load_litellm()
    secrets = tuple(s for s in (request.api_key,) if s)
    label = request.provider.label
    kwargs = dict(
        model=request.litellm_model,
        messages=with_breakpoints(request.messages)
        if request.prompt_cache and request.wire in PROMPT_CACHE_WIRES
        else request.messages,
        stream=True,
        stream_options={"include_usage": True},
        timeout=request.timeout,
        num_retries=0,
        max_retries=0,  # the OpenAI SDK's own retries would multiply the timeout; ours are below
        **request.extra,
    )
    if request.api_key:
        kwargs["api_key"] = request.api_key
    elif request.wire in ("openai", "anthropic"):
        # an endpoint that needs no key: without one litellm would send OPENAI_API_KEY / ANTHROPIC_API_KEY,
        # i.e. another provider's key, to it. The OpenAI SDK then leaves the Authorization header out.
        kwargs["api_key"] = NO_KEY
        if request.wire == "openai":
            import openai

            kwargs["extra_headers"] = {**kwargs.get("extra_headers", {}), "Authorization": openai.Omit()}
    if request.api_base:
        kwargs["api_base"] = request.api_base
    if request.tools:
        kwargs["tools"] = provider_safe_tools(request.tools, request.wire)  # a copy: litellm edits schemas in place
    for name in ("temperature", "top_p", "max_tokens"):
        if name in request.params:
            kwargs[name] = request.params[name]

    attempt = 0
    while True:
        reply = _Reply()
        capture = Capture()
        token = capture.activate()
        response = None
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that lands while a
            # chunk arrives (Esc was lost ~4 times in 100), and it makes a task per call
            request.sent_at = time.monotonic()
            async with asyncio.timeout(request.timeout):
                response = await litellm.acompletion(**kwargs)
            # litellm's first call imports the provider's SDK modules (~1 s): the request left when httpx sent it
            request.sent_at = capture.sent_at or request.sent_at
            if request.params:
                sent, dropped = sent_params(capture.request_body, request.params)
                yield ParamsSent(sent, dropped)
            iterator = response.__aiter__()
            while True:
                try:
                    async with asyncio.timeout(request.timeout):
                        chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                # When chunks are already buffered, awaiting the next one does not yield to the event loop, and
                # litellm spends ~0.6 ms of CPU on each: one loop turn per chunk keeps the UI's frames and
                # keystrokes interleaved (measured: lag p99 ~50-60 ms either way, yielding every 8 ms ~100 ms)
                await asyncio.sleep(0)
                for event in reply.events(chunk):
                    yield event
            for event in reply.flush():
                yield event
            facts = read_facts(request.wire, capture.body)
            finish = facts.finish or normalise_finish(_provider_finish(response))
            # a line that is not of the format: litellm skipped it (Ollama), or silently dropped the rest of the
            # stream (Anthropic); a stray SSE line explains a stream that never finished (a web page, not the API)
            odd = facts.foreign or (facts.stray if finish is None else None)
            if odd is not None:
                usage = _usage_report(facts, reply)
                if usage is not None:
                    yield usage
                yield _malformed(request, odd, reply.got_output, secrets)
                return
            if facts.refusal:
                yield RefusalDelta(facts.refusal)
            calls = reply.tool_calls()
            for call in calls:
                yield call
            usage = _usage_report(facts, reply)
            if usage is not None:
                yield usage
            if finish == "stop" and calls:
                finish = "tool_calls"  # Ollama and Gemini say "stop" for a reply that is a tool call
            if finish is None:
                yield StreamError(
                    "interrupted",
                    f"{label} stream ended before the reply was complete; the partial reply was kept, "
                    "retry to get a full answer",
                    "interrupted",
                )
            else:
                yield Finish(finish)
            return
        except asyncio.CancelledError:
            raise
        except TimeoutError:  # ours; litellm's own read timeout arrives as an exception mapped the same way
            got = reply.got_output
            if got:
                message = f"{label} stopped sending for {request.timeout:g} s; the partial reply was kept, retry to continue"
            else:
                # nothing came back: the connection, the TLS handshake or the reply's headers never arrived
                where = f" at {request.api_base}" if request.api_base else ""
                message = (f"{label} did not answer in time ({request.timeout:g} s){where}; retry, or raise "
                           "request_timeout in config.toml")
            yield StreamError("interrupted" if got else "timeout", message, "interrupted" if got else "error")
            return
        except Exception as exc:  # every provider failure becomes one event, never a traceback
            facts = read_facts(request.wire, capture.body)
            if capture.status != 200:  # an HTTP error's JSON body is not an error inside a stream
                facts.error = facts.foreign = None
            if facts.foreign is not None and facts.error is None:
                # litellm's JSON parser choked on it (OpenAI: "Expecting value: line 1 column 1"); never retried:
                # a base URL that answers with something else answers so every time
                for event in reply.flush():
                    yield event
                usage = _usage_report(facts, reply)
                if usage is not None:
                    yield usage
                yield _malformed(request, facts.foreign, reply.got_output, secrets)
                return
            if reply.got_output or facts.error is not None:
                for event in reply.flush():
                    yield event
                usage = _usage_report(facts, reply)
                if usage is not None:  # the provider billed the attempt (OpenRouter's error chunk says how much)
                    yield usage
                yield map_midstream(exc, request.provider, secrets, facts.error, interrupted=reply.got_output)
                return
            error = map_exception(exc, request.provider, secrets)
            # a timeout already waited the whole request_timeout: retrying would multiply it
            if error.kind != "timeout" and is_retryable(exc) and attempt < request.max_retries:
                wait = retry_after_seconds(exc)
                if wait is None:
                    wait = min(8.0, 0.5 * (2**attempt))
                if wait <= MAX_RETRY_WAIT:
                    attempt += 1
                    yield Retrying(attempt, wait, f"{error.message.split(';')[0]}; retry {attempt}/{request.max_retries} in {wait:g} s")
                    await asyncio.sleep(wait)
                    continue
            yield error
            return
        finally:
            Capture.deactivate(token)
