"""Tool calls on every wire, through stream_chat and the real litellm, against loopback servers: round 1 offers
tools and gets calls back; round 2 sends the calls and their results (providers/tool_messages.py) and gets the
answer. The bytes each provider receives are checked in its own shape; real recorded tool-call replies give the
right calls; a model that takes no tools is named as such; the catalog knows which models take tools."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agentspace_tui.catalog.catalog import Catalog
from agentspace_tui.catalog.models import ModelInfo
from agentspace_tui.catalog.ollama import discover, show_model
from agentspace_tui.catalog.providers import BUILTIN_PROVIDERS, ProviderSpec
from agentspace_tui.catalog.tool_support import supports_tools
from agentspace_tui.providers.errors import ProviderContext
from agentspace_tui.providers.events import Event, Finish, StreamError, TextDelta, ToolCallRequest
from agentspace_tui.providers.stream import ChatRequest, stream_chat
from agentspace_tui.providers.tool_messages import (
    arguments_json,
    assistant_with_calls,
    provider_safe_schema,
    tool_result,
    tools_unsupported,
    with_call_ids,
)
from tests.fakeserver import FakeLLMServer, Reply
from tests.fakeserver.replay import ReplayServer, load_recording

CORPUS = Path(__file__).parent / "corpus" / "recordings"
KEY = "sk-test-tools-0123456789"
GEMINI_KEY = "AIza-test-gemini-KEY-000"

# what MCP servers produce (pydantic / zod): $schema, title, additionalProperties, defaults, $defs + $ref, const
MCP_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "get_weatherArguments",
    "type": "object",
    "additionalProperties": False,
    "$defs": {"Unit": {"type": "string", "enum": ["C", "F"], "title": "Unit"}},
    "properties": {
        "city": {"type": "string", "title": "City", "description": "a city", "default": "Paris"},
        "unit": {"$ref": "#/$defs/Unit", "default": "C"},
        "source": {"const": "mcp"},
        "when": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    },
    "required": ["city"],
}
TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city", "parameters": MCP_SCHEMA}},
    {"type": "function", "function": {"name": "clock", "description": "The time", "parameters": {"type": "object", "properties": {}}}},
]
CALLS = [
    {"id": "call_paris", "name": "get_weather", "arguments": '{"city": "Paris"}'},
    {"id": "call_clock", "name": "clock", "arguments": "{}"},
]
# wire: (litellm model, api_base suffix, request path)
FAKE_WIRES = {
    "openai": ("openai/gpt-4o-mini", "/v1", "/v1/chat/completions"),
    "anthropic": ("anthropic/claude-sonnet-4-5", "", "/v1/messages"),
    "ollama": ("ollama_chat/llama3.2", "", "/api/chat"),
}


def request(model: str, base: str, wire: str, messages: list[dict[str, Any]], *, key: str | None = KEY,
            tools: list[dict[str, Any]] | None = TOOLS, label: str | None = None) -> ChatRequest:
    return ChatRequest(
        litellm_model=model, messages=messages, provider=ProviderContext(label or wire.title(), wire, None, None),
        api_key=key, api_base=base, wire=wire, tools=tools, max_retries=0,
    )


async def run(req: ChatRequest) -> list[Event]:
    return [event async for event in stream_chat(req)]


def calls_of(events: list[Event]) -> list[ToolCallRequest]:
    return [e for e in events if isinstance(e, ToolCallRequest)]


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def round_two(messages: list[dict[str, Any]], text: str, calls: list[ToolCallRequest]) -> list[dict[str, Any]]:
    """What the tool loop sends next: the reply with its calls, then each call's result in order."""
    calls = with_call_ids(calls)
    return [*messages, assistant_with_calls(text, calls),
            *(tool_result(str(c.id), c.name, f"result of {c.name}") for c in calls)]


