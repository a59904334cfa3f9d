"""`ask` with hostile model text: no byte of it drives the terminal; split emoji are joined, not crashed on."""

from __future__ import annotations

import json
import time

import pytest

from agentspace_tui import cli
from tests.conftest import run_cli
from tests.fakeserver import Reply

ESC = "\x1b"
HOSTILE_CHUNKS = [
    "clip ", f"{ESC}]52;c;cm0gLXJmIH4=\x07", " title ", f"{ESC}]0;pwned{ESC}\\", " ask ", f"{ESC}[6n",
    " clear ", f"{ESC}[2J", " c1 ", "\x9b31m", " bell \x07 cr\r", "\nend",
]


def ask(capsys, *args: str) -> tuple[int, str, str]:
    """``ask`` in this process (litellm imported once for the module), output as the terminal would get it."""
    code = cli.main(["ask", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _no_controls(text: str) -> None:
    for bad in (ESC, "\x07", "\x9b", "\r"):
        assert bad not in text, repr(bad)


@pytest.mark.parametrize("wire", ["openai", "anthropic", "ollama"])
def test_ask_shows_escape_sequences_instead_of_running_them(home, llm, wire, capsys):
    model = {"openai": "gpt-4o-mini", "anthropic": "anthropic:claude-sonnet-4-5", "ollama": "ollama:llama3.2"}[wire]
    llm.script(Reply(chunks=HOSTILE_CHUNKS))
    code, out, err = ask(capsys, "-m", model, "be hostile")
    assert code == 0, err
    _no_controls(out)
    _no_controls(err)
    assert "clip ␛]52;c;cm0gLXJmIH4=␇ title ␛]0;pwned␛\\ ask ␛[6n clear ␛[2J c1 <9B>31m bell ␇ cr\nend" in out
    # the stored reply keeps what the model sent, as data
    cli.main(["sessions", "list", "--json"])
    sid = json.loads(capsys.readouterr().out)[0]["id"]
    cli.main(["sessions", "export", sid, "--format", "json"])
    assert json.loads(capsys.readouterr().out)["messages"][-1]["content"] == "".join(HOSTILE_CHUNKS)


def test_ask_raw_passes_the_bytes_through(home, llm, capsys):
    llm.script(Reply(chunks=HOSTILE_CHUNKS))
    code, out, err = ask(capsys, "--raw", "-m", "gpt-4o-mini", "be hostile")
    assert code == 0, err
    assert out == "".join(HOSTILE_CHUNKS) + "\n"


def test_a_crlf_split_across_chunks_is_one_newline(home, llm, capsys):
    llm.script(Reply(chunks=["line one\r", "\nline two"]))
    assert ask(capsys, "-m", "gpt-4o-mini", "lines")[1] == "line one\nline two\n"


SPLIT = ["smile ", "\ud83d", "\ude00", " and half ", "\ud83d", " end \ude00"]
REPAIRED = "smile \U0001f600 and half \ufffd end \ufffd"


@pytest.mark.parametrize("wire", ["openai", "anthropic", "ollama"])
def test_an_emoji_split_across_chunks_is_joined_and_a_lone_half_is_replaced(home, llm, wire, capsys):
    model = {"openai": "gpt-4o-mini", "anthropic": "anthropic:claude-sonnet-4-5", "ollama": "ollama:llama3.2"}[wire]
    llm.script(Reply(chunks=SPLIT))
    code, out, err = ask(capsys, "-m", model, "emoji")
    assert code == 0, err
    assert out == REPAIRED + "\n"
    cli.main(["sessions", "list", "--json"])
    sid = json.loads(capsys.readouterr().out)[0]["id"]
    cli.main(["sessions", "export", sid, "--format", "json"])
    assert json.loads(capsys.readouterr().out)["messages"][-1]["content"] == REPAIRED  # stored repaired


def test_split_emoji_under_a_strict_utf8_stdout(home, llm):
    llm.script(Reply(chunks=SPLIT))
    env = {"PYTHONIOENCODING": "utf-8:strict"}
    out = run_cli(home, "ask", "-m", "gpt-4o-mini", "emoji", **env)
    assert out.returncode == 0 and out.stdout == REPAIRED + "\n", out.stderr
    llm.script(Reply(chunks=SPLIT))
    as_json = run_cli(home, "ask", "--json", "-c", "again", **env)
    assert as_json.returncode == 0, as_json.stderr
    shown = run_cli(home, "sessions", "show", json.loads(as_json.stdout)["session_id"], **env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count(REPAIRED) == 2


# -- what a real terminal receives ---------------------------------------------------------------------
PAYLOADS = (b"\x1b]52;c;cm0gLXJmIH4=", b"\x1b]0;pwned", b"\x1b[6n clear")  # the model's sequences, as sent


def _terminal_clean(output: bytes) -> None:
    for payload in PAYLOADS:
        assert payload not in output, payload
    assert "␛]52;c;cm0gLXJmIH4=".encode() in output  # shown, as text


def test_a_terminal_running_ask_gets_no_model_escape_sequence(home, llm):
    from tests.test_signals import Terminal

    llm.script(Reply(chunks=HOSTILE_CHUNKS))
    term = Terminal(home, "ask", "-m", "gpt-4o-mini", "be hostile")
    term.wait_for(b"end")
    assert term.finish(timeout=60) == 0
    _terminal_clean(bytes(term.output))


def test_a_terminal_running_the_app_gets_no_model_escape_sequence(home, llm):
    from tests.test_signals import Terminal

    llm.script(Reply(chunks=HOSTILE_CHUNKS, delay=0.05))
    term = Terminal(home, "-m", "openai:gpt-4o-mini")
    try:
        term.wait_for(b"gpt-4o-mini")
        time.sleep(1.0)  # the session opens in a worker after the first paint
        term.type("be hostile\r")
        term.wait_for("␛]52;c;cm0gLXJmIH4=".encode())
        term.wait_for(b"to first token")  # the reply ended and settled
        time.sleep(0.5)
        term.type("\x11")  # Ctrl+Q
        assert term.finish() == 0
    finally:
        term.close()
    _terminal_clean(bytes(term.output))
