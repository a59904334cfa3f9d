"""Layering: nothing below ui/ imports Textual or Rich; litellm only when a request is made."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

CORE_MODULES = [
    "agentspace_tui.cli",
    "agentspace_tui.cli.main",
    "agentspace_tui.cli.ask",
    "agentspace_tui.cli.sessions",
    "agentspace_tui.cli.reports",
    "agentspace_tui.cli.keys",
    "agentspace_tui.cli.pricing",
    "agentspace_tui.domain",
    "agentspace_tui.config.paths",
    "agentspace_tui.config.settings",
    "agentspace_tui.config.keys",
    "agentspace_tui.catalog.catalog",
    "agentspace_tui.pricing",
    "agentspace_tui.tokens",
    "agentspace_tui.context",
    "agentspace_tui.storage",
    "agentspace_tui.providers.stream",
    "agentspace_tui.providers.litellm_setup",
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


# -- the UI layer uses the core only through services ------------------------------------------------------------
UI_DIR = ROOT / "agentspace_tui" / "ui"
UI_MAY_IMPORT = ("agentspace_tui.ui", "agentspace_tui.services", "agentspace_tui.text_safety", "agentspace_tui.formatting")
# PENDING (issue 8): ui modules that still import the core directly; their owner moves those imports to
# agentspace_tui.services.api and removes the entry. This list must only shrink.
UI_CONTRACT_PENDING: dict[str, set[str]] = {}


def _absolute(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The absolute names an import statement in ``module`` (dotted, not a package) refers to."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not node.level:
        return [node.module or ""]
    base = module.split(".")[: -node.level]
    return [".".join(base + ([node.module] if node.module else []))]


def ui_imports() -> dict[str, set[str]]:
    """Every package module each ui/ module imports: module-level, in functions and under ``if TYPE_CHECKING:``."""
    found: dict[str, set[str]] = {}
    for path in sorted(UI_DIR.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        # ``pkg/__init__`` keeps its ``__init__`` part: relative imports resolve against ``pkg`` either way
        module = ".".join(parts)
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets.update(t for t in _absolute(module, node) if t.split(".")[0] == "agentspace_tui")
        found[path.relative_to(ROOT).as_posix()] = targets
    return found


def _allowed(target: str) -> bool:
    return any(target == prefix or target.startswith(prefix + ".") for prefix in UI_MAY_IMPORT)


def test_ui_imports_the_core_only_through_services():
    violations = {
        path: bad for path, targets in ui_imports().items() if (bad := {t for t in targets if not _allowed(t)})
    }
    unexpected = {p: bad - UI_CONTRACT_PENDING.get(p, set()) for p, bad in violations.items()}
    unexpected = {p: bad for p, bad in unexpected.items() if bad}
    assert not unexpected, f"ui/ may import only {UI_MAY_IMPORT} (use agentspace_tui.services.api): {unexpected}"
    stale = {p for p in UI_CONTRACT_PENDING if p not in violations}
    assert not stale, f"no longer violate the UI import contract: remove them from UI_CONTRACT_PENDING: {stale}"


def test_the_ui_import_finder_sees_relative_function_level_and_type_checking_imports():
    found = ui_imports()
    # ``from ..services.api import`` inside a function, ``from ...services.api`` three levels up from a screen
    assert "agentspace_tui.services.api" in found["agentspace_tui/ui/run.py"]
    assert "agentspace_tui.services.api" in found["agentspace_tui/ui/screens/model_switcher.py"]
    assert "agentspace_tui.ui.screens.code_chooser" in found["agentspace_tui/ui/widgets/message_block.py"]
    assert "agentspace_tui.ui.app" in found["agentspace_tui/ui/chat_screen.py"]  # under TYPE_CHECKING
    assert not _allowed("agentspace_tui.storage.store") and not _allowed("agentspace_tui.uix")
    assert _allowed("agentspace_tui.services.api") and _allowed("agentspace_tui.formatting")


def test_services_api_loads_each_name_on_first_use_and_exports_what_it_declares():
    code = (
        "import json, sys; import agentspace_tui.services.api as api; before = sorted(sys.modules); "
        "from agentspace_tui.services.api import load_settings; after = sorted(sys.modules); "
        "print(json.dumps([before, after, sorted(dir(api))]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), check=True)
    before, after, names = json.loads(out.stdout)
    core = ("agentspace_tui.config", "agentspace_tui.catalog", "agentspace_tui.context", "agentspace_tui.tokens")
    assert not [m for m in before if m.startswith(core)], "importing services.api must load no core module"
    assert "agentspace_tui.config.settings" in after and "agentspace_tui.context" not in after
    # every name the type checker sees (the TYPE_CHECKING imports) is exported and resolves at run time
    import agentspace_tui.services.api as api

    tree = ast.parse((ROOT / "agentspace_tui" / "services" / "api.py").read_text(encoding="utf-8"))
    checked = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and node.level for alias in node.names}
    assert checked == set(api.__all__) == set(names)
    for name in api.__all__:
        assert getattr(api, name) is not None
    with pytest.raises(AttributeError):
        api.no_such_name  # noqa: B018