# -- round trips on the fake server's three wires -------------------------------------------------------------
@pytest.mark.parametrize("said", ["", "Let me check."])
@pytest.mark.parametrize("wire", FAKE_WIRES)
async def test_tool_round_trip(llm: FakeLLMServer, wire: str, said: str) -> None:
    model, suffix, path = FAKE_WIRES[wire]
    # Ollama sends calls without ids: litellm (or stream_chat) gives them one
    sent_calls = [{**c, "id": None} for c in CALLS] if wire == "ollama" else CALLS
    llm.script(Reply(text=said, tool_calls=sent_calls), Reply(text="Sunny in Paris at noon."))
    key = None if wire == "ollama" else KEY
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather and time?"}]

    first = await run(request(model, llm.url + suffix, wire, messages, key=key))
    assert isinstance(first[-1], Finish) and first[-1].reason == "tool_calls", first[-1]
    assert text_of(first) == said
    calls = calls_of(first)
    assert [(c.name, json.loads(c.arguments or "{}")) for c in calls] == [("get_weather", {"city": "Paris"}), ("clock", {})]
    ids = [c.id for c in calls]
    assert all(ids) and len(set(ids)) == 2
    if wire != "ollama":
        assert ids == ["call_paris", "call_clock"]

    (sent,) = llm.requests_to(path)
    tools = sent.body["tools"]
    if wire == "anthropic":
        assert [t["name"] for t in tools] == ["get_weather", "clock"]
        schema = tools[0]["input_schema"]
        assert schema["type"] == "object" and schema["required"] == ["city"] and "$schema" not in schema
        assert schema["properties"]["city"]["type"] == "string"
    else:  # OpenAI and Ollama take OpenAI's own shape
        assert [t["function"]["name"] for t in tools] == ["get_weather", "clock"]
        assert tools[0]["function"]["parameters"]["properties"]["city"]["type"] == "string"

    second = await run(request(model, llm.url + suffix, wire, round_two(messages, said, calls), key=key))
    assert isinstance(second[-1], Finish) and second[-1].reason == "stop", second[-1]
    assert text_of(second) == "Sunny in Paris at noon."
    body = llm.requests_to(path)[-1].body
    if wire == "openai":
        _, assistant, *results = body["messages"]
        assert assistant["role"] == "assistant" and assistant.get("content") == (said or None)
        assert [(c["id"], c["type"], c["function"]["name"], json.loads(c["function"]["arguments"]))
                for c in assistant["tool_calls"]] == [
            ("call_paris", "function", "get_weather", {"city": "Paris"}), ("call_clock", "function", "clock", {})]
        assert [(r["role"], r["tool_call_id"], r["content"]) for r in results] == [
            ("tool", "call_paris", "result of get_weather"), ("tool", "call_clock", "result of clock")]
    elif wire == "anthropic":
        _, assistant, user = body["messages"]
        blocks = assistant["content"]
        texts = [b["text"] for b in blocks if b["type"] == "text"]
        assert texts == ([said] if said else [])  # no empty text block: Anthropic rejects those
        uses = [b for b in blocks if b["type"] == "tool_use"]
        assert [(u["id"], u["name"], u["input"]) for u in uses] == [
            ("call_paris", "get_weather", {"city": "Paris"}), ("call_clock", "clock", {})]
        assert user["role"] == "user"
        assert [(r["type"], r["tool_use_id"], r["content"]) for r in user["content"]] == [
            ("tool_result", "call_paris", "result of get_weather"), ("tool_result", "call_clock", "result of clock")]
    else:  # ollama
        _, assistant, *results = body["messages"]
        assert assistant["role"] == "assistant" and assistant["content"] == said
        assert [(c["function"]["name"], c["function"]["arguments"]) for c in assistant["tool_calls"]] == [
            ("get_weather", {"city": "Paris"}), ("clock", {})]  # arguments as an object, not JSON text
        assert [(r["role"], r["content"], r.get("tool_call_id")) for r in results] == [
            ("tool", "result of get_weather", ids[0]), ("tool", "result of clock", ids[1])]


# -- Gemini: real recorded function calls, then the answer ------------------------------------------------------
@pytest.fixture
def replay():
    with ReplayServer() as srv:
        yield srv


