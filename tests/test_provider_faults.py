"""Provider faults beyond a plain error status, through the real CLI, litellm and the loopback fake server:
retry-after as an HTTP date, a TLS handshake that never answers, lines that are not of the stream's format,
masked key fragments echoed by providers; and the fake server's hostile / burst-then-stall modes on the wire."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentspace_tui import cli
from agentspace_tui.providers.errors import parse_retry_after, redact_secrets
from agentspace_tui.services.core import build_services
from tests.conftest import OPENAI_KEY, ROOT
from tests.fakeserver import (
    HOSTILE_CHUNKS,
    HOSTILE_REPLY,
    HOSTILE_TEXTS,
    NDJSON_GARBAGE,
    SSE_GARBAGE,
    SURROGATE_CHUNKS,
    FakeLLMServer,
    Reply,
    http_date,
    split_chunks,
)
from tests.fakeserver.base import mask_key
from tests.fakeserver.replay import ReplayServer
from tests.test_provider_reality import ask, ask_json

MODELS = {"openai": "gpt-4o-mini", "anthropic": "anthropic:claude-sonnet-4-5", "ollama": "ollama:llama3.2"}
LABELS = {"openai": "OpenAI", "anthropic": "Anthropic", "ollama": "Ollama"}
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages", "ollama": "/api/chat"}


def write_config(home: Path, text: str) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(text, encoding="utf-8")


def posts(llm: FakeLLMServer) -> list:
    return [r for r in llm.requests if r.method == "POST"]


def retry_wait(err: str) -> float:
    match = re.search(r"retry 1/\d+ in ([0-9.]+) s", err)
    assert match, err
    return float(match.group(1))


@pytest.fixture(autouse=True)
def _litellm_loaded():
    """litellm's first import (seconds) is not what these tests time."""
    from agentspace_tui.providers.stream import load_litellm

    load_litellm()


# -- 1. retry-after: delta-seconds, HTTP date, retry-after-ms ----------------------------------------------
@pytest.mark.parametrize("wire", MODELS)
def test_retry_after_http_date_is_waited_for(home, llm, capsys, wire):
    llm.script(Reply(kind="status", status=429, retry_after_date=2), Reply(text="finally"))
    code, out, err = ask(capsys, "-m", MODELS[wire], "hi")
    assert code == 0 and out == "finally\n", err
    wait = retry_wait(err)
    assert 1 <= wait <= 2, err  # the date is whole seconds: 1-2 s from now, rounded up; not the 0.5 s back-off
    stamps = [r.time for r in llm.requests_to(PATHS[wire])]
    assert len(stamps) == 2 and stamps[1] - stamps[0] >= wait - 0.05


def test_retry_after_date_in_the_past_is_no_wait(home, llm, capsys):
    llm.script(Reply(kind="status", status=429, retry_after=http_date(-120)), Reply(text="at once"))  # a str: as is
    code, out, err = ask(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 0 and out == "at once\n"
    assert retry_wait(err) == 0


def test_retry_after_date_far_ahead_is_reported_not_waited(home, llm, capsys):
    llm.script(*[Reply(kind="status", status=429, retry_after_date=3600)] * 3)
    started = time.monotonic()
    code, data, err = ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    assert time.monotonic() - started < 5
    assert code == 4 and re.search(r"rate limit reached \(429\); retry after 3[56]\d\d s", data["error"]), data["error"]
    assert len(posts(llm)) == 1  # an hour is not waited for, and not retried sooner either


def test_retry_after_ms_comes_first(home, llm, capsys):
    # retry-after alone (70 s) is longer than we wait; OpenAI's retry-after-ms says 0.2 s
    llm.script(Reply(kind="status", status=429, retry_after=70, retry_after_ms=200), Reply(text="soon"))
    code, out, err = ask(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 0 and out == "soon\n", err
    assert retry_wait(err) == 0.2


def test_parse_retry_after_forms():
    now = 1_790_000_000.0  # 2026-09-21T...Z
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 30))
    assert parse_retry_after("7") == 7 and parse_retry_after(" 1.5 ") == 1.5 and parse_retry_after("-3") == 0
    assert parse_retry_after(date, now=now) == 30
    assert parse_retry_after(date, now=now + 0.4) == 30  # rounded up: never retried early
    assert parse_retry_after(date, now=now + 60) == 0
    asctime = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(now + 10))  # the obsolete forms are dates too
    assert parse_retry_after(asctime, now=now) == 10
    for bad in ("soon", "", "nan", "inf", None, "Wed, 21 Oct 99999 07:28:00 GMT"):
        assert parse_retry_after(bad, now=now) is None


