"""Plain-text formatting shared by the CLI and the TUI (no Rich, no Textual).

Text from models, users, files and config that these helpers put into a line (model ids, titles, tool calls)
comes out through ``text_safety.for_terminal``: control characters visible, never live.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

from .pricing import Price, Usage, cache_savings, format_cost, format_savings
from .text_safety import for_terminal, repair

__all__ = [
    "format_cost", "format_tokens", "format_window", "format_time", "table", "reply_summary", "format_bytes",
    "usage_estimated", "reply_outcome", "outcome_notice", "tool_call_lines", "one_line", "repaired", "cache_line",
    "format_savings", "reply_cache_savings",
]


def one_line(text: object) -> str:
    """``text`` safe for a terminal and on one line: controls visible, newlines and tabs as spaces."""
    shown = for_terminal(str(text))
    if "\n" in shown or "\t" in shown:
        shown = shown.replace("\n", " ").replace("\t", " ")
    return shown


def repaired(data: Any) -> Any:
    """``data`` (JSON-like: dicts, lists, strings) with every string's lone surrogates repaired, for JSON
    output that strict UTF-8 writers and parsers accept. Control characters stay: JSON escapes them."""
    if isinstance(data, str):
        return repair(data)
    if isinstance(data, dict):
        return {repaired(k): repaired(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [repaired(v) for v in data]
    return data


_RAW_CONTROL = re.compile(r"[\x7f-\x9f]")  # JSON escapes C0 controls itself, not DEL and the C1 range


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """JSON for stdout and files: lone surrogates repaired, and no raw control character a terminal would
    act on (a 0x9b is a one-byte CSI on some terminals), while the rest of the text stays readable."""
    text = json.dumps(repaired(data), indent=indent, ensure_ascii=False)
    return _RAW_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def format_tokens(n: int | None) -> str:
    if n is None:
        return "?"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def format_bytes(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} B"


def format_window(n: int | None) -> str:
    return format_tokens(n) if n else "unknown"


def format_time(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """Aligned columns; every cell is made one safe line (titles and model ids come from users and models)."""
    right = right or set()
    rows = [[one_line(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def fmt(row: list[str]) -> str:
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def usage_estimated(reply: Mapping[str, Any]) -> bool:
    """The reply's token counts are our local estimate, not the provider's (older replies: usage_estimated)."""
    source = reply.get("usage_source")
    return source == "estimated" if source else bool(reply.get("usage_estimated"))


# how a complete reply ended, when that is not a plain "stop": (short label, what it means for the user)
OUTCOMES = {
    "length": ("truncated", "the reply hit the max output tokens and was cut short"),
    "refusal": ("refused", "the model refused to answer"),
    "content_filter": ("filtered", "the provider's content filter stopped the reply"),
    "tool_calls": ("tool call", "the model asked to call a tool, and it was not run"),
}


def reply_outcome(reply: Mapping[str, Any]) -> tuple[str, str] | None:
    """(label, explanation) for a complete reply that ended other than normally; None for a normal one."""
    if reply.get("status") not in (None, "complete"):
        return None
    return OUTCOMES.get(reply.get("finish_reason") or "stop")


def tool_call_lines(reply: Mapping[str, Any]) -> list[str]:
    """``name(arguments)`` for each tool call the model asked for."""
    return [f"{one_line(c.get('name') or '?')}({one_line(c.get('arguments') or '')})"
            for c in reply.get("tool_calls") or [] if not c.get("round")]  # "round": it ran (services/tool_loop.py)


def outcome_notice(reply: Mapping[str, Any]) -> str | None:
    """One line saying how the reply ended, for stderr and exports; None for a normal, complete reply."""
    outcome = reply_outcome(reply)
    if outcome is None:
        return None
    label, text = outcome
    calls = tool_call_lines(reply)
    if calls:
        text = f"the model asked to call {', '.join(calls)}; no tools are enabled for this chat (/tools, [mcp] in config.toml)"
    return f"{label}: {text}"


def not_billed(reply: Mapping[str, Any]) -> bool:
    """A request the provider rejected (401, 429, 400, 404...) before any text: nothing was generated and no
    usage came back, so nothing was billed. A reply that got any text or reasoning before it failed or was
    interrupted was billed (its usage is estimated when the provider sent none)."""
    return (
        reply.get("status") == "error"
        and not reply.get("content")
        and not reply.get("reasoning")
        and not reply.get("tool_calls")
        and not reply.get("usage")
        and reply.get("cost") is None
    )


def reply_cache_savings(reply: Mapping[str, Any]) -> float | None:
    """The reply's stored ``cache_savings``; for a reply stored before that field, worked out from its usage and
    the price snapshot it was billed at; None when unknown."""
    saved = reply.get("cache_savings")
    if isinstance(saved, int | float) and not isinstance(saved, bool):
        return float(saved)
    usage, prices = reply.get("usage"), reply.get("prices")
    if "cache_savings" in reply or not isinstance(usage, Mapping) or not isinstance(prices, Mapping):
        return None
    try:
        price = Price(float(prices["input_per_mtok"]), float(prices["output_per_mtok"]),
                      prices.get("cache_read_per_mtok"), prices.get("cache_write_per_mtok"))
        tokens = Usage(**{k: int(usage.get(k) or 0) for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens")})
    except (KeyError, TypeError, ValueError):
        return None
    return cache_savings(price, tokens)


def cache_line(reply: Mapping[str, Any], prefix: str = "cache: ", sep: str = " · ") -> str | None:
    """'cache: 1,200 read · 300 written · saved $0.0031' for a reply with cache reads or writes, else None.
    Savings are against the uncached input price; "cost $x extra" when writes cost more than reads saved."""
    usage = reply.get("usage") or {}
    read, written = int(usage.get("cache_read_tokens") or 0), int(usage.get("cache_write_tokens") or 0)
    if not read and not written:
        return None
    parts = [f"{read:,} read"] if read else []
    if written:
        parts.append(f"{written:,} written")
    parts.append(format_savings(reply_cache_savings(reply)))
    return prefix + sep.join(parts)


def reply_summary(reply: Mapping[str, Any]) -> str:
    """'openai:gpt-4o-mini · 120 in / 45 out · $0.0001 · 0.42 s to first token · 85 tok/s'.

    Estimated token counts and the costs computed from them carry "est."; a cost the provider billed in the
    stream says so."""
    parts = [one_line(reply.get("model") or "?")]
    usage = reply.get("usage") or {}
    estimated = usage_estimated(reply)
    if usage:
        tok = f"{format_tokens(usage.get('input_tokens'))} in / {format_tokens(usage.get('output_tokens'))} out"
        if usage.get("reasoning_tokens"):
            tok += f" ({format_tokens(usage['reasoning_tokens'])} reasoning)"
        parts.append(tok + (" (est.)" if estimated else ""))
        cache = cache_line(reply, sep=", ")  # commas: the summary's own parts are " · "-separated
        if cache:
            parts.append(cache)
    if usage or reply.get("cost") is not None:
        cost = format_cost(reply.get("cost"))
        if reply.get("cost") is not None and estimated:
            cost += " (est.)"
        elif reply.get("cost_source") == "provider":
            cost += " (billed)"
        rounds = reply.get("rounds") or []
        if len(rounds) > 1:  # a reply that called tools: its cost is every request's (services/tool_loop.py)
            cost += f" for {len(rounds)} requests"
        parts.append(cost)
    elif not_billed(reply):
        parts.append("not billed")
    else:
        parts.append("cost unknown (no usage reported)")
    if reply.get("ttft") is not None:
        parts.append(f"{reply['ttft']:.2f} s to first token")
    duration, ttft = reply.get("duration"), reply.get("ttft")
    if usage.get("output_tokens") and duration and ttft is not None and duration - ttft > 0.05:
        parts.append(f"{usage['output_tokens'] / (duration - ttft):.0f} tok/s")
    status = reply.get("status")
    if status and status not in ("complete", "streaming"):
        parts.append(one_line(status))
    outcome = reply_outcome(reply)
    if outcome is not None:
        parts.append(outcome[0])
    return " · ".join(parts)
