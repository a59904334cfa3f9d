"""What a provider's streamed response itself said: its finish reason, usage, bill, refusal and errors.

Pure parsing of the bytes kept by ``wiretap`` (no litellm, no I/O). Four wire formats cover every provider
we ship: OpenAI-style SSE (OpenAI, Mistral, OpenRouter, Groq, DeepSeek, xAI and every OpenAI-compatible
server), Anthropic SSE, Gemini SSE and Ollama NDJSON. What is not stated in the bytes stays ``None``: a
usage the provider did not send is never made up here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..pricing import Usage

XAI_TICKS_PER_USD = 10_000_000_000  # xAI reports cost_in_usd_ticks in units of 1e-10 USD

# provider finish reasons, normalised to ours (stop, length, refusal, content_filter, tool_calls)
_FINISH = {
    "stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "eos": "stop", "pause_turn": "stop",
    "length": "length", "max_tokens": "length", "model_length": "length", "max_output_tokens": "length",
    "tool_calls": "tool_calls", "tool_use": "tool_calls", "function_call": "tool_calls",
    "refusal": "refusal",
    "content_filter": "content_filter", "safety": "content_filter", "recitation": "content_filter",
    "blocklist": "content_filter", "prohibited_content": "content_filter", "spii": "content_filter",
    "image_safety": "content_filter",
    "finish_reason_unspecified": "stop", "other": "stop", "malformed_function_call": "stop",
}


def normalise_finish(reason: str | None) -> str | None:
    if not reason:
        return None
    return _FINISH.get(str(reason).lower(), "stop")


@dataclass
class WireFacts:
    finish: str | None = None  # normalised; None: the provider never said the reply was over
    raw_finish: str | None = None  # as the provider spelled it
    usage: Usage | None = None  # the provider's own counts; None when it sent none
    cost: float | None = None  # the bill the provider reported in the stream (USD)
    refusal: str = ""  # OpenAI delta.refusal text
    error: dict[str, Any] | None = None  # an in-stream error object
    # the first line where the format carries JSON (an SSE data line, an NDJSON line) but that is no JSON: the
    # stream was corrupted or mixed with something else (an HTML page from a proxy); litellm then raises
    # (OpenAI), silently drops the rest of the stream (Anthropic) or skips the line (Ollama)
    foreign: str | None = None
    # the first SSE line that is no SSE field at all (SSE parsers ignore it): the reason a stream that never
    # finished said nothing, e.g. a web page where the API was expected
    stray: str | None = None


# Only lines that can carry a finish, usage, bill, refusal or error are parsed as JSON: a long reply is
# tens of thousands of content chunks (measured: 149 ms to parse all of a 20,000-chunk reply).
_OPENAI_WORTH = re.compile(r'"(usage|x_groq|timings)"\s*:\s*\{|"finish_reason"\s*:\s*"|"refusal"\s*:\s*"[^"]|"error"')


def _lines(text: str, worth: re.Pattern[str] | None) -> list[str]:
    """All lines, or (searching the whole text at once, in C) only the lines where ``worth`` matches."""
    if worth is None:
        return text.splitlines()
    out: list[str] = []
    end = -1
    for match in worth.finditer(text):
        if match.start() < end:
            continue  # another match on a line already taken
        start = max(text.rfind("\n", 0, match.start()), text.rfind("\r", 0, match.start())) + 1
        newline = text.find("\n", match.end())
        end = len(text) if newline < 0 else newline
        out.append(text[start:end])
    return out


def _payloads(body: bytes, worth: re.Pattern[str] | None = None) -> Iterator[tuple[str | None, Any]]:
    """(event name, parsed JSON) for each SSE event or NDJSON line (only lines matching ``worth``, if given);
    undecodable lines are skipped."""
    text = body.decode("utf-8", errors="replace")
    event: str | None = None
    for raw_line in _lines(text, worth):
        line = raw_line.strip()
        if not line or line.startswith(":"):
            if not line:
                event = None
            continue
        if line.startswith("event:"):
            event = line[6:].strip()
            continue
        if line.startswith("data:"):
            line = line[5:].strip()
            if line == "[DONE]":
                continue
        elif not line.startswith("{"):
            continue
        try:
            yield event, json.loads(line)
        except ValueError:
            continue


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _openai_usage(u: dict[str, Any]) -> tuple[Usage, float | None]:
    prompt = _int(u.get("prompt_tokens"))
    completion = _int(u.get("completion_tokens"))
    total = _int(u.get("total_tokens"))
    reasoning = _int(_get(u, "completion_tokens_details", "reasoning_tokens"))
    if total > prompt + completion:
        # output the provider billed but left out of completion_tokens: Gemini's OpenAI-compatible endpoint
        # counts thinking only in total_tokens, xAI states it as reasoning_tokens outside completion_tokens
        reasoning = max(reasoning, total - prompt - completion)
        completion = total - prompt
    cache_read = _int(_get(u, "prompt_tokens_details", "cached_tokens")) or _int(u.get("prompt_cache_hit_tokens"))
    cache_read = cache_read or _int(u.get("cache_read_input_tokens"))
    cache_write = _int(_get(u, "prompt_tokens_details", "cache_write_tokens")) or _int(
        u.get("cache_creation_input_tokens")
    )
    cost: float | None = None
    if isinstance(u.get("cost"), int | float) and not isinstance(u.get("cost"), bool):
        cost = float(u["cost"])
    elif isinstance(u.get("cost_in_usd_ticks"), int | float):
        cost = u["cost_in_usd_ticks"] / XAI_TICKS_PER_USD
    return Usage(prompt, completion, cache_read, cache_write, reasoning), cost


def _openai(facts: WireFacts, body: bytes) -> None:
    reported = False  # a standard usage object was seen: it beats llama.cpp's timings
    for _event, obj in _payloads(body, _OPENAI_WORTH):
        if not isinstance(obj, dict):
            continue
        if isinstance(obj.get("error"), dict):
            facts.error = obj["error"]
        for choice in obj.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta, dict) and isinstance(delta.get("refusal"), str):
                facts.refusal += delta["refusal"]
            reason = choice.get("finish_reason")
            if reason and reason != "error":
                facts.raw_finish = str(reason)
        usage = obj.get("usage")
        if isinstance(usage, dict) and (usage.get("prompt_tokens") is not None or usage.get("completion_tokens") is not None):
            facts.usage, facts.cost = _openai_usage(usage)
            reported = True
            continue
        groq = _get(obj, "x_groq", "usage")
        if isinstance(groq, dict):
            facts.usage, _ = _openai_usage(groq)
            continue
        timings = obj.get("timings")
        if isinstance(timings, dict) and timings.get("predicted_n") is not None and not reported:
            # llama.cpp server: its own counts; prompt_n excludes the part of the prompt it had cached
            cached = _int(timings.get("cache_n"))
            facts.usage = Usage(_int(timings.get("prompt_n")) + cached, _int(timings.get("predicted_n")), cached)


def _anthropic(facts: WireFacts, body: bytes) -> None:
    seen: dict[str, int] = {}
    for event, obj in _payloads(body):
        if not isinstance(obj, dict):
            continue
        kind = obj.get("type") or event
        usage = None
        if kind == "message_start":
            usage = _get(obj, "message", "usage")
        elif kind == "message_delta":
            usage = obj.get("usage")
            reason = _get(obj, "delta", "stop_reason")
            if reason:
                facts.raw_finish = str(reason)
        elif kind == "error":
            facts.error = obj.get("error") if isinstance(obj.get("error"), dict) else {"message": str(obj)}
        if isinstance(usage, dict):
            # later reports win field by field (message_delta's final output count over message_start's)
            for key in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
                if usage.get(key) is not None:
                    seen[key] = _int(usage[key])
            thinking = _get(usage, "output_tokens_details", "thinking_tokens")
            if thinking is not None:
                seen["thinking"] = _int(thinking)
    if seen:
        read, write = seen.get("cache_read_input_tokens", 0), seen.get("cache_creation_input_tokens", 0)
        facts.usage = Usage(
            seen.get("input_tokens", 0) + read + write, seen.get("output_tokens", 0), read, write, seen.get("thinking", 0)
        )


def _gemini(facts: WireFacts, body: bytes) -> None:
    for _event, obj in _payloads(body):
        items = obj if isinstance(obj, list) else [obj]  # a non-SSE stream is one JSON array
        for item in items:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("error"), dict):
                facts.error = item["error"]
            for cand in item.get("candidates") or []:
                if isinstance(cand, dict) and cand.get("finishReason"):
                    facts.raw_finish = str(cand["finishReason"])
            block = _get(item, "promptFeedback", "blockReason")
            if block:
                facts.raw_finish = "SAFETY"
            meta = item.get("usageMetadata")
            if isinstance(meta, dict) and meta:
                thoughts = _int(meta.get("thoughtsTokenCount"))
                facts.usage = Usage(
                    _int(meta.get("promptTokenCount")) + _int(meta.get("toolUsePromptTokenCount")),
                    _int(meta.get("candidatesTokenCount")) + thoughts,
                    _int(meta.get("cachedContentTokenCount")),
                    0,
                    thoughts,
                )


def _ollama(facts: WireFacts, body: bytes) -> None:
    for _event, obj in _payloads(body):
        if not isinstance(obj, dict):
            continue
        if obj.get("error"):
            facts.error = {"message": str(obj["error"])}
        if obj.get("done"):
            facts.raw_finish = str(obj.get("done_reason") or "stop")
            if obj.get("prompt_eval_count") is not None or obj.get("eval_count") is not None:
                facts.usage = Usage(_int(obj.get("prompt_eval_count")), _int(obj.get("eval_count")))


_PARSERS = {"openai": _openai, "anthropic": _anthropic, "gemini": _gemini, "ollama": _ollama}

# Candidates for a line that is not part of the stream's format, searched in C over the whole body prefixed with a
# newline (a literal prefix the regex engine skips to; ~10 ms for a 20,000-chunk reply): an SSE data line whose
# payload does not start with "{" or "[" or does not end with "}" or "]", an NDJSON line that is not "{...}", an
# SSE line that is no field (data, event, id, retry) nor a comment. Data candidates are then confirmed with the
# JSON parser (an event may spread its JSON over several data lines).
_SSE_ODD_DATA = re.compile(rb"\ndata:(?:[ \t]?[^{\[\s]|[^\n]*+(?<![}\]])(?<![}\]]\r)(?=\n|$))")
_SSE_STRAY = re.compile(rb"\n(?!data:|event:|id:|retry:|:|\r?\n|\r?$)[^\n]*")
_NDJSON_ODD = re.compile(rb"\n(?:[ \t]*[^{\s]|[^\n]*+(?<![}\s])(?<!}\r)(?=\n|$))")
_BLANK_LINE = re.compile(rb"\n\r?\n")
_SSE_WIRES = ("openai", "anthropic", "gemini")


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:  # UnicodeDecodeError included
        return False
    return True


def _line_at(text: bytes, pos: int) -> bytes:
    end = text.find(b"\n", pos)
    return text[pos : len(text) if end < 0 else end].rstrip(b"\r")


def _event_data(text: bytes, pos: int) -> bytes:
    """The joined data lines of the SSE event holding ``pos`` (events end at a blank line)."""
    start = max(text.rfind(b"\n\n", 0, pos), text.rfind(b"\n\r\n", 0, pos))
    start = 0 if start < 0 else start + 1
    blank = _BLANK_LINE.search(text, pos)
    end = len(text) if blank is None else blank.start()
    lines = [line.rstrip(b"\r") for line in text[start:end].split(b"\n")]
    return b"\n".join(line[5:].removeprefix(b" ") for line in lines if line.startswith(b"data:"))


def _shown(line: bytes) -> str:
    return line.decode("utf-8", errors="replace")


def _foreign(facts: WireFacts, wire: str, body: bytes) -> None:
    """Fill ``facts.foreign`` / ``facts.stray`` with the first line that is not part of the stream's format."""
    text = b"\n" + body
    if wire in _SSE_WIRES:
        if wire == "gemini" and not body.lstrip().startswith(b"data:"):
            return  # Gemini's non-SSE stream is one JSON array over many lines
        for match in _SSE_ODD_DATA.finditer(text):
            line = _line_at(text, match.start() + 1)
            payload = line[5:].strip()
            if payload and not _is_json(payload) and not _is_json(_event_data(text, match.start() + 1)):
                facts.foreign = _shown(line)
                break
        if wire != "gemini":
            stray = _SSE_STRAY.search(text)
            if stray is not None:
                facts.stray = _shown(stray.group(0)[1:].rstrip(b"\r"))
    elif wire == "ollama":
        for match in _NDJSON_ODD.finditer(text):
            line = _line_at(text, match.start() + 1)
            if not _is_json(line):
                facts.foreign = _shown(line)
                break


