"""Exports are private, all or nothing, and never replace a file by accident (CLI and app)."""

from __future__ import annotations

import os
import stat

import pytest

from agentspace_tui import cli
from agentspace_tui.services.core import build_services
from agentspace_tui.ui.screens.sessions import ConfirmScreen
from tests.conftest import run_cli
from tests.fakeserver import Reply
from tests.test_ui_app import SIZE, command, make_app, notices, send_and_wait, started, until


def _one_session(home, llm, text: str = "the answer") -> str:
    llm.script(Reply(text=text))
    out = run_cli(home, "ask", "--json", "-m", "gpt-4o-mini", "question")
    assert out.returncode == 0, out.stderr
    import json

    return json.loads(out.stdout)["session_id"]


@pytest.fixture
def outdir(tmp_path):
    """A folder for exports alone (tmp_path also holds the test's AGENTSPACE_HOME)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_cli_export_refuses_an_existing_file_unless_forced(home, llm, outdir):
    sid = _one_session(home, llm)
    target = outdir / "notes.md"
    target.write_text("my own notes\n")
    out = run_cli(home, "sessions", "export", sid, "-o", str(target))
    assert out.returncode == 2
    assert out.stderr.strip().endswith("already exists: add --force to replace it")
    assert target.read_text() == "my own notes\n"
    forced = run_cli(home, "sessions", "export", sid, "-o", str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "the answer" in target.read_text()
    assert _mode(target) == 0o600
    assert [p.name for p in outdir.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_cli_export_is_private(home, llm, outdir):
    sid = _one_session(home, llm)
    for fmt in ("md", "json"):
        target = outdir / f"out.{fmt}"
        out = run_cli(home, "sessions", "export", sid, "--format", fmt, "-o", str(target))
        assert out.returncode == 0, out.stderr
        assert _mode(target) == 0o600


def test_a_failed_export_leaves_the_old_file_whole(home, llm, outdir, monkeypatch, capsys):
    sid = _one_session(home, llm)
    target = outdir / "keep.md"
    target.write_text("precious\n")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    code = cli.main(["sessions", "export", sid, "-o", str(target), "--force"])
    err = capsys.readouterr().err
    assert code == 3 and "No space left on device" in err and "Traceback" not in err
    assert target.read_text() == "precious\n"
    assert sorted(p.name for p in outdir.iterdir()) == ["keep.md"]


def test_lone_surrogates_from_an_older_store_export_in_any_locale(home, llm, outdir):
    services = build_services()
    session = services.store.bulk_import(
        {"title": "split \ud83d emoji", "model": "openai:gpt-4o-mini"},
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "half \ud83d and \ude00 half",
                                              "model": "openai:gpt-4o-mini", "status": "complete"}],
    )
    target = outdir / "old.md"
    target.write_text("previous export\n")
    for fmt in ("md", "json"):
        out = run_cli(home, "sessions", "export", session["id"], "--format", fmt, "-o", str(target), "--force",
                      PYTHONIOENCODING="utf-8:strict", LC_ALL="C")
        assert out.returncode == 0, out.stderr
        text = target.read_bytes().decode("utf-8")  # strict: valid UTF-8
        assert "half \ufffd and \ufffd half" in text or "half \\ufffd and \\ufffd half" in text


@pytest.mark.parametrize("answer", ["n", "y"])
async def test_app_export_asks_before_replacing_a_file(home, llm, outdir, answer):
    target = outdir / "chat.md"
    target.write_text("someone else's file\n")
    llm.script(Reply(text="exported words"))
    app = make_app(model="openai:gpt-4o-mini")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send_and_wait(pilot, "hello")
        await command(pilot, f"/export {target}")
        await until(lambda: isinstance(app.screen, ConfirmScreen), what="the replace confirmation")
        assert target.read_text() == "someone else's file\n"
        await pilot.press(answer)
        if answer == "y":
            await until(lambda: any("exported to" in n for n in notices(app)), what="the export")
            assert "exported words" in target.read_text()
            assert _mode(target) == 0o600
        else:
            await until(lambda: any("not exported" in n for n in notices(app)), what="the refusal")
            assert target.read_text() == "someone else's file\n"
