"""Signals, closed terminals, broken pipes and silences: the reply and its usage are never lost.

Everything runs as real processes: `ask` and the full-screen app (in a pseudo-terminal that is its
controlling terminal, so closing it sends the real SIGHUP) against the loopback server.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env, run_cli
from tests.fakeserver import Reply

WORDS = [f"w{i}" for i in range(400)]
SLOW_TEXT = " ".join(WORDS)


class Terminal:
    """A process whose stdin/stdout/stderr is a pseudo-terminal it owns as its controlling terminal."""

    def __init__(self, home: Path, *args: str, columns: int = 140, rows: int = 45) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

        def own_terminal() -> None:  # runs in the child after setsid(): make the pty its controlling terminal
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        env = cli_env(home, TERM="xterm-256color", COLUMNS=str(columns), LINES=str(rows))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentspace_tui", *args], stdin=slave, stdout=slave, stderr=slave,
            env=env, cwd=str(ROOT), start_new_session=True, preexec_fn=own_terminal,
        )
        os.close(slave)
        self.output = bytearray()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the other side is gone
                return
            if not data:
                return
            self.output += data

    def wait_for(self, needle: bytes, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while needle not in self.output:
            if time.time() > deadline or not self._reader.is_alive():  # the reader ends when the process has gone
                tail = bytes(self.output[-2000:]).decode(errors="replace")
                raise AssertionError(f"{needle!r} never appeared (rc={self.proc.poll()}); output tail:\n{tail}")
            time.sleep(0.05)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        """Close the terminal window: the kernel sends SIGHUP to the process."""
        if not self._closed:
            self._closed = True
            os.close(self.master)

    def finish(self, timeout: float = 20) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.close()


def _session(home: Path) -> tuple[dict, list[dict]]:
    sessions = json.loads(run_cli(home, "sessions", "list", "--json").stdout)
    assert len(sessions) == 1, sessions
    out = run_cli(home, "sessions", "export", sessions[0]["id"], "--format", "json")
    data = json.loads(out.stdout)
    return data["session"], data["messages"]


def _usage(home: Path) -> dict:
    return json.loads(run_cli(home, "usage", "--json").stdout)["total"]


def _assert_saved_with_usage(home: Path, seen_words: int, why: str) -> dict:
    _, messages = _session(home)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    reply = messages[-1]
    assert reply["status"] == "cancelled", reply
    assert why in reply["error"] and "partial reply was kept" in reply["error"]
    assert SLOW_TEXT.startswith(reply["content"])
    # everything that was on screen when the signal came is stored (not only the last checkpoint)
    assert len(reply["content"].split()) >= seen_words, (len(reply["content"].split()), seen_words)
    assert reply["usage_source"] == "estimated" and reply["usage"]["output_tokens"] > 0
    total = _usage(home)
    assert total["requests"] == 1 and total["estimated"] == 1 and total["output_tokens"] > 0
    return reply


def _words_seen(text: str) -> int:
    return max((int(w[1:]) + 1 for w in text.split() if w[:1] == "w" and w[1:].isdigit()), default=0)


# -- ask ----------------------------------------------------------------------------------------------
def _ask_until(home: Path, prompt: str, needle: bytes) -> tuple[subprocess.Popen, bytes]:
    """A real `ask` whose reply streams into a pipe, read until ``needle`` is out: the stream is under way."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentspace_tui", "ask", "-m", "gpt-4o-mini", prompt],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(home), cwd=str(ROOT),
    )
    assert proc.stdout is not None
    seen = b""
    while needle not in seen:
        chunk = os.read(proc.stdout.fileno(), 4096)
        assert chunk, proc.communicate()
        seen += chunk
    return proc, seen


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_ask_saves_the_reply_and_its_usage_on_a_stop_signal(home, llm, signum):
    llm.script(Reply(text=SLOW_TEXT, delay=0.05))
    proc, seen = _ask_until(home, "stream slowly", b"w60 ")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=20)
    seen += out
    assert proc.returncode == 128 + signum, err
    assert b"Traceback" not in err
    name = signal.Signals(signum).name
    assert f"stopped by {name}".encode() in err
    _assert_saved_with_usage(home, _words_seen(seen.decode()), f"stopped by {name}")


def test_ask_in_a_closed_terminal_saves_the_reply(home, llm):
    llm.script(Reply(text=SLOW_TEXT, delay=0.05))
    term = Terminal(home, "ask", "-m", "gpt-4o-mini", "stream slowly")
    term.wait_for(b"w60 ")
    seen = _words_seen(term.output.decode(errors="replace"))
    term.close()  # the window goes away: SIGHUP, and every later write to the terminal fails
    assert term.finish() == 128 + signal.SIGHUP
    _assert_saved_with_usage(home, seen, "stopped by SIGHUP")


def test_ask_into_a_pipe_closed_early_saves_the_whole_reply(home, llm):
    llm.script(Reply(text=SLOW_TEXT, delay=0.002))
    script = f'"{sys.executable}" -m agentspace_tui ask -m gpt-4o-mini "stream" | head -c 30; ' \
             'echo "ask=${PIPESTATUS[0]}" >&2'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=cli_env(home),
                         cwd=str(ROOT), timeout=60)
    assert out.stdout == SLOW_TEXT[:30]
    assert "ask=141" in out.stderr, out.stderr
    assert "broken pipe" in out.stderr and "Traceback" not in out.stderr
    _, messages = _session(home)
    reply = messages[-1]
    assert reply["status"] == "complete" and reply["content"] == SLOW_TEXT
    assert reply["usage_source"] == "provider"
    assert _usage(home)["requests"] == 1


def test_a_burst_then_silence_is_checkpointed_without_waiting_for_the_next_chunk(home, llm):
    chunks = [f"w{i} " for i in range(40)]
    llm.script(Reply(chunks=chunks, kind="hang", cut_after=30, hang_seconds=60))
    proc, _ = _ask_until(home, "burst", b"w29 ")
    time.sleep(2.5)  # the server is silent now; no chunk will arrive to trigger a checkpoint
    proc.kill()
    proc.wait()
    _, messages = _session(home)
    assert messages[-1]["content"] == "".join(chunks[:30])


# -- the app ------------------------------------------------------------------------------------------
def _app_streaming(home: Path, llm) -> tuple[Terminal, int]:
    llm.script(Reply(text=SLOW_TEXT, delay=0.05))
    term = Terminal(home, "-m", "openai:gpt-4o-mini")
    term.wait_for(b"gpt-4o-mini")
    time.sleep(1.0)  # the session opens in a worker after the first paint
    term.type("stream slowly\r")
    term.wait_for(b"w60")
    return term, _words_seen(term.output.decode(errors="replace"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_app_saves_the_reply_and_its_usage_on_a_stop_signal(home, llm, signum):
    term, seen = _app_streaming(home, llm)
    term.proc.send_signal(signum)
    assert term.finish() == 128 + signum, bytes(term.output[-1500:]).decode(errors="replace")
    _assert_saved_with_usage(home, seen, f"stopped by {signal.Signals(signum).name}")


def test_closing_the_app_terminal_saves_the_reply(home, llm):
    term, seen = _app_streaming(home, llm)
    term.close()
    assert term.finish() == 128 + signal.SIGHUP
    _assert_saved_with_usage(home, seen, "stopped by SIGHUP")
