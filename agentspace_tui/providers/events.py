"""Typed events of a streaming reply. Plain dataclasses: the UI and CLI consume them without litellm.

A stream yields any number of TextDelta / ReasoningDelta / RefusalDelta / Retrying events, at most one
UsageReport, any ToolCallRequest events, and ends with exactly one Finish or one StreamError.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain import MessageStatus, UsageSource
from ..pricing import Usage

# why a reply ended, as the provider said it (normalised across providers)
FINISH_REASONS = ("stop", "length", "refusal", "content_filter", "tool_calls")


@dataclass(frozen=True)
class TextDelta:
    """Answer text."""

    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """The model's reasoning ("thinking") text: shown apart from the answer, never sent back as answer text."""

    text: str


@dataclass(frozen=True)
class RefusalDelta:
    """Text of a refusal the provider marks as such (OpenAI ``delta.refusal``)."""

    text: str


@dataclass(frozen=True)
class ToolCallRequest:
    """The model asked to call a tool. ``arguments`` is the raw JSON text the model produced."""

    id: str | None
    name: str
    arguments: str


@dataclass(frozen=True)
class UsageReport:
    usage: Usage
    source: UsageSource = "provider"  # "provider": the provider's own counts; "estimated": counted locally
    cost: float | None = None  # the bill the provider itself reported in the stream (USD), if any


@dataclass(frozen=True)
class Retrying:
    attempt: int
    wait: float
    message: str


@dataclass(frozen=True)
class ParamsSent:
    """The requested model parameters as they really went out; ``dropped``: requested, but not sent (the model
    does not take them)."""

    params: dict[str, float | int]
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finish:
    reason: str  # one of FINISH_REASONS


@dataclass(frozen=True)
class StreamError:
    """The stream ended badly. ``status`` is what the reply is saved as: "error" or "interrupted"."""

    kind: str  # missing_key | auth | rate_limit | overloaded | server | unreachable | tls | timeout | context_window | interrupted | malformed | bad_request | not_found | no_tools | unknown
    message: str  # one line, names the provider and the fix, never a key
    status: MessageStatus = "error"


Event = (
    TextDelta | ReasoningDelta | RefusalDelta | ToolCallRequest | UsageReport | Retrying | ParamsSent | Finish
    | StreamError
)
