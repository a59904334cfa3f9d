"""Loopback HTTP servers that speak LLM wire formats, for tests and benchmarks.

Stdlib only (``http.server.ThreadingHTTPServer``), bound to 127.0.0.1. Our code reaches them through the
real litellm, so the bytes on the wire follow the providers' own formats closely enough for litellm to
parse them.

:class:`FakeLLMServer` (``server.py``) answers scripted :class:`Reply` objects in three formats:

* OpenAI    ``POST /v1/chat/completions`` (and ``/chat/completions``), ``GET /v1/models`` (``openai.py``)
* Anthropic ``POST /v1/messages``, ``GET /v1/models`` (Anthropic shape when the request carries
  ``x-api-key`` or ``anthropic-version``) (``anthropic.py``)
* Ollama    ``POST /api/chat``, ``POST /api/generate``, ``GET /api/tags``, ``POST /api/show``,
  ``GET /api/version`` (``ollama.py``)

What each completion request gets back is a :class:`Reply`: queue them with :meth:`FakeLLMServer.script`
(any completion endpoint, in order) or :meth:`FakeLLMServer.script_for` (one path only, checked first,
and the only way to make a metadata endpoint such as ``/api/tags`` fail); when the queues are empty the
server answers with :attr:`FakeLLMServer.default`. ``base.py`` holds the wire-independent skeleton
(plumbing, recording, streams, cut-off / hang / silent modes) and explains the framing.

:class:`ReplayServer` (``replay.py``) answers every POST with one recorded provider response, byte for
byte (see :func:`load_recording`).

Failure modes for tests (see :class:`Reply`): ``kind="status"`` (HTTP errors, ``retry_after`` as seconds or
an HTTP date from :func:`http_date`, ``retry_after_ms``), ``"cutoff"``, ``"error_event"``, ``"hang"``,
``"silent"``, ``"garbage"`` (a line that is not of the format after ``cut_after`` chunks), and "burst then
stall" (``stall_after`` / ``stall_seconds``). ``hostile.py`` holds hostile reply texts (terminal escapes,
console markup, bidi overrides, lone surrogates) and the :func:`HOSTILE_REPLY` factory.

Run the fake server in the foreground: ``python -m tests.fakeserver --port 8765 [--chunks N] [--delay S]
[--hostile] [--stall-after N --stall-seconds S]``.
"""

from __future__ import annotations

from .anthropic import DEFAULT_ANTHROPIC_MODELS
from .base import (
    HANG_SECONDS,
    NDJSON_GARBAGE,
    SSE_GARBAGE,
    RecordedRequest,
    Reply,
    estimate_input_tokens,
    http_date,
    markdown_chunks,
    split_chunks,
)
from .hostile import HOSTILE_CHUNKS, HOSTILE_REPLY, HOSTILE_TEXTS, SURROGATE_CHUNKS
from .ollama import DEFAULT_OLLAMA_MODELS
from .openai import DEFAULT_OPENAI_MODELS
from .replay import Recording, ReplayServer, load_recording
from .server import COMPLETION_PATHS, FakeLLMServer, main

__all__ = [
    "COMPLETION_PATHS",
    "DEFAULT_ANTHROPIC_MODELS",
    "DEFAULT_OLLAMA_MODELS",
    "DEFAULT_OPENAI_MODELS",
    "HANG_SECONDS",
    "HOSTILE_CHUNKS",
    "HOSTILE_REPLY",
    "HOSTILE_TEXTS",
    "NDJSON_GARBAGE",
    "SSE_GARBAGE",
    "SURROGATE_CHUNKS",
    "FakeLLMServer",
    "RecordedRequest",
    "Recording",
    "ReplayServer",
    "Reply",
    "estimate_input_tokens",
    "http_date",
    "load_recording",
    "main",
    "markdown_chunks",
    "split_chunks",
]
