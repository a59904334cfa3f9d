"""Provider stats from the stored replies (the reply log, storage/reply_log.py): per provider and model, over the
last 7 or 30 days, how fast and how reliable each one was.

- ``requests``: finished requests in the window, including each model that failed over to another one and
  replies the user cancelled.
- ``ttft_p50`` / ``ttft_p95``: seconds from the request going out to the first token, over the requests that got
  one (linear interpolation between the closest ranks).
- ``tokens_per_s_p50``: output tokens / (duration - time to first token), over complete replies with an output
  token count and more than 50 ms of streaming.
- ``error_rate``: replies that ended as an error or interrupted, over the requests that count: not those the user
  cancelled, nor those refused for the request's own reasons (``REQUEST_KINDS``: a rejected key, a conversation
  longer than the window, a bad request, an unknown model), which say nothing about the provider
  (``request_errors`` counts them).
- ``rate_limit_rate``: those whose error kind is ``rate_limit`` (HTTP 429) or ``overloaded`` (Anthropic 529, "the
  provider is overloaded"): both mean the provider turned the request away for now.

A figure with nothing to compute it from is None ("no data"), never 0. UI-free: the CLI and the app's stats screen
call ``provider_stats`` in a thread (it reads a file, and on first use builds the log from every session file).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..storage import Store

WINDOWS = (7, 30)
DAY = 86400.0
RATE_LIMIT_KINDS = frozenset({"rate_limit", "overloaded"})
ERROR_STATUSES = frozenset({"error", "interrupted"})
REQUEST_KINDS = frozenset({"missing_key", "auth", "context_window", "bad_request", "not_found"})
MIN_STREAMING = 0.05  # seconds of streaming below which tokens/s is noise


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` (0..1) percentile of ``values`` by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class ModelStats:
    provider: str
    model: str
    requests: int
    cancelled: int
    request_errors: int  # refused for the request's own reasons (REQUEST_KINDS): not in the rates
    errors: int
    rate_limited: int
    ttft_p50: float | None
    ttft_p95: float | None
    tokens_per_s_p50: float | None
    error_rate: float | None
    rate_limit_rate: float | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StatsReport:
    days: int
    since: float
    now: float
    models: list[ModelStats]

    def as_json(self) -> dict[str, Any]:
        return {"days": self.days, "since": self.since, "models": [m.as_json() for m in self.models]}

    def by_model(self) -> dict[str, ModelStats]:
        return {m.model: m for m in self.models}


def model_stats(model: str, rows: Iterable[Mapping[str, Any]]) -> ModelStats:
    """The figures of one model from its log rows (see the module docstring)."""
    ttfts: list[float] = []
    speeds: list[float] = []
    requests = cancelled = own = errors = limited = 0
    provider = model.partition(":")[0] if ":" in model else "?"
    for row in rows:
        requests += 1
        status = row.get("status")
        ttft, duration, output = _number(row.get("ttft")), _number(row.get("duration")), _number(row.get("output_tokens"))
        if ttft is not None and ttft >= 0:
            ttfts.append(ttft)
        if status == "complete" and ttft is not None and duration is not None and output:
            streaming = duration - ttft
            if streaming > MIN_STREAMING:
                speeds.append(output / streaming)
        if status == "cancelled":
            cancelled += 1
        elif status in ERROR_STATUSES and row.get("error_kind") in REQUEST_KINDS:
            own += 1
        elif status in ERROR_STATUSES:
            errors += 1
            limited += row.get("error_kind") in RATE_LIMIT_KINDS
    judged = requests - cancelled - own
    return ModelStats(
        provider=provider, model=model, requests=requests, cancelled=cancelled, request_errors=own, errors=errors,
        rate_limited=limited,
        ttft_p50=percentile(ttfts, 0.5), ttft_p95=percentile(ttfts, 0.95),
        tokens_per_s_p50=percentile(speeds, 0.5),
        error_rate=errors / judged if judged else None, rate_limit_rate=limited / judged if judged else None,
    )


def compute(rows: Iterable[Mapping[str, Any]], days: int, now: float) -> StatsReport:
    """Stats of the rows that ended in the ``days`` before ``now`` (a row from the future is left out too)."""
    since = now - days * DAY
    per_model: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        when, model = _number(row.get("when")), row.get("model")
        if when is None or not since <= when <= now or not isinstance(model, str):
            continue
        per_model.setdefault(model, []).append(row)
    models = [model_stats(m, r) for m, r in per_model.items()]
    models.sort(key=lambda s: (s.provider, s.model))
    return StatsReport(days, since, now, models)


def provider_stats(store: Store, days: int = 30, now: float | None = None) -> StatsReport:
    """Stats over the last ``days`` days (blocking: reads the reply log; call it in a thread from an event loop)."""
    now = time.time() if now is None else now
    return compute(store.reply_log(now - days * DAY), days, now)


def stats_windows(store: Store, windows: Sequence[int] = WINDOWS, now: float | None = None) -> list[StatsReport]:
    """One report per window, from one read of the log."""
    now = time.time() if now is None else now
    rows = store.reply_log(now - max(windows) * DAY)
    return [compute(rows, days, now) for days in windows]


def stats_json(reports: Sequence[StatsReport]) -> dict[str, Any]:
    """The ``stats --json`` contract."""
    return {
        "generated_at": reports[0].now if reports else time.time(),
        "rate_limit_kinds": sorted(RATE_LIMIT_KINDS),
        "windows": [r.as_json() for r in reports],
    }


class LatencyLookup:
    """p50 time to first token per model id over the last 30 days, for the model switcher: ``known`` is what was
    last loaded (no I/O, may be empty); ``load`` reads the log again (blocking: run it in a thread)."""

    def __init__(self, store: Store, days: int = 30) -> None:
        self.store, self.days = store, days
        self.known: dict[str, float] = {}
        self._lock = threading.Lock()

    def load(self, now: float | None = None) -> dict[str, float]:
        report = provider_stats(self.store, self.days, now)
        found = {m.model: m.ttft_p50 for m in report.models if m.ttft_p50 is not None}
        with self._lock:
            self.known = found
        return dict(found)


_LOOKUPS: weakref.WeakKeyDictionary[Store, LatencyLookup] = weakref.WeakKeyDictionary()


def latency_lookup(store: Store) -> LatencyLookup:
    """The one ``LatencyLookup`` of a store (kept while the store lives)."""
    found = _LOOKUPS.get(store)
    if found is None:
        found = _LOOKUPS[store] = LatencyLookup(store)
    return found
