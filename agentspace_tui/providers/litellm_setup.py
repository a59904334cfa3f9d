"""The one place that imports litellm: load it once, configured, and warm it up.

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
from types import ModuleType

from .wiretap import install as install_wiretap

_import_lock = threading.Lock()
_litellm: ModuleType | None = None


def load_litellm() -> ModuleType:
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
            litellm.set_verbose = False  # type: ignore[attr-defined]  # litellm re-exports it without __all__
            litellm.drop_params = True
            litellm.telemetry = False
            # litellm's token counter would fetch a Hugging Face tokenizer for model names with "llama" in
            # them (offline: tens of seconds of retries before the first chunk); tiktoken's estimate will do
            litellm.disable_hf_tokenizer_download = True
            install_wiretap()
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
