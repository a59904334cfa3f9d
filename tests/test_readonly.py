"""A read-only data dir: every read command works, and reading never needs a write.

Root ignores file modes, so as root these tests run in a child pytest without the capabilities that let root
write anywhere (``test_as_root_without_override_capabilities``); the module's own tests then skip here.
"""

from __future__ import annotations

import json
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env, run_cli
from tests.fakeserver import Reply


def _modes_ignored() -> bool:
    """Whether this process can write into a dir without write permission (root, unless its caps were dropped)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ro"
        folder.mkdir(mode=0o500)
        try:
            (folder / "probe").touch()
        except PermissionError:
            return False
        finally:
            folder.chmod(0o700)
        return True


MODES_IGNORED = _modes_ignored()
needs_modes = pytest.mark.skipif(MODES_IGNORED, reason="running as root: test_as_root_without_override_capabilities runs these")
DROP_OVERRIDE = "-dac_override,-dac_read_search"


@pytest.mark.skipif(not MODES_IGNORED or shutil.which("setpriv") is None,
                    reason="file modes apply here: the tests below run directly")
def test_as_root_without_override_capabilities():
    """Run this module again as root minus CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, where modes apply."""
    out = subprocess.run(
        ["setpriv", "--bounding-set", DROP_OVERRIDE, "--inh-caps", DROP_OVERRIDE, sys.executable, "-m", "pytest",
         "-q", "-p", "no:cacheprovider", __file__],
        capture_output=True, text=True, cwd=str(ROOT), timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "3 passed" in out.stdout and "failed" not in out.stdout, out.stdout[-2000:]

SLOW_TEXT = " ".join(f"w{i}" for i in range(300))


def _chmod_tree(root: Path, writable: bool) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        mode = mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        path.chmod(mode)


@pytest.fixture
def read_only(home):
    data = home / "data"
    made = []

    def freeze() -> None:
        _chmod_tree(data, writable=False)
        made.append(data)

    yield freeze
    for root in made:
        _chmod_tree(root, writable=True)


def _killed_mid_stream(home, llm) -> str:
    """A session whose last reply was left "streaming" by a killed process (with some text on disk)."""
    first = run_cli(home, "ask", "--json", "-m", "gpt-4o-mini", "first question")
    assert first.returncode == 0, first.stderr
    sid = json.loads(first.stdout)["session_id"]
    llm.script(Reply(text=SLOW_TEXT, delay=0.05))
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentspace_tui", "ask", "-s", sid, "stream slowly"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=cli_env(home), cwd=str(ROOT),
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(200)
    time.sleep(1.5)  # a checkpoint with text is on disk
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()
    return sid


def _ok(home, *args: str) -> subprocess.CompletedProcess:
    out = run_cli(home, *args)
    assert out.returncode == 0, (args, out.stderr)
    assert "Traceback" not in out.stderr
    return out


@needs_modes
def test_read_commands_work_on_a_read_only_dir(home, llm, read_only):
    sid = _killed_mid_stream(home, llm)
    data = home / "data"
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    read_only()

    show = _ok(home, "sessions", "show", sid)
    assert "stream slowly" in show.stdout and "interrupted" in show.stdout
    exported = json.loads(_ok(home, "sessions", "export", sid, "--format", "json").stdout)
    assert exported["messages"][-1]["status"] == "interrupted"
    listed = json.loads(_ok(home, "sessions", "list", "--json").stdout)
    assert [s["id"] for s in listed] == [sid]
    usage = json.loads(_ok(home, "usage", "--json").stdout)
    assert usage["total"]["requests"] == 1  # the first reply; the dead one's estimate waits for a writable dir
    json.loads(_ok(home, "usage", "--session", sid, "--json").stdout)
    context = json.loads(_ok(home, "context", sid, "--json").stdout)
    assert context["total"]["tokens"] > 0
    _ok(home, "pricing", "list")
    # nothing was written, not even a lock or temp file
    assert {p: p.read_bytes() for p in data.rglob("*") if p.is_file()} == before

    # writable again: the deferred mark and usage record happen, once
    _chmod_tree(data, writable=True)
    for _ in range(2):
        usage = json.loads(_ok(home, "usage", "--json").stdout)
        assert usage["total"]["requests"] == 2 and usage["total"]["estimated"] == 1


@needs_modes
def test_tui_services_open_a_read_only_session(home, llm, read_only):
    """What the TUI does to open a session: Services.messages on the session (the app's open path)."""
    sid = _killed_mid_stream(home, llm)
    read_only()
    from agentspace_tui.services.core import build_services

    services = build_services(home)
    session = services.session(sid)
    messages = services.messages(session["id"])
    assert messages[-1]["status"] == "interrupted"
    assert services.store.list_sessions()[0]["id"] == sid
    assert services.store.usage()["total"]["requests"] == 1


@needs_modes
async def test_tui_opens_a_read_only_session(home, llm, read_only):
    from tests.test_ui_app import SIZE, make_app, screen_text, started

    sid = _killed_mid_stream(home, llm)
    read_only()
    app = make_app(session=sid, warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.history[-1]["status"] == "interrupted"
        assert "stream slowly" in screen_text(app)
