"""What will be sent next, and how big and costly each part of it is.

The request is: one system message (system prompt + pinned attachments), the history that fits the model's
window (oldest whole turns left out first, never deleted from storage; a turn whose reply failed before any
text is left out too), then the user's draft. Token counts of stored messages are cached per message and
encoding, so re-inspecting on every keystroke only counts the draft.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from ..domain import MessageRecord, MessageStatus
from ..pricing import MTOK, Price, input_cost
from ..tokens import MESSAGE_OVERHEAD, REPLY_PRIMING, count_many, counter
from .tool_history import answered_calls, countable_text, wire_messages

if TYPE_CHECKING:
    from .cache import CacheForecast


@dataclass
class Section:
    name: str
    bytes: int = 0
    tokens: int = 0
    cost: float | None = 0.0


@dataclass
class Inspection:
    model: str
    context_window: int | None
    used_fraction: float | None
    excluded_messages: int
    sections: list[Section]
    total: Section
    encoding: str
    exact: bool  # False: local counts are estimates for this model
    price_known: bool
    history_messages: int = 0  # messages that will be sent
    max_output_tokens: int | None = None  # the session's max output tokens (None: the provider's default)
    output_cost_max: float | None = None  # what a reply of max_output_tokens costs: a bound, not a forecast of use
    cache: CacheForecast | None = None  # the provider's prompt cache (services/cache_forecast.py); None: not known

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "context_window": self.context_window,
            "used_fraction": self.used_fraction,
            "excluded_messages": self.excluded_messages,
            "sections": [asdict(s) for s in self.sections],
            "total": {"bytes": self.total.bytes, "tokens": self.total.tokens, "cost": self.total.cost},
            "tokens_are_estimates": not self.exact,
            "max_output_tokens": self.max_output_tokens,
            "output_cost_max": self.output_cost_max,
            "cache": self.cache.as_json() if self.cache is not None else None,
        }


def attachment_block(att: Mapping[str, Any]) -> str:
    return f'<attachment name="{att.get("name", "file")}">\n{att.get("content", "")}\n</attachment>'


def system_text(system_prompt: str | None, attachments: Sequence[Mapping[str, Any]] | None) -> str:
    parts = [system_prompt] if system_prompt else []
    parts.extend(attachment_block(a) for a in attachments or [])
    return "\n\n".join(parts)


class Countable(TypedDict):
    """What ``message_tokens`` counts and caches on: a stored ``MessageRecord``, or a text about to be stored."""

    content: str
    tokens: NotRequired[dict[str, int]]  # encoding -> the message's token count, as MessageRecord keeps it


def sendable(message: Mapping[str, Any]) -> bool:
    """History entries that go to the provider: user turns and replies with text (even partial ones), unless
    the user deleted them from the context (kept in storage as ``hidden``, their cost still counted)."""
    has_text = bool(message.get("content")) or bool(answered_calls(message))
    return message.get("role") in ("user", "assistant") and has_text and not message.get("hidden")


FAILED_STATUSES: tuple[MessageStatus, ...] = ("error", "interrupted")


def failed_before_text(message: Mapping[str, Any]) -> bool:
    """A reply that failed before any of its text arrived (a 401, a refused request, a crash before the
    first chunk): its turn is stored and shown, but not sent again -- it can be retried as a new turn."""
    return (
        message.get("role") == "assistant"
        and message.get("status") in FAILED_STATUSES
        and not message.get("content")
        and not answered_calls(message)
    )


def sendable_history(history: Sequence[MessageRecord]) -> list[MessageRecord]:
    """The stored messages that go to the provider, oldest first: the ``sendable`` ones, without the user
    message of a turn whose reply failed before any text (it would be sent a second time, or two user turns
    would follow each other)."""
    out: list[MessageRecord] = []
    for message in history:
        if failed_before_text(message):
            if out and out[-1].get("role") == "user":
                out.pop()
        elif sendable(message):
            out.append(message)
    return out


def message_tokens(message: Countable, encoding: str) -> int:
    """Token count of a stored message in ``encoding``, cached on the message dict (and persisted by callers)."""
    cache = message.setdefault("tokens", {})
    if not isinstance(cache, dict):
        cache = message["tokens"] = {}
    n = cache.get(encoding)
    if n is None:
        n = counter(encoding).count(countable_text(message)) + MESSAGE_OVERHEAD
        cache[encoding] = n
    return n


def prime_counts(messages: Sequence[Countable], encoding: str) -> int:
    """Count every message still missing a count for ``encoding`` in one batch; returns how many were counted."""
    missing = [m for m in messages if not isinstance(m.get("tokens"), dict) or encoding not in m["tokens"]]
    if not missing:
        return 0
    for msg, n in zip(missing, count_many([countable_text(m) for m in missing], encoding), strict=True):
        if not isinstance(msg.get("tokens"), dict):
            msg["tokens"] = {}
        msg["tokens"][encoding] = n + MESSAGE_OVERHEAD
    return len(missing)


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


@dataclass
class _HistoryStats:
    key: tuple[Any, ...]
    turn_tokens: list[int] = field(default_factory=list)  # per turn, oldest first
    turn_bytes: list[int] = field(default_factory=list)
    turn_messages: list[int] = field(default_factory=list)
    messages: list[MessageRecord] = field(default_factory=list)


class ContextInspector:
    """Measures the next request for one model. Cheap to call per keystroke: history is summarised once."""

    def __init__(self) -> None:
        self._history: dict[str, _HistoryStats] = {}  # per encoding: the switcher measures several
        self._fixed_key: tuple[Any, ...] | None = None
        self._fixed: tuple[Section, Section] | None = None
        self._tools_of: list[dict[str, Any]] | None = None
        self._tools_encoding = ""
        self._tools = Section("tools")

    def _history_stats(self, history: Sequence[MessageRecord], encoding: str) -> _HistoryStats:
        last: Mapping[str, Any] = history[-1] if history else {}
        key = (encoding, len(history), id(history), last.get("id"), len(last.get("content", "")), last.get("status"))
        cached = self._history.get(encoding)
        if cached is not None and cached.key == key:
            return cached
        stats = _HistoryStats(key=key)
        msgs = sendable_history(history)
        prime_counts(msgs, encoding)
        stats.messages = msgs
        for msg in msgs:
            if msg["role"] == "user" or not stats.turn_tokens:
                stats.turn_tokens.append(0)
                stats.turn_bytes.append(0)
                stats.turn_messages.append(0)
            stats.turn_tokens[-1] += message_tokens(msg, encoding)
            stats.turn_bytes[-1] += _byte_len(countable_text(msg))
            stats.turn_messages[-1] += 1
        self._history[encoding] = stats
        return stats

    def _fixed_sections(
        self, system_prompt: str, attachments: Sequence[Mapping[str, Any]], encoding: str
    ) -> tuple[Section, Section]:
        key = (encoding, system_prompt, tuple((a.get("name"), len(a.get("content", ""))) for a in attachments))
        if self._fixed_key == key and self._fixed is not None:
            return self._fixed
        count = counter(encoding).count
        sp = Section("system_prompt", _byte_len(system_prompt), count(system_prompt) + (MESSAGE_OVERHEAD if system_prompt else 0))
        att_text = "\n\n".join(attachment_block(a) for a in attachments)
        att = Section("attachments", _byte_len(att_text), count(att_text))
        if att_text and not system_prompt:
            att.tokens += MESSAGE_OVERHEAD
        self._fixed_key, self._fixed = key, (sp, att)
        return self._fixed

    def inspect(
        self,
        *,
        model_id: str,
        encoding: str,
        exact: bool,
        context_window: int | None,
        price: Price | None,
        system_prompt: str | None,
        attachments: Sequence[Mapping[str, Any]] | None,
        history: Sequence[MessageRecord],
        draft: str = "",
        tools: list[dict[str, Any]] | None = None,
        max_output_tokens: int | None = None,
    ) -> Inspection:
        sp, att = self._fixed_sections(system_prompt or "", list(attachments or []), encoding)
        stats = self._history_stats(history, encoding)
        draft_tokens = counter(encoding).count(draft) + MESSAGE_OVERHEAD + REPLY_PRIMING
        user = Section("user_message", _byte_len(draft), draft_tokens)
        tools_section = self._tools_section(tools, encoding)

        fixed_tokens = sp.tokens + att.tokens + tools_section.tokens + user.tokens
        hist_tokens = sum(stats.turn_tokens)
        hist_bytes = sum(stats.turn_bytes)
        excluded_turns = 0
        excluded_messages = 0
        if context_window:
            # drop whole turns, oldest first, until the request fits; the newest turn goes last
            while excluded_turns < len(stats.turn_tokens) and fixed_tokens + hist_tokens > context_window:
                hist_tokens -= stats.turn_tokens[excluded_turns]
                hist_bytes -= stats.turn_bytes[excluded_turns]
                excluded_messages += stats.turn_messages[excluded_turns]
                excluded_turns += 1
        history_section = Section("history", hist_bytes, hist_tokens)
        sections = [sp, att, history_section, tools_section, user]
        for s in sections:
            s.cost = input_cost(price, s.tokens)
        total_tokens = sum(s.tokens for s in sections)
        total = Section(
            "total", sum(s.bytes for s in sections), total_tokens, input_cost(price, total_tokens)
        )
        return Inspection(
            model=model_id,
            context_window=context_window,
            used_fraction=(total_tokens / context_window) if context_window else None,
            excluded_messages=excluded_messages,
            sections=[Section(s.name, s.bytes, s.tokens, s.cost) for s in sections],
            total=total,
            encoding=encoding,
            exact=exact,
            price_known=price is not None,
            history_messages=len(stats.messages) - excluded_messages,
            max_output_tokens=max_output_tokens,
            output_cost_max=(
                max_output_tokens * price.output_per_mtok / MTOK if max_output_tokens and price is not None else None
            ),
        )

    def _tools_section(self, tools: list[dict[str, Any]] | None, encoding: str) -> Section:
        """The tool definitions' size: counted once per list (services/tools.py keeps the same list object)."""
        if not tools:
            return Section("tools")
        if self._tools_of is not tools or self._tools_encoding != encoding:  # the list is kept: `is` is safe
            import json

            text = json.dumps(tools)
            self._tools = Section("tools", _byte_len(text), counter(encoding).count(text))
            self._tools_of, self._tools_encoding = tools, encoding
        return Section("tools", self._tools.bytes, self._tools.tokens)

    def request_messages(
        self, inspection: Inspection, *, system_prompt: str | None, attachments: Sequence[Mapping[str, Any]] | None,
        history: Sequence[MessageRecord], user_text: str,
    ) -> list[dict[str, Any]]:
        """The chat messages to send, consistent with ``inspection``'s exclusions."""
        stats = self._history_stats(history, inspection.encoding)
        msgs = stats.messages[len(stats.messages) - inspection.history_messages :] if inspection.history_messages else []
        out: list[dict[str, Any]] = []
        sys_text = system_text(system_prompt, attachments)
        if sys_text:
            out.append({"role": "system", "content": sys_text})
        for m in msgs:
            out.extend(wire_messages(m))
        out.append({"role": "user", "content": user_text})
        return out
