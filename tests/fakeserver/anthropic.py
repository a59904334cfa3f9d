"""Anthropic messages: ``POST /v1/messages`` (and the Anthropic shape of ``GET /v1/models``).

Streams are named SSE events: ``message_start``, then one content block after another
(``content_block_start`` / ``content_block_delta`` / ``content_block_stop``; a ``ping`` after the first
start), then ``message_delta`` with the stop reason and ``message_stop``. Block order: a ``thinking``
block (``thinking_delta`` pieces and a ``signature_delta``) when the reply has reasoning, the ``text``
block, then a ``tool_use`` block per tool call (``input_json_delta`` fragments). Stop reasons:
``end_turn``, ``max_tokens`` (``finish_reason="length"``), ``tool_use`` and ``refusal``. An in-stream
error is ``event: error`` (``overloaded_error`` by default); HTTP 529 is the overloaded status.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any, ClassVar

from .base import (
    COMPLETE_KINDS,
    BaseHandler,
    RecordedRequest,
    Reply,
    StreamItem,
    estimate_input_tokens,
    split_arguments,
)

__all__ = ["DEFAULT_ANTHROPIC_MODELS", "AnthropicRoutes"]

DEFAULT_ANTHROPIC_MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def _signature(thinking: str) -> str:
    """An opaque, deterministic stand-in for the thinking block's signature."""
    # surrogatepass: a hostile reasoning text may hold lone surrogates (sent as JSON \uXXXX escapes)
    return base64.b64encode(hashlib.sha256(thinking.encode("utf-8", "surrogatepass")).digest() * 2).decode()


class AnthropicRoutes(BaseHandler):
    """The Anthropic routes, mixed into the fake server's handler."""

    ROUTES: ClassVar[dict[tuple[str, str], str]] = {("POST", "/v1/messages"): "_anthropic_messages"}
    COMPLETION_PATHS: ClassVar[tuple[str, ...]] = ("/v1/messages",)

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

    @staticmethod
    def _is_anthropic_request(req: RecordedRequest) -> bool:
        return "x-api-key" in req.headers or "anthropic-version" in req.headers

    def _anthropic_models_payload(self) -> dict[str, Any]:
        models: list[str] = getattr(self.server.fake, "anthropic_models", DEFAULT_ANTHROPIC_MODELS)
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in models]
        return {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    def _anthropic_messages(self, req: RecordedRequest, reply: Reply) -> None:
        body = req.body if isinstance(req.body, dict) else {}
        if reply.kind == "status":
            self._send_json(reply.status, self._anthropic_error(reply), self._error_headers(reply))
            return
        model = body.get("model", "claude-sonnet-4-5")
        mid = f"msg_fake{self.server.fake._serial():06d}"
        input_tokens = reply.input_tokens if reply.input_tokens is not None else estimate_input_tokens(body)
        output_tokens = reply.default_output_tokens()
        tool_calls = reply.tool_call_list()
        stop_reason = {"stop": "end_turn", "length": "max_tokens"}.get(reply.finish_reason, reply.finish_reason)
        if reply.refusal is not None:
            stop_reason = "refusal"
        elif tool_calls and reply.finish_reason == "stop":
            stop_reason = "tool_use"
        start_usage = {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": reply.cache_write_tokens,
            "cache_read_input_tokens": reply.cache_read_tokens,
            "output_tokens": 1,
        }
        if not body.get("stream"):
            if self._non_stream_failure(reply):
                return
            self._sleep(reply.first_delay)
            content: list[dict[str, Any]] = []
            if reply.reasoning:
                content.append(
                    {"type": "thinking", "thinking": reply.reasoning, "signature": _signature(reply.reasoning)}
                )
            if reply.has_text():
                content.append({"type": "text", "text": reply.answer_text()})
            for call in tool_calls:
                content.append(
                    {
                        "type": "tool_use",
                        "id": call["id"],
                        "name": call["name"],
                        "input": _parse_input(call["arguments"]),
                    }
                )
            payload = {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": {**start_usage, "output_tokens": output_tokens}
                if reply.usage
                else {"input_tokens": 0, "output_tokens": 0},
            }
            self._send_json(200, payload)
            return

        def items() -> Iterator[StreamItem]:
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
            yield StreamItem(_event("message_start", {"type": "message_start", "message": message}), counted=False)
            index = 0

            def start(block: dict[str, Any]) -> Iterator[StreamItem]:
                data = {"type": "content_block_start", "index": index, "content_block": block}
                yield StreamItem(_event("content_block_start", data), counted=False)
                if index == 0:
                    yield StreamItem(_event("ping", {"type": "ping"}), counted=False)

            def delta(value: dict[str, Any], counted: bool = True) -> StreamItem:
                data = {"type": "content_block_delta", "index": index, "delta": value}
                return StreamItem(_event("content_block_delta", data), counted=counted)

            def stop() -> StreamItem:
                data = {"type": "content_block_stop", "index": index}
                return StreamItem(_event("content_block_stop", data), counted=False)

            if reply.reasoning:
                yield from start({"type": "thinking", "thinking": "", "signature": ""})
                for piece in reply.reasoning_chunks():
                    yield delta({"type": "thinking_delta", "thinking": piece})
                yield delta({"type": "signature_delta", "signature": _signature(reply.reasoning)}, counted=False)
                yield stop()
                index += 1
            if reply.has_text():
                yield from start({"type": "text", "text": ""})
                for piece in reply.answer_chunks():
                    yield delta({"type": "text_delta", "text": piece})
                if reply.kind in COMPLETE_KINDS or tool_calls:  # a failure after the last text piece cuts inside the block
                    yield stop()
                index += 1
            for call in tool_calls:
                yield from start({"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}})
                yield delta({"type": "input_json_delta", "partial_json": ""}, counted=False)
                for fragment in split_arguments(call["arguments"]):
                    yield delta({"type": "input_json_delta", "partial_json": fragment})
                yield stop()
                index += 1

        if not self._stream_items("text/event-stream; charset=utf-8", reply, items()):
            return
        if reply.kind == "error_event":
            err = self._anthropic_error(
                Reply(
                    error_type=reply.error_type or "overloaded_error", error_message=reply.error_message or "Overloaded"
                ),
                status=529,
            )
            self._write(_event("error", err))
            self._cut()
            return
        self._write(
            _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": output_tokens if reply.usage else 0},
                },
            )
        )
        self._write(_event("message_stop", {"type": "message_stop"}))
        self._end_stream()


def _parse_input(arguments: str) -> Any:
    try:
        return json.loads(arguments) if arguments else {}
    except ValueError:
        return arguments
