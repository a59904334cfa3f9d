"""Processes racing on one session: the busy guard is atomic, and a dead writer's reply is charged exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from agentspace_tui.storage import Store
from tests.conftest import ROOT, cli_env, run_cli
from tests.fakeserver import Reply
from tests.test_cli_process import _read_until

SLOW_TEXT = " ".join(f"w{i}" for i in range(300))
BUSY = "is streaming a reply in this session"


def _popen(home, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "agentspace_tui", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=cli_env(home), cwd=str(ROOT), text=True,
    )


def _json(home, *args: str):
    out = run_cli(home, *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# -- item: a killed reply reaches usage, once ------------------------------------------------------------
def test_killed_reply_is_charged_once_as_an_estimate(home, llm):
    llm.script(Reply(text=SLOW_TEXT, delay=0.05))
    proc = _popen(home, "ask", "-m", "gpt-4o-mini", "stream slowly")
    _read_until(proc, 300)
    time.sleep(1.5)  # at least one checkpoint with text is on disk
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    # several processes find the dead writer's reply at the same moment: it is charged once
    readers = [_popen(home, "usage", "--json") for _ in range(4)]
    outputs = [r.communicate(timeout=60) for r in readers]
    assert [r.returncode for r in readers] == [0] * 4, outputs
    for out, _ in outputs:
        assert json.loads(out)["total"]["requests"] == 1

    usage = _json(home, "usage", "--json")
    total = usage["total"]
    assert total["requests"] == 1 and total["estimated"] == 1
    assert total["output_tokens"] > 0 and total["input_tokens"] > 0
    assert total["cost"] > 0 and total["estimated_cost"] == total["cost"]

    [session] = _json(home, "sessions", "list", "--json")
    assert session["cost"] == total["cost"] and session["cost_estimated"] is True
    show = run_cli(home, "sessions", "show", session["id"])
    assert show.returncode == 0, show.stderr
    assert "interrupted" in show.stdout and "(est.)" in show.stdout
    messages = _json(home, "sessions", "export", session["id"], "--format", "json")["messages"]
    reply = messages[-1]
    assert reply["status"] == "interrupted" and reply["usage_source"] == "estimated"
    assert reply["usage"]["output_tokens"] == total["output_tokens"] and reply["cost"] == total["cost"]

    # reading again (and again) charges nothing more
    for _ in range(2):
        assert _json(home, "usage", "--json")["total"]["requests"] == 1
        assert _json(home, "usage", "--session", session["id"], "--json")["total"]["requests"] == 1


# -- item: the busy guard is one atomic step across processes ---------------------------------------------
def test_concurrent_asks_on_one_session_strictly_alternate(home, llm):
    first = _json(home, "ask", "--json", "-m", "gpt-4o-mini", "start")
    sid = first["session_id"]
    llm.default = Reply(text=" ".join(f"r{i}" for i in range(60)), delay=0.1)  # ~2 s: the asks overlap
    accepted_total = rejected_total = 0
    for round_no in range(3):
        prompts = [f"round {round_no} ask {i}" for i in range(8)]
        procs = [_popen(home, "ask", "--json", "-s", sid, p) for p in prompts]
        results = [p.communicate(timeout=120) for p in procs]
        accepted = {}
        for prompt, proc, (out, err) in zip(prompts, procs, results, strict=True):
            assert "Traceback" not in err, err
            if proc.returncode == 0:
                accepted[prompt] = json.loads(out)["message_id"]
            else:
                assert proc.returncode == 3, (proc.returncode, err)
                assert BUSY in err, err
        assert accepted, results
        accepted_total += len(accepted)
        rejected_total += len(prompts) - len(accepted)

        messages = Store(home / "data").get_messages(sid)
        roles = [m["role"] for m in messages]
        assert roles == ["user", "assistant"] * (len(messages) // 2), roles
        assert len(messages) == 2 * (1 + accepted_total)
        # every accepted ask got exactly its own reply, right after its own message, and it is complete
        by_prompt = {m["content"]: i for i, m in enumerate(messages) if m["role"] == "user"}
        for prompt, reply_id in accepted.items():
            reply = messages[by_prompt[prompt] + 1]
            assert reply["id"] == reply_id and reply["status"] == "complete"
        assert not [p for p in prompts if p not in accepted and p in by_prompt]
    assert rejected_total  # the race was on
    assert _json(home, "usage", "--json")["total"]["requests"] == 1 + accepted_total
