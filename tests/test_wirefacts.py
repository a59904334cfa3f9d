"""Reading facts from a provider's raw bytes, and splitting <think> blocks: the pure pieces, unit by unit."""

from __future__ import annotations

import json
import time

import pytest

from agentspace_tui.providers.thinktags import ThinkSplitter
from agentspace_tui.providers.wirefacts import read_facts, wire_for


def sse(*objs: dict) -> bytes:
    return ("".join(f"data: {json.dumps(o)}\n\n" for o in objs) + "data: [DONE]\n\n").encode()


def chunk(delta: dict, finish: str | None = None, **extra) -> dict:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def filler(n: int) -> list[dict]:
    return [chunk({"content": f"word {i} "}) for i in range(n)]


def test_no_finish_means_none():
    facts = read_facts("openai", sse(chunk({"content": "partial"})))
    assert facts.finish is None and facts.usage is None


def test_usage_null_on_every_chunk_is_not_usage():
    facts = read_facts("openai", sse(chunk({"content": "x"}, usage=None), chunk({}, "stop", usage=None)))
    assert facts.finish == "stop" and facts.usage is None


def test_zero_placeholders_are_not_usage():
    facts = read_facts("openai", sse(chunk({}, "stop"), {"choices": [], "usage": {"prompt_tokens": 0, "completion_tokens": 0}}))
    assert facts.usage is None


def test_long_reply_reads_its_ends_and_finds_a_refusal_in_the_middle():
    body = sse(*filler(30_000), chunk({}, "stop"), {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 30_000}})
    started = time.perf_counter()
    facts = read_facts("openai", bytearray(body))
    elapsed = time.perf_counter() - started
    assert facts.finish == "stop" and facts.usage is not None and facts.usage.output_tokens == 30_000
    assert elapsed < 0.1  # measured ~8 ms for 3.8 MB; the whole body parsed took ~150 ms
    with_refusal = sse(*filler(15_000), chunk({"refusal": "No."}), *filler(15_000), chunk({}, "stop"))
    assert read_facts("openai", with_refusal).finish == "refusal"


def test_anthropic_fields_merge_later_over_earlier():
    def ev(name: str, obj: dict) -> str:
        return f"event: {name}\ndata: {json.dumps(obj)}\n\n"

    body = (ev("message_start", {"type": "message_start", "message": {"usage": {
        "input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5, "output_tokens": 1}}})
        + ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "max_tokens"},
                               "usage": {"output_tokens": 40, "output_tokens_details": {"thinking_tokens": 30}}}))
    facts = read_facts("anthropic", body.encode())
    assert facts.finish == "length"
    assert facts.usage is not None
    assert (facts.usage.input_tokens, facts.usage.output_tokens, facts.usage.cache_read_tokens,
            facts.usage.cache_write_tokens, facts.usage.reasoning_tokens) == (115, 40, 100, 5, 30)


@pytest.mark.parametrize("raw,ours", [("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"),
                                      ("RECITATION", "content_filter")])
def test_gemini_finish_reasons(raw: str, ours: str):
    body = f'data: {json.dumps({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": raw}]})}\r\n\r\n'
    assert read_facts("gemini", body.encode()).finish == ours


def test_ollama_done_line():
    body = b'{"message":{"content":"hi"},"done":false}\n{"done":true,"done_reason":"length","prompt_eval_count":3,"eval_count":9}\n'
    facts = read_facts("ollama", body)
    assert facts.finish == "length" and facts.usage is not None and facts.usage.output_tokens == 9


def test_wire_for_prefixes():
    assert [wire_for(p) for p in ("anthropic", "gemini", "ollama_chat", "openai", "groq", "mistral")] == [
        "anthropic", "gemini", "ollama", "openai", "openai", "openai"]


def split_all(pieces: list[str]) -> tuple[str, str]:
    splitter, reasoning, answer = ThinkSplitter(), [], []
    for piece in pieces:
        for kind, text in splitter.feed(piece):
            (reasoning if kind == "reasoning" else answer).append(text)
    for kind, text in splitter.flush():
        (reasoning if kind == "reasoning" else answer).append(text)
    return "".join(reasoning), "".join(answer)


@pytest.mark.parametrize("pieces,reasoning,answer", [
    (["<think>a</think>b"], "a", "b"),
    (["<", "th", "ink>", "plan", "</", "think", ">\n\nanswer"], "plan", "answer"),
    (["  \n<think>x</think>y"], "x", "y"),
    (["no think here <think>x</think>"], "", "no think here <think>x</think>"),
    (["<thinking is fun>"], "", "<thinking is fun>"),
    (["<think>never closed"], "never closed", ""),
    (["<thi"], "", "<thi"),
    (["<think></think>", "just the answer"], "", "just the answer"),
])
def test_think_splitter(pieces, reasoning, answer):
    assert split_all(pieces) == (reasoning, answer)


def test_tool_calls_without_an_index_stay_apart():
    """Mistral streams each tool call whole and without an index; OpenAI streams fragments by index."""
    from types import SimpleNamespace as NS

    from agentspace_tui.providers.stream import _Reply

    def delta_chunk(calls: list[dict]) -> NS:
        return NS(usage=None, choices=[NS(delta=NS(reasoning_content=None, reasoning=None, content=None,
                                                    tool_calls=calls))])

    reply = _Reply()
    reply.events(delta_chunk([{"id": "a", "function": {"name": "f", "arguments": "{}"}},
                              {"id": "b", "function": {"name": "g", "arguments": '{"x": 1}'}}]))
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls()] == [("a", "f", "{}"), ("b", "g", '{"x": 1}')]
    reply = _Reply()
    reply.events(delta_chunk([{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"ci'}}]))
    reply.events(delta_chunk([{"index": 0, "function": {"arguments": 'ty": "Paris"}'}}]))
    assert [(c.name, c.arguments) for c in reply.tool_calls()] == [("f", '{"city": "Paris"}')]
