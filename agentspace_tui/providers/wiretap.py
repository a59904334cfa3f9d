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

import contextvars
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

_current: contextvars.ContextVar[Capture | None] = contextvars.ContextVar("agentspace_wiretap", default=None)
_installed = False
MAX_BYTES = 64 * 1024 * 1024  # a runaway stream stops being copied past this (the reply itself still flows)


@dataclass
class Capture:
    """Bytes of the responses received while this capture was active (normally one per attempt)."""

    hosts: list[str] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    status: int | None = None
    content_type: str = ""

    def activate(self) -> contextvars.Token:
        return _current.set(self)

    @staticmethod
    def deactivate(token: contextvars.Token) -> None:
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

    async def send(self, request, *args, **kwargs):
        response = await original(self, request, *args, **kwargs)
        capture = _current.get()
        if capture is not None:
            capture.hosts.append(request.url.host)
            capture.status = response.status_code
            capture.content_type = response.headers.get("content-type", "")
            # the body is read after send() returns for streams; before it for the rest (then copy it now)
            if response.is_stream_consumed or getattr(response, "_content", None) is not None:
                capture.body.extend(response.content[:MAX_BYTES])
            else:
                response.stream = TeeStream(response.stream, capture)
        return response

    httpx.AsyncClient.send = send  # type: ignore[method-assign]
    _installed = True
