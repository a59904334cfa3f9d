"""How real providers behave beyond the recorded corpus: keyless endpoints, outcomes users must see, failures
named for what they are, one timeout, and no request to any host but the provider's. Through the real CLI."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentspace_tui import cli
from tests.conftest import OPENAI_KEY, run_cli
from tests.fakeserver import Reply
from tests.fakeserver.replay import ReplayServer


def ask(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["ask", *args])
    out, err = capsys.readouterr()
    return code, out, err


def ask_json(capsys, *args: str) -> tuple[int, dict, str]:
    code, out, err = ask(capsys, "--json", *args)
    return code, json.loads(out), err


def write_config(home, text: str) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(text, encoding="utf-8")


def openai_sse(*objs: dict, done: bool = True) -> bytes:
    return ("".join(f"data: {json.dumps(o)}\n\n" for o in objs) + ("data: [DONE]\n\n" if done else "")).encode()


def chunk(delta: dict, finish: str | None = None, **extra) -> dict:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


@pytest.fixture
def replay():
    with ReplayServer() as srv:
        yield srv


def play_bytes(replay, tmp_path, body: bytes, wire: str = "openai") -> None:
    name = f"synthetic-{len(replay.requests)}"
    (tmp_path / f"{name}.body").write_bytes(body)
    (tmp_path / f"{name}.json").write_text(json.dumps({"id": name, "wire": wire, "framing": "raw",
                                                      "content_type": "text/event-stream"}))
    replay.play(tmp_path / f"{name}.json")


# -- keys: a provider's request carries its own key or none ---------------------------------------------
LMSTUDIO = '[providers.lmstudio]\nkind = "openai"\napi_base = "{url}/v1"\nlocal = true\nmodels = ["qwen2.5-7b"]\n'


def test_keyless_local_endpoint_answers_and_never_gets_the_openai_key(home, llm, capsys):
    write_config(home, LMSTUDIO.format(url=llm.url))
    llm.script(Reply(text="local answer"))
    code, out, err = ask(capsys, "-m", "lmstudio:qwen2.5-7b", "hi")
    assert code == 0, err
    assert out == "local answer\n"
    request = llm.requests_to("/v1/chat/completions")[-1]
    assert request.api_key is None and "authorization" not in request.headers  # OPENAI_API_KEY is set in `home`


def test_keyless_endpoint_works_with_no_openai_key_at_all(home, llm, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    write_config(home, "max_retries = 2\n" + LMSTUDIO.format(url=llm.url))
    llm.script(Reply(text="still fine"))
    code, out, err = ask(capsys, "-m", "lmstudio:qwen2.5-7b", "hi")
    assert (code, out) == (0, "still fine\n"), err
    assert len(llm.requests_to("/v1/chat/completions")) == 1  # no retried "500: Missing credentials"


def test_endpoint_with_a_key_env_sends_that_key_only(home, llm, capsys, monkeypatch):
    write_config(home, f'[providers.corp]\nkind = "openai"\napi_base = "{llm.url}/v1"\napi_key_env = "CORP_KEY"\n'
                       'models = ["corp-llm"]\n')
    monkeypatch.setenv("CORP_KEY", "corp-secret-123456")
    llm.script(Reply(text="ok"))
    assert ask(capsys, "-m", "corp:corp-llm", "hi")[0] == 0
    assert llm.requests_to("/v1/chat/completions")[-1].api_key == "corp-secret-123456"


def test_missing_endpoint_key_is_a_configuration_error_naming_the_variable(home, llm, capsys):
    write_config(home, f'[providers.corp]\nkind = "openai"\napi_base = "{llm.url}/v1"\napi_key_env = "CORP_KEY"\n'
                       'models = ["corp-llm"]\n')
    code, out, err = ask(capsys, "-m", "corp:corp-llm", "hi")
    assert code == 3 and "CORP_KEY" in err
    assert llm.requests_to("/v1/chat/completions") == []


# -- outcomes a user must see ---------------------------------------------------------------------------
def test_truncated_reply_is_marked_on_stderr_and_in_the_export(home, llm, capsys):
    llm.script(Reply(text="The answer begins and then", finish_reason="length"))
    code, out, err = ask(capsys, "-m", "gpt-4o-mini", "long story")
    assert code == 0
    assert "truncated" in err and "max output tokens" in err
    session = json.loads(cli.main(["sessions", "list", "--json"]) and "" or capsys.readouterr().out)[0]["id"]
    cli.main(["sessions", "export", session])
    exported = capsys.readouterr().out
    assert "> truncated: the reply hit the max output tokens" in exported
    assert "· truncated_" in exported  # the summary line names it too


def test_anthropic_refusal_is_shown_as_a_refusal(home, llm, capsys):
    llm.script(Reply(refusal="I can't help with that."))
    code, data, err = ask_json(capsys, "-m", "anthropic:claude-sonnet-4-5", "something bad")
    assert code == 0
    assert data["finish"] == "refusal" and data["text"] == "I can't help with that."
    assert "refused" in err
    llm.script(Reply(refusal="Still no."))
    code, out, err = ask(capsys, "-m", "anthropic:claude-sonnet-4-5", "again")
    assert out == "Still no.\n" and "refused: the model refused to answer" in err


def test_openai_refusal_text_is_kept(home, llm, capsys):
    llm.script(Reply(refusal="I'm sorry, I can't assist with that."))
    code, out, err = ask(capsys, "-m", "gpt-4o-mini", "something bad")
    assert code == 0 and out == "I'm sorry, I can't assist with that.\n"
    assert "refused" in err


@pytest.mark.parametrize("model", ["gpt-4o-mini", "anthropic:claude-sonnet-4-5", "ollama:llama3.2"])
def test_tool_call_without_tools_says_what_the_model_asked_for(home, llm, capsys, model):
    llm.script(Reply(text="", tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'}]))
    code, data, err = ask_json(capsys, "-m", model, "weather?")
    assert code == 0, data["error"]
    assert data["finish"] == "tool_calls"
    assert [(c["name"], json.loads(c["arguments"])) for c in data["tool_calls"]] == [("get_weather", {"city": "Paris"})]
    assert "get_weather(" in err and "no tools are enabled" in err


@pytest.mark.parametrize("model,field", [("gpt-4o-mini", "reasoning_content"), ("gpt-4o-mini", "reasoning"),
                                         ("anthropic:claude-sonnet-4-5", ""), ("ollama:llama3.2", "")])
def test_reasoning_is_stored_apart_and_never_sent_back(home, llm, capsys, model, field):
    llm.script(Reply(text="Paris.", reasoning="The user wants the capital. [bold]France[/] -> Paris.",
                     reasoning_field=field or "reasoning_content"))
    code, data, err = ask_json(capsys, "-m", model, "Capital of France?")
    assert code == 0
    assert data["text"] == "Paris." and data["reasoning"] == "The user wants the capital. [bold]France[/] -> Paris."
    llm.script(Reply(text="Berlin."))
    code, _, _ = ask_json(capsys, "-m", model, "-s", data["session_id"], "And Germany?")
    sent = [text for _role, text in llm.requests[-1].messages]
    assert "Paris." in sent and not any("capital. [bold]" in t for t in sent)
    cli.main(["sessions", "export", data["session_id"]])
    exported = capsys.readouterr().out
    assert "<details><summary>Thinking</summary>" in exported and "[bold]France[/]" in exported


def test_think_tags_in_content_become_reasoning(home, llm, capsys):
    llm.script(Reply(chunks=["<thi", "nk>\nweighing ", "options</th", "ink>\n\nThe answer", " is 4."]))
    code, data, err = ask_json(capsys, "-m", "gpt-4o-mini", "2+2?")
    assert data["text"] == "The answer is 4." and data["reasoning"] == "\nweighing options"


def test_show_reasoning_streams_thinking_to_stderr(home, llm, capsys):
    llm.script(Reply(text="4", reasoning="two plus two"))
    code, out, err = ask(capsys, "--show-reasoning", "-m", "gpt-4o-mini", "2+2?")
    assert out == "4\n" and "two plus two" in err


# -- usage says where it came from ----------------------------------------------------------------------
@pytest.mark.parametrize("model", ["gpt-4o-mini", "anthropic:claude-sonnet-4-5"])
def test_usage_missing_from_the_stream_is_estimated_and_marked(home, llm, capsys, model):
    llm.script(Reply(text="no usage in this stream", usage=False))
    code, data, err = ask_json(capsys, "-m", model, "hi")
    assert code == 0 and data["finish"] == "stop"
    assert data["usage"]["source"] == "estimated" and data["usage"]["output_tokens"] > 0
    code, out, err = ask(capsys, "-m", model, "again")  # the default reply has usage again
    cli.main(["usage", "--json"])
    usage = json.loads(capsys.readouterr().out)
    assert usage["total"]["estimated"] == 1 and usage["total"]["requests"] == 2
    cli.main(["usage"])
    assert "est." in capsys.readouterr().out


def test_anthropic_final_output_count_wins(home, replay, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", replay.url)

    def ev(name: str, obj: dict) -> str:
        return f"event: {name}\ndata: {json.dumps(obj)}\n\n"

    body = (ev("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
        "stop_reason": None, "usage": {"input_tokens": 21, "output_tokens": 1}}})
        + ev("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        + ev("content_block_stop", {"type": "content_block_stop", "index": 0})
        + ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 0}})
        + ev("message_stop", {"type": "message_stop"}))
    play_bytes(replay, tmp_path, body.encode(), "anthropic")
    code, data, err = ask_json(capsys, "-m", "anthropic:claude-sonnet-4-5", "say nothing")
    assert data["usage"]["input_tokens"] == 21 and data["usage"]["output_tokens"] == 0
    assert data["usage"]["source"] == "provider"


def test_gemini_openai_compat_thinking_counted_from_total(home, replay, tmp_path, capsys):
    write_config(home, f'[providers.gemcompat]\nkind = "openai"\napi_base = "{replay.url}"\napi_key_env = "OPENAI_API_KEY"\n')
    play_bytes(replay, tmp_path, openai_sse(
        chunk({"role": "assistant", "content": "Blue."}),
        chunk({}, "stop", usage={"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 89})))
    code, data, err = ask_json(capsys, "-m", "gemcompat:gemini-2.5-flash", "sky?")
    assert data["usage"]["output_tokens"] == 80 and data["usage"]["reasoning_tokens"] == 68


def test_llamacpp_timings_are_the_servers_own_counts(home, replay, tmp_path, capsys):
    write_config(home, f'[providers.llamacpp]\nkind = "openai"\napi_base = "{replay.url}/v1"\nlocal = true\n')
    play_bytes(replay, tmp_path, openai_sse(
        chunk({"role": "assistant", "content": "Hi"}),
        chunk({}, "stop", timings={"cache_n": 3, "prompt_n": 14, "predicted_n": 2, "predicted_ms": 10.0})))
    code, data, err = ask_json(capsys, "-m", "llamacpp:local", "hi")
    assert data["usage"] == {"input_tokens": 17, "output_tokens": 2, "reasoning_tokens": 0, "cache_read_tokens": 3,
                             "cache_write_tokens": 0, "source": "provider"}
    assert data["cost"] == 0 and data["cost_source"] == "local"


# -- failures named for what they are -------------------------------------------------------------------
def test_http_529_is_overloaded_not_a_server_error(home, llm, capsys):
    write_config(home, "max_retries = 0\n")
    llm.script(Reply(kind="status", status=529))
    code, data, err = ask_json(capsys, "-m", "anthropic:claude-sonnet-4-5", "hi")
    assert code == 4 and "overloaded" in data["error"] and "500" not in data["error"]


def test_overloaded_in_the_stream_is_named(home, llm, capsys):
    llm.script(Reply(kind="error_event", cut_after=2, error_type="overloaded_error", text="one two three four five six"))
    code, data, err = ask_json(capsys, "-m", "anthropic:claude-sonnet-4-5", "hi")
    assert code == 4 and data["finish"] == "error" and data["text"]
    assert "overloaded" in data["error"] and "litellm" not in data["error"].lower()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_named(home, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{_free_port()}/v1")
    write_config(home, "max_retries = 2\n")
    code, data, err = ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 4 and "connection refused" in data["error"] and "500" not in data["error"]
    assert "retry 1/" not in err  # nothing listens there: retrying would not help


def test_unknown_host_is_named(home, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://no-such-host.invalid/v1")  # .invalid never resolves (RFC 6761)
    code, data, err = ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 4 and "host not found" in data["error"]


def test_tls_failure_is_named(home, llm, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", llm.url.replace("http://", "https://") + "/v1")  # TLS to a plain server
    code, data, err = ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 4 and "TLS" in data["error"]


@pytest.mark.parametrize("model", ["gpt-4o-mini", "anthropic:claude-sonnet-4-5", "ollama:llama3.2"])
def test_headers_then_silence_fails_after_one_timeout(home, llm, capsys, model):
    """With retries on (the default), a silent server must still fail after one timeout, not three."""
    from agentspace_tui.providers.stream import load_litellm

    load_litellm()  # its import is not what is timed
    write_config(home, "request_timeout = 2\nmax_retries = 2\n")
    llm.script(Reply(kind="silent", hang_seconds=30), Reply(kind="silent", hang_seconds=30),
               Reply(kind="silent", hang_seconds=30))
    started = time.monotonic()
    code, data, err = ask_json(capsys, "-m", model, "hi")
    elapsed = time.monotonic() - started
    assert code == 4 and "in time" in data["error"]
    assert elapsed < 2 * 2, elapsed  # one timeout, not three
    # one completion request (Ollama's /api/show, asked once for the model's window, is not one)
    assert len([r for r in llm.requests if r.method == "POST" and r.path != "/api/show"]) == 1


# -- no request to any host but the provider's ----------------------------------------------------------
class _Trap(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_CONNECT(self) -> None:  # noqa: N802 - http.server's naming
        self.hits.append(self.path)
        self.send_response(403)
        self.end_headers()

    do_GET = do_CONNECT  # noqa: N815

    def log_message(self, *args) -> None:
        pass


def test_llama_models_fetch_no_tokenizer_from_the_internet(home, llm):
    """litellm's cost hook would download a Hugging Face tokenizer for "llama" model names; every outside
    request is routed to a loopback trap that records it."""
    trap = ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    proxy = f"http://127.0.0.1:{trap.server_address[1]}"
    try:
        llm.script(Reply(text="hello from llama", usage=False))
        started = time.monotonic()
        result = run_cli(home, "ask", "--json", "-m", "ollama:llama3.2", "hi", HTTPS_PROXY=proxy, HTTP_PROXY=proxy,
                         https_proxy=proxy, http_proxy=proxy, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
                         HF_HUB_OFFLINE="0", OLLAMA_HOST=llm.url, timeout=120)
        elapsed = time.monotonic() - started
    finally:
        trap.shutdown()
    assert result.returncode == 0, result.stderr
    assert _Trap.hits == []
    assert json.loads(result.stdout)["usage"]["source"] == "estimated"
    assert result.stderr.strip() == "" and elapsed < 30
    assert OPENAI_KEY not in result.stdout
