"""ChatSession and branches without Textual: the conversation object the app and the CLI share, driven through
the real wire protocol against the loopback server."""

from __future__ import annotations

import asyncio

import pytest

from agentspace_tui.services.branches import Tree
from agentspace_tui.services.chat import ReplyFinished
from agentspace_tui.services.chat_session import ChatSession
from agentspace_tui.services.core import build_services
from tests.fakeserver import Reply


def _msg(mid, role, parent="<none>", created=0.0, **extra):
    m = {"id": mid, "role": role, "content": mid, "created_at": created, **extra}
    if parent != "<none>":
        m["parent"] = parent
    return m


def test_legacy_messages_without_parent_form_one_branch():
    msgs = [_msg("u1", "user", created=1), _msg("a1", "assistant", created=2), _msg("u2", "user", created=3)]
    tree = Tree.of(msgs)
    assert [m["id"] for m in tree.active_path()] == ["u1", "a1", "u2"]
    assert tree.alternatives(tree.active_path()) == {}


def test_newest_branch_is_active_and_choosing_an_older_one_sticks():
    msgs = [
        _msg("u1", "user", None, 1), _msg("a1", "assistant", "u1", 2),
        _msg("u2", "user", "a1", 3), _msg("a2", "assistant", "u2", 4),
        _msg("a1b", "assistant", "u1", 5),  # regenerated: a sibling of a1, newest
    ]
    tree = Tree.of(msgs)
    assert [m["id"] for m in tree.active_path()] == ["u1", "a1b"]
    assert tree.alternatives(tree.active_path()) == {"a1b": (2, 2)}
    assert tree.neighbour("a1b", -1) == "a1" and tree.neighbour("a1b", 1) is None
    msgs[1]["chosen_at"] = 6  # paged back to a1: its branch continues to its newest leaf
    tree = Tree.of(msgs)
    assert [m["id"] for m in tree.active_path()] == ["u1", "a1", "u2", "a2"]
    assert tree.alternatives(tree.active_path()) == {"a1": (1, 2)}
    assert tree.pair_of("u2") == ["u2", "a2"] and tree.pair_of("a2") == ["u2", "a2"]
    assert [m["id"] for m in tree.lineage("u2")] == ["u1", "a1", "u2"]


def test_unknown_parent_attaches_to_the_previous_message():
    msgs = [_msg("u1", "user", None, 1), _msg("a1", "assistant", "gone", 2)]
    assert [m["id"] for m in Tree.of(msgs).active_path()] == ["u1", "a1"]


@pytest.fixture
def services(home):
    return build_services(home)


def _run(chat: ChatSession, text: str = "", **kw) -> dict:
    async def go() -> dict:
        final = None
        async for event in chat.send(text, **kw):
            if isinstance(event, ReplyFinished):
                final = event.reply
        assert final is not None
        return final

    return asyncio.run(go())


def _new(services) -> ChatSession:
    return ChatSession(services, services.resolve_model("openai:gpt-4o-mini"))


def test_regenerate_keeps_the_old_reply_and_sends_the_chosen_branch(services, llm):
    chat = _new(services)
    llm.script(Reply(text="first answer"), Reply(text="second answer"), Reply(text="third"))
    _run(chat, "question one")
    reply = _run(chat, place=chat.regenerate_target())
    assert reply["content"] == "second answer"
    # the regenerated request held the question once, without the earlier answer
    assert llm.requests[-1].messages[-1] == ("user", "question one")
    assert ("assistant", "first answer") not in llm.requests[-1].messages
    assert [m["content"] for m in chat.path] == ["question one", "second answer"]
    assert list(chat.alternatives().values()) == [(2, 2)]
    # page back to the first answer; the next turn continues from it, in this process and after a reload
    assert chat.choose_alternative(reply["id"], -1) is not None
    reopened, _ = ChatSession.open(services, chat.session_id)
    assert [m["content"] for m in reopened.path] == ["question one", "first answer"]
    _run(reopened, "follow up")
    sent = llm.requests[-1].messages
    assert ("assistant", "first answer") in sent and ("assistant", "second answer") not in sent
    assert len(services.messages(chat.session_id)) == 5  # nothing replaced: question, 2 answers, follow-up, reply


