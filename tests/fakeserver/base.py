"""The wire-independent skeleton of the loopback servers.

What is here: the :class:`Reply` script and :class:`RecordedRequest` record, the chunking helpers,
the threaded HTTP server, and :class:`BaseHandler` (body reading, request recording, JSON responses,
close-delimited or chunked streams, and the failure modes shared by every format: cut-off, hang and
silent). :class:`LoopbackServer` is the lifecycle (start / stop / context manager, request log) that
:class:`~tests.fakeserver.server.FakeLLMServer` and :class:`~tests.fakeserver.replay.ReplayServer` share.

Streams are sent close-delimited (HTTP/1.1, ``Connection: close``, no ``Content-Length``, no chunked
encoding: the body ends when the socket closes), so ``kind="cutoff"`` is an *early clean end of body*:
the client sees EOF without the provider's terminator, which it has to detect from the stream's
content. ``Reply(transfer="chunked")`` switches a stream to chunked transfer encoding instead; a cut-off
then leaves a chunked body unfinished, which litellm's HTTP layer reports as a transport error (what a
dropped network connection looks like).

Non-stream responses and errors carry ``Content-Length`` and keep the connection alive.
"""

from __future__ import annotations

import email.utils
import json
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "COMPLETE_KINDS",
    "HANG_SECONDS",
    "NDJSON_GARBAGE",
    "SSE_GARBAGE",
    "BaseHandler",
    "LoopbackServer",
    "RecordedRequest",
    "Reply",
    "StreamItem",
    "count_words",
    "estimate_input_tokens",
    "http_date",
    "markdown_chunks",
    "mask_key",
    "split_arguments",
    "split_chunks",
    "text_of",
]

HANG_SECONDS = 30.0
# what kind="garbage" injects by default: an HTML error page line where an SSE event / an NDJSON object belongs
SSE_GARBAGE = b"data: <html>oops</html>\n\n"
NDJSON_GARBAGE = b"<html>oops</html>\n"
# kinds whose stream still ends with the format's own terminator (and finish reason)
COMPLETE_KINDS = ("ok", "garbage")


