"""Usage buckets: pure arithmetic on the per-model counters kept in sessions and in the ledger.

Stored buckets keep ``cost`` as the sum of *known* costs and count unknown-price replies in
``unknown_cost``; a price we do not know is never added as 0. ``summarize`` gives what callers see, where
``cost`` is None when every request had an unknown price.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
# "estimated": requests whose tokens we counted locally (no provider usage); "estimated_cost": their share of cost;
# "cache_savings": USD prompt caching saved against the uncached input price (negative: writes cost more), summed
# over requests with a known price (pricing.cache_savings); rows stored before it existed count it as 0
USAGE_KEYS = ("requests", *TOKEN_KEYS, "cost", "unknown_cost", "estimated", "estimated_cost", "cache_savings")
_NUMBERS = (int, float)


def empty() -> dict[str, Any]:
    return {
        "requests": 0, **dict.fromkeys(TOKEN_KEYS, 0), "cost": 0.0, "unknown_cost": 0, "estimated": 0,
        "estimated_cost": 0.0, "cache_savings": 0.0,
    }


def add_request(
    bucket: Mapping[str, Any] | None, tokens: Mapping[str, int], cost: float | None, estimated: bool = False,
    cache_savings: float | None = None,
) -> dict[str, Any]:
    """A new bucket: ``bucket`` plus one request with these token counts and cost (None = unknown price) and
    what caching saved on it (None: unknown, added as nothing)."""
    out = merge(empty(), bucket or {})
    out["requests"] += 1
    for key in TOKEN_KEYS:
        out[key] += int(tokens.get(key) or 0)
    if cost is None:
        out["unknown_cost"] += 1
    else:
        out["cost"] += float(cost)
    if estimated:
        out["estimated"] += 1
        out["estimated_cost"] += float(cost or 0.0)
    if cache_savings is not None:
        out["cache_savings"] += float(cache_savings)
    return out


def merge(into: dict[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    """Add a stored bucket into ``into`` (in place, returned); tolerates missing keys and a None cost."""
    for key in USAGE_KEYS:
        value = other.get(key)
        if type(value) in _NUMBERS:  # not isinstance: bool is an int, and this runs for every listed session
            into[key] += value
    return into


def summarize(per_model: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """``{"per_model": {model: bucket}, "total": bucket}`` from (model, stored bucket) pairs."""
    models: dict[str, dict[str, Any]] = {}
    for model, bucket in per_model:
        merge(models.setdefault(model, empty()), bucket)
    total = empty()
    for bucket in models.values():
        merge(total, bucket)
    return {"per_model": {m: _finish(b) for m, b in sorted(models.items())}, "total": _finish(total)}


def _finish(bucket: dict[str, Any]) -> dict[str, Any]:
    if bucket["requests"] and bucket["unknown_cost"] >= bucket["requests"]:
        bucket["cost"] = bucket["cache_savings"] = None
    return bucket


def local_day(when: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(time.time() if when is None else when))