async def test_gemini_round_trip(replay: ReplayServer) -> None:
    replay.play(CORPUS / "gemini-native-parallel-function-calls.json")
    tools = copy.deepcopy(TOOLS)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Temperatures?"}]
    first = await run(request("gemini/gemini-2.0-flash", replay.url, "gemini", messages, key=GEMINI_KEY, tools=tools))
    assert isinstance(first[-1], Finish) and first[-1].reason == "tool_calls"
    calls = calls_of(first)
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_current_temperature", {"city": "Paris"}), ("get_current_temperature", {"city": "London"})]
    assert all(c.id for c in calls) and len({c.id for c in calls}) == 2  # Gemini sends none: generated

    declared = replay.requests[-1].body["tools"][0]
    decls = declared.get("function_declarations") or declared["functionDeclarations"]
    assert [d["name"] for d in decls] == ["get_weather", "clock"]
    params = decls[0]["parameters"]
    assert "$schema" not in params and "additionalProperties" not in params and "$defs" not in params
    props = params["properties"]
    assert props["city"]["type"] == "string"
    assert props["unit"]["enum"] == ["C", "F"]  # the $ref inlined
    assert props["source"]["enum"] == ["mcp"] and props["source"]["type"] == "string"  # const kept as a string
    assert [o["type"] for o in props["when"]["anyOf"]] == ["string", "integer"]  # oneOf kept as anyOf
    assert tools == TOOLS  # litellm edits schemas in place: the caller's definitions must not change

    replay.play(CORPUS / "gemini-native-stop.json")
    second = await run(request("gemini/gemini-2.0-flash", replay.url, "gemini", round_two(messages, "", calls),
                               key=GEMINI_KEY, tools=tools))
    assert isinstance(second[-1], Finish) and second[-1].reason == "stop"
    assert text_of(second) == "The capital of France is Paris.\n"
    _, model_turn, results = replay.requests[-1].body["contents"]
    assert model_turn["role"] == "model"
    assert [(p.get("function_call") or p["functionCall"]) for p in model_turn["parts"]] == [
        {"name": "get_current_temperature", "args": {"city": "Paris"}},
        {"name": "get_current_temperature", "args": {"city": "London"}}]
    responses = [(p.get("function_response") or p["functionResponse"]) for p in results["parts"]]
    assert [(r["name"], r["response"]) for r in responses] == [
        ("get_current_temperature", {"content": "result of get_current_temperature"})] * 2


# -- every recorded tool-call reply: its calls, with ids, and sent back whole on its own wire ----------------------
TOOL_RECORDINGS = sorted(p for p in CORPUS.glob("*.json")
                         if json.loads(p.read_text())["expected"].get("tool_calls"))


def test_the_tool_recordings_are_all_here() -> None:
    names = {p.stem for p in TOOL_RECORDINGS}
    assert {"openai-parallel-tool-calls", "anthropic-tool-use", "anthropic-tool-use-no-args",
            "anthropic-thinking-tool-use", "gemini-native-function-call", "gemini-native-parallel-function-calls",
            "mistral-tool-call", "deepseek-reasoner-tool-call-cache-hit", "groq-tool-call-reasoning",
            "xai-reasoning-tool-call"} <= names


@pytest.mark.parametrize("path", TOOL_RECORDINGS, ids=[p.stem for p in TOOL_RECORDINGS])
async def test_recorded_tool_calls_go_back(replay: ReplayServer, path: Path) -> None:
    recording = load_recording(path)
    meta = recording.meta
    replay.play(recording)
    wire = meta["wire"]
    base = replay.url + ("/v1" if wire == "openai" else "")
    key = GEMINI_KEY if wire == "gemini" else KEY
    model = f"{meta['provider']}/{meta['model']}"
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Go."}]
    tools = [{"type": "function", "function": {"name": c["name"], "description": "d",
                                               "parameters": {"type": "object", "properties": {}}}}
             for c in meta["expected"]["tool_calls"]]
    first = await run(request(model, base, wire, messages, key=key, tools=tools))
    assert isinstance(first[-1], Finish) and first[-1].reason == "tool_calls", first[-1]
    calls = calls_of(first)
    assert [(c.name, c.arguments or "{}") for c in calls] == [
        (c["name"], c["arguments"] or "{}") for c in meta["expected"]["tool_calls"]]
    ids = [c.id for c in calls]
    assert all(ids) and len(set(ids)) == len(ids)

    # round 2 (the same recording answers again: what matters is what litellm sends)
    await run(request(model, base, wire, round_two(messages, text_of(first), calls), key=key, tools=tools))
    body = replay.requests[-1].body
    if wire == "anthropic":
        uses = [b for b in body["messages"][1]["content"] if b["type"] == "tool_use"]
        results = body["messages"][2]["content"]
        assert [u["id"] for u in uses] == ids == [r["tool_use_id"] for r in results]
        assert all(isinstance(u["input"], dict) for u in uses)
    elif wire == "gemini":
        parts = body["contents"][1]["parts"]
        assert [(p.get("function_call") or p["functionCall"])["name"] for p in parts] == [c.name for c in calls]
    else:
        assistant, *results = body["messages"][1:]
        assert [c["id"] for c in assistant["tool_calls"]] == ids == [r["tool_call_id"] for r in results]