@dataclass
class Reply:
    """What one completion request gets back.

    ``kind``:

    * ``"ok"`` -- the whole reply, then the format's terminator.
    * ``"status"`` -- an HTTP error (``status``) with the provider's JSON error body; nothing at all is
      sent for ``first_delay`` seconds before it. Anthropic ``status=529`` is ``overloaded_error``.
    * ``"cutoff"`` -- ``cut_after`` chunks, then the socket closes without the terminator.
    * ``"error_event"`` -- ``cut_after`` chunks, then the format's in-stream error (OpenAI / OpenRouter
      ``data: {"error": {...}}``, Anthropic ``event: error`` (``overloaded_error`` unless
      ``error_type`` says otherwise), Ollama ``{"error": "..."}``), then the socket closes.
    * ``"hang"`` -- ``cut_after`` chunks, then nothing until ``hang_seconds`` pass or the client hangs
      up. With ``cut_after=0`` the format's preamble is still sent (OpenAI's role chunk, Anthropic's
      ``message_start`` / ``content_block_start`` / ``ping``; Ollama has none), so this is *not* a
      silent stream except for Ollama.
    * ``"silent"`` -- the response headers (200 and the stream's content type) and then not one byte of
      body until ``hang_seconds`` pass or the client hangs up: a server that accepts and then stalls.
    * ``"garbage"`` -- ``cut_after`` chunks, then ``garbage`` (raw bytes, sent verbatim; default an HTML
      line where an event belongs: ``SSE_GARBAGE`` for OpenAI / Anthropic, ``NDJSON_GARBAGE`` for Ollama),
      then the rest of the reply and the format's terminator, as if a proxy had injected a line. A
      non-stream request gets ``garbage`` as its 200 body.

    ``stall_after`` (streams, any kind): "burst then stall" -- ``stall_after`` content pieces go out at once,
    then nothing for ``stall_seconds`` (``stop()`` or the client hanging up ends the wait at once),
    then the rest.

    ``retry_after`` is sent as the ``retry-after`` header of an error: a number is delta-seconds, a
    string is sent verbatim (an HTTP date, see :func:`http_date`). ``retry_after_date`` sends an HTTP date
    that many seconds after the moment the error is sent (whole seconds: the date format has no fraction);
    it wins over ``retry_after``. ``retry_after_ms`` adds OpenAI's ``retry-after-ms`` header.

    ``cut_after`` counts the streamed content pieces in the order they are sent: reasoning chunks,
    then text (or refusal) chunks, then tool-call argument fragments. Structural events between them
    (Anthropic block starts / stops, the tool call's header chunk) are sent as they come; ``delay``
    is slept between two counted pieces.

    ``reasoning`` is streamed before the answer (OpenAI: ``delta.<reasoning_field>``; Anthropic: a
    ``thinking`` block; Ollama: ``message.thinking``). ``refusal`` replaces the text (OpenAI
    ``delta.refusal``; Anthropic text with ``stop_reason: "refusal"``; Ollama: plain content).
    ``tool_calls`` come after the text; the text is still sent when non-empty (a model that says
    something before calling), so use ``text=""`` for a bare tool call. Each tool call is
    ``{"id": "call_1", "name": "get_weather", "arguments": "{\\"city\\":\\"Paris\\"}"}`` (``arguments``
    may also be a dict).
    """

    text: str = "Hello from the fake server."  # the reply text
    chunks: list[str] | None = None  # explicit chunking; default: split text into ~3-word chunks
    kind: str = "ok"  # "ok" | "status" | "cutoff" | "error_event" | "hang" | "silent" | "garbage"
    status: int = 200  # for kind="status": 401, 429, 500, 400 (context window), 404, 529 (Anthropic) ...
    error_message: str = ""  # message in the JSON error body / error event
    error_type: str = ""  # e.g. "rate_limit_error", "invalid_request_error", "overloaded_error"
    retry_after: float | str | None = None  # 'retry-after' header on 429: seconds, or a str sent as is (HTTP date)
    retry_after_ms: float | None = None  # 'retry-after-ms' header (OpenAI) on 429
    retry_after_date: float | None = None  # 'retry-after' as an HTTP date this many seconds after the error is sent
    delay: float = 0.0  # seconds between chunks (slow streams)
    first_delay: float = 0.0  # seconds before the first chunk (after the headers); kind="status": before anything
    cut_after: int = 1  # for "cutoff"/"error_event"/"hang"/"garbage": content pieces before the cut / error / hang / garbage
    input_tokens: int | None = None  # usage reported; default: total chars of the request's messages // 4 + 10
    output_tokens: int | None = None  # default: number of words in the reply (reasoning included)
    cache_read_tokens: int = 0  # Anthropic: cache_read_input_tokens; OpenAI: prompt_tokens_details.cached_tokens
    cache_write_tokens: int = 0  # Anthropic: usage.cache_creation_input_tokens
    finish_reason: str = "stop"  # or "length" (Anthropic "max_tokens", Ollama done_reason "length")
    usage: bool = True  # send usage at all
    transfer: str = "close"  # streams: "close" (body ends at socket close) or "chunked"
    hang_seconds: float = HANG_SECONDS  # how long kind="hang" / "silent" waits (stop() always ends it at once)
    reasoning: str | None = None  # reasoning text streamed before the answer
    reasoning_field: str = "reasoning_content"  # OpenAI delta key: "reasoning_content" (DeepSeek) or "reasoning"
    refusal: str | None = None  # a refusal instead of the text
    tool_calls: list[dict[str, Any]] | None = None  # [{"id", "name", "arguments"}], after the text
    garbage: bytes | None = None  # kind="garbage": the bytes injected; None: the format's default
    stall_after: int | None = None  # burst then stall: this many content pieces at once, then stall_seconds of nothing
    stall_seconds: float = 5.0  # how long the stall lasts (stop() or the client hanging up ends it at once)

    def chunk_list(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        return split_chunks(self.text)

    def full_text(self) -> str:
        return "".join(self.chunks) if self.chunks is not None else self.text

    def answer_chunks(self) -> list[str]:
        """The visible answer's chunks: the refusal when there is one, else the text."""
        if self.refusal is not None:
            return split_chunks(self.refusal)
        return self.chunk_list()

    def answer_text(self) -> str:
        return self.refusal if self.refusal is not None else self.full_text()

    def reasoning_chunks(self) -> list[str]:
        return split_chunks(self.reasoning) if self.reasoning else []

    def has_text(self) -> bool:
        """Whether the answer is sent at all: always, unless tool calls come with an empty text."""
        return bool(self.answer_text()) or not self.tool_calls

    def tool_call_list(self) -> list[dict[str, str]]:
        """``tool_calls`` normalised: ``id``, ``name`` and ``arguments`` as a JSON string."""
        out: list[dict[str, str]] = []
        for n, call in enumerate(self.tool_calls or [], 1):
            args = call.get("arguments", "")
            if not isinstance(args, str):
                args = json.dumps(args)
            out.append({"id": str(call.get("id") or f"call_{n}"), "name": str(call["name"]), "arguments": args})
        return out

    def default_output_tokens(self) -> int:
        if self.output_tokens is not None:
            return self.output_tokens
        words = count_words(self.answer_text())
        if self.reasoning:
            words += count_words(self.reasoning)
        return words


@dataclass
class RecordedRequest:
    method: str
    path: str  # including any query string
    headers: dict[str, str]  # lower-case keys
    body: Any  # parsed JSON, or None when empty / not JSON
    raw: bytes = b""
    time: float = field(default_factory=time.time)
    client_gone: bool = False  # the client closed the connection before the reply was complete

    @property
    def messages(self) -> list[tuple[str, str]]:
        """``(role, text)`` of each message in the body, with content-part lists flattened to text.

        litellm sends Anthropic message content as ``[{"type": "text", "text": ...}]`` even for a plain
        string, and moves system messages to a top-level ``system``; this view hides both differences
        (a top-level system prompt comes first, as role "system").
        """
        if not isinstance(self.body, dict):
            return []
        out: list[tuple[str, str]] = []
        if self.body.get("system"):
            out.append(("system", text_of(self.body["system"])))
        for msg in self.body.get("messages") or []:
            if isinstance(msg, dict):
                out.append((str(msg.get("role")), text_of(msg.get("content"))))
        return out

    @property
    def api_key(self) -> str | None:
        """The key the client sent: ``x-api-key`` or the bearer token in ``authorization``."""
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        return None


# ------------------------------------------------------------------------------------------ helpers

_WORD_RE = re.compile(r"\s*\S+")


def split_chunks(text: str, words: int = 3) -> list[str]:
    """Split ``text`` into pieces of about ``words`` words; ``"".join(result) == text``."""
    if not text:
        return [""]
    pieces = _WORD_RE.findall(text)
    consumed = sum(len(p) for p in pieces)
    tail = text[consumed:]
    chunks = ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)] or [""]
    chunks[-1] += tail
    return chunks


