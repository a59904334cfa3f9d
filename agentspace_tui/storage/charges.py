"""What one reply costs, as the ledger and the session count it; and which replies still owe that count.

A reply is *open* while it is streaming, or once finished while its usage is stored on it but not yet counted
(``usage_recorded`` is False: ``Store.begin_turn`` creates replies that way, and the count sets it True in the
same write as the session's total). Replies stored before this field existed have no ``usage_recorded``:
they are taken as counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..domain import MessageUpdate
from .usage import TOKEN_KEYS

_NUMBERS = (int, float)


@dataclass(frozen=True)
class Charge:
    """One request: added to the ledger row (local day of ``when``, model) and to the session's per-model usage.

    ``message_id``: the reply it pays for, marked ``usage_recorded`` in the same write as the session total.
    """

    model: str
    tokens: dict[str, int] = field(default_factory=dict)
    cost: float | None = None  # None: unknown price (counted apart, never as 0)
    estimated: bool = False  # the tokens are our local count, not the provider's
    when: float | None = None  # None: now
    message_id: str | None = None
    cache_savings: float | None = None  # USD caching saved (negative: cost extra); None unknown (pricing.cache_savings)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Charge | None:
        if not isinstance(data, Mapping) or not isinstance(data.get("model"), str):
            return None
        tokens, cost, when, message_id = data.get("tokens"), data.get("cost"), data.get("when"), data.get("message_id")
        return cls(
            model=data["model"],
            tokens={k: int(v) for k, v in tokens.items() if k in TOKEN_KEYS and _number(v)}
            if isinstance(tokens, Mapping)
            else {},
            cost=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
            estimated=bool(data.get("estimated")),
            when=float(when) if isinstance(when, int | float) else None,
            message_id=message_id if isinstance(message_id, str) else None,
            cache_savings=_money(data.get("cache_savings")),
        )


class ReplyPolicy(Protocol):
    """How the app judges replies left behind by other processes (set on ``Store.reply_policy``)."""

    def writer_gone(self, reply: Mapping[str, Any]) -> bool:
        """Whether the process that wrote ``reply`` is gone (from its pid, host, checkpoint_at and status).

        Also asked about the index's open-reply marker ({id, pid, host, checkpoint_at}, no status): it is called
        on reads, so it must be cheap and may err towards True (that only costs reading the session file)."""
        ...

    def interrupted(self, reply: Mapping[str, Any]) -> MessageUpdate:
        """Fields that close a reply left "streaming" by a dead writer: status, error, and when it has text but
        no usage, an estimated usage (usage, usage_source, cost, ...) that is then charged once."""
        ...


def is_open(message: Mapping[str, Any]) -> bool:
    if message.get("status") == "streaming":
        return True
    return message.get("usage_recorded") is False and isinstance(message.get("usage"), Mapping)


def reply_time(message: Mapping[str, Any]) -> float | None:
    """When a reply was paid for: when it ended (start + duration), else its last checkpoint, else its start."""
    created, duration, checkpoint = message.get("created_at"), message.get("duration"), message.get("checkpoint_at")
    if isinstance(created, int | float) and isinstance(duration, int | float):
        return float(created) + float(duration)
    if isinstance(checkpoint, int | float):
        return float(checkpoint)
    return float(created) if isinstance(created, int | float) else None


def charge_of(message: Mapping[str, Any]) -> Charge | None:
    """The charge for a stored reply's own usage fields (usage, cost, usage_source, model); None without usage."""
    usage = message.get("usage")
    if not isinstance(usage, Mapping):
        return None
    source, cost = message.get("usage_source"), message.get("cost")
    return Charge(
        model=str(message.get("model") or "unknown"),
        tokens={k: int(usage[k]) for k in TOKEN_KEYS if _number(usage.get(k))},
        cost=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
        estimated=source != "provider" if source else bool(message.get("usage_estimated")),
        when=reply_time(message),
        message_id=message.get("id") if isinstance(message.get("id"), str) else None,
        cache_savings=_money(message.get("cache_savings")),  # replies stored before it existed: None
    )


def _number(value: Any) -> bool:
    return type(value) in _NUMBERS


def _money(value: Any) -> float | None:
    return float(value) if _number(value) else None
