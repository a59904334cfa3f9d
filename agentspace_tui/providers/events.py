"""Typed events of a streaming reply. Plain dataclasses: the UI and CLI consume them without litellm."""

from __future__ import annotations

from dataclasses import dataclass

from ..pricing import Usage


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class UsageReport:
    usage: Usage
    estimated: bool = False  # litellm computed it locally (e.g. a stream cut off before the provider's usage)


@dataclass(frozen=True)
class Retrying:
    attempt: int
    wait: float
    message: str


@dataclass(frozen=True)
class Finish:
    reason: str  # "stop" | "length" | "content_filter" | "tool_calls"


@dataclass(frozen=True)
class StreamError:
    """The stream ended badly. ``status`` is what the reply is saved as: "error" or "interrupted"."""

    kind: str  # missing_key | auth | rate_limit | server | unreachable | timeout | context_window | interrupted | bad_request | not_found | unknown
    message: str  # one line, names the provider and the fix, never a key
    status: str = "error"


Event = TextDelta | UsageReport | Retrying | Finish | StreamError
