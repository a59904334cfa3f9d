"""Which part of the next request the provider has likely cached, what that makes it cost, and whether the
cache has likely expired.

The part likely cached is the longest prefix of the next request (system prompt with its attachments, then the
history) that the session's last request also sent, unchanged, and that the provider wrote to its cache:

* Anthropic with ``prompt_cache = "auto"``: the prefixes the last request marked with breakpoints (its system
  prompt, and its history through the last message before the new user message; providers/prompt_cache.py).
  The next request writes the rest of its history to the cache, billed above the input price.
* Anthropic without breakpoints (``prompt_cache = "off"``): nothing is cached.
* OpenAI: it caches every prompt of 1,024 tokens or more by itself, in steps of 128 tokens, with no extra charge
  for writing: any prefix of the last request counts.

Providers drop an entry they have not used for a while: Anthropic after 5 minutes (each hit refreshes it);
OpenAI after 5 to 10 minutes of inactivity (up to an hour off-peak), of which we assume the shorter. When the
session's last request is older than that, the cache has likely expired and the next request pays full price.
Shorter prefixes are never cached: Anthropic needs 1,024 tokens (2,048 on Haiku models), OpenAI 1,024.
Token counts are local (estimates for Claude models); the provider's own counts are on each reply.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..catalog.models import ModelInfo
from ..catalog.providers import ProviderSpec
from ..context import Inspection, message_tokens, sendable_history, system_text
from ..context.cache import CacheForecast, CacheMode
from ..context.tool_history import wire_messages
from ..domain import MessageRecord
from ..pricing import Price, Usage, reply_cost
from ..providers.prompt_cache import prefix_digests
from .core import Services

ANTHROPIC_LIFETIME = 300.0  # the "ephemeral" cache: 5 minutes since it was last used
OPENAI_LIFETIME = 300.0  # "5-10 minutes of inactivity": the shorter, so a warning is never late
MIN_CACHED_TOKENS = 1024
HAIKU_MIN_CACHED_TOKENS = 2048
OPENAI_STEP = 128  # OpenAI caches in 128-token increments past the first 1,024


@dataclass(frozen=True)
class CacheStyle:
    """How a provider caches prompts."""

    provider: str  # label
    mode: CacheMode
    lifetime: float
    min_tokens: int
    step: int = 1
    checkpoints: tuple[str, ...] = ("system", "history")  # the last request's prefixes the cache holds


def cache_style(spec: ProviderSpec, model_name: str, prompt_cache: str) -> CacheStyle | None:
    """The caching of this provider and model, or None when we cannot say (others cache differently or not at all)."""
    if spec.litellm_prefix == "anthropic":
        minimum = HAIKU_MIN_CACHED_TOKENS if "haiku" in model_name.lower() else MIN_CACHED_TOKENS
        mode: CacheMode = "breakpoints" if prompt_cache == "auto" else "off"
        return CacheStyle(spec.label, mode, ANTHROPIC_LIFETIME, minimum)
    if spec.name == "openai" and not spec.custom:
        return CacheStyle(spec.label, "automatic", OPENAI_LIFETIME, MIN_CACHED_TOKENS, OPENAI_STEP,
                          ("system", "history", "request"))
    return None


def reached_provider(reply: Mapping[str, Any]) -> bool:
    """A reply whose request the provider took in (streaming, or ended with usage or text): it may have written
    the cache. A request refused before any output (a 401, a 429) wrote nothing."""
    if reply.get("role") != "assistant" or not isinstance(reply.get("cache_prefix"), Mapping):
        return False
    if reply.get("status") in ("streaming", "complete"):
        return True
    return bool(reply.get("usage") or reply.get("content") or reply.get("reasoning"))


def last_request(messages: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The reply of the session's last request the provider took in (messages are stored in the order they
    were created, so the newest such reply is the last one found from the end)."""
    return next((m for m in reversed(messages) if reached_provider(m)), None)


def _when(reply: Mapping[str, Any]) -> float:
    created = reply.get("created_at")
    return float(created) if isinstance(created, int | float) else 0.0