def wire_for(litellm_prefix: str) -> str:
    """The wire format litellm speaks for a provider prefix."""
    if litellm_prefix == "anthropic":
        return "anthropic"
    if litellm_prefix in ("gemini", "vertex_ai"):
        return "gemini"
    if litellm_prefix in ("ollama", "ollama_chat"):
        return "ollama"
    return "openai"


EDGE = 64 * 1024  # bytes read in full at each end of a long response


def _relevant(body: bytes) -> bytes:
    """What of a long body can state facts: its first and last 64 KB (where streams start and finish, report
    usage and bills), plus the middle only if it holds a refusal or an error (a C substring search)."""
    if len(body) <= 4 * EDGE:
        return body
    head_end = body.rfind(b"\n", 0, EDGE) + 1
    tail_start = body.find(b"\n", len(body) - EDGE) + 1
    middle = body[head_end:tail_start]
    if b'"refusal"' in middle or b'"error"' in middle:
        return body
    return body[:head_end] + body[tail_start:]


def read_facts(wire: str, body: bytes | bytearray) -> WireFacts:
    facts = WireFacts()
    parser = _PARSERS.get(wire)
    if parser is not None and body:
        raw = bytes(body)
        parser(facts, _relevant(raw))
        _foreign(facts, wire, raw)
    if facts.usage is not None and facts.usage.input_tokens == 0 and facts.usage.output_tokens == 0:
        # placeholders (Anthropic-style proxies send zeros when they do not count): no prompt is 0 tokens
        facts.usage = None
    facts.finish = normalise_finish(facts.raw_finish)
    if facts.finish == "stop" and facts.refusal:
        facts.finish = "refusal"
    return facts
