"""A stored reply that called tools, as the provider must see it again, and as the inspector counts it.

A reply is stored as one message: its whole text, and its tool calls (``ToolCallRecord``) each knowing how much
of the text came before it (``offset``) and which request asked for it (``round``). Sent again it becomes, per
round, the assistant's text with its calls, one tool message per result, and finally the text after the last
round: the OpenAI shape, which litellm turns into each provider's own (tests/test_tool_wire.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby
from typing import Any

from ..providers.tool_messages import assistant_with_calls, tool_result

# what a call that never ran tells the model (a reply cancelled while the tool ran, or before it was confirmed)
NOT_RUN = "The tool was not run."


def answered_calls(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The reply's tool calls that have a result to send back (older replies stored calls without one)."""
    calls = message.get("tool_calls") or []
    return [c for c in calls if isinstance(c, Mapping) and c.get("round") and c.get("id")]


def countable_text(message: Mapping[str, Any]) -> str:
    """What of a message goes to the provider, as one text for counting: its text, and each call's name,
    arguments and result."""
    content = str(message.get("content") or "")
    calls = answered_calls(message)
    if not calls:
        return content
    pieces = [content]
    for call in calls:
        pieces += [str(call.get("name") or ""), str(call.get("arguments") or ""), str(call.get("result") or NOT_RUN)]
    return "\n".join(pieces)


def result_message(call: Mapping[str, Any]) -> dict[str, Any]:
    """The result of one call, answering it by id (a call that never ran says so)."""
    return tool_result(str(call["id"]), str(call.get("name") or ""), str(call.get("result") or NOT_RUN))


def wire_messages(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One stored message as the chat messages it stands for."""
    content = str(message.get("content") or "")
    calls = answered_calls(message)
    if message.get("role") != "assistant" or not calls:
        return [{"role": message["role"], "content": content}]
    out: list[dict[str, Any]] = []
    at = 0
    for _, group in groupby(calls, key=lambda c: c.get("round")):
        round_calls = list(group)
        offset = max(at, min(len(content), int(round_calls[0].get("offset") or 0)))
        out.append(assistant_with_calls(content[at:offset], round_calls))  # broken argument JSON is wrapped
        out.extend(result_message(c) for c in round_calls)
        at = offset
    rest = content[at:]
    if rest:
        out.append({"role": "assistant", "content": rest})
    return out
