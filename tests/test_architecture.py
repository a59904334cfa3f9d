"""Package structure: no import cycles between our modules, and small modules."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = "agentspace_tui"
PACKAGE_DIR = ROOT / PACKAGE
MAX_LINES = 400
# Modules still over MAX_LINES while being split. This list must only shrink: never add to it.
OVERSIZED_MODULES_TO_SPLIT: set[str] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, type_checking: bool = False) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at module level or in a function; those under ``if TYPE_CHECKING:`` only if
    ``type_checking``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if not type_checking and isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imported_modules(name: str, path: Path, known: set[str], type_checking: bool = False) -> set[str]:
    """Our modules that ``name`` imports, relative imports resolved; ``from pkg import mod`` names the module."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8")), type_checking):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            submodules = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in known]
            # ``from . import usage`` needs only the submodule; ``from .. import __version__`` the package itself
            targets = submodules if len(submodules) == len(node.names) else [*submodules, module]
        for target in targets:
            # the deepest of our modules the target names (``a.b.c`` may be module ``a.b``'s attribute c)
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imported_modules(name, path, known) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_cycles_and_resolves_relative_imports():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    graph = import_graph()
    # relative (``from .exits import``), parent-relative and function-level imports are all seen
    assert "agentspace_tui.cli.exits" in graph["agentspace_tui.cli.main"]
    assert "agentspace_tui.cli.ask" in graph["agentspace_tui.cli.main"]  # imported inside a function
    assert "agentspace_tui.storage.records" in graph["agentspace_tui.storage.store"]
    # ``from .. import __version__`` names the package itself
    assert "agentspace_tui" in graph["agentspace_tui.cli.parser"]


def test_every_module_is_small():
    too_long = {}
    for path in modules().values():
        relative = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines >= MAX_LINES and relative not in OVERSIZED_MODULES_TO_SPLIT:
            too_long[relative] = lines
    assert not too_long, f"modules of {MAX_LINES} lines or more (split them): {too_long}"


def test_the_oversized_allowlist_only_lists_modules_that_are_still_oversized():
    for relative in OVERSIZED_MODULES_TO_SPLIT:
        path = ROOT / relative
        if path.exists():
            assert len(path.read_text(encoding="utf-8").splitlines()) >= MAX_LINES, (
                f"{relative} is small now: remove it from OVERSIZED_MODULES_TO_SPLIT"
            )



def test_storage_recovery_does_not_import_the_files_it_repairs():
    """files.py imports recovery.py; recovery names what it needs as a Protocol, even for type checking."""
    mods = modules()
    name = f"{PACKAGE}.storage.recovery"
    imported = imported_modules(name, mods[name], set(mods), type_checking=True)
    assert f"{PACKAGE}.storage.atomic" in imported  # the finder works
    assert f"{PACKAGE}.storage.files" not in imported
