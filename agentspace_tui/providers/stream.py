"""The one place that imports litellm: stream a chat reply as typed events, with retries and error mapping.

litellm is imported lazily (it costs ~3 s and prints banners), offline-safe: the bundled price map is used
instead of fetching one, and its debug output is silenced so it cannot corrupt a running TUI.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ..pricing import Usage
from .errors import ProviderContext, is_retryable, map_exception, map_midstream, retry_after_seconds
from .events import Event, Finish, Retrying, StreamError, TextDelta, UsageReport

MAX_RETRY_WAIT = 60.0  # a retry-after longer than this is reported, not waited for
YIELD_EVERY = 0.008  # seconds of chunk processing after which the stream lets the event loop run
_import_lock = threading.Lock()
_litellm = None


def load_litellm():
    """Import and configure litellm once (thread-safe; call from a worker thread to keep UIs responsive)."""
    global _litellm
    if _litellm is not None:
        return _litellm
    with _import_lock:
        if _litellm is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            os.environ.setdefault("LITELLM_LOG", "CRITICAL")
            from ..tokens import _ensure_cache_dir

            _ensure_cache_dir()
            import warnings

            warnings.filterwarnings("ignore", module=r"litellm(\..*)?$")
            warnings.filterwarnings("ignore", message=r"Accessing the 'model_")
            import litellm

            litellm.suppress_debug_info = True
            litellm.set_verbose = False
            litellm.drop_params = True
            litellm.telemetry = False
            for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "httpx"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
            _litellm = litellm
    return _litellm


def warm_up() -> None:
    """Import litellm and run one mocked streaming request on the provider thread (no network: litellm's
    ``mock_response``). The first real request then skips ~0.5-1 s of lazy imports and tokenizer loading
    that would otherwise hold the GIL while the user watches the reply start."""
    litellm = load_litellm()

    async def once() -> None:
        response = await litellm.acompletion(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "warm up"}],
            mock_response="ok", stream=True, stream_options={"include_usage": True},
        )
        async for _chunk in response:
            pass

    try:
        asyncio.run_coroutine_threadsafe(once(), provider_loop()).result(timeout=60)
        # the OpenAI SDK imports its resource modules on first use of a client (~0.5 s, seen as a stall when
        # the first reply starts); touch them here. No request is made.
        import openai

        openai.AsyncOpenAI(api_key="warm-up", base_url="http://127.0.0.1:9/v1").chat.completions  # noqa: B018
        for module in ("litellm.llms.anthropic.chat.handler", "litellm.llms.ollama.chat.transformation"):
            importlib.import_module(module)
    except Exception:  # a warm-up must never fail the app
        pass
    # litellm brings ~300k long-lived objects; a full garbage collection then walks all of them (~150 ms,
    # more on a busy machine), which shows up as a frozen UI mid-reply. Freezing moves them out of the
    # collector's sight.
    gc.freeze()


def litellm_loaded() -> bool:
    return _litellm is not None


@dataclass
class ChatRequest:
    litellm_model: str
    messages: list[dict]
    provider: ProviderContext
    api_key: str | None = None
    api_base: str | None = None
    timeout: float = 120.0  # seconds without a byte before giving up
    max_retries: int = 2
    extra: dict = field(default_factory=dict)


def _usage_from(obj) -> Usage | None:
    usage = getattr(obj, "usage", None)
    if usage is None:
        return None

    def get(o, name, default=0):
        if o is None:
            return default
        value = o.get(name, default) if isinstance(o, dict) else getattr(o, name, default)
        return value if value is not None else default

    prompt = int(get(usage, "prompt_tokens"))
    completion = int(get(usage, "completion_tokens"))
    details = get(usage, "prompt_tokens_details", None)
    cache_read = int(get(details, "cached_tokens") or get(usage, "cache_read_input_tokens"))
    cache_write = int(get(usage, "cache_creation_input_tokens") or get(details, "cache_creation_tokens"))
    cdetails = get(usage, "completion_tokens_details", None)
    reasoning = int(get(cdetails, "reasoning_tokens"))
    if prompt == 0 and completion == 0:
        return None
    return Usage(prompt, completion, cache_read, cache_write, reasoning)


async def stream_chat(request: ChatRequest) -> AsyncIterator[Event]:
    """Yield TextDelta/UsageReport/Retrying events, ending with one Finish or one StreamError.

    Retries (rate limits, 5xx) happen only before the first text arrives: a reply is never stitched from
    two attempts. Cancellation propagates (the caller saves the partial reply).
    """
    if not litellm_loaded():
        await asyncio.to_thread(load_litellm)
    litellm = load_litellm()
    secrets = tuple(s for s in (request.api_key,) if s)
    kwargs = dict(
        model=request.litellm_model,
        messages=request.messages,
        stream=True,
        stream_options={"include_usage": True},
        timeout=request.timeout,
        num_retries=0,
        **request.extra,
    )
    if request.api_key:
        kwargs["api_key"] = request.api_key
    if request.api_base:
        kwargs["api_base"] = request.api_base

    attempt = 0
    while True:
        got_text = False
        try:
            response = await asyncio.wait_for(litellm.acompletion(**kwargs), timeout=request.timeout)
            finish: str | None = None
            usage: Usage | None = None
            iterator = response.__aiter__()
            slice_started = time.perf_counter()
            while True:
                try:
                    chunk = await asyncio.wait_for(iterator.__anext__(), timeout=request.timeout)
                except StopAsyncIteration:
                    break
                # When chunks are already buffered, awaiting the next one does not yield to the event loop, and
                # litellm spends ~0.6 ms of CPU on each: a burst would hold the loop (the UI) for its length.
                if time.perf_counter() - slice_started > YIELD_EVERY:
                    await asyncio.sleep(0)
                    slice_started = time.perf_counter()
                got_usage = _usage_from(chunk)
                if got_usage is not None:
                    usage = got_usage
                for choice in getattr(chunk, "choices", None) or []:
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None) if delta is not None else None
                    if text:
                        got_text = True
                        yield TextDelta(text)
                    if getattr(choice, "finish_reason", None):
                        finish = choice.finish_reason
            # litellm yields a synthetic "stop" when the server just closes the stream; the provider's own
            # end marker is what sets received_finish_reason.
            received = getattr(response, "received_finish_reason", "unknown")
            cut_off = received is None
            if usage is not None:
                yield UsageReport(usage, estimated=cut_off)
            if cut_off:
                yield StreamError(
                    "interrupted",
                    f"{request.provider.label} stream ended before the reply was complete; the partial reply was kept, "
                    "retry to get a full answer",
                    "interrupted",
                )
            else:
                yield Finish(finish or "stop")
            return
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            yield StreamError(
                "timeout" if not got_text else "interrupted",
                f"{request.provider.label} sent nothing for {request.timeout:g} s; "
                + ("the partial reply was kept, retry to continue" if got_text else "retry, or raise request_timeout in config.toml"),
                "interrupted" if got_text else "error",
            )
            return
        except Exception as exc:  # every provider failure becomes one event, never a traceback
            if got_text:
                yield map_midstream(exc, request.provider, secrets)
                return
            error = map_exception(exc, request.provider, secrets)
            if is_retryable(exc) and attempt < request.max_retries:
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


# -- the warm-up loop ---------------------------------------------------------------------------------
# Streams run on the caller's loop: a provider thread was measured to make UI frames ~4x slower (the threads
# ping-pong the GIL every 5 ms). Only the one-off warm-up request runs on a loop of its own thread.

_provider_loop: asyncio.AbstractEventLoop | None = None
_provider_lock = threading.Lock()


def provider_loop() -> asyncio.AbstractEventLoop:
    global _provider_loop
    with _provider_lock:
        if _provider_loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="agentspace-warmup", daemon=True).start()
            _provider_loop = loop
    return _provider_loop
