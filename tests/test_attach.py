"""/attach: only regular UTF-8 text files, read with a byte limit and a time limit; everything else refused in
one line (services/attachments.py), and the app stays responsive (Ctrl+Q quits) after a refusal."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentspace_tui.services import attachments
from agentspace_tui.services.attachments import MAX_ATTACHMENT, AttachmentError, read_attachment
from tests.conftest import ROOT

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")


def _release(fifo: Path) -> None:
    """Open and close the write end, so that a reader stuck in open() or read() on ``fifo`` gets EOF."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: nobody has it open for reading, nothing to release
        return
    os.close(fd)


def _refusal(path: str | Path, **kwargs) -> str:
    """The message ``read_attachment`` refuses ``path`` with; fails if it accepts it or takes over 5 s."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(read_attachment(str(path), **kwargs))
        except AttachmentError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), f"read_attachment({path}) still running after 5 s"
    assert time.monotonic() - started < 5
    assert outcome and isinstance(outcome[0], AttachmentError), outcome
    message = str(outcome[0])
    assert "\n" not in message
    return message


# -- special files ---------------------------------------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/zero") or sys.platform != "linux", reason="needs /dev/zero, RLIMIT_AS")
def test_dev_zero_is_refused_without_reading():
    """In a process capped at 1 GB of address space: reading /dev/zero to the end would be a MemoryError."""
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from agentspace_tui.services.attachments import AttachmentError, read_attachment\n"
        "try:\n"
        "    read_attachment('/dev/zero')\n"
        "except AttachmentError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), timeout=30)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout == "cannot attach zero: it is a character device, only regular files can be attached\n"


@posix_only
def test_fifo_is_refused_promptly(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    try:
        message = _refusal(fifo)
    finally:
        _release(fifo)
    assert message == "cannot attach pipe: it is a FIFO (named pipe), only regular files can be attached"


@posix_only
def test_symlink_to_a_fifo_is_refused_promptly(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "notes.txt"
    link.symlink_to(fifo)
    try:
        message = _refusal(link)
    finally:
        _release(fifo)
    assert message == "cannot attach notes.txt: it is a FIFO (named pipe), only regular files can be attached"


def test_directory_is_refused(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    assert _refusal(folder) == "cannot attach folder: it is a directory, only regular files can be attached"


def test_missing_file_says_so(tmp_path):
    assert _refusal(tmp_path / "nope.txt") == f"cannot attach {tmp_path / 'nope.txt'}: No such file or directory"


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="no /proc")
def test_proc_file_size_is_not_trusted(monkeypatch):
    """/proc files report st_size 0: the byte limit holds on what is read, and no more than limit+1 is read."""
    assert os.stat("/proc/self/status").st_size == 0
    requested: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        requested.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(attachments.os, "read", counting_read)
    message = _refusal("/proc/self/status", limit=64)
    monkeypatch.undo()
    assert message == "cannot attach status: it is over the 64 bytes limit for pinned files"
    assert sum(requested) <= 65
    # within the limit it is an ordinary text file
    attached = read_attachment("/proc/self/status")
    assert attached["name"] == "status" and "Pid:" in attached["content"]


def test_read_that_does_not_finish_is_refused(tmp_path, monkeypatch):
    """A read stuck in the kernel (network or FUSE file system) is given up after the timeout."""
    notes = tmp_path / "slow.txt"
    notes.write_text("hello\n")
    release = threading.Event()

    def stuck(fd: int, limit: int) -> bytes:
        release.wait(10)
        return b"hello\n"

    monkeypatch.setattr(attachments, "_read_limited", stuck)
    started = time.monotonic()
    try:
        message = _refusal(notes, timeout=0.3)
    finally:
        release.set()
    assert time.monotonic() - started < 3
    assert message == ("cannot attach slow.txt: reading it did not finish within 0.3 s; only regular files that "
                       "read promptly can be attached")


# -- regular files ---------------------------------------------------------------------------------------------
def test_regular_files(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("pinned: the launch is on Tuesday\n", encoding="utf-8")
    attached = read_attachment(str(notes))
    assert attached == {"path": str(notes.resolve()), "name": "notes.txt",
                        "content": "pinned: the launch is on Tuesday\n", "bytes": 33}

    exact = tmp_path / "exact.txt"
    exact.write_bytes(b"x" * MAX_ATTACHMENT)
    assert read_attachment(str(exact))["bytes"] == MAX_ATTACHMENT

    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (300 * 1024))
    assert _refusal(big) == "cannot attach big.txt: 300 KB is over the 256 KB limit for pinned files"

    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    assert _refusal(blob) == "cannot attach blob.bin: it looks like a binary file"

    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café".encode("latin-1"))
    assert _refusal(latin) == "cannot attach latin1.txt: it is not UTF-8 text"


def test_attachments_module_imports_no_ui():
    code = ("import json, sys, agentspace_tui.services.attachments; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'litellm'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), check=True)
    assert json.loads(out.stdout) == []


# -- in the app ------------------------------------------------------------------------------------------------
@posix_only
async def test_attach_fifo_in_app_is_refused_and_ctrl_q_still_quits(home, llm, tmp_path):
    from agentspace_tui.ui.app import AgentspaceApp
    from tests.test_ui_app import SIZE, command, notices, started, until

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    app = AgentspaceApp(check_providers=False, warm_litellm=False)

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            try:
                await started(pilot)
                await command(pilot, f"/attach {fifo}")
                await until(lambda: any("pipe" in n for n in notices(app)), timeout=8, what="the refusal")
                refusal = [n for n in notices(app) if "pipe" in n]
                assert refusal == ["cannot attach pipe: it is a FIFO (named pipe), only regular files can be attached"]
                assert not (app.session or {}).get("attachments")
                await pilot.press("ctrl+q")
                await until(lambda: app.return_code is not None, timeout=5, what="Ctrl+Q to exit the app")
            finally:
                _release(fifo)  # before the fix a worker sat in open() on the FIFO: let it go so the test ends

    await asyncio.wait_for(run(), timeout=30)
    assert app.return_code == 0 and not app.is_running