# -- a model that takes no tools ------------------------------------------------------------------------------
NO_TOOLS = [
    ("ollama", "ollama_chat/gemma:2b", "", 400, "registry.ollama.ai/library/gemma:2b does not support tools",
     "Ollama (local) model gemma:2b"),
    ("openai", "openai/qwen-local", "/v1", 400, "tools is not supported", "LM Studio model qwen-local"),
    ("openai", "openai/qwen-local", "/v1", 400, "Function calling is not enabled for this model",
     "LM Studio model qwen-local"),
    ("openai", "openai/meta-llama/llama-3-8b", "/v1", 404, "No endpoints found that support tool use. Try "
     "disabling \"get_weather\".", "LM Studio model meta-llama/llama-3-8b"),
]


@pytest.mark.parametrize(("wire", "model", "suffix", "status", "said", "who"), NO_TOOLS,
                         ids=["ollama", "tools-not-supported", "function-calling-not-enabled", "openrouter-404"])
async def test_model_without_tools_is_named(llm: FakeLLMServer, wire, model, suffix, status, said, who) -> None:
    llm.script(Reply(kind="status", status=status, error_message=said))
    label = "Ollama (local)" if wire == "ollama" else "LM Studio"
    events = await run(request(model, llm.url + suffix, wire, [{"role": "user", "content": "hi"}],
                               key=None if wire == "ollama" else KEY, label=label))
    (error,) = events
    assert isinstance(error, StreamError) and error.kind == "no_tools"
    assert error.message == (f"{who} does not support tool calls; turn tools off for this session (/tools) "
                             "or switch model")
    assert tools_unsupported(error)
    assert len(llm.requests_to(FAKE_WIRES[wire][2])) == 1


async def test_other_bad_requests_stay_bad_requests(llm: FakeLLMServer) -> None:
    llm.script(Reply(kind="status", status=400, error_message="temperature must be at most 2"))
    (error,) = await run(request("openai/gpt-4o-mini", llm.url + "/v1", "openai", [{"role": "user", "content": "hi"}]))
    assert isinstance(error, StreamError) and error.kind == "bad_request" and not tools_unsupported(error)


@pytest.mark.parametrize(("text", "expected"), [
    ("registry.ollama.ai/library/gemma:2b does not support tools", True),
    ("deepseek-reasoner does not support Function Calling", True),
    ('"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set', True),
    ("tools param requires --jinja flag", True),
    ("Tool use is not supported for this model", True),
    ("the model said: tools are great", False),
    ("invalid value for temperature", False),
])
def test_tools_unsupported_words(text: str, expected: bool) -> None:
    assert tools_unsupported(text) is expected
    assert tools_unsupported(ValueError(text)) is expected


# -- the builders ----------------------------------------------------------------------------------------------
def test_builders() -> None:
    calls = with_call_ids([ToolCallRequest(None, "clock", ""), ToolCallRequest("call_1", "f", '{"a": 1}')])
    assert calls[0].id and calls[0].id.startswith("call_") and calls[1].id == "call_1"
    assert with_call_ids(calls) == calls  # generated once: the same ids every time after
    message = assistant_with_calls("", [*calls, {"id": "c3", "type": "function",
                                                 "function": {"name": "g", "arguments": {"b": 2}}}])
    assert message == {"role": "assistant", "content": None, "tool_calls": [
        {"id": calls[0].id, "type": "function", "function": {"name": "clock", "arguments": "{}"}},
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
        {"id": "c3", "type": "function", "function": {"name": "g", "arguments": '{"b": 2}'}}]}
    assert assistant_with_calls("hi", [{"id": "x", "name": "f", "arguments": "{}"}])["content"] == "hi"
    with pytest.raises(ValueError, match="no id"):
        assistant_with_calls("", [ToolCallRequest(None, "f", "{}")])
    assert tool_result("call_1", "f", "42") == {"role": "tool", "tool_call_id": "call_1", "name": "f", "content": "42"}
    assert arguments_json('{"a": [1]}') == '{"a": [1]}'
    assert json.loads(arguments_json('{"a": ')) == {"arguments": '{"a": '}  # broken JSON kept, as an object
    assert json.loads(arguments_json("[1, 2]")) == {"arguments": "[1, 2]"}


