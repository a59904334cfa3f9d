"""The fake LLM server: the three wire formats' routes on one loopback port, scripted with :class:`Reply`.

Run in the foreground: ``python -m tests.fakeserver --port 8765 [--chunks N] [--delay S] [--hostile]
[--stall-after N --stall-seconds S]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from collections.abc import Callable
from typing import Any, ClassVar, cast

from .anthropic import DEFAULT_ANTHROPIC_MODELS, AnthropicRoutes
from .base import LoopbackServer, RecordedRequest, Reply, StopRequest, markdown_chunks
from .ollama import DEFAULT_OLLAMA_MODELS, OllamaRoutes
from .openai import DEFAULT_OPENAI_MODELS, OpenAIRoutes

__all__ = ["COMPLETION_PATHS", "FakeLLMServer", "FakeLLMHandler", "main"]


class FakeLLMHandler(OpenAIRoutes, AnthropicRoutes, OllamaRoutes):
    """Dispatches each request to its protocol's route; ``GET /v1/models`` answers in either shape."""

    ROUTES: ClassVar[dict[tuple[str, str], str]] = {
        **OpenAIRoutes.ROUTES,
        **AnthropicRoutes.ROUTES,
        **OllamaRoutes.ROUTES,
        ("GET", "/v1/models"): "_models",
        ("GET", "/models"): "_models",
    }
    COMPLETION_PATHS: ClassVar[tuple[str, ...]] = (
        OpenAIRoutes.COMPLETION_PATHS + AnthropicRoutes.COMPLETION_PATHS + OllamaRoutes.COMPLETION_PATHS
    )

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        req = self._record()
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        fake = cast(FakeLLMServer, self.server.fake)
        name = self.ROUTES.get((self.command, path))
        try:
            if name is None:
                self._send_json(404, {"error": {"message": f"no route {self.command} {path}", "type": "not_found"}})
                return
            route: Callable[[RecordedRequest, Reply | None], None] = getattr(self, name)
            reply = fake._next_reply(path, completion=path in self.COMPLETION_PATHS)
            if reply is not None and reply.kind == "status":  # nothing at all (not even headers) until then
                self._sleep(reply.first_delay)
            route(req, reply)
        except StopRequest:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _models(self, req: RecordedRequest, reply: Reply | None) -> None:
        anthropic = self._is_anthropic_request(req)
        if reply is not None and reply.kind == "status":
            error = self._anthropic_error(reply) if anthropic else self._openai_error(reply, req)
            self._send_json(reply.status, error, self._error_headers(reply))
            return
        self._send_json(200, self._anthropic_models_payload() if anthropic else self._openai_models_payload())


COMPLETION_PATHS = FakeLLMHandler.COMPLETION_PATHS


class FakeLLMServer(LoopbackServer):
    """A loopback server speaking OpenAI SSE, Anthropic SSE and Ollama NDJSON. See the package docstring."""

    handler_class = FakeLLMHandler
    log_name = "fakeserver"

    def __init__(self, port: int = 0, *, verbose: bool = False) -> None:
        super().__init__(port, verbose=verbose)
        self.default = Reply()
        self.ollama_models: list[dict[str, Any]] = [dict(m) for m in DEFAULT_OLLAMA_MODELS]
        self.openai_models: list[str] = list(DEFAULT_OPENAI_MODELS)
        self.anthropic_models: list[str] = list(DEFAULT_ANTHROPIC_MODELS)
        self._queue: collections.deque[Reply] = collections.deque()
        self._path_queues: dict[str, collections.deque[Reply]] = {}

    def start(self) -> FakeLLMServer:
        super().start()
        return self

    def __enter__(self) -> FakeLLMServer:
        return self.start()

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


def _serve_until_interrupted(server: LoopbackServer) -> int:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _replay(path: str, port: int, *, verbose: bool) -> int:
    from .replay import ReplayServer

    server = ReplayServer(port, verbose=verbose)
    recording = server.play(path)
    server.start()
    print(f"replaying {recording.id} ({recording.meta.get('provider')}, {recording.wire} wire) on {server.url}",
          flush=True)
    return _serve_until_interrupted(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakeserver", description="A loopback HTTP server that speaks three LLM wire formats."
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--chunks", type=int, default=0, help="default reply: N chunks of mixed Markdown")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--first-delay", type=float, default=0.0, help="seconds before the first chunk")
    parser.add_argument("--text", default=None, help="default reply text")
    parser.add_argument("--chunks-json", default=None, help="default reply: the chunks in this JSON list file")
    parser.add_argument("--reasoning", default=None, help="default reply: stream this reasoning text first")
    parser.add_argument("--finish-reason", default="stop", help="default reply's finish: stop or length")
    parser.add_argument("--replay", default=None, metavar="RECORDING.json",
                        help="answer every POST with this recorded response instead (tests/corpus/recordings)")
    parser.add_argument("--hostile", action="store_true",
                        help="default reply: terminal escapes, console markup, bidi overrides and lone surrogates "
                        "(tests/fakeserver/hostile.py)")
    parser.add_argument("--stall-after", type=int, default=None, metavar="N",
                        help="burst then stall: send N chunks at once, then nothing for --stall-seconds, then the rest")
    parser.add_argument("--stall-seconds", type=float, default=5.0, metavar="S",
                        help="how long --stall-after stalls (default 5)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    if args.replay:
        return _replay(args.replay, args.port, verbose=not args.quiet)

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
    if args.hostile:
        from .hostile import HOSTILE_REPLY

        hostile = HOSTILE_REPLY()
        default.chunks, default.text = hostile.chunks, hostile.text
    default.reasoning = args.reasoning
    default.finish_reason = args.finish_reason
    default.stall_after = args.stall_after
    default.stall_seconds = args.stall_seconds
    server.default = default
    server.start()
    print(f"fake LLM server on {server.url}", flush=True)
    print(f"  openai:    api_base={server.url}/v1   model=openai/gpt-4o-mini", flush=True)
    print(f"  anthropic: api_base={server.url}      model=anthropic/claude-sonnet-4-5", flush=True)
    print(f"  ollama:    api_base={server.url}      model=ollama_chat/llama3.2", flush=True)
    return _serve_until_interrupted(server)
