"""Ollama: ``POST /api/chat``, ``POST /api/generate``, ``GET /api/tags``, ``POST /api/show``, ``GET /api/version``.

Streams are NDJSON (``application/x-ndjson``), one object per line, ended by a ``done: true`` line with
``done_reason`` and the eval counts. Reasoning comes first as ``message.thinking`` (``thinking`` for
``/api/generate``) with empty content, then the content pieces, then the tool calls in one line
(``message.tool_calls`` with the arguments as a parsed object). Ollama has no refusal field: a refusal is
sent as plain content. An in-stream error is an ``{"error": "..."}`` line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from .base import NDJSON_GARBAGE, BaseHandler, RecordedRequest, Reply, StreamItem, estimate_input_tokens

__all__ = ["DEFAULT_OLLAMA_MODELS", "OllamaRoutes"]

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
PRIVATE_MODEL_KEYS = ("context_length", "architecture")


def _parse_arguments(arguments: str) -> Any:
    try:
        return json.loads(arguments) if arguments else {}
    except ValueError:
        return arguments


class OllamaRoutes(BaseHandler):
    """The Ollama routes, mixed into the fake server's handler."""

    ROUTES: ClassVar[dict[tuple[str, str], str]] = {
        ("POST", "/api/chat"): "_ollama_chat",
        ("POST", "/api/generate"): "_ollama_chat",
        ("GET", "/api/tags"): "_ollama_tags",
        ("POST", "/api/show"): "_ollama_show",
        ("GET", "/api/version"): "_ollama_version",
    }
    COMPLETION_PATHS: ClassVar[tuple[str, ...]] = ("/api/chat", "/api/generate")

    def _ollama_models(self) -> list[dict[str, Any]]:
        return getattr(self.server.fake, "ollama_models", DEFAULT_OLLAMA_MODELS)

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

    def _ollama_chat(self, req: RecordedRequest, reply: Reply) -> None:
        body = req.body if isinstance(req.body, dict) else {}
        generate = req.path.split("?", 1)[0].rstrip("/") == "/api/generate"
        if reply.kind == "status":
            self._send_json(reply.status, self._ollama_error(reply, req), self._error_headers(reply))
            return
        model = body.get("model", "llama3.2")
        prompt = reply.input_tokens if reply.input_tokens is not None else estimate_input_tokens(body)
        completion = reply.default_output_tokens()
        done_reason = {"length": "length"}.get(reply.finish_reason, "stop")
        tool_calls = [
            {"function": {"name": c["name"], "arguments": _parse_arguments(c["arguments"])}}
            for c in reply.tool_call_list()
        ]

        def now() -> str:
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000000Z"

        def line(
            content: str, done: bool, *, thinking: str | None = None, calls: list[dict[str, Any]] | None = None
        ) -> dict[str, Any]:
            out: dict[str, Any] = {"model": model, "created_at": now()}
            if generate:
                out["response"] = content
                if thinking is not None:
                    out["thinking"] = thinking
            else:
                message: dict[str, Any] = {"role": "assistant", "content": content}
                if thinking is not None:
                    message["thinking"] = thinking
                if calls:
                    message["tool_calls"] = calls
                out["message"] = message
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
            if self._non_stream_failure(reply):
                return
            self._sleep(reply.first_delay)
            text = reply.answer_text() if reply.has_text() else ""
            whole = line(text, True, thinking=reply.reasoning or None, calls=tool_calls)
            whole.update({k: v for k, v in final.items() if k not in whole})
            self._send_json(200, whole)
            return

        def items() -> Iterator[StreamItem]:
            for piece in reply.reasoning_chunks():
                yield StreamItem(json.dumps(line("", False, thinking=piece)) + "\n")
            if reply.has_text():
                for piece in reply.answer_chunks():
                    yield StreamItem(json.dumps(line(piece, False)) + "\n")
            if tool_calls:
                yield StreamItem(json.dumps(line("", False, calls=tool_calls)) + "\n")

        if not self._stream_items("application/x-ndjson", reply, items(), garbage=NDJSON_GARBAGE):
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
        models = [{k: v for k, v in m.items() if k not in PRIVATE_MODEL_KEYS} for m in self._ollama_models()]
        self._send_json(200, {"models": models})

    def _ollama_show(self, req: RecordedRequest, reply: Reply | None) -> None:
        if reply is not None and reply.kind == "status":
            self._send_json(reply.status, self._ollama_error(reply, req), self._error_headers(reply))
            return
        body = req.body if isinstance(req.body, dict) else {}
        name = str(body.get("model") or body.get("name") or "")
        found = None
        for m in self._ollama_models():
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
