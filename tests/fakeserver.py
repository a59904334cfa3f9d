"""A loopback HTTP server that speaks three LLM wire formats, for tests and benchmarks.

Stdlib only (``http.server.ThreadingHTTPServer``), bound to 127.0.0.1. Our code reaches it through the
real litellm, so the bytes on the wire follow the providers' own formats closely enough for litellm to
parse them:

* OpenAI    ``POST /v1/chat/completions`` (and ``/chat/completions``), ``GET /v1/models``
* Anthropic ``POST /v1/messages``, ``GET /v1/models`` (Anthropic shape when the request carries
  ``x-api-key`` or ``anthropic-version``)
* Ollama    ``POST /api/chat``, ``POST /api/generate``, ``GET /api/tags``, ``POST /api/show``,
  ``GET /api/version``

What each completion request gets back is a :class:`Reply`: queue them with :meth:`FakeLLMServer.script`
(any completion endpoint, in order) or :meth:`FakeLLMServer.script_for` (one path only, checked first,
and the only way to make a metadata endpoint such as ``/api/tags`` fail); when the queues are empty the
server answers with :attr:`FakeLLMServer.default`.

Streams are sent close-delimited (HTTP/1.1, ``Connection: close``, no ``Content-Length``, no chunked
encoding: the body ends when the socket closes), as the brief asked. This makes ``kind="cutoff"`` an
*early clean end of body*: the client sees EOF without the provider's terminator, which is the case the
client has to detect from the stream's content. ``Reply(transfer="chunked")`` switches a stream to chunked
transfer encoding instead; a cut-off then leaves a chunked body unfinished, which litellm's HTTP layer
reports as a transport error (what a dropped network connection looks like). See
/work/notes/litellm_behaviour.md for what litellm does with each.

Non-stream responses and errors carry ``Content-Length`` and keep the connection alive.

Run in the foreground: ``python -m tests.fakeserver --port 8765 [--chunks N] [--delay S]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Reply", "RecordedRequest", "FakeLLMServer", "markdown_chunks", "DEFAULT_OLLAMA_MODELS"]

HANG_SECONDS = 30.0


@dataclass
class Reply:
    text: str = "Hello from the fake server."  # the reply text
    chunks: list[str] | None = None  # explicit chunking; default: split text into ~3-word chunks
    kind: str = "ok"  # "ok" | "status" | "cutoff" | "error_event" | "hang"
    status: int = 200  # for kind="status": 401, 429, 500, 400 (context window), 404 ...
    error_message: str = ""  # message in the JSON error body / error event
    error_type: str = ""  # e.g. "rate_limit_error", "invalid_request_error", "overloaded_error"
    retry_after: float | None = None  # 'retry-after' header on 429
    delay: float = 0.0  # seconds between chunks (slow streams)
    first_delay: float = 0.0  # seconds before the first chunk (after the headers); kind="status": before anything
    cut_after: int = 1  # for "cutoff"/"error_event"/"hang": content chunks sent before the cut / error / hang
    input_tokens: int | None = None  # usage reported; default: total chars of the request's messages // 4 + 10
    output_tokens: int | None = None  # default: number of words in the reply
    cache_read_tokens: int = 0  # Anthropic: cache_read_input_tokens; OpenAI: prompt_tokens_details.cached_tokens
    cache_write_tokens: int = 0  # Anthropic: usage.cache_creation_input_tokens
    finish_reason: str = "stop"  # or "length"
    usage: bool = True  # send usage at all
    # --- additions beyond the brief ---
    transfer: str = "close"  # streams: "close" (body ends at socket close) or "chunked"
    hang_seconds: float = HANG_SECONDS  # how long kind="hang" waits (stop() always ends it at once)

    def chunk_list(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        return split_chunks(self.text)

    def full_text(self) -> str:
        return "".join(self.chunks) if self.chunks is not None else self.text


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
            out.append(("system", _text_of(self.body["system"])))
        for msg in self.body.get("messages") or []:
            if isinstance(msg, dict):
                out.append((str(msg.get("role")), _text_of(msg.get("content"))))
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


DEFAULT_OLLAMA_MODELS: list[dict[str, Any]] = [
    {
        "name": "llama3.2:latest",
        "model": "llama3.2:latest",
        "modified_at": "2024-10-01T12:00:00.000000000Z",
        "size": 2019393189,
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M",
        },
        # Not part of /api/tags (stripped there); used by /api/show as "<arch>.context_length".
        "context_length": 131072,
        "architecture": "llama",
    },
    {
        "name": "qwen2.5-coder:7b",
        "model": "qwen2.5-coder:7b",
        "modified_at": "2024-11-12T12:00:00.000000000Z",
        "size": 4683087332,
        "digest": "2b0496514337a3d5901f1d253d01726c890b721e891335a56d6e08cedf3e2cb0",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "qwen2",
            "families": ["qwen2"],
            "parameter_size": "7.6B",
            "quantization_level": "Q4_K_M",
        },
        "context_length": 32768,
        "architecture": "qwen2",
    },
]
_PRIVATE_MODEL_KEYS = ("context_length", "architecture")

DEFAULT_OPENAI_MODELS = ["gpt-4o-mini", "gpt-4o", "o3-mini"]
DEFAULT_ANTHROPIC_MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]

COMPLETION_PATHS = ("/v1/chat/completions", "/chat/completions", "/v1/messages", "/api/chat", "/api/generate")

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


def _count_words(text: str) -> int:
    return max(1, len(text.split()))


def _text_of(content: Any) -> str:
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
                        out.append(_text_of(part[key]))
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
            chars += len(_text_of(msg.get("content")))
    chars += len(_text_of(body.get("system")))
    chars += len(_text_of(body.get("prompt")))
    return chars // 4 + 10


def _mask_key(key: str | None) -> str:
    if not key:
        return "<none>"
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * 12}{key[-4:]}"


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


class _StopRequest(Exception):
    """The client went away or the server is stopping: end the handler quietly."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client resetting an idle keep-alive connection (or a socket closed by stop()) is normal here.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ValueError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "FakeLLM/1.0"
    sys_version = ""

    # ---------------------------------------------------------------- plumbing
    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # FakeLLMServer._add_request logs each request when verbose

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.fake.verbose:
            sys.stderr.write(f"[fakeserver] {self.address_string()} {format % args}\n")

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

    def _start_stream(self, content_type: str, reply: Reply) -> None:
        self._chunked = reply.transfer == "chunked"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        if self._chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True

    def _write(self, data: str) -> None:
        raw = data.encode()
        if self._chunked:
            raw = b"%x\r\n%s\r\n" % (len(raw), raw)
        try:
            self.wfile.write(raw)
            self.wfile.flush()
        except OSError as exc:  # client gone (cancelled, timed out)
            self._request.client_gone = True
            raise _StopRequest from exc

    def _end_stream(self) -> None:
        if self._chunked:
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError as exc:
                raise _StopRequest from exc

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
            raise _StopRequest

    def _ended_early(self, reply: Reply) -> bool:
        """The stream's failure modes shared by all three formats: cut off, or hang."""
        if reply.kind == "cutoff":
            self._cut()
            return True
        if reply.kind == "hang":
            self._hang(reply)
            return True
        return False

    def _hang(self, reply: Reply) -> None:
        """Send nothing more until ``hang_seconds`` pass, the server stops, or the client hangs up."""
        deadline = time.monotonic() + reply.hang_seconds
        stopping = self.server.fake._stopping
        while not stopping.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable:
                try:
                    data = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    data = b""
                if not data:  # orderly close or reset: the client gave up (timeout / cancel)
                    self._request.client_gone = True
                    break
                stopping.wait(0.05)  # client sent something (pipelining): keep hanging
        self._cut()

    # ---------------------------------------------------------------- dispatch
    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        req = self._record()
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        fake = self.server.fake
        routes = {
            ("POST", "/v1/chat/completions"): self._openai_chat,
            ("POST", "/chat/completions"): self._openai_chat,
            ("POST", "/v1/messages"): self._anthropic_messages,
            ("POST", "/api/chat"): self._ollama_chat,
            ("POST", "/api/generate"): self._ollama_chat,
            ("GET", "/v1/models"): self._models,
            ("GET", "/models"): self._models,
            ("GET", "/api/tags"): self._ollama_tags,
            ("POST", "/api/show"): self._ollama_show,
            ("GET", "/api/version"): self._ollama_version,
        }
        route = routes.get((self.command, path))
        try:
            if route is None:
                self._send_json(404, {"error": {"message": f"no route {self.command} {path}", "type": "not_found"}})
                return
            reply = fake._next_reply(path, completion=path in COMPLETION_PATHS)
            if reply is not None and reply.kind == "status":  # nothing at all (not even headers) until then
                self._sleep(reply.first_delay)
            route(req, reply)
        except _StopRequest:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ---------------------------------------------------------------- errors
    def _error_headers(self, reply: Reply) -> dict[str, str]:
        headers = {}
        if reply.retry_after is not None:
            ra = reply.retry_after
            headers["retry-after"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        return headers

    def _openai_error(self, reply: Reply, req: RecordedRequest) -> dict[str, Any]:
        status = reply.status
        ctx = reply.error_type == "context_length_exceeded"
        defaults = {
            400: ("invalid_request_error", None, "Invalid request."),
            401: (
                "invalid_request_error",
                "invalid_api_key",
                f"Incorrect API key provided: {_mask_key(req.api_key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
            ),
            403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
            404: (
                "invalid_request_error",
                "model_not_found",
                f"The model `{(req.body or {}).get('model', '?')}` does not exist or you do not have access to it.",
            ),
            429: (
                "requests",
                "rate_limit_exceeded",
                "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1. "
                "Please try again in 20s.",
            ),
            500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
            503: ("server_error", None, "The engine is currently overloaded, please try again later."),
        }
        etype, code, msg = defaults.get(status, ("api_error", None, f"HTTP {status}"))
        if ctx:
            etype, code = "invalid_request_error", "context_length_exceeded"
            msg = (
                "This model's maximum context length is 128000 tokens. However, your messages resulted in "
                "200000 tokens. Please reduce the length of the messages."
            )
        if reply.error_type and not ctx:
            etype = reply.error_type
        if reply.error_message:
            msg = reply.error_message
        return {"error": {"message": msg, "type": etype, "param": "messages" if ctx else None, "code": code}}

    def _anthropic_error(self, reply: Reply, status: int | None = None) -> dict[str, Any]:
        status = reply.status if status is None else status
        defaults = {
            400: ("invalid_request_error", "Invalid request."),
            401: ("authentication_error", "invalid x-api-key"),
            403: ("permission_error", "Your API key does not have permission to use the specified resource."),
            404: ("not_found_error", "model: not found"),
            413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
            429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
            500: ("api_error", "Internal server error"),
            529: ("overloaded_error", "Overloaded"),
        }
        etype, msg = defaults.get(status, ("api_error", f"HTTP {status}"))
        if reply.error_type == "context_length_exceeded":
            etype, msg = "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"
        elif reply.error_type:
            etype = reply.error_type
        if reply.error_message:
            msg = reply.error_message
        return {"type": "error", "error": {"type": etype, "message": msg}}

    def _ollama_error(self, reply: Reply, req: RecordedRequest) -> dict[str, Any]:
        model = (req.body or {}).get("model", "?") if isinstance(req.body, dict) else "?"
        defaults = {
            400: "invalid request",
            401: "unauthorized",
            404: f'model "{model}" not found, try pulling it first',
            429: "too many requests",
            500: "an internal error occurred",
        }
        msg = defaults.get(reply.status, f"HTTP {reply.status}")
        if reply.error_type == "context_length_exceeded":
            msg = "the input length exceeds the context length"
        if reply.error_message:
            msg = reply.error_message
        return {"error": msg}

    # ---------------------------------------------------------------- OpenAI
    def _openai_chat(self, req: RecordedRequest, reply: Reply) -> None:
        body = req.body if isinstance(req.body, dict) else {}
        if reply.kind == "status":
            self._send_json(reply.status, self._openai_error(reply, req), self._error_headers(reply))
            return
        model = body.get("model", "gpt-4o-mini")
        created = int(time.time())
        cid = f"chatcmpl-fake{self.server.fake._serial()}"
        prompt = reply.input_tokens if reply.input_tokens is not None else estimate_input_tokens(body)
        completion = reply.output_tokens if reply.output_tokens is not None else _count_words(reply.full_text())
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": reply.cache_read_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        if not body.get("stream"):
            if reply.kind != "ok":  # cut-off / error event / hang without streaming: all look like a dead socket
                self._sleep(reply.first_delay)
                if reply.kind == "hang":
                    self._hang(reply)
                else:
                    self._cut()
                return
            self._sleep(reply.first_delay)
            payload: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.full_text(), "refusal": None},
                        "logprobs": None,
                        "finish_reason": reply.finish_reason,
                    }
                ],
            }
            if reply.usage:
                payload["usage"] = usage
            self._send_json(200, payload)
            return

        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and reply.usage

        def event(delta: dict[str, Any], finish: str | None) -> str:
            chunk: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                chunk["usage"] = None
            return f"data: {json.dumps(chunk)}\n\n"

        self._start_stream("text/event-stream; charset=utf-8", reply)
        self._sleep(reply.first_delay)
        self._write(event({"role": "assistant", "content": "", "refusal": None}, None))
        chunks = reply.chunk_list()
        for i, piece in enumerate(chunks):
            if reply.kind != "ok" and i >= reply.cut_after:
                break
            if i:
                self._sleep(reply.delay)
            last = i == len(chunks) - 1 and reply.kind == "ok"
            self._write(event({"content": piece}, reply.finish_reason if last else None))
        if self._ended_early(reply):
            return
        if reply.kind == "error_event":
            err = self._openai_error(
                Reply(
                    status=500,
                    error_type=reply.error_type or "server_error",
                    error_message=reply.error_message or "The server had an error while processing your request.",
                ),
                req,
            )
            self._write(f"data: {json.dumps(err)}\n\n")
            self._cut()
            return
        if include_usage:
            chunk = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [],
                "usage": usage,
            }
            self._write(f"data: {json.dumps(chunk)}\n\n")
        self._write("data: [DONE]\n\n")
        self._end_stream()

    def _models(self, req: RecordedRequest, reply: Reply | None) -> None:
        if reply is not None and reply.kind == "status":
            if "x-api-key" in req.headers or "anthropic-version" in req.headers:
                self._send_json(reply.status, self._anthropic_error(reply), self._error_headers(reply))
            else:
                self._send_json(reply.status, self._openai_error(reply, req), self._error_headers(reply))
            return
        fake = self.server.fake
        if "x-api-key" in req.headers or "anthropic-version" in req.headers:
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in fake.anthropic_models
            ]
            self._send_json(
                200,
                {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                },
            )
            return
        self._send_json(
            200,
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1700000000, "owned_by": "system"}
                    for m in fake.openai_models
                ],
            },
        )

    # ---------------------------------------------------------------- Anthropic
    def _anthropic_messages(self, req: RecordedRequest, reply: Reply) -> None:
        body = req.body if isinstance(req.body, dict) else {}
        if reply.kind == "status":
            self._send_json(reply.status, self._anthropic_error(reply), self._error_headers(reply))
            return
        model = body.get("model", "claude-sonnet-4-5")
        mid = f"msg_fake{self.server.fake._serial():06d}"
        input_tokens = reply.input_tokens if reply.input_tokens is not None else estimate_input_tokens(body)
        output_tokens = reply.output_tokens if reply.output_tokens is not None else _count_words(reply.full_text())
        stop_reason = {"stop": "end_turn", "length": "max_tokens"}.get(reply.finish_reason, reply.finish_reason)
        start_usage = {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": reply.cache_write_tokens,
            "cache_read_input_tokens": reply.cache_read_tokens,
            "output_tokens": 1,
        }
        if not body.get("stream"):
            if reply.kind != "ok":
                self._sleep(reply.first_delay)
                if reply.kind == "hang":
                    self._hang(reply)
                else:
                    self._cut()
                return
            self._sleep(reply.first_delay)
            payload = {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": reply.full_text()}],
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": {**start_usage, "output_tokens": output_tokens}
                if reply.usage
                else {"input_tokens": 0, "output_tokens": 0},
            }
            self._send_json(200, payload)
            return

        def event(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n"

        self._start_stream("text/event-stream; charset=utf-8", reply)
        self._sleep(reply.first_delay)
        message = {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": start_usage if reply.usage else {"input_tokens": 0, "output_tokens": 0},
        }
        self._write(event("message_start", {"type": "message_start", "message": message}))
        self._write(
            event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
        )
        self._write(event("ping", {"type": "ping"}))
        chunks = reply.chunk_list()
        for i, piece in enumerate(chunks):
            if reply.kind != "ok" and i >= reply.cut_after:
                break
            if i:
                self._sleep(reply.delay)
            self._write(
                event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                )
            )
        if self._ended_early(reply):
            return
        if reply.kind == "error_event":
            err = self._anthropic_error(
                Reply(
                    error_type=reply.error_type or "overloaded_error", error_message=reply.error_message or "Overloaded"
                ),
                status=529,
            )
            self._write(event("error", err))
            self._cut()
            return
        self._write(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        self._write(
            event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": output_tokens if reply.usage else 0},
                },
            )
        )
        self._write(event("message_stop", {"type": "message_stop"}))
        self._end_stream()

    # ---------------------------------------------------------------- Ollama
    def _ollama_chat(self, req: RecordedRequest, reply: Reply) -> None:
        body = req.body if isinstance(req.body, dict) else {}
        generate = req.path.split("?", 1)[0].rstrip("/") == "/api/generate"
        if reply.kind == "status":
            self._send_json(reply.status, self._ollama_error(reply, req), self._error_headers(reply))
            return
        model = body.get("model", "llama3.2")
        prompt = reply.input_tokens if reply.input_tokens is not None else estimate_input_tokens(body)
        completion = reply.output_tokens if reply.output_tokens is not None else _count_words(reply.full_text())
        done_reason = {"length": "length"}.get(reply.finish_reason, "stop")

        def now() -> str:
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000000Z"

        def line(content: str, done: bool) -> dict[str, Any]:
            out: dict[str, Any] = {"model": model, "created_at": now()}
            if generate:
                out["response"] = content
            else:
                out["message"] = {"role": "assistant", "content": content}
            out["done"] = done
            return out

        final = line("", True)
        final["done_reason"] = done_reason
        final.update(
            {
                "total_duration": 1_500_000_000,
                "load_duration": 20_000_000,
                "prompt_eval_count": prompt,
                "prompt_eval_duration": 100_000_000,
                "eval_count": completion,
                "eval_duration": 1_300_000_000,
            }
        )
        if not reply.usage:
            for k in ("prompt_eval_count", "eval_count"):
                final.pop(k)

        if body.get("stream", True) is False:  # Ollama streams unless told not to
            if reply.kind != "ok":
                self._sleep(reply.first_delay)
                if reply.kind == "hang":
                    self._hang(reply)
                else:
                    self._cut()
                return
            self._sleep(reply.first_delay)
            whole = line(reply.full_text(), True)
            whole.update({k: v for k, v in final.items() if k not in whole})
            self._send_json(200, whole)
            return

        self._start_stream("application/x-ndjson", reply)
        self._sleep(reply.first_delay)
        chunks = reply.chunk_list()
        for i, piece in enumerate(chunks):
            if reply.kind != "ok" and i >= reply.cut_after:
                break
            if i:
                self._sleep(reply.delay)
            self._write(json.dumps(line(piece, False)) + "\n")
        if self._ended_early(reply):
            return
        if reply.kind == "error_event":
            self._write(
                json.dumps({"error": reply.error_message or "an error was encountered while running the model"}) + "\n"
            )
            self._cut()
            return
        self._write(json.dumps(final) + "\n")
        self._end_stream()

    def _ollama_tags(self, req: RecordedRequest, reply: Reply | None) -> None:
        if reply is not None and reply.kind == "status":
            self._send_json(reply.status, self._ollama_error(reply, req), self._error_headers(reply))
            return
        models = [{k: v for k, v in m.items() if k not in _PRIVATE_MODEL_KEYS} for m in self.server.fake.ollama_models]
        self._send_json(200, {"models": models})

    def _ollama_show(self, req: RecordedRequest, reply: Reply | None) -> None:
        if reply is not None and reply.kind == "status":
            self._send_json(reply.status, self._ollama_error(reply, req), self._error_headers(reply))
            return
        body = req.body if isinstance(req.body, dict) else {}
        name = str(body.get("model") or body.get("name") or "")
        found = None
        for m in self.server.fake.ollama_models:
            if name in (m.get("name"), m.get("model")) or f"{name}:latest" == m.get("name"):
                found = m
                break
        if found is None:
            self._send_json(404, {"error": f"model '{name}' not found"})
            return
        details = dict(found.get("details") or {})
        arch = found.get("architecture") or details.get("family") or "llama"
        ctx = int(found.get("context_length") or 2048)
        self._send_json(
            200,
            {
                "license": "LICENSE TEXT",
                "modelfile": f'# Modelfile generated by "ollama show"\nFROM {found["name"]}\n',
                "parameters": 'stop "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "details": details,
                "model_info": {
                    "general.architecture": arch,
                    "general.parameter_count": 3_212_749_888,
                    "general.file_type": 15,
                    f"{arch}.context_length": ctx,
                    f"{arch}.embedding_length": 3072,
                    f"{arch}.block_count": 28,
                },
                "capabilities": ["completion", "tools"],
                "modified_at": found.get("modified_at", "2024-10-01T12:00:00Z"),
            },
        )

    def _ollama_version(self, req: RecordedRequest, reply: Reply | None) -> None:
        self._send_json(200, {"version": "0.6.2"})