def split_arguments(arguments: str, size: int = 8) -> list[str]:
    """Tool-call argument fragments of at most ``size`` characters; ``[]`` for an empty string."""
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def count_words(text: str) -> int:
    return max(1, len(text.split()))


def text_of(content: Any) -> str:
    """Text of a message content: a string, or a list of parts (OpenAI / Anthropic)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                for key in ("text", "content"):
                    if isinstance(part.get(key), str | list):
                        out.append(text_of(part[key]))
                        break
        return "".join(out)
    return ""


def estimate_input_tokens(body: Any) -> int:
    """The default usage.input: all characters of messages (+ system / prompt) // 4 + 10."""
    if not isinstance(body, dict):
        return 10
    chars = 0
    for msg in body.get("messages") or []:
        if isinstance(msg, dict):
            chars += len(text_of(msg.get("content")))
    chars += len(text_of(body.get("system")))
    chars += len(text_of(body.get("prompt")))
    return chars // 4 + 10


def http_date(seconds_from_now: float = 0.0) -> str:
    """An HTTP date (RFC 9110 IMF-fixdate, e.g. ``Wed, 21 Oct 2026 07:28:00 GMT``) this many seconds away."""
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


def mask_key(key: str | None) -> str:
    """A key masked as OpenAI echoes it in a 401: its first 6 characters (8 for ``sk-proj-`` keys), a ``*``
    for each hidden one, its last 4 (``sk-tes*********T123``)."""
    if not key:
        return "<none>"
    if len(key) <= 12:
        return "*" * len(key)
    shown = 8 if key.startswith("sk-proj-") else 6
    return f"{key[:shown]}{'*' * (len(key) - shown - 4)}{key[-4:]}"