def test_retry_with_another_model_records_that_model(services, llm):
    chat = _new(services)
    llm.script(Reply(text="from mini"), Reply(text="from four-o"))
    _run(chat, "hello")
    reply = _run(chat, place=chat.regenerate_target(), model_id="openai:gpt-4o")
    assert reply["model"] == "openai:gpt-4o" and reply["prices"]["output_per_mtok"] > 0
    assert llm.requests[-1].body["model"] == "gpt-4o"
    first = next(m for m in chat.messages if m.get("content") == "from mini")
    assert first["model"] == "openai:gpt-4o-mini"  # the earlier reply keeps its own model
    assert chat.model.id == "openai:gpt-4o"


def test_edit_and_resend_forks_and_keeps_the_old_branch(services, llm):
    chat = _new(services)
    llm.script(Reply(text="a1"), Reply(text="a2"), Reply(text="a2 edited"))
    _run(chat, "q1")
    _run(chat, "q2 typo")
    q2 = next(m for m in chat.path if m["content"] == "q2 typo")
    _run(chat, "q2 fixed", place=chat.fork_at(q2["id"]))
    assert [m["content"] for m in chat.path] == ["q1", "a1", "q2 fixed", "a2 edited"]
    assert llm.requests[-1].messages[-3:] == [("user", "q1"), ("assistant", "a1"), ("user", "q2 fixed")]
    assert chat.alternatives()[chat.path[2]["id"]] == (2, 2)
    old = chat.choose_alternative(chat.path[2]["id"], -1)
    assert old == q2["id"] and [m["content"] for m in chat.path] == ["q1", "a1", "q2 typo", "a2"]


def test_hidden_pair_is_not_sent_but_its_cost_still_counts(services, llm):
    chat = _new(services)
    llm.script(Reply(text="secret answer"), Reply(text="ok"))
    _run(chat, "secret question")
    cost_before = services.store.usage(chat.session_id)
    assert chat.set_hidden(chat.path[0]["id"]) == 2
    _run(chat, "next")
    assert ("user", "secret question") not in llm.requests[-1].messages
    assert all(m.get("hidden") for m in chat.path[:2])
    after = services.store.usage(chat.session_id)
    assert after["total"]["requests"] == cost_before["total"]["requests"] + 1


def test_params_are_sent_stored_with_the_reply_and_validated(services, llm):
    chat = _new(services)
    assert chat.execute("/set temperature 0.2").kind == "info"
    assert chat.execute("/set max-tokens 300").kind == "info"
    bad = chat.execute("/set temperature 7")
    assert bad.kind == "error" and "temperature" in bad.text and "\n" not in bad.text
    llm.script(Reply(text="cool"))
    reply = _run(chat, "hi")
    body = llm.requests[-1].body
    assert body["temperature"] == 0.2 and (body.get("max_tokens") or body.get("max_completion_tokens")) == 300
    assert reply["params"] == {"temperature": 0.2, "max_tokens": 300}
    assert chat.inspect("x").max_output_tokens == 300
    reopened, _ = ChatSession.open(services, chat.session_id)
    assert reopened.params.temperature == 0.2


def test_retry_target_only_after_a_failure(services, llm):
    chat = _new(services)
    llm.script(Reply(text="fine"))
    _run(chat, "ok")
    with pytest.raises(Exception, match="nothing to retry"):
        chat.retry_target()
    llm.script(Reply(kind="status", status=500), Reply(kind="status", status=500), Reply(kind="status", status=500),
               Reply(text="recovered"))
    failed = _run(chat, "again")
    assert failed["status"] == "error"
    reply = _run(chat, place=chat.retry_target())
    assert reply["content"] == "recovered"
    # the question once, as the last user turn: the failed reply is an alternative, never sent
    assert [role for role, _ in llm.requests[-1].messages].count("user") == 2
    assert llm.requests[-1].messages[-1] == ("user", "again")


