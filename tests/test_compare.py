"""Comparing two models (services/compare.py and ``ask --compare``): both replies stream at once through the real
wire protocol against the loopback server, each stored as a child of the same user message, billed to its own
model."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from agentspace_tui.cli import main
from agentspace_tui.providers.events import TextDelta
from agentspace_tui.services.api import ConfigError
from agentspace_tui.services.branches import Tree
from agentspace_tui.services.chat import BusyError, ChatService, ReplyFinished, ReplyStarted
from agentspace_tui.services.compare import CompareService
from agentspace_tui.services.core import build_services
from tests.fakeserver import Reply

OPENAI = "openai:gpt-4o-mini"
CLAUDE = "anthropic:claude-sonnet-4-5"
CHAT_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"


@pytest.fixture
def services(home):
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text("max_retries = 0\nrequest_timeout = 10\n")
    from agentspace_tui.providers.litellm_setup import load_litellm

    load_litellm()  # loaded once, before any timing
    return build_services(home)


def run_compare(service: CompareService, text: str, session_id: str | None, other: str, **kw) -> list:
    async def go() -> list:
        out = []
        async for item in service.compare(text, session_id, other, **kw):
            out.append((time.monotonic(), item))
        return out

    timed = asyncio.run(go())
    deltas = [at for at, item in timed if isinstance(item.event, TextDelta)]
    # from the first text to the end of both: what streaming took, without the set-up before the requests
    run_compare.span = timed[-1][0] - deltas[0] if deltas else 0.0  # type: ignore[attr-defined]
    return [item for _, item in timed]


def slow(text: str, words: int, delay: float, **kw) -> Reply:
    """A reply of ``words`` chunks, ``delay`` seconds apart."""
    return Reply(text=text, chunks=[f"{text}{i} " for i in range(words)], delay=delay, **kw)


def test_both_stream_at_once_and_are_stored_as_alternatives(services, llm):
    # each lane streams for ~0.8 s: one after the other would take >= 1.6 s
    llm.script_for(CHAT_PATH, slow("a", 5, 0.2, input_tokens=100, output_tokens=50))
    llm.script_for(ANTHROPIC_PATH, slow("b", 5, 0.2, input_tokens=100, output_tokens=40))
    service = CompareService(ChatService(services))
    events = run_compare(service, "Which is better?", None, CLAUDE, model_id=OPENAI)
    # from the first event (lane 0's turn stored) to the last (both finished): less than the two streams' sum
    assert 0.7 < run_compare.span < 1.4, run_compare.span
    lanes = {e.lane.index for e in events}
    assert lanes == {0, 1}
    # the deltas of the two lanes interleave: both were streaming at the same time
    order = [e.lane.index for e in events if isinstance(e.event, TextDelta)]
    assert order != sorted(order), order
    assert [type(e.event) for e in events if e.lane.index == 1][0] is ReplyStarted
    first, second = service.lanes
    assert first.status == second.status == "complete"
    assert first.text == "a0 a1 a2 a3 a4 " and second.text == "b0 b1 b2 b3 b4 "
    sid = service.session_id
    stored = {m["id"]: m for m in services.store.get_messages(sid)}
    a, b = stored[first.reply_id], stored[second.reply_id]
    assert a["model"] == OPENAI and b["model"] == CLAUDE
    assert a["cost"] == pytest.approx((100 * 0.15 + 50 * 0.6) / 1e6)
    assert b["cost"] == pytest.approx((100 * 3 + 40 * 15) / 1e6)
    assert a["parent"] == b["parent"] and stored[a["parent"]]["role"] == "user"
    assert len(stored) == 3  # one user message, two replies
    # each request carried the prompt once, to its own provider
    assert len(llm.requests_to(CHAT_PATH)) == len(llm.requests_to(ANTHROPIC_PATH)) == 1
    # the current model's reply stays the active branch, the session on its model; the other is an alternative
    tree = Tree.of(services.store.get_messages(sid))
    assert [m["id"] for m in tree.active_path()][-1] == first.reply_id
    assert tree.alternatives(tree.active_path()) == {first.reply_id: (1, 2)}
    assert services.session(sid)["model"] == OPENAI
    usage = services.store.usage(sid)
    assert set(usage["per_model"]) == {OPENAI, CLAUDE}
    assert "$" in first.stats_line() and "TTFT" in second.stats_line() and "tok/s" in second.stats_line()
    # keep the other: it becomes the branch, its model the session's
    info = service.keep(sid, second.reply_id)
    assert info.id == CLAUDE and services.session(sid)["model"] == CLAUDE
    tree = Tree.of(services.store.get_messages(sid))
    assert tree.active_path()[-1]["id"] == second.reply_id
    assert tree.alternatives(tree.active_path()) == {second.reply_id: (2, 2)}


def test_one_lane_failing_does_not_stop_the_other(services, llm):
    llm.script_for(CHAT_PATH, Reply(text="fine answer"))
    llm.script_for(ANTHROPIC_PATH, Reply(kind="status", status=429, error_type="rate_limit_error",
                                         error_message="slow down"))
    service = CompareService(ChatService(services))
    events = run_compare(service, "hi", None, CLAUDE, model_id=OPENAI)
    first, second = service.lanes
    assert first.status == "complete" and first.text == "fine answer"
    assert second.status == "error" and second.error
    finished = [e for e in events if isinstance(e.event, ReplyFinished)]
    assert {e.lane.index for e in finished} == {0, 1}
    stored = services.store.get_messages(service.session_id)
    assert [m.get("status") for m in stored if m["role"] == "assistant"] == ["complete", "error"]


def test_unknown_or_keyless_other_model_is_refused_before_anything_is_sent(services, llm, monkeypatch):
    service = CompareService(ChatService(services))
    with pytest.raises(ConfigError):
        run_compare(service, "hi", None, "nosuch-model", model_id=OPENAI)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    services.forget_keys()
    with pytest.raises(ConfigError, match="no API key"):
        run_compare(service, "hi", None, CLAUDE, model_id=OPENAI)
    assert llm.requests_to(CHAT_PATH) == [] and llm.requests_to(ANTHROPIC_PATH) == []
    assert services.store.list_sessions() == []


def test_refused_while_a_reply_streams_in_the_session(services, llm):
    chat = ChatService(services)
    llm.script_for(CHAT_PATH, slow("x", 20, 0.1), Reply(text="unused"))

    async def go() -> None:
        stream = chat.send("first", model_id=OPENAI)
        started = await anext(stream)
        assert isinstance(started, ReplyStarted)
        with pytest.raises(BusyError):
            async for _ in CompareService(chat).compare("second", str(started.session["id"]), CLAUDE):
                pass
        await stream.aclose()

    asyncio.run(go())
    assert llm.requests_to(ANTHROPIC_PATH) == []


def test_cancel_stops_both_and_keeps_both_partial_replies(services, llm):
    llm.script_for(CHAT_PATH, slow("a", 50, 0.1))
    llm.script_for(ANTHROPIC_PATH, slow("b", 50, 0.1))
    service = CompareService(ChatService(services))

    async def go() -> None:
        seen: set[int] = set()

        async def consume() -> None:
            async for item in service.compare("long please", None, CLAUDE, model_id=OPENAI):
                if isinstance(item.event, TextDelta):
                    seen.add(item.lane.index)

        task = asyncio.ensure_future(consume())
        while seen != {0, 1}:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    first, second = service.lanes
    assert first.status == second.status == "cancelled"
    stored = {m["id"]: m for m in services.store.get_messages(service.session_id)}
    for lane in (first, second):
        reply = stored[lane.reply_id]
        assert reply["status"] == "cancelled" and reply["content"] and reply["usage"]


# -- ask --compare ------------------------------------------------------------------------------------------------
def ask(capsys, *args):
    code = main(["ask", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ask_compare_prints_both_and_a_summary(home, llm, capsys):
    llm.script_for(CHAT_PATH, Reply(text="Paris, [bold]surely[/bold].", input_tokens=20, output_tokens=4))
    llm.script_for(ANTHROPIC_PATH, Reply(text="It is Paris.", input_tokens=22, output_tokens=3))
    code, out, err = ask(capsys, "-m", OPENAI, "--compare", CLAUDE, "Capital of France?")
    assert code == 0, err
    first, second = out.index(f"== {OPENAI}"), out.index(f"== {CLAUDE}")
    assert first < out.index("Paris, [bold]surely[/bold].") < second < out.index("It is Paris.")
    header = next(line for line in out.splitlines() if line.startswith("model"))
    assert all(col in header for col in ("cost", "TTFT", "tok/s", "in", "out", "status"))
    assert out.count("complete") == 2
    # in a session: the current model's reply stays active, the other is an alternative
    sid = json.loads(ask(capsys, "--json", "-m", OPENAI, "one more")[1])["session_id"]
    llm.script_for(CHAT_PATH, Reply(text="A"))
    llm.script_for(ANTHROPIC_PATH, Reply(text="B"))
    code, out, err = ask(capsys, "--json", "-s", sid, "--compare", CLAUDE, "again?")
    assert code == 0, err
    data = json.loads(out)
    assert data["session_id"] == sid
    assert [r["model"] for r in data["replies"]] == [OPENAI, CLAUDE]
    assert [r["text"] for r in data["replies"]] == ["A", "B"]
    assert {"model", "cost", "ttft", "tokens_per_s", "input_tokens", "output_tokens", "status"} <= set(data["summary"][0])
    services = build_services(home)
    tree = Tree.of(services.store.get_messages(sid))
    path = tree.active_path()
    assert path[-1]["id"] == data["replies"][0]["message_id"] and path[-1]["model"] == OPENAI
    assert tree.alternatives(path) == {path[-1]["id"]: (1, 2)}
    assert services.session(sid)["model"] == OPENAI


def test_ask_compare_exit_status(home, llm, capsys):
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text("max_retries = 0\nrequest_timeout = 10\n")
    llm.script_for(CHAT_PATH, Reply(text="ok"))
    llm.script_for(ANTHROPIC_PATH, Reply(kind="status", status=401, error_message="bad key"))
    code, out, err = ask(capsys, "-m", OPENAI, "--compare", CLAUDE, "hi")
    assert code == 0, err  # one lane answered
    assert "[error:" in out and "ok" in out
    llm.script_for(CHAT_PATH, Reply(kind="status", status=500, error_message="boom"))
    llm.script_for(ANTHROPIC_PATH, Reply(kind="status", status=401, error_message="bad key"))
    code, out, err = ask(capsys, "-m", OPENAI, "--compare", CLAUDE, "hi")
    assert code == 4  # both failed: EXIT_PROVIDER
    before = len(llm.requests)
    code, out, err = ask(capsys, "-m", OPENAI, "--compare", "nosuch-model", "hi")
    errors = [line for line in err.splitlines() if line.startswith("agentspace-tui:")]
    assert code == 3 and errors == ["agentspace-tui: unknown model 'nosuch-model'; see `agentspace-tui models`"]
    assert len(llm.requests) == before and out == ""  # refused before anything was sent
