"""Layering: nothing below ui/ imports Textual or Rich; litellm only when a request is made."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

CORE_MODULES = [
    "agentspace_tui.cli",
    "agentspace_tui.commands",
    "agentspace_tui.config.paths",
    "agentspace_tui.config.settings",
    "agentspace_tui.config.keys",
    "agentspace_tui.catalog.catalog",
    "agentspace_tui.pricing",
    "agentspace_tui.tokens",
    "agentspace_tui.context",
    "agentspace_tui.storage",
    "agentspace_tui.providers.stream",
    "agentspace_tui.services.core",
    "agentspace_tui.services.chat",
]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_ui_and_no_litellm(module):
    code = (
        f"import importlib, json, sys; importlib.import_module({module!r}); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'litellm'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), check=True)
    assert json.loads(out.stdout) == []
