"""The CLI as separate processes: kill -9 mid-stream, Ctrl-C, two terminals at once, corrupt files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT, cli_env, run_cli
from tests.fakeserver import Reply

SLOW_TEXT = " ".join(f"w{i}" for i in range(300))


def _popen(home, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "agentspace_tui", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=cli_env(home), cwd=str(ROOT), text=True, bufsize=1,
    )


def _read_until(proc, n_chars: int, timeout: float = 30) -> str:
    """Read the child's streamed stdout until n_chars arrived (so we know the stream is under way)."""
    import os
    import selectors

    seen = ""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    os.set_blocking(proc.stdout.fileno(), False)
    deadline = time.time() + timeout
    while len(seen) < n_chars and time.time() < deadline:
        if sel.select(timeout=0.5):
            seen += proc.stdout.read() or ""
    return seen


def _messages(home, session_id=None):
    out = run_cli(home, "sessions", "list", "--json")
    sessions = json.loads(out.stdout)
    sid = session_id or sessions[0]["id"]
    exported = run_cli(home, "sessions", "export", sid, "--format", "json")
    return json.loads(exported.stdout)["messages"], out


def test_kill_during_stream_loses_at_most_about_a_second(home, llm):
    llm.script(Reply(text=SLOW_TEXT, delay=0.05))  # ~3 words/chunk, 20 chunks/s
    proc = _popen(home, "ask", "-m", "gpt-4o-mini", "stream slowly")
    seen = _read_until(proc, 400)
    time.sleep(1.5)
    seen_before_kill_window = len(seen)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    messages, _ = _messages(home)
    reply = messages[-1]
    assert messages[0]["content"] == "stream slowly"
    assert SLOW_TEXT.startswith(reply["content"])
    # checkpointed about once a second: everything seen 1.5 s before the kill is on disk
    assert len(reply["content"]) >= seen_before_kill_window
    # the dead process's reply is shown as interrupted, not as streaming forever
    assert reply["status"] == "interrupted" and "stopped" in reply["error"]


def test_ctrl_c_saves_partial_and_exits_130(home, llm):
    llm.script(Reply(text=SLOW_TEXT, delay=0.05))
    proc = _popen(home, "ask", "-m", "gpt-4o-mini", "stream slowly")
    seen = _read_until(proc, 200)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    messages, _ = _messages(home)
    reply = messages[-1]
    assert reply["status"] == "cancelled"
    assert reply["content"].startswith(seen.strip()[:100]) and SLOW_TEXT.startswith(reply["content"])
    # the provider billed what it generated: a local estimate is recorded, flagged as such
    assert reply["usage_estimated"] is True and reply["usage"]["output_tokens"] > 0
    assert reply["cost"] > 0


def test_two_processes_at_once_lose_nothing(home, llm):
    llm.default = Reply(text="parallel answer " * 20, delay=0.01)
    try:
        procs = [_popen(home, "ask", "-m", "gpt-4o-mini", f"question {i}") for i in range(2)]
        results = [p.communicate(timeout=60) for p in procs]
    finally:
        llm.default = Reply()
    assert [p.returncode for p in procs] == [0, 0], results
    sessions = json.loads(run_cli(home, "sessions", "list", "--json").stdout)
    assert len(sessions) == 2 and all(s["messages"] == 2 for s in sessions)
    usage = json.loads(run_cli(home, "usage", "--json").stdout)
    assert usage["total"]["requests"] == 2


def test_second_request_on_a_streaming_session_is_refused(home, llm):
    llm.script(Reply(text="first " * 40))
    first = run_cli(home, "ask", "--json", "-m", "gpt-4o-mini", "start")
    sid = json.loads(first.stdout)["session_id"]
    llm.script(Reply(text=SLOW_TEXT, delay=0.05))
    proc = _popen(home, "ask", "-s", sid, "stream slowly")
    _read_until(proc, 100)
    second = run_cli(home, "ask", "-s", sid, "me too")
    proc.kill()
    proc.wait()
    assert second.returncode == 3
    assert "already streaming" in second.stderr or "is streaming a reply" in second.stderr
    assert "Traceback" not in second.stderr


def test_corrupt_index_is_moved_aside_and_rebuilt(home, llm):
    llm.script(Reply(text="kept answer"))
    assert run_cli(home, "ask", "-m", "gpt-4o-mini", "remember me").returncode == 0
    index = home / "data" / "index.json"
    index.write_text('{"sessions": {"1": {"id": "abc", "tit')  # truncated mid-write
    out = run_cli(home, "sessions", "list", "--json")
    assert out.returncode == 0, out.stderr
    assert "warning" in out.stderr and "corrupt" in out.stderr
    sessions = json.loads(out.stdout)
    assert len(sessions) == 1 and sessions[0]["title"] == "remember me"
    assert list((home / "data").glob("index.json.corrupt-*"))
    # and the app keeps working on it
    llm.script(Reply(text="still works"))
    again = run_cli(home, "ask", "-c", "next")
    assert again.returncode == 0 and again.stdout == "still works\n"


def test_garbage_config_is_a_clear_error(home):
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text("default_model = [unclosed\n")
    out = run_cli(home, "models")
    assert out.returncode == 3 and "config.toml is not valid TOML" in out.stderr
    assert "Traceback" not in out.stderr
