"""The messages of a tool-call round trip, in the one (OpenAI) shape litellm turns into every wire's own.

After a reply that asked for tools, the next request is the previous messages plus::

    assistant_with_calls(text, calls)              # the reply: its text (if any) and the calls it made
    tool_result(call.id, call.name, output)        # one per call, in the calls' order

litellm makes them Anthropic ``tool_use`` / ``tool_result`` blocks, Gemini ``functionCall`` /
``functionResponse`` parts, Ollama ``tool_calls`` (arguments as an object) and ``role: "tool"`` messages
(tests/test_tool_wire.py checks the bytes on each wire). Call ids are kept exactly as the stream gave them:
litellm hides Gemini's thought signature in the id, and sanitises ids for Anthropic itself.

Also here: :func:`tools_unsupported` (a provider saying the model takes no tools) and
:func:`provider_safe_schema` (a tool's JSON schema as a wire can take it).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from .events import StreamError, ToolCallRequest

__all__ = [
    "NO_TOOLS_KIND",
    "arguments_json",
    "assistant_with_calls",
    "new_call_id",
    "provider_safe_schema",
    "provider_safe_tools",
    "tool_result",
    "tools_unsupported",
    "with_call_ids",
]

NO_TOOLS_KIND = "no_tools"  # StreamError.kind of "this model does not take tools"

# what providers say when the model (or the server) takes no tools: Ollama "... does not support tools",
# OpenAI-compatible servers "tools is not supported" / "Function calling is not enabled for this model",
# OpenRouter (404) "No endpoints found that support tool use", vLLM without --enable-auto-tool-choice,
# llama.cpp without --jinja, DeepSeek "does not support Function Calling"
_NO_TOOLS = re.compile(
    r"(does not|doesn't|do not|don't) support (the )?(tools?\b|tool[ _-]?(use|calls?|calling)|function[ _-]?call(s|ing)?)"
    r"|\btools? (is|are) not (supported|enabled|available)"
    r"|\btool[ _-]?(use|calls?|calling) (is|are) not (supported|enabled|available)"
    r"|\bfunction[ _-]?call(s|ing)? (is|are) not (supported|enabled|available)"
    r"|no endpoints found that support tool use"
    r"|enable-auto-tool-choice"
    r"|tools param requires --jinja",
    re.IGNORECASE,
)


def new_call_id() -> str:
    """A fresh call id for a call the provider sent without one (Anthropic's id pattern, unique per call)."""
    return "call_" + uuid.uuid4().hex[:24]


def with_call_ids(calls: Sequence[ToolCallRequest]) -> list[ToolCallRequest]:
    """``calls`` with an id on each: a missing one gets a new id, generated once, so that the result sent back
    names the same id as the call (use the returned calls for both messages)."""
    return [c if c.id else ToolCallRequest(new_call_id(), c.name, c.arguments) for c in calls]


def arguments_json(arguments: str | Mapping[str, Any] | None) -> str:
    """The call's arguments as JSON text of an object, as every wire takes them back.

    A call without arguments ("" - Anthropic's no-argument calls) is ``{}``; an object is dumped. Text that is
    not a JSON object (a model's broken JSON) is kept for the model to see, as ``{"arguments": <text>}``:
    litellm parses the arguments for Anthropic, Gemini and Ollama, and would fail on it."""
    if arguments is None:
        return "{}"
    if isinstance(arguments, Mapping):
        return json.dumps(dict(arguments), ensure_ascii=False)
    if not arguments.strip():
        return "{}"
    try:
        parsed = json.loads(arguments)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return arguments
    return json.dumps({"arguments": arguments}, ensure_ascii=False)


def _call_fields(call: ToolCallRequest | Mapping[str, Any]) -> tuple[str | None, str, str | Mapping[str, Any] | None]:
    if isinstance(call, ToolCallRequest):
        return call.id, call.name, call.arguments
    function = call.get("function")
    source: Mapping[str, Any] = function if isinstance(function, Mapping) else call
    call_id = call.get("id")
    return (str(call_id) if call_id else None), str(source.get("name") or ""), source.get("arguments")


def assistant_with_calls(text: str | None, calls: Sequence[ToolCallRequest | Mapping[str, Any]]) -> dict[str, Any]:
    """The assistant message of a round that asked for tools.

    ``calls``: ToolCallRequest events, or mappings ``{"id", "name", "arguments"}`` / OpenAI's
    ``{"id", "type": "function", "function": {"name", "arguments"}}``. Each needs an id (see
    :func:`with_call_ids`): ValueError otherwise. Empty text is sent as no content at all (``None``):
    Anthropic rejects an empty text block."""
    out: list[dict[str, Any]] = []
    for call in calls:
        call_id, name, arguments = _call_fields(call)
        if not call_id:
            raise ValueError(f"tool call {name!r} has no id: give the calls ids with with_call_ids() first")
        out.append({"id": call_id, "type": "function",
                    "function": {"name": name, "arguments": arguments_json(arguments)}})
    return {"role": "assistant", "content": text or None, "tool_calls": out}


def tool_result(call_id: str, name: str, content: str) -> dict[str, Any]:
    """The result of one call. ``name`` is the called function's: Gemini's ``functionResponse`` needs it (litellm
    takes it from the assistant message before, or from here); OpenAI-compatible servers accept it."""
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": content}


def tools_unsupported(error: BaseException | StreamError | str) -> bool:
    """Whether a provider's error says the model (or server) does not take tools."""
    if isinstance(error, StreamError):
        return error.kind == NO_TOOLS_KIND or bool(_NO_TOOLS.search(error.message))
    if isinstance(error, BaseException):
        texts: list[str] = []
        seen: list[BaseException] = []
        current: BaseException | None = error
        while current is not None and current not in seen and len(seen) < 8:
            seen.append(current)
            texts.append(str(getattr(current, "message", "") or ""))
            texts.append(str(current))
            current = current.__cause__ or current.__context__
        return any(_NO_TOOLS.search(t) for t in texts)
    return bool(_NO_TOOLS.search(error))


# JSON-schema keys Gemini's Schema has no field for, or litellm mishandles: litellm drops most unknown keys
# itself; these are rewritten here so that their meaning survives
def _gemini_node(node: Any) -> Any:
    if isinstance(node, list):
        return [_gemini_node(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _gemini_node(value) for key, value in node.items()}
    if "oneOf" in out and "anyOf" not in out:  # litellm drops oneOf (leaving an empty schema); Gemini has anyOf
        out["anyOf"] = out.pop("oneOf")
    if "const" in out and "enum" not in out:  # litellm turns a bare const into {"type": "object"}
        value = out.pop("const")
        out["enum"] = [value]
        if "type" not in out and isinstance(value, str):
            out["type"] = "string"
    if out.get("enum") and "type" not in out and all(isinstance(v, str) for v in out["enum"]):
        out["type"] = "string"
    return out


def provider_safe_schema(schema: Mapping[str, Any], wire: str) -> dict[str, Any]:
    """A tool's parameter schema (as an MCP server gives it) for ``wire``: always a deep copy (litellm edits the
    schemas it is given in place); for Gemini ``oneOf`` becomes ``anyOf`` and ``const`` a one-value ``enum``.
    ``$schema``, ``$defs``/``$ref``, ``additionalProperties``, ``format`` and the like are litellm's job (it
    inlines references and drops what Gemini does not take)."""
    copied = copy.deepcopy(dict(schema))
    if wire == "gemini":
        result = _gemini_node(copied)
        return result if isinstance(result, dict) else copied
    return copied


def provider_safe_tools(tools: Sequence[Mapping[str, Any]], wire: str) -> list[dict[str, Any]]:
    """OpenAI-shaped tool definitions with each ``parameters`` made safe by :func:`provider_safe_schema`."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        item = copy.deepcopy(dict(tool))
        function = item.get("function")
        if isinstance(function, dict) and isinstance(function.get("parameters"), Mapping):
            function["parameters"] = provider_safe_schema(function["parameters"], wire)
        out.append(item)
    return out
