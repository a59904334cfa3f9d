"""The usage ledger survives damage (rebuilt from the session files) and agrees with the sessions after a kill
between its writes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agentspace_tui.storage import Store
from agentspace_tui.storage.atomic import AtomicJSONStorage
from tests.conftest import run_cli
from tests.fakeserver import Reply

COUNTERS = ("requests", "input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens",
            "cache_write_tokens", "unknown_cost", "estimated")


def _json(home, *args: str):
    out = run_cli(home, *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), out.stderr


def _same_usage(after: dict, before: dict) -> None:
    assert set(after["per_model"]) == set(before["per_model"])
    for model, bucket in [*before["per_model"].items(), ("total", before["total"])]:
        got = after["total"] if model == "total" else after["per_model"][model]
        assert {k: got[k] for k in COUNTERS} == {k: bucket[k] for k in COUNTERS}, model
        assert got["cost"] == pytest.approx(bucket["cost"])
        assert got["estimated_cost"] == pytest.approx(bucket["estimated_cost"])


def _garble_middle(path: Path, n: int = 16) -> None:
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + n] = (b"\x00\xff#" * n)[:n]
    path.write_bytes(bytes(raw))


# -- damage: rebuilt from the session files -------------------------------------------------------------------
def test_garbled_ledger_is_rebuilt_from_sessions_via_cli(home, llm):
    llm.script(Reply(text="one two three"), Reply(text="four five"), Reply(text="six", reasoning="thinking hard"))
    first, _ = _json(home, "ask", "--json", "-m", "gpt-4o-mini", "first")
    _json(home, "ask", "--json", "-s", first["session_id"], "second")
    _json(home, "ask", "--json", "-m", "claude-sonnet-4-5", "third")
    before, _ = _json(home, "usage", "--json")
    assert before["total"]["requests"] == 3 and before["total"]["cost"] > 0

    _garble_middle(home / "data" / "usage.json")
    after, err = _json(home, "usage", "--json")
    _same_usage(after, before)
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "usage.json was corrupt" in warnings[0], err
    assert list((home / "data").glob("usage.json.corrupt-*"))
    # the repair is on disk: the next read needs none and agrees
    again, err = _json(home, "usage", "--json")
    _same_usage(again, before)
    assert "warning" not in err


def _reply(store: Store, sid: str, model: str, cost: float | None, when: float, out: int = 20) -> None:
    """What ChatService does for one reply, with the stored fields a rebuild reads."""
    _stored_reply(store, sid, model, cost, when, out)
    _record(store, sid, model, cost, when, out)


def _stored_reply(store: Store, sid: str, model: str, cost: float | None, when: float, out: int = 20) -> None:
    store.append_message(sid, {"role": "user", "content": "q", "created_at": when})
    reply = store.append_message(sid, {"role": "assistant", "content": "a", "model": model, "created_at": when})
    usage = {"input_tokens": 100, "output_tokens": out, "cache_read_tokens": 0, "cache_write_tokens": 0,
             "reasoning_tokens": 0}
    store.update_message(sid, reply["id"], usage=usage, usage_source="provider", cost=cost, status="complete")


def _record(store: Store, sid: str, model: str, cost: float | None, when: float, out: int = 20) -> None:
    store.record_reply_usage(sid, model=model, input_tokens=100, output_tokens=out, cache_read_tokens=0,
                             cache_write_tokens=0, cost=cost, when=when)


def test_rebuild_keeps_deleted_sessions_spending_that_salvage_recovered(tmp_path: Path) -> None:
    day = [time.mktime((2025, 3, d, 12, 0, 0, 0, 0, -1)) for d in range(1, 5)]
    store = Store(tmp_path)
    kept, gone = store.create_session()["id"], store.create_session()["id"]
    _reply(store, gone, "m:a", 1.0, day[0])  # only the ledger will remember this one
    _reply(store, kept, "m:a", 2.0, day[1])
    _reply(store, kept, "m:b", None, day[2])
    _reply(store, kept, "m:b", 0.5, day[3], out=7)
    store.delete_session(gone)
    before = Store(tmp_path).usage()
    assert before["total"]["requests"] == 4

    # tear the row of day 2 (a surviving session's) and the rest of the file after it
    path = tmp_path / "usage.json"
    raw = path.read_bytes()
    cut = raw.index(b'"2025-03-02"')
    path.write_bytes(raw[:cut] + b"\x00" * 16)
    fresh = Store(tmp_path)
    after = fresh.usage()
    _same_usage(after, before)
    assert fresh.usage(day="2025-03-01")["total"]["cost"] == 1.0  # the deleted session's, from salvage
    assert fresh.usage(day="2025-03-03")["total"]["unknown_cost"] == 1
    assert len(fresh.warnings) == 1 and "usage.json was corrupt" in fresh.warnings[0]


# -- a kill between the ledger and the session's total ----------------------------------------------------
class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


def _kill_before(monkeypatch, victim: str, after: str) -> None:
    """Make the first write of ``victim`` (a file name) that follows a write of ``after`` die."""
    real = AtomicJSONStorage.write
    seen: list[str] = []

    def write(self, data):
        if self.path.name == victim and after in seen:
            monkeypatch.setattr(AtomicJSONStorage, "write", real)
            raise Killed
        seen.append(self.path.name)
        return real(self, data)

    monkeypatch.setattr(AtomicJSONStorage, "write", write)


@pytest.mark.parametrize("window", ["ledger-then-session", "session-then-index"])
@pytest.mark.parametrize("next_step", ["read", "another-reply-elsewhere"])
def test_killed_between_ledger_and_session_agree_on_next_read(tmp_path: Path, monkeypatch, window, next_step):
    store = Store(tmp_path)
    sid, other = store.create_session()["id"], store.create_session()["id"]
    _reply(store, sid, "m:a", 0.25, time.time())
    now = time.time()
    _stored_reply(store, sid, "m:a", 0.5, now)
    if window == "ledger-then-session":
        _kill_before(monkeypatch, f"{sid}.json", after="usage.json")
    else:
        _kill_before(monkeypatch, "index.json", after=f"{sid}.json")
    with pytest.raises(Killed):
        _record(store, sid, "m:a", 0.5, now)
    monkeypatch.undo()

    if next_step == "another-reply-elsewhere":  # a writer that does not read first must not lose it either
        _reply(Store(tmp_path), other, "m:a", 1.0, time.time())
    fresh = Store(tmp_path)
    ledger = fresh.usage()["total"]
    expected = 2 + (next_step == "another-reply-elsewhere")
    assert ledger["requests"] == expected
    session = fresh.usage(sid)["total"]
    assert session["requests"] == 2 and session["cost"] == pytest.approx(0.75)
    listed = {s["id"]: s for s in fresh.list_sessions()}
    assert listed[sid]["cost"] == pytest.approx(0.75)
    assert sum(s["cost"] for s in listed.values()) == pytest.approx(ledger["cost"])
    # the session file's own copy agrees too (it rebuilds the index if that is lost)
    meta = json.loads((tmp_path / "sessions" / f"{sid}.json").read_text())["meta"]["1"]["session"]
    assert meta["usage"]["m:a"]["requests"] == 2
    # and healing happened once: more reads change nothing
    again = Store(tmp_path)
    assert again.usage()["total"]["requests"] == expected and again.usage(sid)["total"]["requests"] == 2
    assert fresh.warnings == [] and again.warnings == []


# -- a kill after the reply's final save, before its count -------------------------------------------------------
FINISHED_THEN_KILLED = """
import os, socket, sys, time
from pathlib import Path
from agentspace_tui.storage import Store

