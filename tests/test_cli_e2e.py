"""End-to-end: the real CLI, through the real litellm, against the loopback server (OpenAI, Anthropic, Ollama)."""

from __future__ import annotations

import json

import pytest

from agentspace_tui.cli import main
from tests.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.fakeserver import Reply


def text_of(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def ask(capsys, *args):
    code = main(["ask", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def ask_json(capsys, *args):
    code, out, err = ask(capsys, "--json", *args)
    return code, json.loads(out), err


@pytest.mark.parametrize(
    "model, path, key_header",
    [
        ("openai:gpt-4o-mini", "/v1/chat/completions", "authorization"),
        ("anthropic:claude-sonnet-4-5", "/v1/messages", "x-api-key"),
        ("ollama:llama3.2", "/api/chat", None),
    ],
)
def test_ask_streams_and_bills_per_provider(home, llm, capsys, model, path, key_header):
    llm.script(Reply(text="Hello there, [bold]friend[/bold]!", input_tokens=1000, output_tokens=200))
    code, out, err = ask(capsys, "-m", model, "Say hi")
    assert code == 0, err
    assert out == "Hello there, [bold]friend[/bold]!\n"
    assert model in err and "1.0k in / 200 out" in err
    req = llm.requests_to(path)[-1]
    assert text_of(req.body["messages"][-1]) == "Say hi"
    if key_header == "authorization":
        assert req.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    elif key_header == "x-api-key":
        assert req.headers["x-api-key"] == ANTHROPIC_KEY
    data = json.loads(_run_json(capsys, ["usage"]))
    per = data["per_model"][model]
    assert per["requests"] == 1 and per["input_tokens"] == 1000 and per["output_tokens"] == 200
    expected = {"openai:gpt-4o-mini": (1000 * 0.15 + 200 * 0.6) / 1e6,
                "anthropic:claude-sonnet-4-5": (1000 * 3 + 200 * 15) / 1e6,
                "ollama:llama3.2": 0.0}[model]
    assert per["cost"] == pytest.approx(expected)


def _run_json(capsys, argv):
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0
    return out


def test_ask_json_shape(home, llm, capsys):
    llm.script(Reply(text="four", input_tokens=12, output_tokens=1))
    code, data, _ = ask_json(capsys, "-m", "gpt-4o-mini", "2+2?")
    assert code == 0
    assert set(data) == {"session_id", "message_id", "model", "text", "reasoning", "finish", "tool_calls", "usage",
                         "cost", "cost_source", "cache_savings", "error", "answered_by", "requested_model",
                         "failover", "forecast", "rounds"}
    assert data["cache_savings"] == 0  # no cache tokens: nothing saved (a known price, so not None)
    assert set(data["forecast"]) >= {"input_cost", "output_cost_low", "output_cost_high"}
    assert data["answered_by"] == data["requested_model"] == data["model"] and data["failover"] == []
    assert data["text"] == "four" and data["finish"] == "stop" and data["error"] is None
    assert data["reasoning"] is None and data["tool_calls"] == [] and data["rounds"] == []
    assert data["usage"] == {"input_tokens": 12, "output_tokens": 1, "reasoning_tokens": 0, "cache_read_tokens": 0,
                             "cache_write_tokens": 0, "source": "provider"}
    assert data["cost"] == pytest.approx((12 * 0.15 + 1 * 0.6) / 1e6) and data["cost_source"] == "catalog"


def test_switch_provider_mid_session_carries_history(home, llm, capsys):
    llm.script(Reply(text="I am GPT."))
    code, first, _ = ask_json(capsys, "-m", "openai:gpt-4o-mini", "Who are you?")
    assert code == 0
    llm.script(Reply(text="I am Claude."))
    code, second, _ = ask_json(capsys, "-c", "-m", "anthropic:claude-sonnet-4-5", "And now?")
    assert code == 0 and second["session_id"] == first["session_id"]
    req = llm.last
    assert req.path == "/v1/messages"
    contents = [text_of(m) for m in req.body["messages"]]
    assert contents == ["Who are you?", "I am GPT.", "And now?"]
    # each reply remembers its model and the price it was made with
    main(["sessions", "export", first["session_id"], "--format", "json"])
    exported = json.loads(capsys.readouterr().out)
    replies = [m for m in exported["messages"] if m["role"] == "assistant"]
    assert [r["model"] for r in replies] == ["openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5"]
    assert replies[0]["prices"]["input_per_mtok"] == pytest.approx(0.15)
    assert replies[1]["prices"]["input_per_mtok"] == pytest.approx(3.0)
    main(["sessions", "export", first["session_id"], "--format", "md"])
    md = capsys.readouterr().out
    assert "## Assistant (openai:gpt-4o-mini)" in md and "## Assistant (anthropic:claude-sonnet-4-5)" in md


def test_pricing_override_and_history_not_rewritten(home, llm, capsys):
    llm.script(Reply(text="a", input_tokens=1_000_000, output_tokens=0))
    ask_json(capsys, "-m", "gpt-4o-mini", "one")
    assert main(["pricing", "set", "gpt-4o-mini", "--input", "10", "--output", "20"]) == 0
    capsys.readouterr()
    listed = json.loads(_run_json(capsys, ["pricing", "list"]))
    assert listed[0]["model"] == "openai:gpt-4o-mini" and listed[0]["input_per_mtok"] == 10
    llm.script(Reply(text="b", input_tokens=1_000_000, output_tokens=0))
    _, data, _ = ask_json(capsys, "-c", "two")
    assert data["cost"] == pytest.approx(10.0)
    usage = json.loads(_run_json(capsys, ["usage"]))
    # the first reply stays billed at the catalog price it was made with
    assert usage["total"]["cost"] == pytest.approx(10.0 + 0.15)
    assert main(["pricing", "unset", "gpt-4o-mini"]) == 0
    assert main(["pricing", "unset", "gpt-4o-mini"]) == 3


def test_unknown_price_is_not_zero(home, llm, capsys):
    llm.script(Reply(text="hi", input_tokens=100, output_tokens=10))
    code, data, err = ask_json(capsys, "-m", "openai:my-private-model", "hello")
    assert code == 0 and data["cost"] is None
    usage = json.loads(_run_json(capsys, ["usage"]))
    assert usage["per_model"]["openai:my-private-model"]["cost"] is None
    assert usage["per_model"]["openai:my-private-model"]["unknown_cost"] == 1
    code, out, err = ask(capsys, "-c", "again")
    assert "unknown" in err and "$0 " not in err


@pytest.mark.parametrize(
    "reply, code, status, text_in_error",
    [
        (Reply(kind="status", status=401), 4, "error", "rejected the API key"),
        (Reply(kind="status", status=500), 4, "error", "server error"),
        (Reply(kind="status", status=400, error_type="context_length_exceeded"), 4, "error", "context window"),
        (Reply(kind="cutoff", cut_after=2, text="one two three four five six seven eight nine"), 4, "interrupted",
         "before the reply was complete"),
        # an error the provider states inside the stream ends the reply as "error"; the partial text is kept
        (Reply(kind="error_event", cut_after=2, text="one two three four five six seven eight nine"), 4,
         "error", "partial reply was kept"),
    ],
)
@pytest.mark.parametrize("model", ["openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5"])
def test_error_paths(home, llm, capsys, monkeypatch, model, reply, code, status, text_in_error):
    # no retries here, so a 500 is reported rather than retried against the default reply
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text("max_retries = 0\nrequest_timeout = 5\n")
    llm.script(reply)
    got, data, err = ask_json(capsys, "-m", model, "hello")
    assert got == code
    assert data["finish"] == status
    assert text_in_error in data["error"]
    assert "\n" not in data["error"] and "Traceback" not in err
    assert OPENAI_KEY not in data["error"] and ANTHROPIC_KEY not in data["error"]
    if reply.kind in ("cutoff", "error_event"):
        assert data["text"] and data["text"] == "".join(reply.chunk_list()[: reply.cut_after])


def test_rate_limit_retry_after_is_honoured(home, llm, capsys):
    llm.script(Reply(kind="status", status=429, retry_after=0.3), Reply(text="finally"))
    code, out, err = ask(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 0 and out == "finally\n"
    assert "rate limit" in err and "retry 1/2 in 0.3 s" in err
    stamps = [r.time for r in llm.requests_to("/v1/chat/completions")]
    assert stamps[1] - stamps[0] >= 0.3


def test_rate_limit_gives_up_after_bounded_retries(home, llm, capsys):
    llm.script(*[Reply(kind="status", status=429, retry_after=0.05)] * 3)
    code, data, err = ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 4 and data["finish"] == "error" and "rate limit" in data["error"]
    assert len(llm.requests_to("/v1/chat/completions")) == 3


def test_unreachable_endpoint(home, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text("max_retries = 0\n")
    code, data, _ = ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 4 and data["finish"] == "error"
    assert "OpenAI" in data["error"]


def test_timeout(home, llm, capsys):
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text("max_retries = 0\nrequest_timeout = 1\n")
    llm.script(Reply(kind="hang", cut_after=0, hang_seconds=5))
    code, data, _ = ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 4 and data["finish"] == "error" and "in time" in data["error"]


def test_missing_key_and_unknown_things_exit_3(home, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    code, out, err = ask(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 3 and "OPENAI_API_KEY" in err and "keys set openai" in err
    code, out, err = ask(capsys, "-m", "gpt-4o-mni", "hi")
    assert code == 3 and "did you mean" in err
    code, out, err = ask(capsys, "-s", "nosuchsession", "hi")
    assert code == 3 and "no session" in err
    assert main(["sessions", "show", "zzzzzz"]) == 3
    # nothing was stored by the failed attempts
    assert main(["sessions", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_bad_arguments_exit_2(home, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["ask", "--bogus"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["pricing", "set", "gpt-4o-mini", "--input", "abc", "--output", "1"])
    assert exc.value.code == 2


def test_sessions_commands(home, llm, capsys):
    llm.script(Reply(text="first answer"))
    _, a, _ = ask_json(capsys, "-m", "gpt-4o-mini", "First question about [brackets]")
    llm.script(Reply(text="second answer"))
    _, b, _ = ask_json(capsys, "-m", "gpt-4o-mini", "Second question")
    rows = json.loads(_run_json(capsys, ["sessions", "list"]))
    assert [r["id"] for r in rows] == [b["session_id"], a["session_id"]]
    assert set(rows[0]) == {"id", "title", "model", "created_at", "updated_at", "messages", "cost", "cost_estimated",
                            "cache_savings"}
    assert rows[1]["title"] == "First question about [brackets]" and rows[1]["messages"] == 2
    assert main(["sessions", "rename", a["session_id"][:6], "Renamed"]) == 0
    assert main(["sessions", "show", a["session_id"]]) == 0
    shown = capsys.readouterr().out
    assert "first answer" in shown and "First question about [brackets]" in shown
    out_file = home / "export.md"
    assert main(["sessions", "export", a["session_id"], "-o", str(out_file)]) == 0
    assert "# Renamed" in out_file.read_text()
    assert main(["sessions", "delete", a["session_id"]]) == 0
    capsys.readouterr()
    rows = json.loads(_run_json(capsys, ["sessions", "list"]))
    assert [r["id"] for r in rows] == [b["session_id"]]
    usage = json.loads(_run_json(capsys, ["usage"]))
    assert usage["total"]["requests"] == 2  # deleted session's spending stays
    per_session = json.loads(_run_json(capsys, ["usage", "--session", b["session_id"]]))
    assert per_session["total"]["requests"] == 1


def test_context_command(home, llm, capsys):
    llm.script(Reply(text="answer " * 50))
    _, a, _ = ask_json(capsys, "-m", "gpt-4o-mini", "question " * 50)
    data = json.loads(_run_json(capsys, ["context", a["session_id"], "--draft", "next one"]))
    assert set(data) >= {"model", "context_window", "used_fraction", "excluded_messages", "sections", "total"}
    assert data["model"] == "openai:gpt-4o-mini" and data["context_window"] == 128000
    sections = {s["name"]: s for s in data["sections"]}
    assert list(sections) == ["system_prompt", "attachments", "history", "tools", "user_message"]
    assert sections["history"]["tokens"] > 100
    assert data["total"]["tokens"] == sum(s["tokens"] for s in data["sections"])
    assert data["total"]["cost"] == pytest.approx(data["total"]["tokens"] * 0.15 / 1e6)
    other = json.loads(_run_json(capsys, ["context", a["session_id"], "--model", "claude-sonnet-4-5"]))
    assert other["context_window"] == 200000 and other["model"] == "anthropic:claude-sonnet-4-5"
    assert other["total"]["cost"] == pytest.approx(other["total"]["tokens"] * 3 / 1e6)


def test_context_window_overflow_excludes_oldest(home, llm, capsys):
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(
        f'[providers.tiny]\nkind = "openai"\napi_base = "{llm.url}/v1"\nlocal = true\nmodels = ["tiny-model"]\n'
        "context_window = 600\n"
    )
    for i in range(4):
        llm.script(Reply(text=f"answer {i} " + "word " * 100))
        flag = ["-c"] if i else []
        code, _, err = ask(capsys, *flag, "-m", "tiny:tiny-model", f"question {i} " + "word " * 100)
        assert code == 0, err
    sid = json.loads(_run_json(capsys, ["sessions", "list"]))[0]["id"]
    data = json.loads(_run_json(capsys, ["context", sid]))
    assert data["excluded_messages"] >= 2 and data["total"]["tokens"] <= 600
    sent = llm.last.body["messages"]
    assert not any("question 0" in text_of(m) for m in sent)  # left out of the request
    main(["sessions", "show", sid])
    assert "question 0" in capsys.readouterr().out  # but never out of storage


def test_models_command(home, capsys):
    data = json.loads(_run_json(capsys, ["models"]))
    by_id = {m["id"]: m for m in data}
    assert set(data[0]) == {"id", "provider", "context_window", "max_output", "input_per_mtok", "output_per_mtok",
                            "key_configured"}
    assert by_id["openai:gpt-4o-mini"]["key_configured"] is True
    assert by_id["anthropic:claude-sonnet-4-5"]["input_per_mtok"] == pytest.approx(3.0)
    assert by_id["gemini:gemini-2.5-flash"]["key_configured"] is False
    # Ollama models discovered from OLLAMA_HOST (the loopback server), context from /api/show
    assert by_id["ollama:llama3.2"]["context_window"] == 131072
    assert by_id["ollama:llama3.2"]["input_per_mtok"] == 0.0
    only = json.loads(_run_json(capsys, ["models", "--provider", "anthropic"]))
    assert only and all(m["provider"] == "anthropic" for m in only)
    assert main(["models", "--provider", "nope"]) == 3


def test_keys_commands(home, capsys, monkeypatch, memkeyring):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("sk-mistral-SECRET-abcdef\n"))
    assert main(["keys", "set", "mistral"]) == 0
    assert memkeyring.get_password("agentspace-tui", "mistral") == "sk-mistral-SECRET-abcdef"
    capsys.readouterr()
    rows = {r["provider"]: r for r in json.loads(_run_json(capsys, ["keys", "list"]))}
    assert rows["mistral"]["source"] == "keyring"
    assert rows["openai"]["source"] == "env:OPENAI_API_KEY"
    assert rows["gemini"]["source"] == "none" and rows["ollama"]["source"] == "not needed"
    main(["keys", "list"])
    text = capsys.readouterr().out
    assert "sk-mistral" not in text and "SECRET" not in text
    assert main(["keys", "delete", "mistral"]) == 0
    assert memkeyring.get_password("agentspace-tui", "mistral") is None
    assert main(["keys", "set", "nope"]) == 3


def test_no_keyring_backend_says_so(home, capsys, monkeypatch):
    import io

    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-x-SECRET\n"))
    assert main(["keys", "set", "groq"]) == 3
    err = capsys.readouterr().err
    assert "no system keyring" in err and "GROQ_API_KEY" in err
    assert not any("sk-x-SECRET" in p.read_text(errors="ignore") for p in home.rglob("*") if p.is_file())


def test_secrets_never_reach_our_files(home, llm, capsys):
    llm.script(Reply(kind="status", status=401))
    ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    llm.script(Reply(text="ok"))
    ask_json(capsys, "-m", "claude-sonnet-4-5", "hi")
    main(["sessions", "export", json.loads(_run_json(capsys, ["sessions", "list"]))[0]["id"], "--format", "json"])
    exported = capsys.readouterr().out
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, "SECRET"):
        assert secret not in exported
        for path in files:
            assert secret not in path.read_text(errors="ignore"), path


def test_stdin_prompt_and_system(home, llm, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("piped question\n"))
    llm.script(Reply(text="ok"))
    code, _, _ = ask(capsys, "-m", "gpt-4o-mini", "--system", "Be terse.", "-")
    assert code == 0
    body = llm.last.body
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}
    assert body["messages"][-1]["content"] == "piped question\n"


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and "agentspace-tui 0." in capsys.readouterr().out
    for sub in ("ask", "models", "sessions", "usage", "context", "keys", "pricing"):
        with pytest.raises(SystemExit) as exc:
            main([sub, "--help"])
        assert exc.value.code == 0
        assert "usage: agentspace-tui" in capsys.readouterr().out