def test_provider_safe_schema_copies_and_keeps_meaning_for_gemini() -> None:
    before = copy.deepcopy(MCP_SCHEMA)
    other = provider_safe_schema(MCP_SCHEMA, "anthropic")
    assert other == MCP_SCHEMA and other is not MCP_SCHEMA
    other["properties"]["city"]["type"] = "integer"
    gemini = provider_safe_schema(MCP_SCHEMA, "gemini")
    assert MCP_SCHEMA == before
    assert gemini["properties"]["source"] == {"enum": ["mcp"], "type": "string"}
    assert gemini["properties"]["when"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert gemini["$schema"] == MCP_SCHEMA["$schema"]  # the rest is litellm's to drop


# -- the catalog: which models take tools -------------------------------------------------------------------
def info(model_id: str, catalog: Catalog | None = None) -> ModelInfo:
    return (catalog or Catalog(BUILTIN_PROVIDERS)).resolve(model_id)


def test_supports_tools_from_litellms_map() -> None:
    assert supports_tools(info("openai:gpt-4o-mini")) is True
    assert supports_tools(info("anthropic:claude-sonnet-4-5")) is True
    assert supports_tools(info("deepseek:deepseek-reasoner")) is False  # the map says so


def test_supports_tools_unknown_for_configured_endpoints() -> None:
    spec = ProviderSpec("lmstudio", "LM Studio", "openai", None, local=True, needs_key=False,
                        models=("gpt-4o-mini",), custom=True)
    catalog = Catalog({**BUILTIN_PROVIDERS, "lmstudio": spec})
    assert supports_tools(info("lmstudio:gpt-4o-mini", catalog)) is None  # a known name, served by anyone
    assert supports_tools(info("openai:not-a-model-anyone-knows")) is None


def test_supports_tools_from_ollamas_capabilities(llm: FakeLLMServer) -> None:
    shown = show_model(llm.url, "llama3.2")
    assert shown is not None and shown.capabilities == ("completion", "tools")
    found = discover(llm.url)
    assert found and all(m.capabilities == ("completion", "tools") for m in found)
    catalog = Catalog(BUILTIN_PROVIDERS, found)
    model = info(f"ollama:{found[0].name}", catalog)
    assert model.capabilities == ("completion", "tools") and supports_tools(model) is True
    assert supports_tools(replace(model, capabilities=("completion",))) is False
    assert supports_tools(replace(model, capabilities=None)) is None  # an Ollama too old to say


# -- a call whose arguments were not JSON (a model's broken output) must not poison the history -----------------
@pytest.mark.parametrize("wire", ["openai", "anthropic", "ollama", "gemini"])
async def test_broken_arguments_in_history_still_send(llm: FakeLLMServer, replay: ReplayServer, wire: str) -> None:
    # sent as is, litellm fails before any byte leaves (Anthropic "Failed to parse tool call arguments", Ollama and
    # Gemini a JSONDecodeError that reads as "cannot reach"); assistant_with_calls wraps the text in an object
    calls = [ToolCallRequest("call_bad", "get_weather", '{"city": '), ToolCallRequest("call_empty", "clock", "")]
    messages = round_two([{"role": "user", "content": "Weather?"}], "", calls)
    if wire == "gemini":
        replay.play(CORPUS / "gemini-native-stop.json")
        req = request("gemini/gemini-2.0-flash", replay.url, "gemini", messages, key=GEMINI_KEY)
    else:
        model, suffix, _ = FAKE_WIRES[wire]
        llm.script(Reply(text="Which city?"))
        req = request(model, llm.url + suffix, wire, messages, key=None if wire == "ollama" else KEY)
    events = await run(req)
    assert isinstance(events[-1], Finish) and events[-1].reason == "stop", events[-1]
    server = replay if wire == "gemini" else llm
    sent = server.requests[-1].raw.decode()
    assert "city" in sent and "get_weather" in sent  # the broken call went back, for the model to see
