"""What the next request will cost, before it is sent: a forecast, not a bill.

Input cost is what the context inspector measured (the whole request at the input price). The reply's length
is not known, so output is a range: up to the session's max output tokens when set; else this model's own recent
replies in the session (shortest to longest); else up to the model's max output. An unknown price gives None
costs, never $0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..formatting import format_cost, format_tokens
from ..pricing import MTOK

if TYPE_CHECKING:
    from ..catalog.models import ModelInfo
    from ..context import Inspection
    from ..pricing import Price
    from .chat_session import ChatSession
    from .core import Services

Basis = Literal["max_tokens", "recent replies", "model max output"]
RECENT_REPLIES = 20  # how many of the model's latest replies make the range


@dataclass(frozen=True)
class Forecast:
    model: str
    input_cost: float | None
    output_cost_low: float | None
    output_cost_high: float | None
    output_tokens_low: int | None
    output_tokens_high: int | None
    basis: Basis | None  # None: nothing bounds the reply (no max output known, no earlier reply)
    input_tokens: int = 0
    cache_discounted: bool = False  # input_cost counts the part the provider's cache likely holds at its price

    @property
    def known(self) -> bool:
        """Whether the whole request can be priced (input and both ends of the output range)."""
        return self.total_high is not None

    @property
    def total_low(self) -> float | None:
        if self.input_cost is None or self.output_cost_low is None:
            return None
        return self.input_cost + self.output_cost_low

    @property
    def total_high(self) -> float | None:
        if self.input_cost is None or self.output_cost_high is None:
            return None
        return self.input_cost + self.output_cost_high

    def describe(self) -> str:
        """"input $0.0012 + output $0.0003–$0.0040 (recent replies)"; unknown prices say so."""
        if self.input_cost is None:
            return f"price unknown for {self.model}"
        cached = " with cache" if self.cache_discounted else ""
        text = f"input {format_cost(self.input_cost)}{cached} + output "
        if self.output_cost_high is None:
            return text + "unknown (no max output known)"
        low, high = format_cost(self.output_cost_low), format_cost(self.output_cost_high)
        text += high if low == high else f"{low}–{high}"
        return f"{text} ({self.basis_text()})"

    def basis_text(self) -> str:
        if self.basis == "max_tokens":
            return f"max {format_tokens(self.output_tokens_high)} output tokens"
        if self.basis == "recent replies":
            return "from recent replies"
        if self.basis == "model max output":
            return f"up to the model's max output of {format_tokens(self.output_tokens_high)} tokens"
        return "no bound"

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "input_cost": self.input_cost, "output_cost_low": self.output_cost_low,
            "output_cost_high": self.output_cost_high, "output_tokens_low": self.output_tokens_low,
            "output_tokens_high": self.output_tokens_high, "basis": self.basis, "total_low": self.total_low,
            "total_high": self.total_high, "input_tokens": self.input_tokens,
            "cache_discounted": self.cache_discounted,
        }


def recent_output_tokens(
    history: Sequence[Mapping[str, Any]], model_id: str, limit: int = RECENT_REPLIES
) -> list[int]:
    """Output tokens of ``model_id``'s latest ``limit`` replies (newest last) that reported usage. Read from the
    end, so a long session costs no more than a short one on each keystroke."""
    found: list[int] = []
    for message in reversed(history):
        if len(found) == limit:
            break
        if message.get("role") != "assistant" or message.get("model") != model_id:
            continue
        usage = message.get("usage")
        tokens = usage.get("output_tokens") if isinstance(usage, Mapping) else None
        if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0:
            found.append(tokens)
    return found[::-1]


def make_forecast(
    inspection: Inspection, info: ModelInfo, price: Price | None, history: Sequence[Mapping[str, Any]],
    max_output_tokens: int | None = None,
) -> Forecast:
    """The next request's forecast from what the inspector measured, the model's price and the history's replies."""
    recent = recent_output_tokens(history, info.id)
    basis: Basis | None
    if max_output_tokens:
        low, high, basis = min([*recent, max_output_tokens]) if recent else 0, max_output_tokens, "max_tokens"
    elif recent:
        low, high, basis = min(recent), max(recent), "recent replies"
    elif info.max_output:
        low, high, basis = 0, info.max_output, "model max output"
    else:
        return Forecast(info.id, inspection.total.cost, None, None, None, None, None, inspection.total.tokens)

    def cost(tokens: int) -> float | None:
        return None if price is None else tokens * price.output_per_mtok / MTOK

    input_cost = inspection.total.cost if price is not None else None
    cache = inspection.cache  # the prompt cache's likely part, priced at its rates (services/cache_forecast.py)
    discounted = cache is not None and not cache.expired and cache.cost is not None and cache.cached_tokens > 0
    if discounted and cache is not None:
        input_cost = cache.cost
    return Forecast(
        info.id, input_cost, cost(low), cost(high), low, high, basis, inspection.total.tokens, discounted
    )


def forecast_request(services: Services, conversation: ChatSession, draft: str = "",
                     model_id: str | None = None, max_output_tokens: int | None = None,
                     inspection: Inspection | None = None) -> Forecast:
    """The forecast of sending ``draft`` in ``conversation`` (to ``model_id`` when given, else its model), with
    ``max_output_tokens`` (default: the session's). Blocking the first time a history is counted."""
    info = services.resolve_model(model_id) if model_id else conversation.model
    limit = max_output_tokens if max_output_tokens is not None else conversation.params.max_tokens
    if inspection is None or inspection.model != info.id:
        inspection = services.inspect(conversation.session, conversation.history_for_request(), info, draft,
                                      conversation.inspector, max_output_tokens=limit)
    return make_forecast(inspection, info, services.price_for(info), conversation.messages, limit)