class FakeLLMServer:
    """See the module docstring. Use as a context manager or call start()/stop()."""

    def __init__(self, port: int = 0, *, verbose: bool = False) -> None:
        self.port = port
        self.verbose = verbose
        self.default = Reply()
        self.requests: list[RecordedRequest] = []
        self.ollama_models: list[dict[str, Any]] = [dict(m) for m in DEFAULT_OLLAMA_MODELS]
        self.openai_models: list[str] = list(DEFAULT_OPENAI_MODELS)
        self.anthropic_models: list[str] = list(DEFAULT_ANTHROPIC_MODELS)
        self._lock = threading.Lock()
        self._queue: collections.deque[Reply] = collections.deque()
        self._path_queues: dict[str, collections.deque[Reply]] = {}
        self._conns: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0
        self._request_event = threading.Condition(self._lock)

    # ---------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeLLMServer not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeLLMServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server(("127.0.0.1", self.port), _Handler)
        httpd.fake = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fakellm-{self.port}", daemon=True
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

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- scripting
    def script(self, *replies: Reply) -> None:
        """Queue replies for the next completion requests (any provider), in order."""
        with self._lock:
            self._queue.extend(replies)

    def script_for(self, path: str, *replies: Reply) -> None:
        """Queue replies for one path only (e.g. "/api/tags"); checked before the shared queue."""
        with self._lock:
            self._path_queues.setdefault(path.rstrip("/"), collections.deque()).extend(replies)

    def clear(self) -> None:
        """Forget recorded requests and queued replies (``default`` is kept)."""
        with self._lock:
            self.requests.clear()
            self._queue.clear()
            self._path_queues.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue) + sum(len(q) for q in self._path_queues.values())

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
            sys.stderr.write(f"[fakeserver] {req.method} {req.path} key={_mask_key(req.api_key)}\n")

    def _next_reply(self, path: str, *, completion: bool) -> Reply | None:
        with self._lock:
            q = self._path_queues.get(path)
            if q:
                return q.popleft()
            if not completion:
                return None
            if self._queue:
                return self._queue.popleft()
            return self.default

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakeserver", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--chunks", type=int, default=0, help="default reply: N chunks of mixed Markdown")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--first-delay", type=float, default=0.0, help="seconds before the first chunk")
    parser.add_argument("--text", default=None, help="default reply text")
    parser.add_argument("--chunks-json", default=None, help="default reply: the chunks in this JSON list file")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)

    server = FakeLLMServer(args.port, verbose=not args.quiet)
    default = Reply(delay=args.delay, first_delay=args.first_delay)
    if args.chunks:
        chunks = markdown_chunks(args.chunks)
        default.chunks = chunks
        default.text = "".join(chunks)
    elif args.chunks_json:
        with open(args.chunks_json, encoding="utf-8") as fh:
            default.chunks = [str(c) for c in json.load(fh)]
        default.text = "".join(default.chunks)
    elif args.text is not None:
        default.text = args.text
    server.default = default
    server.start()
    print(f"fake LLM server on {server.url}", flush=True)
    print(f"  openai:    api_base={server.url}/v1   model=openai/gpt-4o-mini", flush=True)
    print(f"  anthropic: api_base={server.url}      model=anthropic/claude-sonnet-4-5", flush=True)
    print(f"  ollama:    api_base={server.url}      model=ollama_chat/llama3.2", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