store = Store(Path(sys.argv[1]))
sid = sys.argv[2]
_, reply = store.begin_turn(sid, {"role": "user", "content": "q"}, {
    "role": "assistant", "content": "", "model": "openai:gpt-4o-mini", "status": "streaming",
    "pid": os.getpid(), "host": socket.gethostname(), "checkpoint_at": time.time()})
usage = {"input_tokens": 40, "output_tokens": 9, "cache_read_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0}
store.update_message(sid, reply["id"], content="the answer", status="complete", usage=usage, usage_source="provider",
                     cost=0.125, duration=0.5)
os._exit(9)  # killed before record_reply_usage
"""


def test_reply_saved_but_not_counted_is_counted_once_after_its_writer_died(home, llm):
    import subprocess
    import sys

    from tests.conftest import ROOT, cli_env

    first, _ = _json(home, "ask", "--json", "-m", "gpt-4o-mini", "first")
    sid = first["session_id"]
    before, _ = _json(home, "usage", "--json")
    child = subprocess.run([sys.executable, "-c", FINISHED_THEN_KILLED, str(home / "data"), sid],
                           env=cli_env(home), cwd=str(ROOT), capture_output=True, text=True, timeout=60)
    assert child.returncode == 9, child.stderr
    for _ in range(2):  # counted when found, once
        after, _ = _json(home, "usage", "--json")
        assert after["total"]["requests"] == before["total"]["requests"] + 1
        assert after["total"]["output_tokens"] == before["total"]["output_tokens"] + 9
        assert after["total"]["cost"] == pytest.approx(before["total"]["cost"] + 0.125)
        assert after["total"]["estimated"] == 0  # the provider's own figures, stored with the reply
        session, _ = _json(home, "usage", "--session", sid, "--json")
        assert session["total"]["requests"] == 2 and session["total"]["cost"] == pytest.approx(after["total"]["cost"])
