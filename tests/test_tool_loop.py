"""Tool calls end to end: a real MCP server (tests/mcp_test_server.py over stdio), the real ChatService loop and
litellm, against the loopback LLM server in OpenAI, Anthropic and Ollama wire formats.

Each test scripts the model's two replies (first a tool call, then text) and checks what ran, what was stored,
what went back to the provider on the wire, and what the reply cost.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from agentspace_tui.services.chat import ReplyFinished
from agentspace_tui.services.chat_session import ChatSession
from agentspace_tui.services.core import build_services
from agentspace_tui.services.tool_loop import DENIED, NO_APPROVER, ToolCallFinished, ToolCallStarted, ToolsNotice
from tests.fakeserver import Reply

SERVER = Path(__file__).resolve().parent / "mcp_test_server.py"


def write_config(home: Path, extra: str = "", name: str = "t") -> None:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[mcp.{name}]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(SERVER))}]\n{extra}',
        encoding="utf-8",
    )


@pytest.fixture
def services(home):
    write_config(home)
    services = build_services(home)
    yield services
    asyncio.run(services.tools.close()) if services.tools._hub is not None else None


def run(chat: ChatSession, text: str, decisions: list[str] | None = None, *, approve: bool = True):
    """Send ``text``; ``decisions`` answer the confirmations in order. Returns (events, final reply, asked)."""
    asked: list[dict] = []

    async def confirm(call):
        asked.append(dict(call))
        return (decisions or ["run"]).pop(0) if decisions else "run"

    async def go():
        events = []
        try:
            async for event in chat.send(text, approve=confirm if approve else None):
                events.append(event)
        finally:
            await chat.services.tools.close()
        final = next(e.reply for e in events if isinstance(e, ReplyFinished))
        return events, final

    events, final = asyncio.run(go())
    return events, final, asked


def call(name: str = "t__add", args: object = None, call_id: str = "call_1") -> dict:
    return {"id": call_id, "name": name, "arguments": args if args is not None else {"a": 2, "b": 3}}


def chat_for(services, model: str) -> ChatSession:
    return ChatSession(services, services.resolve_model(model))


WIRES = [
    ("openai:gpt-4o-mini", "/v1/chat/completions"),
    ("anthropic:claude-sonnet-4-5", "/v1/messages"),
    ("ollama:llama3.2", "/api/chat"),
]


@pytest.mark.parametrize(("model", "path"), WIRES)
def test_a_tool_call_runs_after_confirmation_and_the_model_continues(services, llm, model, path):
    llm.script(Reply(text="", tool_calls=[call()], input_tokens=100, output_tokens=20),
               Reply(text="The sum is 5.", input_tokens=130, output_tokens=6))
    events, final, asked = run(chat_for(services, model), "what is 2+3?")

    assert [a["name"] for a in asked] == ["t__add"] and asked[0]["arguments"] == '{"a": 2, "b": 3}'
    started = [e.call for e in events if isinstance(e, ToolCallStarted)]
    finished = [e.call for e in events if isinstance(e, ToolCallFinished)]
    assert started[0]["status"] == "requested" and finished[0]["status"] == "ok"
    assert finished[0]["result"] == "5" and finished[0]["server"] == "t" and finished[0]["tool"] == "add"
    assert final["status"] == "complete" and final["content"] == "The sum is 5."
    stored = final["tool_calls"][0]
    assert stored["result"] == "5" and stored["round"] == 1 and stored["offset"] == 0

    # every round trip is billed: the reply's usage is both requests', each kept on the reply
    assert final["usage"]["input_tokens"] == 230 and final["usage"]["output_tokens"] == 26
    assert [r["usage"]["input_tokens"] for r in final["rounds"]] == [100, 130]
    if model.startswith("ollama"):
        assert final["cost"] == 0
    else:
        assert final["cost"] == pytest.approx(sum(r["cost"] for r in final["rounds"]))
        assert final["cost"] > final["rounds"][0]["cost"] > 0

    first, second = [r for r in llm.requests if r.path.startswith(path)][-2:]
    sent_tools = json.dumps(first.body.get("tools"))
    assert "t__add" in sent_tools and "t__weather" in sent_tools
    body = json.dumps(second.body)
    if model.startswith("anthropic"):
        blocks = [b for m in second.body["messages"] for b in (m["content"] if isinstance(m["content"], list) else [])]
        use = next(b for b in blocks if b.get("type") == "tool_use")
        result = next(b for b in blocks if b.get("type") == "tool_result")
        assert use["id"] == "call_1" and use["input"] == {"a": 2, "b": 3}
        assert result["tool_use_id"] == "call_1" and "5" in json.dumps(result["content"])
    else:
        tool_msg = next(m for m in second.body["messages"] if m["role"] == "tool")
        assert tool_msg["content"] == "5"
        assistant = next(m for m in second.body["messages"] if m.get("tool_calls"))
        assert assistant["tool_calls"][0]["function"]["name"] == "t__add"
    assert "what is 2+3?" in body


def test_declined_and_unknown_calls_are_answered_without_running(services, llm):
    llm.script(
        Reply(text="Let me check.", tool_calls=[call("t__weather", {"city": "Paris"}, "c1"),
                                                call("t__nope", {}, "c2"), call("t__add", "{not json", "c3")]),
        Reply(text="I could not check."),
    )
    events, final, asked = run(chat_for(services, "openai:gpt-4o-mini"), "weather?", ["deny"])
    calls = {c["id"]: c for c in final["tool_calls"]}
    assert [a["id"] for a in asked] == ["c1"]  # only a real, well-formed call is put to the user
    assert calls["c1"]["status"] == "denied" and calls["c1"]["result"] == DENIED
    assert calls["c2"]["status"] == "unavailable" and "t__nope" in calls["c2"]["result"]
    assert calls["c3"]["status"] == "error" and "not valid JSON" in calls["c3"]["result"]
    assert final["content"] == "Let me check.I could not check."
    assert calls["c1"]["offset"] == len("Let me check.")
    sent = [m for m in llm.requests[-1].body["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in sent] == ["c1", "c2", "c3"]


def test_always_allow_is_remembered_for_the_session_only(services, llm):
    chat = chat_for(services, "openai:gpt-4o-mini")
    llm.script(Reply(text="", tool_calls=[call("t__echo", {"text": "one"})]), Reply(text="ok 1"))
    _, first, asked = run(chat, "echo one", ["always"])
    assert len(asked) == 1 and first["tool_calls"][0]["result"] == "one"
    llm.script(Reply(text="", tool_calls=[call("t__echo", {"text": "two"}, "c9")]), Reply(text="ok 2"))
    _, second, asked = run(chat, "echo two", ["deny"])
    assert asked == [] and second["tool_calls"][0]["status"] == "ok"
    assert services.store.get_session(chat.session_id)["tools"]["always_allow"] == ["t__echo"]

    other = chat_for(services, "openai:gpt-4o-mini")  # another session asks again
    llm.script(Reply(text="", tool_calls=[call("t__echo", {"text": "x"})]), Reply(text="ok"))
    _, _, asked = run(other, "echo x", ["run"])
    assert len(asked) == 1


def test_without_anyone_to_confirm_nothing_runs(services, llm):
    llm.script(Reply(text="", tool_calls=[call("t__env", {"name": "HOME"})]), Reply(text="fine"))
    _, final, _ = run(chat_for(services, "openai:gpt-4o-mini"), "env?", approve=False)
    assert final["tool_calls"][0]["status"] == "denied" and final["tool_calls"][0]["result"] == NO_APPROVER


def test_the_next_turn_sends_the_tool_round_again_and_counts_it(services, llm):
    chat = chat_for(services, "openai:gpt-4o-mini")
    llm.script(Reply(text="Checking.", tool_calls=[call("t__weather", {"city": "Oslo"})]), Reply(text="Sunny."))
    run(chat, "weather in Oslo?")
    llm.script(Reply(text="You are welcome."))
    run(chat, "thanks")
    messages = llm.requests[-1].body["messages"]
    roles = [m["role"] for m in messages if m["role"] != "system"]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]
    assert messages[-4]["content"] == "Checking." and messages[-3]["content"] == "Oslo: 21 °C, sunny"
    assert messages[-2]["content"] == "Sunny."
    # the history section of the inspector counts the result too
    with_result = chat.inspect("").section("history").tokens
    plain = chat_for(services, "openai:gpt-4o-mini")
    llm.script(Reply(text="Sunny."))
    run(plain, "weather in Oslo?")
    assert with_result > plain.inspect("").section("history").tokens


def test_tools_section_counts_enabled_schemas_and_a_disabled_server_sends_none(services, llm):
    chat = chat_for(services, "openai:gpt-4o-mini")
    llm.script(Reply(text="hi"))
    run(chat, "hello")
    assert chat.inspect("draft").section("tools").tokens == 0  # nothing listed yet: nothing started either

    async def listed():  # what a send (or the app's start-up) does: the inspector counts them from then on
        await services.tools.for_session(None)
        section = chat.inspect("draft").section("tools")
        services.store.update_session(chat.session_id, tools={"disabled": ["t"]})
        chat.session = services.store.get_session(chat.session_id)
        off = chat.inspect("draft").section("tools")
        await services.tools.close()
        return section, off

    tools, off = asyncio.run(listed())
    assert tools.tokens > 50 and tools.bytes > 200 and tools.cost and tools.cost > 0
    assert off.tokens == 0
    llm.script(Reply(text="no tools"))
    run(chat, "again")
    assert "tools" not in llm.requests[-1].body


def test_a_server_that_cannot_start_is_one_notice_and_the_reply_still_comes(home, llm):
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[mcp.broken]\ncommand = "/nonexistent/mcp-server"\n', encoding="utf-8")
    services = build_services(home)
    llm.script(Reply(text="answer without tools"))
    events, final, _ = run(chat_for(services, "openai:gpt-4o-mini"), "hi")
    notices = [e.message for e in events if isinstance(e, ToolsNotice)]
    assert len(notices) == 1 and "broken" in notices[0] and "\n" not in notices[0]
    assert final["content"] == "answer without tools" and "tools" not in llm.requests[-1].body


def test_cancel_while_waiting_for_confirmation_saves_the_reply(services, llm):
    chat = chat_for(services, "openai:gpt-4o-mini")
    llm.script(Reply(text="Let me look.", tool_calls=[call("t__add")]))

    async def go():
        waiting = asyncio.Event()

        async def confirm(call):
            waiting.set()
            await asyncio.sleep(30)
            return "run"

        async def consume():
            async for _ in chat.send("add", approve=confirm):
                pass

        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(waiting.wait(), 20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await services.tools.close()

    asyncio.run(go())
    reply = services.store.get_messages(chat.session_id)[-1]
    assert reply["status"] == "cancelled" and reply["content"] == "Let me look."
    assert reply["tool_calls"][0]["status"] == "cancelled"


def test_ask_runs_tools_only_when_approved_and_reports_each_call(home, llm):
    from tests.conftest import run_cli

    write_config(home)
    llm.script(Reply(text="", tool_calls=[call("t__weather", {"city": "Lima"})]), Reply(text="Lima is sunny."))
    done = run_cli(home, "ask", "--approve-tools", "weather in Lima?")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Lima is sunny."
    assert "⚙ t__weather(" in done.stderr and "→ ok" in done.stderr and "Lima: 21 °C, sunny" in done.stderr
    assert "for 2 requests" in done.stderr

    # a script (no terminal, no --approve-tools): declined, the model is told, and the user how to allow it
    llm.script(Reply(text="", tool_calls=[call("t__env", {"name": "HOME"})]), Reply(text="I could not look."))
    done = run_cli(home, "ask", "--json", "what is HOME?")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert "--approve-tools" in done.stderr
    tool_msg = next(m for m in llm.requests[-1].body["messages"] if m["role"] == "tool")
    assert tool_msg["content"] == NO_APPROVER
    assert reply["text"] == "I could not look." and reply["tool_calls"][0]["status"] == "denied"


def test_the_cache_forecast_sees_a_tool_round_as_the_request_sent_it(home, llm):
    """The forecast compares the next request's prefix with the digests the last reply stored: a reply that
    called tools is several messages on the wire, and must be several in the forecast too."""
    long_prompt = "You answer questions about the weather with care. " * 200  # over Anthropic's 1,024-token minimum
    write_config(home)
    config = home / "config" / "config.toml"
    config.write_text(f'prompt_cache = "auto"\nsystem_prompt = {json.dumps(long_prompt)}\n' + config.read_text())
    services = build_services(home)
    chat = chat_for(services, "anthropic:claude-sonnet-4-5")
    llm.script(Reply(text="Checking.", tool_calls=[call("t__weather", {"city": "Oslo"})]), Reply(text="Sunny."))
    run(chat, "weather in Oslo?")
    llm.script(Reply(text="Welcome."))
    run(chat, "thanks")
    cache = chat.inspect("next").cache
    assert cache is not None and cache.cached_tokens > 1024, cache
    assert "messages" in cache.cached_parts
