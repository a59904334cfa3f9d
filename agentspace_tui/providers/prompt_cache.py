"""Prompt caching on the wire: Anthropic cache breakpoints, and a fingerprint of what a request sent.

With ``prompt_cache = "auto"`` an Anthropic request carries ``cache_control: {"type": "ephemeral"}`` on two
blocks (Anthropic allows at most four): the system prompt (which holds the pinned attachments) and the last
message of the history, the stable prefix every later request of the session starts with. The new user
message is not marked: it is written to the cache by the next request, which marks the reply after it.
Anthropic looks back from each breakpoint for the longest prefix it has cached, so a turn reads what the turn
before it wrote and writes the rest. Other providers get the messages unchanged (OpenAI caches long prefixes
on its own; litellm would pass ``cache_control`` on to any OpenAI-compatible server that is not api.openai.com).

The fingerprint (``prefix_fingerprint``) is stored with each reply: digests of the request's prefixes, so the
cache forecast (services/cache_forecast.py) can tell which part of the next request was sent before unchanged.
No I/O, no litellm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

CACHE_CONTROL: dict[str, str] = {"type": "ephemeral"}  # Anthropic's default lifetime: 5 minutes
MAX_BREAKPOINTS = 4  # Anthropic refuses a request with more
PROMPT_CACHE_WIRES = ("anthropic",)  # wires that take explicit breakpoints


def breakpoint_indexes(messages: Sequence[Mapping[str, Any]]) -> list[int]:
    """Which messages get a breakpoint: the system message (if first) and the last message before the new user
    message (the end of the history), each only if it has text (Anthropic refuses an empty cached block)."""
    out: list[int] = []
    if messages and messages[0].get("role") == "system":
        out.append(0)
    last_history = len(messages) - 2
    if last_history >= 0 and last_history not in out:
        out.append(last_history)
    return [i for i in out if _text(messages[i].get("content"))][:MAX_BREAKPOINTS]


def with_breakpoints(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``messages`` with Anthropic cache breakpoints (see ``breakpoint_indexes``): the content of each
    marked message becomes one text block carrying ``cache_control``. The input is not changed."""
    marked = set(breakpoint_indexes(messages))
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        copy = dict(message)
        if i in marked:
            copy["content"] = [{"type": "text", "text": _text(message.get("content")), "cache_control": dict(CACHE_CONTROL)}]
        out.append(copy)
    return out


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, Mapping))
    return ""


_START = "0" * 16


def _step(previous: str, role: str, content: str) -> str:
    data = f"{previous}\x1e{role}\x1f{content}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=8).hexdigest()


_memo: dict[tuple[str, str, str], str] = {}  # (previous digest, role, content) -> digest: inspections repeat


def prefix_digests(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """The digest of each prefix: ``out[i]`` stands for messages[0..i] (roles and texts, in order)."""
    out: list[str] = []
    previous = _START
    for message in messages:
        key = (previous, str(message.get("role")), _text(message.get("content")))
        digest = _memo.get(key)
        if digest is None:
            if len(_memo) > 4096:
                _memo.clear()
            digest = _memo[key] = _step(*key)
        out.append(digest)
        previous = digest
    return out


def prefix_fingerprint(messages: Sequence[Mapping[str, Any]], *, breakpoints: bool) -> dict[str, Any]:
    """What a reply stores about its request (``cache_prefix``): ``prefixes`` maps "system" (the system
    message), "history" (through the last history message) and "request" (the whole request) to
    [number of messages, digest]; ``breakpoints``: whether Anthropic breakpoints were asked for."""
    digests = prefix_digests(messages)
    prefixes: dict[str, list[Any]] = {}
    if messages and messages[0].get("role") == "system":
        prefixes["system"] = [1, digests[0]]
    if len(messages) >= 2 and (len(messages) - 1) > len(prefixes):
        prefixes["history"] = [len(messages) - 1, digests[-2]]
    if messages:
        prefixes["request"] = [len(messages), digests[-1]]
    return {"prefixes": prefixes, "breakpoints": breakpoints}