def markdown_chunks(n: int, words: int = 3) -> list[str]:
    """Exactly ``n`` chunks of mixed Markdown (headings, lists, code fences, tables) for benchmarks."""
    blocks = [
        "## Section {i}\n\nThis is paragraph {i} with **bold**, *italic* and `inline code` to render. "
        "It goes on for a little while so the renderer has real text to wrap across lines.\n\n",
        "- first item of list {i}\n- second item with a [link](https://example.com/{i})\n"
        "  - a nested item\n- third item\n\n",
        "```python\ndef handler_{i}(request):\n    total = sum(x * x for x in range({i}))\n"
        "    return {{'status': 'ok', 'total': total}}\n```\n\n",
        "| name | value | note |\n|------|------:|------|\n| alpha | {i} | first |\n| beta | {j} | second |\n\n",
        "> A quoted remark number {i}, then a numbered list:\n\n1. one\n2. two\n3. three\n\n",
    ]
    chunks: list[str] = []
    i = 0
    while len(chunks) < n:  # block by block: linear in n
        chunks.extend(split_chunks(blocks[i % len(blocks)].format(i=i, j=i * 7), words))
        i += 1
    return chunks[:n]


# ------------------------------------------------------------------------------------------ HTTP plumbing


class StopRequest(Exception):
    """The client went away or the server is stopping: end the handler quietly."""


@dataclass
class StreamItem:
    """One write of a stream. ``counted`` items are content pieces: ``cut_after`` and ``delay`` apply."""

    data: str
    counted: bool = True


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client resetting an idle keep-alive connection (or a socket closed by stop()) is normal here.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ValueError):
            return
        super().handle_error(request, client_address)


