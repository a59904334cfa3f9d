"""OpenAI chat completions: ``POST /v1/chat/completions`` (and ``/chat/completions``), ``GET /v1/models``.

Streams are ``data: {chunk}`` SSE lines ended by ``data: [DONE]``: a role chunk, then reasoning
(``delta.reasoning_content`` as DeepSeek sends it, or ``delta.reasoning`` as Groq / OpenRouter do, per
``Reply.reasoning_field``), the content (or ``delta.refusal`` with ``content: null``), the tool calls
(a header chunk with index, id, type and name, then ``function.arguments`` fragments), and the usage
chunk when the request asked for ``stream_options.include_usage``. An in-stream error is a
``data: {"error": {...}}`` line, as OpenRouter sends one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from .base import (
    COMPLETE_KINDS,
    BaseHandler,
    RecordedRequest,
    Reply,
    StreamItem,
    count_words,
    estimate_input_tokens,
    mask_key,
    split_arguments,
)

__all__ = ["DEFAULT_OPENAI_MODELS", "OpenAIRoutes"]

DEFAULT_OPENAI_MODELS = ["gpt-4o-mini", "gpt-4o", "o3-mini"]


class OpenAIRoutes(BaseHandler):
    """The OpenAI routes, mixed into the fake server's handler."""

    ROUTES: ClassVar[dict[tuple[str, str], str]] = {
        ("POST", "/v1/chat/completions"): "_openai_chat",
        ("POST", "/chat/completions"): "_openai_chat",
    }
    COMPLETION_PATHS: ClassVar[tuple[str, ...]] = ("/v1/chat/completions", "/chat/completions")

    def _openai_error(self, reply: Reply, req: RecordedRequest) -> dict[str, Any]:
        status = reply.status
        ctx = reply.error_type == "context_length_exceeded"
        defaults = {
            400: ("invalid_request_error", None, "Invalid request."),
            401: (
                "invalid_request_error",
                "invalid_api_key",
                f"Incorrect API key provided: {mask_key(req.api_key)}. You can find your API key at "
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

    def _openai_models_payload(self) -> dict[str, Any]:
        models: list[str] = getattr(self.server.fake, "openai_models", DEFAULT_OPENAI_MODELS)
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "created": 1700000000, "owned_by": "system"} for m in models],
        }

    def _openai_chat(self, req: RecordedRequest, reply: Reply) -> None:
        body = req.body if isinstance(req.body, dict) else {}
        if reply.kind == "status":
            self._send_json(reply.status, self._openai_error(reply, req), self._error_headers(reply))
            return
        model = body.get("model", "gpt-4o-mini")
        created = int(time.time())
        cid = f"chatcmpl-fake{self.server.fake._serial()}"
        prompt = reply.input_tokens if reply.input_tokens is not None else estimate_input_tokens(body)
        completion = reply.default_output_tokens()
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": reply.cache_read_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": count_words(reply.reasoning) if reply.reasoning else 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        tool_calls = reply.tool_call_list()
        finish = "tool_calls" if tool_calls and reply.finish_reason == "stop" else reply.finish_reason
        if not body.get("stream"):
            if self._non_stream_failure(reply):  # cut-off / error event / hang / silent: a dead socket
                return
            self._sleep(reply.first_delay)
            message: dict[str, Any] = {"role": "assistant", "content": reply.full_text(), "refusal": None}
            if reply.refusal is not None:
                message.update(content=None, refusal=reply.refusal)
            elif not reply.has_text():
                message["content"] = None
            if reply.reasoning:
                message[reply.reasoning_field] = reply.reasoning
            if tool_calls:
                message["tool_calls"] = [
                    {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                    for c in tool_calls
                ]
            payload: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            }
            if reply.usage:
                payload["usage"] = usage
            self._send_json(200, payload)
            return

        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and reply.usage

        def chunk(choices: list[dict[str, Any]], usage_value: dict[str, Any] | None = None) -> str:
            out: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": choices,
            }
            if include_usage:
                out["usage"] = usage_value
            return f"data: {json.dumps(out)}\n\n"

        def event(delta: dict[str, Any], finish_reason: str | None) -> str:
            return chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])

        heads = [
            {"index": i, "id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": ""}}
            for i, c in enumerate(tool_calls)
        ]
        # The role chunk, as each provider opens: plain text {"content": ""}; DeepSeek reasoning
        # {"content": null, "reasoning_content": ""}; a refusal {"content": null, "refusal": ""}; a bare
        # tool call carries the first call's header.
        role: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
        if reply.reasoning:
            role = {"role": "assistant", "content": None, reply.reasoning_field: ""}
        elif reply.refusal is not None:
            role = {"role": "assistant", "content": None, "refusal": ""}
        elif not reply.has_text():
            role = {"role": "assistant", "content": None, "tool_calls": heads[:1], "refusal": None}
        header_sent = "tool_calls" in role

        def items() -> Iterator[StreamItem]:
            for piece in reply.reasoning_chunks():
                yield StreamItem(event({"content": None, reply.reasoning_field: piece}, None))
            if reply.refusal is not None and reply.has_text():
                for piece in reply.answer_chunks():
                    yield StreamItem(event({"refusal": piece}, None))
                if not tool_calls:
                    yield StreamItem(event({}, finish), counted=False)
            elif reply.has_text():
                # Without tool calls the finish reason rides on the last piece.
                pieces = reply.answer_chunks()
                for i, piece in enumerate(pieces):
                    last = i == len(pieces) - 1 and not tool_calls and reply.kind in COMPLETE_KINDS
                    yield StreamItem(event({"content": piece}, finish if last else None))
            for index, call in enumerate(tool_calls):
                if index or not header_sent:
                    yield StreamItem(event({"tool_calls": [heads[index]]}, None), counted=False)
                for fragment in split_arguments(call["arguments"]):
                    yield StreamItem(
                        event({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}, None)
                    )
            if tool_calls:
                yield StreamItem(event({}, finish), counted=False)

        if not self._stream_items("text/event-stream; charset=utf-8", reply, items(), opening=event(role, None)):
            return
        if reply.kind == "error_event":
            err = self._openai_error(
                Reply(
                    status=500,
                    error_type=reply.error_type or "server_error",
                    error_message=reply.error_message or "The server had an error while processing your request.",
                ),
                self._request,
            )
            self._write(f"data: {json.dumps(err)}\n\n")
            self._cut()
            return
        if include_usage:
            self._write(chunk([], usage))
        self._write("data: [DONE]\n\n")
        self._end_stream()
