"""What the provider's prompt cache likely holds of the next request (filled in by services/cache_forecast.py).

A forecast, not a promise: providers decide what they keep. Kept apart from the inspector so an ``Inspection``
can carry one without the context layer knowing how it is worked out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

CacheMode = Literal["breakpoints", "automatic", "off"]


@dataclass(frozen=True)
class CacheForecast:
    """``mode``: "breakpoints" (Anthropic with prompt_cache = "auto"), "automatic" (OpenAI caches long prefixes
    itself) or "off" (Anthropic without breakpoints: nothing is cached). Tokens are local counts (estimates)."""

    provider: str  # the provider's label, e.g. "Anthropic"
    mode: CacheMode
    cached_tokens: int  # the part of the next request likely read from the cache
    cached_parts: str  # what that part is, e.g. "system prompt, attachments, 6 messages"; "" when nothing
    write_tokens: int  # the part the next request likely writes to the cache (Anthropic: billed above input)
    input_tokens: int  # the whole next request's input
    cost: float | None  # the next request's input cost with those cache prices; None: price unknown
    uncached_cost: float | None  # the same input at the uncached price
    lifetime: float  # seconds the provider keeps an unused cache entry (as assumed here)
    last_request_at: float | None  # when this session's last request went out (epoch seconds); None: no request yet
    age: float | None  # seconds since then, at the time of the forecast
    expired: bool  # the last request is older than ``lifetime``: its cache has likely expired
    note: str = ""  # why nothing is cached, when that needs saying (first request, prefix too short, ...)

    @property
    def saving(self) -> float | None:
        """What the cache likely saves on the next request's input (negative: writes cost more than reads save)."""
        if self.cost is None or self.uncached_cost is None:
            return None
        return self.uncached_cost - self.cost

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "saving": self.saving}