def test_slash_commands_report_one_line_outcomes(services, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # /export without a path writes into the working directory
    chat = _new(services)
    assert chat.execute("/help").ui == "help"
    assert chat.execute("/model").ui == "switch_model"
    assert chat.execute("/set").ui == "params"
    assert chat.execute("/model openai:[/]").kind == "error"
    assert chat.execute("/rename").kind == "error"
    assert chat.execute("/bogus").text.startswith("unknown command /bogus")
    f = tmp_path / "notes.txt"
    f.write_text("pinned")
    assert "attached notes.txt" in chat.execute(f"/attach {f}").text
    assert chat.attachments[0]["content"] == "pinned"
    assert chat.execute("/attach /dev/zero").kind == "error"
    assert chat.execute("/export").kind == "info"  # a session exists now (made by /attach)
    assert chat.execute("/export").ui == "confirm_export"


def test_cli_regenerate_params_and_context_follow_the_branch(home, llm):
    """`ask --regenerate`, per-request parameters, and `context` / `sessions show` on the active branch."""
    import json

    from tests.conftest import run_cli

    llm.script(Reply(text="first take"), Reply(text="second take"))
    out = run_cli(home, "ask", "--json", "write a haiku")
    sid = json.loads(out.stdout)["session_id"]
    out = run_cli(home, "ask", "--json", "-s", sid, "--regenerate", "--temperature", "0.7", "--max-tokens", "64")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["text"] == "second take"
    body = llm.requests[-1].body
    assert body["temperature"] == 0.7 and (body.get("max_tokens") or body.get("max_completion_tokens")) == 64
    assert [m for m in llm.requests[-1].messages if m[0] != "system"] == [("user", "write a haiku")]
    shown = run_cli(home, "sessions", "show", sid).stdout
    assert "second take" in shown and "first take" not in shown  # the branch on screen
    ctx = json.loads(run_cli(home, "context", sid, "--json").stdout)
    history = next(sec for sec in ctx["sections"] if sec["name"].lower() == "history")
    assert history["tokens"] > 0
    assert ctx["max_output_tokens"] is None  # --max-tokens applied to that request only, not to the session
    bad = run_cli(home, "ask", "-s", sid, "--temperature", "9", "hi")
    assert bad.returncode == 2 and "temperature" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    none = run_cli(home, "ask", "--regenerate")
    assert none.returncode == 2 and "-s SESSION" in none.stderr


def test_a_reply_records_the_parameters_really_sent(services, llm):
    """litellm silently drops a temperature OpenAI's reasoning models reject: the reply says what went out and
    what did not, read from the request body on the wire, and the stream tells the user."""
    from agentspace_tui.providers.events import ParamsSent

    chat = ChatSession(services, services.resolve_model("openai:o3-mini"))
    chat.execute("/set temperature 0.2")
    chat.execute("/set max-tokens 500")
    llm.script(Reply(text="thought about it"))
    seen: list[ParamsSent] = []

    async def go() -> dict:
        final = None
        async for event in chat.send("hi"):
            if isinstance(event, ParamsSent):
                seen.append(event)
            if isinstance(event, ReplyFinished):
                final = event.reply
        assert final is not None
        return final

    reply = asyncio.run(go())
    body = llm.requests[-1].body
    assert "temperature" not in body and body["max_completion_tokens"] == 500
    assert reply["params"] == {"max_tokens": 500} and reply["params_dropped"] == ["temperature"]
    assert seen and seen[0].dropped == ("temperature",)


def test_sent_params_reads_each_wire_format():
    from agentspace_tui.providers.params_sent import sent_params

    asked = {"temperature": 0.2, "top_p": 0.9, "max_tokens": 50}
    ollama = b'{"model": "llama3.2", "options": {"temperature": 0.2, "top_p": 0.9, "num_predict": 50}}'
    assert sent_params(ollama, asked) == (asked, ())
    anthropic = b'{"max_tokens": 50, "temperature": 0.2}'
    assert sent_params(anthropic, asked) == ({"temperature": 0.2, "max_tokens": 50}, ("top_p",))
    assert sent_params(b"", asked) == (asked, ())  # nothing to read: nothing is claimed dropped


def test_quick_parameter_edits_from_worker_threads_keep_each_other(services):
    """The app runs each /set in a worker thread: two at once, holding the conversation's lock, both land."""
    import threading

    chat = _new(services)
    chat.execute("/rename threads")  # the session exists: both edits write it

    def edit(line: str) -> None:
        with chat.lock:
            chat.execute(line)

    threads = [threading.Thread(target=edit, args=(line,)) for line in
               ("/set temperature 0.4", "/set top-p 0.8", "/set max-tokens 99")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reopened, _ = ChatSession.open(services, chat.session_id)
    assert reopened.params.as_dict() == {"temperature": 0.4, "top_p": 0.8, "max_tokens": 99}
