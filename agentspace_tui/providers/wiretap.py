"""A copy of the response bytes of the provider request made in the current task.

litellm normalises every provider into OpenAI-shaped chunks and, on the way, loses what we must account for
honestly: it fills in usage by counting locally when the provider sent none, drops OpenAI's ``delta.refusal``
text, turns Anthropic's ``refusal`` into ``content_filter`` and raises on OpenRouter's in-stream error chunk
before its usage is read. So while a stream runs we keep the raw bytes the provider sent (a memory copy,
no parsing on the hot path) and read the facts from them when it ends (see ``wirefacts``).

Every provider path in litellm ends in ``httpx.AsyncClient.send`` (the OpenAI SDK and litellm's own HTTP
handler both subclass or wrap it), so that is where the copy is taken: a wrapper installed once, which does
nothing unless a ``Capture`` is active in the calling task's context.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

_current: contextvars.ContextVar[Capture | None] = contextvars.ContextVar("agentspace_wiretap", default=None)
_installed = False
MAX_BYTES = 64 * 1024 * 1024  # a runaway stream stops being copied past this (the reply itself still flows)


@dataclass
class Capture:
    """Bytes of the responses received while this capture was active (normally one per attempt)."""

    body: bytearray = field(default_factory=bytearray)
    status: int | None = None
    sent_at: float | None = None  # time.monotonic() as the request went out (time to first token counts from here)
    request_body: bytes = b""  # what was sent (the parameters really sent are read from it: params_sent.py)

    def activate(self) -> contextvars.Token[Capture | None]:
        return _current.set(self)

    @staticmethod
    def deactivate(token: contextvars.Token[Capture | None]) -> None:
        _current.reset(token)


def install() -> None:
    """Wrap ``httpx.AsyncClient.send`` once per process (idempotent)."""
    global _installed
    if _installed:
        return
    import httpx

    original = httpx.AsyncClient.send

    class TeeStream(httpx.AsyncByteStream):
        """Yields the provider's bytes unchanged, keeping a copy in the Capture."""

        def __init__(self, inner: httpx.AsyncByteStream, capture: Capture):
            self._inner = inner
            self._capture = capture

        async def __aiter__(self) -> AsyncIterator[bytes]:
            body = self._capture.body
            async for chunk in self._inner:
                if len(body) < MAX_BYTES:
                    body.extend(chunk)
                yield chunk

        async def aclose(self) -> None:
            await self._inner.aclose()

    async def send(self: httpx.AsyncClient, request: httpx.Request, *args: Any, **kwargs: Any) -> httpx.Response:
        sending = _current.get()
        if sending is not None:
            sending.sent_at = time.monotonic()
            with contextlib.suppress(httpx.RequestNotRead):  # a streamed upload has no content to copy
                sending.request_body = request.content
        response = await original(self, request, *args, **kwargs)
        capture = _current.get()
        if capture is not None:
            capture.status = response.status_code
            # a streamed body is read after send() returns: copy it as it is read; any other was read already
            if kwargs.get("stream"):
                # an AsyncClient's response stream is always async (httpx asserts it); the attribute is typed as either
                response.stream = TeeStream(cast(httpx.AsyncByteStream, response.stream), capture)
            else:
                capture.body.extend(response.content[:MAX_BYTES])
        return response

    httpx.AsyncClient.send = send  # type: ignore[method-assign]
    _installed = True