def forecast_cache(
    style: CacheStyle,
    *,
    model_id: str,
    prefix: Sequence[Mapping[str, Any]],
    prefix_tokens: Sequence[int],
    input_tokens: int,
    price: Price | None,
    last: Mapping[str, Any] | None,
    now: float,
    has_attachments: bool = False,
) -> CacheForecast:
    """The forecast for a next request whose cacheable part is ``prefix`` (the system message, then the history
    messages; ``prefix_tokens`` each one's tokens) and whose whole input is ``input_tokens``; ``last``: the reply
    of the session's last request (``last_request``), with its ``cache_prefix`` and ``created_at``."""
    last_at = _when(last) if last is not None else None
    age = max(0.0, now - last_at) if last_at is not None else None
    # only this model's own cache can expire: after another model answered there is none of it to lose
    same_model = last is not None and last.get("model") == model_id
    expired = style.mode != "off" and same_model and age is not None and age > style.lifetime
    cumulative: list[int] = []
    for tokens in prefix_tokens:
        cumulative.append((cumulative[-1] if cumulative else 0) + tokens)
    matched, note = _matched(style, model_id, prefix, last)
    cached = cumulative[matched - 1] if matched else 0
    if cached < style.min_tokens:
        if matched:
            note = f"the cached prefix is under {style.min_tokens:,} tokens: not cached"
        cached, matched = 0, 0
    cached -= cached % style.step
    if expired and cached:
        cached, matched = 0, 0
        note = "the cache has likely expired"
    write = 0
    if style.mode == "breakpoints" and cumulative:
        # the next request's breakpoints: the system message and the last history message
        marks = [n for n in {cumulative[0], cumulative[-1]} if n >= style.min_tokens]
        write = max(0, max(marks, default=0) - cached)
    if style.mode == "off" and not note:
        note = 'prompt caching is off: prompt_cache = "auto" in config.toml caches the system prompt and history'
    cost = reply_cost(price, Usage(input_tokens, 0, cached, write)) if price is not None else None
    uncached = reply_cost(price, Usage(input_tokens)) if price is not None else None
    return CacheForecast(
        provider=style.provider, mode=style.mode, cached_tokens=cached,
        cached_parts=_parts(prefix, matched, has_attachments), write_tokens=write, input_tokens=input_tokens,
        cost=cost, uncached_cost=uncached, lifetime=style.lifetime, last_request_at=last_at, age=age,
        expired=expired, note=note,
    )


def _matched(
    style: CacheStyle, model_id: str, prefix: Sequence[Mapping[str, Any]], last: Mapping[str, Any] | None
) -> tuple[int, str]:
    """How many leading messages of ``prefix`` the last request wrote to the cache, and why none if none."""
    if style.mode == "off":
        return 0, ""
    if last is None:
        return 0, "first request of this session: nothing cached yet"
    if last.get("model") != model_id:
        return 0, "the last request went to another model: its cache is not this one's"
    stored = last.get("cache_prefix")
    fingerprint: Mapping[str, Any] = stored if isinstance(stored, Mapping) else {}
    if style.mode == "breakpoints" and not fingerprint.get("breakpoints"):
        return 0, "the last request had no cache breakpoints"
    checkpoints = fingerprint.get("prefixes")
    digests = prefix_digests(prefix)
    best = 0
    for name in style.checkpoints:
        entry = checkpoints.get(name) if isinstance(checkpoints, Mapping) else None
        if not isinstance(entry, list | tuple) or len(entry) != 2 or not isinstance(entry[0], int):
            continue
        count, digest = entry
        if 0 < count <= len(digests) and digests[count - 1] == digest:
            best = max(best, count)
    return best, "" if best else "the system prompt, attachments or history changed since the last request"


def _parts(prefix: Sequence[Mapping[str, Any]], matched: int, has_attachments: bool) -> str:
    if not matched:
        return ""
    system = 1 if prefix and prefix[0].get("role") == "system" else 0
    parts: list[str] = []
    if system:
        parts.append("system prompt and attachments" if has_attachments else "system prompt")
    messages = matched - system
    if messages:
        parts.append(f"{messages} message{'s' if messages != 1 else ''}")
    return ", ".join(parts)


