"""A loopback server that answers every POST with one recorded provider response.

A recording is two files side by side: ``<id>.json`` (metadata) and ``<id>.body`` (the response body).
The metadata keys used here:

* ``content_type`` -- the recorded ``Content-Type`` (sent back as is);
* ``framing`` -- ``"raw"``: the body file *is* the response body, sent byte for byte; or
  ``"data-lines"``: the body file holds one JSON payload per line, and each non-empty line ``L`` is
  sent as ``data: L`` + a blank line (preceded by ``event: <type>`` for ``wire="anthropic"``, the type
  taken from the payload's ``"type"``), then ``data: [DONE]`` for ``wire="openai"``;
* ``wire`` -- ``"openai"``, ``"anthropic"``, ``"gemini"`` or ``"ollama"``;
* ``status`` (optional) -- the HTTP status, 200 unless given.

Usage::

    with ReplayServer() as srv:
        srv.play(load_recording(path))      # or srv.play(path)
        ... POST to srv.url + any path ...
        srv.requests[-1].api_key

Bodies are sent close-delimited (``Connection: close``, no ``Content-Length``), in several writes split
at event boundaries (after each blank line for SSE, after each newline for NDJSON) with no delay, so a
client parses them incrementally. ``GET`` (and any other method) gets a 404 JSON error.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from .base import BaseHandler, LoopbackServer, StopRequest

__all__ = ["FRAMINGS", "WIRES", "Recording", "ReplayHandler", "ReplayServer", "load_recording", "split_events"]

FRAMINGS = ("raw", "data-lines")
WIRES = ("openai", "anthropic", "gemini", "ollama")

_SSE_BOUNDARY = re.compile(rb"(?<=\r\n\r\n)|(?<=\n\n)")
_LINE_BOUNDARY = re.compile(rb"(?<=\n)")


@dataclass
class Recording:
    id: str
    meta: dict[str, Any]
    body: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        default = "text/event-stream" if self.framing == "data-lines" else "application/octet-stream"
        return str(self.meta.get("content_type") or default)

    @property
    def framing(self) -> str:
        return str(self.meta.get("framing") or "raw")

    @property
    def wire(self) -> str:
        return str(self.meta.get("wire") or "")

    @property
    def status(self) -> int:
        return int(self.meta.get("status") or 200)

    @property
    def is_ndjson(self) -> bool:
        return "ndjson" in self.content_type.lower() or self.wire == "ollama"

    def pieces(self) -> list[bytes]:
        """The response body as the writes that send it; ``b"".join(pieces) == the body on the wire``."""
        if self.framing == "raw":
            return split_events(self.body, ndjson=self.is_ndjson)
        out: list[bytes] = []
        for line in self.body.splitlines():
            line = line.strip()
            if not line:
                continue
            event = b""
            if self.wire == "anthropic":
                kind = _payload_type(line)
                if kind:
                    event = b"event: " + kind.encode() + b"\n"
            out.append(event + b"data: " + line + b"\n\n")
        if self.wire == "openai":
            out.append(b"data: [DONE]\n\n")
        return out

    def wire_bytes(self) -> bytes:
        """The whole response body this recording is served as."""
        return b"".join(self.pieces())


def _payload_type(line: bytes) -> str | None:
    try:
        payload = json.loads(line)
    except ValueError:
        return None
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else None


def split_events(body: bytes, *, ndjson: bool) -> list[bytes]:
    """Split ``body`` after each event boundary (newline for NDJSON, blank line for SSE), losslessly."""
    pattern = _LINE_BOUNDARY if ndjson else _SSE_BOUNDARY
    return [piece for piece in pattern.split(body) if piece]


def load_recording(path: str | Path) -> Recording:
    """Load ``<id>.json`` and the ``<id>.body`` next to it."""
    meta_path = Path(path)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path}: metadata is not a JSON object")
    framing = meta.get("framing", "raw")
    if framing not in FRAMINGS:
        raise ValueError(f"{meta_path}: unknown framing {framing!r} (expected one of {FRAMINGS})")
    wire = meta.get("wire")
    if wire not in WIRES:
        raise ValueError(f"{meta_path}: unknown wire {wire!r} (expected one of {WIRES})")
    body = meta_path.with_suffix(".body").read_bytes()
    return Recording(id=meta_path.stem, meta=meta, body=body)


class ReplayHandler(BaseHandler):
    server_version = "FakeLLMReplay/1.0"

    def do_POST(self) -> None:
        self._record()
        replay = cast(ReplayServer, self.server.fake)
        recording = replay.current
        try:
            if recording is None:
                self._send_json(500, {"error": {"message": "ReplayServer: no recording loaded", "type": "replay"}})
                return
            self._start_stream(recording.content_type, status=recording.status)
            for piece in recording.pieces():
                self._write(piece)
        except StopRequest:
            pass
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _not_found(self) -> None:
        self._record()
        try:
            self._send_json(404, {"error": {"message": f"no route {self.command} {self.path}", "type": "not_found"}})
        except OSError:
            self.close_connection = True

    do_GET = _not_found
    do_PUT = _not_found
    do_DELETE = _not_found
    do_PATCH = _not_found


class ReplayServer(LoopbackServer):
    """Answers every POST (any path, any query string) with the recording chosen by :meth:`play`."""

    handler_class = ReplayHandler
    log_name = "replay"

    def __init__(self, port: int = 0, *, verbose: bool = False) -> None:
        super().__init__(port, verbose=verbose)
        self._recording: Recording | None = None
        self._play_lock = threading.Lock()

    def start(self) -> ReplayServer:
        super().start()
        return self

    def __enter__(self) -> ReplayServer:
        return self.start()

    def play(self, recording: Recording | str | Path) -> Recording:
        """Serve ``recording`` (or the recording whose metadata file is at that path) from now on."""
        if not isinstance(recording, Recording):
            recording = load_recording(recording)
        with self._play_lock:
            self._recording = recording
        return recording

    @property
    def current(self) -> Recording | None:
        with self._play_lock:
            return self._recording

    def clear(self) -> None:
        """Forget the recorded requests (the recording being played is kept)."""
        with self._lock:
            self.requests.clear()
