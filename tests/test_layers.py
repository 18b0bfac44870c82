"""The package's layers hold: no import circles (function-level imports included),
and each layer imports only what DESIGN.md allows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gmi_magics"
FLOOR = {"gmi_magics.errors", "gmi_magics.types", "gmi_magics.settings", "gmi_magics._version",
         "gmi_magics.jsonsafe", "gmi_magics.text"}  # fmt: skip


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {
    name: {m for m in _imports(path) if m in MODULES and m != name and m != "gmi_magics"}
    for name, path in MODULES.items()
}


def test_no_import_circles():
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(GRAPH[node]):
            if seen.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import circle: " + " → ".join(cycle))
            if nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for module in sorted(GRAPH):
        if module not in seen:
            visit(module, [module])


@pytest.mark.parametrize("layer", ["chat", "tools", "context", "wire"])
def test_core_layers_never_import_ipython_or_display(layer):
    for name, path in MODULES.items():
        if name.startswith(f"gmi_magics.{layer}"):
            imported = _imports(path)
            assert not {m for m in imported if m.split(".")[0] in ("IPython", "ipywidgets")}, name
            assert not {m for m in imported if m.startswith("gmi_magics.display")}, name


def test_wire_imports_nothing_above_it():
    for name in MODULES:
        if name.startswith("gmi_magics.wire"):
            above = {m for m in GRAPH[name] if not m.startswith("gmi_magics.wire")} - FLOOR
            assert not above, f"{name} imports {sorted(above)}"


def test_only_wire_imports_httpx():
    for name, path in MODULES.items():
        if not name.startswith("gmi_magics.wire"):
            assert not {m for m in _imports(path) if m.split(".")[0] == "httpx"}, name