@dataclass(frozen=True)
class _Prefix:
    """The cacheable part of the next request: the system message, then the history sent, and their tokens."""

    key: tuple[Any, ...]
    messages: list[Mapping[str, Any]]
    tokens: list[int]


class CacheForecaster:
    """The cache forecast of one open conversation. What the next request's cacheable prefix is depends on the
    history, never on the draft, so it is worked out once per change of history (or model, system prompt,
    attachments) and a keystroke only prices it again: the inspector stays fast on long sessions."""

    def __init__(self) -> None:
        self._prefix: _Prefix | None = None

    def forecast(
        self,
        services: Services,
        session: Mapping[str, Any] | None,
        messages: Sequence[MessageRecord],
        history: Sequence[MessageRecord],
        info: ModelInfo,
        inspection: Inspection,
        now: float | None = None,
    ) -> CacheForecast | None:
        """The forecast for the request ``inspection`` measured (``history``: the branch it continues,
        ``messages``: the whole session, every branch). None when the provider's caching is not one we know,
        or the request is too short for any cache."""
        style = cache_style(services.provider(info.provider), info.name, services.settings.prompt_cache)
        if style is None:
            return None
        attachments = list((session or {}).get("attachments") or [])
        system = system_text(services.session_system_prompt(session), attachments)
        prefix = self._prefix_of(system, messages, history, info, inspection)
        forecast = forecast_cache(
            style, model_id=info.id, prefix=prefix.messages, prefix_tokens=prefix.tokens,
            input_tokens=inspection.total.tokens, price=services.price_for(info), last=last_request(messages),
            now=time.time() if now is None else now, has_attachments=bool(attachments),
        )
        if not forecast.cached_tokens and not forecast.expired and sum(prefix.tokens) < style.min_tokens:
            return None  # too short for any cache: nothing worth saying
        return forecast

    def _prefix_of(
        self, system: str, messages: Sequence[MessageRecord], history: Sequence[MessageRecord], info: ModelInfo,
        inspection: Inspection,
    ) -> _Prefix:
        # a new message, a reply that finished, another branch or a hidden pair changes one of these
        key = (info.id, inspection.encoding, system, inspection.history_messages, len(messages), len(history),
               _signature(messages[-1] if messages else None), _signature(history[-1] if history else None))
        if self._prefix is not None and self._prefix.key == key:
            return self._prefix
        sent = sendable_history(history)
        sent = sent[len(sent) - inspection.history_messages :] if inspection.history_messages else []
        prefix: list[Mapping[str, Any]] = [{"role": "system", "content": system}] if system else []
        system_tokens = sum(s.tokens for s in inspection.sections if s.name in ("system_prompt", "attachments"))
        tokens = [system_tokens] if system else []
        for message in sent:
            # as the request sends it (context.request_messages): a reply that called tools is several messages,
            # and the digests must match the ones its reply stored; its tokens count once, on its last message
            wire = wire_messages(message)
            prefix.extend(wire)
            tokens.extend([0] * (len(wire) - 1) + [message_tokens(message, inspection.encoding)])
        self._prefix = _Prefix(key, prefix, tokens)
        return self._prefix


def _signature(message: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    if message is None:
        return None
    return (message.get("id"), message.get("status"), len(message.get("content") or ""), message.get("hidden"),
            message.get("usage") is not None)


def session_cache_forecast(
    services: Services,
    session: Mapping[str, Any] | None,
    messages: Sequence[MessageRecord],
    history: Sequence[MessageRecord],
    info: ModelInfo,
    inspection: Inspection,
    now: float | None = None,
) -> CacheForecast | None:
    """``CacheForecaster.forecast`` once (the CLI's ``context``; an open conversation keeps a forecaster)."""
    return CacheForecaster().forecast(services, session, messages, history, info, inspection, now)