# -- 2. a TLS handshake that never answers -------------------------------------------------------------
class _Blackhole:
    """A TCP server that accepts connections and never sends a byte (a TLS handshake that never answers)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.mark.parametrize("kind", ["openai", "anthropic", "ollama"])
def test_tls_handshake_that_never_answers_fails_within_request_timeout(home, capsys, kind):
    hole = _Blackhole()
    base = f"https://127.0.0.1:{hole.port}" + ("/v1" if kind == "openai" else "")
    write_config(home, f'request_timeout = 2\nmax_retries = 2\n[providers.blackhole]\nkind = "{kind}"\n'
                       f'api_base = "{base}"\napi_key_env = "OPENAI_API_KEY"\nmodels = ["m"]\n')
    try:
        started = time.monotonic()
        code, data, err = ask_json(capsys, "-m", "blackhole:m", "hi")
        elapsed = time.monotonic() - started
    finally:
        hole.close()
    assert code == 4 and data["finish"] == "error"
    assert elapsed < 2 + 2.5, elapsed  # one request_timeout (plus the CLI's own work), not 3 x 61 s
    assert len(hole.accepted) == 1  # a timeout is not retried
    error = data["error"]
    assert "\n" not in error and "did not answer in time (2 s)" in error
    assert f"127.0.0.1:{hole.port}" in error  # which host did not answer


# -- 3. lines that are not of the stream's format ------------------------------------------------------
TEXT = "one two three four five six seven eight nine"


@pytest.mark.parametrize("wire", MODELS)
def test_garbage_line_mid_stream_is_named_and_the_partial_reply_kept(home, llm, capsys, wire):
    llm.script(Reply(text=TEXT, kind="garbage", cut_after=2))
    code, data, err = ask_json(capsys, "-m", MODELS[wire], "hi")
    before = "".join(split_chunks(TEXT)[:2])
    assert code == 4 and data["finish"] == "interrupted", data
    # litellm: OpenAI raises, Anthropic drops the rest of the stream silently, Ollama skips the line
    assert data["text"].startswith(before) and data["text"] in (before, TEXT)
    error = data["error"]
    assert error.startswith(f"{LABELS[wire]}") and "sent a line that is not part of its stream format" in error
    assert "<html>oops</html>" in error and "the partial reply was kept" in error
    assert "\n" not in error and "Expecting value" not in error and "litellm" not in error.lower()
    assert len(llm.requests_to(PATHS[wire])) == 1
    reply = build_services().store.get_messages(data["session_id"])[-1]
    assert reply["role"] == "assistant" and reply["status"] == "interrupted" and reply["content"] == data["text"]


@pytest.mark.parametrize("garbage", [b'data: {"choices": [{"delta": {"content": "tru\n\n', b"data: oops\n\n"])
def test_broken_data_line_is_named_for_openai(home, llm, capsys, garbage):
    llm.script(Reply(text=TEXT, kind="garbage", cut_after=1, garbage=garbage))
    code, data, err = ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 4 and data["finish"] == "interrupted" and data["text"] == split_chunks(TEXT)[0]
    assert data["error"].startswith("OpenAI sent a line that is not part of its stream format")


def test_garbage_before_any_text_is_not_retried(home, llm, capsys):
    write_config(home, "max_retries = 2\n")
    llm.script(*[Reply(text=TEXT, kind="garbage", cut_after=0)] * 3)
    code, data, err = ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 4 and data["finish"] == "error" and data["text"] == ""
    assert "not part of its stream format" in data["error"] and "check the base URL" in data["error"]
    assert len(posts(llm)) == 1 and "retry 1/" not in err


def test_a_web_page_instead_of_the_stream_is_named(home, tmp_path, capsys, monkeypatch):
    """A base URL that answers 200 with a web page: SSE parsers skip every line, so the stream just ends."""
    (tmp_path / "page.body").write_bytes(b"<!DOCTYPE html>\n<html><body>Welcome to nginx!</body></html>\n")
    (tmp_path / "page.json").write_text(json.dumps({"id": "page", "wire": "openai", "framing": "raw",
                                                    "content_type": "text/html"}))
    with ReplayServer() as replay:
        replay.play(tmp_path / "page.json")
        monkeypatch.setenv("OPENAI_BASE_URL", replay.url + "/v1")
        code, data, err = ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 4 and data["finish"] == "error"
    assert data["error"].startswith('OpenAI sent a line that is not part of its stream format ("<!DOCTYPE html>")')


def test_a_bare_non_field_line_in_sse_is_ignored_like_sse_says(home, llm, capsys):
    """SSE parsers skip a line that is no field; the reply still finishes as the provider said."""
    llm.script(Reply(text=TEXT, kind="garbage", cut_after=2, garbage=b"garbage\n\n"))
    code, data, err = ask_json(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 0 and data["finish"] == "stop" and data["text"] == TEXT


def test_garbage_on_the_wire(llm):
    """kind="garbage": cut_after pieces, the garbage, then the rest and the terminator, for each wire."""
    for wire, garbage in (("openai", SSE_GARBAGE), ("anthropic", SSE_GARBAGE), ("ollama", NDJSON_GARBAGE)):
        llm.script(Reply(text=TEXT, kind="garbage", cut_after=2))
        body = _post(llm, wire)
        assert body.count(garbage) == 1
        head, tail = body.split(garbage)
        assert b"six" in head and b"seven" not in head and b"nine" in tail  # chunks of three words
        assert tail.endswith({"openai": b"data: [DONE]\n\n", "anthropic": b'{"type": "message_stop"}\n\n',
                              "ollama": b"}\n"}[wire])


# -- 4. masked key fragments ---------------------------------------------------------------------------
ECHO = "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys."


@pytest.mark.parametrize("reply", [
    Reply(kind="status", status=401),  # the fake server's 401 echoes the masked key as OpenAI does
    Reply(kind="status", status=403, error_message=ECHO.format(mask_key(OPENAI_KEY))),
    Reply(kind="status", status=400, error_message=ECHO.format(mask_key(OPENAI_KEY))),
    Reply(kind="status", status=400, error_message=ECHO.format("sk-proj-********************abcd")),
    Reply(kind="status", status=400, error_message="API key not valid: AIzaSy****************************Xb1c"),
    Reply(kind="error_event", cut_after=1, error_message=ECHO.format(mask_key(OPENAI_KEY))),
], ids=["401", "403", "400", "400-proj", "400-google", "in-stream"])
def test_masked_key_fragment_is_never_shown_stored_or_exported(home, llm, capsys, reply):
    write_config(home, "max_retries = 0\n")
    llm.script(reply)
    code, out, err = ask(capsys, "-m", "gpt-4o-mini", "hi")
    assert code == 4
    session = json.loads(cli.main(["sessions", "list", "--json"]) and "" or capsys.readouterr().out)[0]["id"]
    cli.main(["sessions", "export", session])
    markdown = capsys.readouterr().out
    cli.main(["sessions", "export", session, "--format", "json"])
    exported = capsys.readouterr().out
    stored = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in home.rglob("*") if p.is_file())
    fragments = [OPENAI_KEY, mask_key(OPENAI_KEY), "sk-tes*", "sk-proj-****", "****abcd", "AIzaSy", "*Xb1c"]
    for where, text in (("stderr", err), ("stdout", out), ("export", markdown), ("json export", exported),
                        ("stored files", stored)):
        for fragment in fragments:
            assert fragment not in text, f"{fragment!r} in the {where}"
        assert not re.search(r"\w{3}\*{3,}\w{2}", text), f"a masked key in the {where}"
    assert "agentspace-tui: " in err  # the error itself is still shown


def test_redact_secrets_removes_whole_keys_and_masked_fragments_only():
    for text in ("sk-tes*********T123", "sk-proj-********************abcd", "AIza****...", "AIzaSy*****Xb1c",
                 "sk-ant-api03-****...****AAAA", "sk-...abcd", "gsk_****wxyz", "abcd1234*****wxyz",
                 "sk-test-openai-SECRET-0123456789"):
        assert redact_secrets(f"key: {text}. Next") == "key: ***. Next", text
    assert redact_secrets("my secret is hunter22", ["hunter22"]) == "my secret is ***"
    for prose in ("This is ***bold*** text", "a *** rule", "f***ing", "**x**", "word***bold*** x", "2 * 3 *** 4"):
        assert redact_secrets(prose) == prose
    started = time.monotonic()
    for hostile in ("abc" + "*" * 50_000 + "!", "a-" * 30_000 + "***!", "abc***" * 10_000 + "!", "sk-" * 20_000):
        redact_secrets(hostile)
    assert time.monotonic() - started < 1  # linear time on any text


# -- 5. the fake server's hostile and burst-then-stall modes on the wire ---------------------------------
def _request(url: str, wire: str, model: str = "m") -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    host, port = url.removeprefix("http://").split(":")
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    headers = {"Content-Type": "application/json"}
    if wire == "anthropic":
        headers["anthropic-version"] = "2023-06-01"
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", PATHS[wire], json.dumps(body), headers)
    return conn, conn.getresponse()


def _post(server: FakeLLMServer, wire: str) -> bytes:
    conn, response = _request(server.url, wire)
    try:
        return response.read()
    finally:
        conn.close()


def _texts(wire: str, body: bytes) -> list[str]:
    """The streamed answer pieces, one per event, JSON-decoded."""
    out = []
    for line in body.decode("ascii").splitlines():
        line = line.removeprefix("data: ")
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if wire == "openai":
            piece = (obj.get("choices") or [{}])[0].get("delta", {}).get("content")
        elif wire == "anthropic":
            piece = obj.get("delta", {}).get("text") if obj.get("type") == "content_block_delta" else None
        else:
            piece = obj.get("message", {}).get("content")
        if piece:
            out.append(piece)
    return out


@pytest.mark.parametrize("wire", MODELS)
def test_hostile_reply_goes_out_as_json_escapes(llm, wire):
    llm.script(HOSTILE_REPLY(reasoning="thinking \ud83d about it"))  # Anthropic signs reasoning: no crash
    body = _post(llm, wire)
    assert body.isascii()  # every control character and surrogate is a \\uXXXX escape
    assert b"\\u001b]52;c;aGVsbG8=\\u0007" in body and b"\\u001b]52;c;aGVsbG8=\\u001b\\\\" in body
    assert b"\\u001b]0;pwned\\u0007" in body and b"\\u001b[6n" in body and b"\\u009b31m" in body
    assert b"\\u202e" in body and b"[link=file:///etc/passwd]x[/link]" in body
    pieces = _texts(wire, body)
    assert pieces == HOSTILE_CHUNKS
    # the emoji's halves travel in separate events, each a lone surrogate escape
    lines = [line for line in body.split(b"\n") if b"\\ud83d" in line or b"\\ude00" in line]
    assert any(b"\\ud83d" in line and b"\\ude00" not in line for line in lines)
    assert any(b"\\ude00" in line and b"\\ud83d" not in line for line in lines)
    assert pieces[-len(SURROGATE_CHUNKS):] == ["a", "\ud83d", "\ude00", "b"]
    assert set(HOSTILE_TEXTS) >= {"osc52_clipboard_bel", "osc0_title", "csi_cursor_query", "c1_csi", "bidi_override",
                                  "markup_link", "lone_high_surrogate", "lone_low_surrogate"}


@pytest.mark.parametrize("wire", MODELS)
def test_burst_then_stall(llm, wire):
    llm.script(Reply(chunks=["a ", "b ", "c ", "d"], stall_after=2, stall_seconds=0.6))
    conn, response = _request(llm.url, wire)
    started = time.monotonic()
    got: list[tuple[float, str]] = []
    buffer = b""
    try:
        while chunk := response.read1(65536):
            buffer += chunk
            pieces = _texts(wire, buffer.rsplit(b"\n", 1)[0] + b"\n")
            for piece in pieces[len(got):]:
                got.append((time.monotonic() - started, piece))
    finally:
        conn.close()
    assert [p for _, p in got] == ["a ", "b ", "c ", "d"]
    assert got[1][0] < 0.3 and got[2][0] - got[1][0] >= 0.55  # two at once, then the stall, then the rest


def test_stop_ends_a_stall_at_once():
    with FakeLLMServer() as server:
        server.script(Reply(chunks=["a ", "b ", "c "], stall_after=1, stall_seconds=30))
        conn, response = _request(server.url, "openai")
        assert b"a " in response.read1(65536) or b"a " in response.read1(65536)
        started = time.monotonic()
        server.stop()
        rest = response.read()
        conn.close()
        assert time.monotonic() - started < 3
        assert b"[DONE]" not in rest


def test_client_hanging_up_ends_a_stall(llm):
    llm.script(Reply(chunks=["a ", "b "], stall_after=1, stall_seconds=30))
    conn, response = _request(llm.url, "openai")
    response.read1(65536)
    response.close()  # the client gives up (the response owns the socket of a close-delimited stream)
    conn.close()
    deadline = time.monotonic() + 3
    while not llm.last.client_gone and time.monotonic() < deadline:
        time.sleep(0.02)
    assert llm.last.client_gone


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_flags_hostile_and_stall():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeserver", "--port", str(port), "--hostile", "--stall-after", "2",
         "--stall-seconds", "0.5", "--quiet"],
        cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None and "fake LLM server on" in proc.stdout.readline()
        started = time.monotonic()
        conn, response = _request(f"http://127.0.0.1:{port}", "openai")
        body = response.read()
        conn.close()
        assert time.monotonic() - started >= 0.5
        assert _texts("openai", body) == HOSTILE_CHUNKS
    finally:
        proc.terminate()
        proc.wait(timeout=10)
