"""Project hygiene: CI runs exactly the README's test command; required files exist."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def quick_start_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_second():
    lines = quick_start_lines()
    assert len(lines) == 2
    assert "agentspace-tui" in lines[0] and "pytest" in lines[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert lines[1] in [line.strip() for line in ci]


def test_required_top_level():
    for name in ("pyproject.toml", "agentspace_tui", "tests", "screenshots", "README.md", "CHANGELOG.md"):
        assert (ROOT / name).exists(), name
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()
    for shot in ("main.svg", "model-switcher.svg", "inspector.svg", "error.svg", "first-run.svg"):
        assert (ROOT / "screenshots" / shot).exists(), shot


def test_ruff_clean():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=str(ROOT), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]


def test_mypy_clean():
    """The package type-checks with the [tool.mypy] settings of pyproject.toml."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "mypy", "agentspace_tui"], cwd=str(ROOT), capture_output=True, text=True
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