class BaseHandler(BaseHTTPRequestHandler):
    """Request plumbing shared by every route: recording, JSON replies, streams and their failure modes."""

    protocol_version = "HTTP/1.1"
    server: HTTPServer
    server_version = "FakeLLM/1.0"
    sys_version = ""
    _chunked: bool = False
    _request: RecordedRequest

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # LoopbackServer._add_request logs each request when verbose

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.fake.verbose:
            sys.stderr.write(f"[{self.server.fake.log_name}] {self.address_string()} {format % args}\n")

    # ---------------------------------------------------------------- request
    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self) -> RecordedRequest:
        raw = self._read_body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        req = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw=raw,
        )
        self.server.fake._add_request(req)
        self._request = req
        return req

    # ---------------------------------------------------------------- responses
    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _error_headers(self, reply: Reply) -> dict[str, str]:
        headers = {}
        ra = reply.retry_after
        if reply.retry_after_date is not None:
            headers["retry-after"] = http_date(reply.retry_after_date)
        elif isinstance(ra, str):
            headers["retry-after"] = ra
        elif ra is not None:
            headers["retry-after"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        if reply.retry_after_ms is not None:
            ms = reply.retry_after_ms
            headers["retry-after-ms"] = str(int(ms)) if float(ms).is_integer() else str(ms)
        return headers

    def _start_stream(self, content_type: str, reply: Reply | None = None, status: int = 200) -> None:
        self._chunked = reply is not None and reply.transfer == "chunked"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        if self._chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True

    def _write(self, data: str | bytes) -> None:
        raw = data.encode() if isinstance(data, str) else data
        if self._chunked:
            raw = b"%x\r\n%s\r\n" % (len(raw), raw)
        try:
            self.wfile.write(raw)
            self.wfile.flush()
        except OSError as exc:  # client gone (cancelled, timed out)
            self._request.client_gone = True
            raise StopRequest from exc

    def _end_stream(self) -> None:
        if self._chunked:
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError as exc:
                raise StopRequest from exc

    def _write_items(self, reply: Reply, items: Iterable[StreamItem], garbage: bytes = SSE_GARBAGE) -> None:
        """Write a stream's items; for a failing ``kind``, stop before counted piece number ``cut_after``
        (``"garbage"``: inject the garbage there and go on); stall before piece number ``stall_after``."""
        sent = 0
        injected = stalled = False
        for item in items:
            if item.counted:
                if reply.stall_after is not None and not stalled and sent >= reply.stall_after:
                    stalled = True
                    self._stall(reply.stall_seconds)
                if reply.kind == "garbage" and not injected and sent >= reply.cut_after:
                    injected = True
                    self._write(reply.garbage if reply.garbage is not None else garbage)
                elif reply.kind not in COMPLETE_KINDS and sent >= reply.cut_after:
                    break
                if sent:
                    self._sleep(reply.delay)
                sent += 1
            self._write(item.data)
        if reply.stall_after is not None and not stalled:  # fewer pieces than stall_after: stall before the end
            self._stall(reply.stall_seconds)
        if reply.kind == "garbage" and not injected:
            self._write(reply.garbage if reply.garbage is not None else garbage)

    def _stream_items(
        self, content_type: str, reply: Reply, items: Iterable[StreamItem], opening: str = "",
        garbage: bytes = SSE_GARBAGE,
    ) -> bool:
        """Headers, then ``opening`` and the items, honouring the failure modes every format shares (silent,
        cut off, hang, garbage, stall). True when the stream goes on: the caller sends its error event or its
        ending. ``garbage`` is the format's default line for ``kind="garbage"``."""
        self._start_stream(content_type, reply)
        if reply.kind == "silent":
            self._hang(reply)
            return False
        self._sleep(reply.first_delay)
        if opening:
            self._write(opening)
        self._write_items(reply, items, garbage)
        return not self._ended_early(reply)

    # ---------------------------------------------------------------- failure modes
    def _cut(self) -> None:
        """Close abruptly: no terminator, no final empty chunk."""
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self.server.fake._stopping.wait(seconds):
            raise StopRequest

    def _ended_early(self, reply: Reply) -> bool:
        """The stream's failure modes shared by all formats: cut off, or hang."""
        if reply.kind == "cutoff":
            self._cut()
            return True
        if reply.kind == "hang":
            self._hang(reply)
            return True
        return False

    def _non_stream_failure(self, reply: Reply) -> bool:
        """A failing ``kind`` on a non-stream request; all look like a dead socket. True when handled."""
        if reply.kind == "ok":
            return False
        if reply.kind == "garbage":  # a 200 whose body is not the format at all
            self._sleep(reply.first_delay)
            data = reply.garbage if reply.garbage is not None else b"<html>oops</html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            return True
        if reply.kind == "silent":
            self._silent(reply, "application/json")
            return True
        self._sleep(reply.first_delay)
        if reply.kind == "hang":
            self._hang(reply)
        else:
            self._cut()
        return True

    def _silent(self, reply: Reply, content_type: str) -> None:
        """``kind="silent"``: the headers, then no body at all until the client or the clock gives up."""
        self._start_stream(content_type, reply)
        self._hang(reply)

    def _wait_quietly(self, seconds: float) -> bool:
        """Send nothing for ``seconds``; False as soon as the server stops or the client hangs up."""
        deadline = time.monotonic() + seconds
        stopping = self.server.fake._stopping
        while not stopping.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], min(0.05, max(0.0, deadline - time.monotonic())))
            if readable:
                try:
                    data = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    data = b""
                if not data:  # orderly close or reset: the client gave up (timeout / cancel)
                    self._request.client_gone = True
                    return False
                stopping.wait(0.05)  # client sent something (pipelining): keep waiting
        return not stopping.is_set()

    def _hang(self, reply: Reply) -> None:
        """Send nothing more until ``hang_seconds`` pass, the server stops, or the client hangs up."""
        self._wait_quietly(reply.hang_seconds)
        self._cut()

    def _stall(self, seconds: float) -> None:
        """Burst then stall: nothing for ``seconds``, then the stream goes on (unless stopped / abandoned)."""
        if seconds > 0 and not self._wait_quietly(seconds):
            self._cut()
            raise StopRequest


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 with a request log. Context manager, or start() / stop()."""

    handler_class: type[BaseHandler] = BaseHandler
    log_name = "loopback"

    def __init__(self, port: int = 0, *, verbose: bool = False) -> None:
        self.port = port
        self.verbose = verbose
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0
        self._request_event = threading.Condition(self._lock)

    # ---------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = HTTPServer(("127.0.0.1", self.port), self.handler_class)
        httpd.fake = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{self.log_name}-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()  # wakes hanging / sleeping handlers
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # idle keep-alive connections would otherwise keep a handler thread alive
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- inspection
    @property
    def last(self) -> RecordedRequest:
        with self._lock:
            return self.requests[-1]

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0].rstrip("/") == path.rstrip("/")]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least ``n`` requests were recorded."""
        with self._request_event:
            return self._request_event.wait_for(lambda: len(self.requests) >= n, timeout)

    # ---------------------------------------------------------------- internals
    def _add_request(self, req: RecordedRequest) -> None:
        with self._request_event:
            self.requests.append(req)
            self._request_event.notify_all()
        if self.verbose:
            sys.stderr.write(f"[{self.log_name}] {req.method} {req.path} key={mask_key(req.api_key)}\n")

    def _serial(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)
