"""The experiment modules import one way: no cycles, spec never imports sweep, and running
an experiment never imports the report (the CLI composes the two)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "neuralab" / "experiments"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def _imports(module: str) -> set[str]:
    """The ``neuralab`` modules that ``neuralab.experiments.<module>`` imports, at any
    depth of its code (lazy imports inside functions count too)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = ["neuralab", "experiments"][:3 - node.level]
            out.add(".".join(base + ([node.module] if node.module else [])))
            if node.module is None:
                out.update(".".join(base + [alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("neuralab"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("neuralab"))
    return out


def _local_graph() -> dict[str, set[str]]:
    prefix = "neuralab.experiments."
    return {m: {i[len(prefix):] for i in _imports(m) if i.startswith(prefix)} & set(MODULES)
            for m in MODULES}


def test_the_experiment_modules_import_without_cycles():
    graph = _local_graph()
    state: dict[str, str] = {}

    def visit(module, path):
        if state.get(module) == "open":
            pytest.fail("import cycle: " + " -> ".join(path + [module]))
        if state.get(module) == "done":
            return
        state[module] = "open"
        for child in sorted(graph[module]):
            visit(child, path + [module])
        state[module] = "done"

    for module in MODULES:
        visit(module, [])


@pytest.mark.parametrize("importer, imported", [
    ("spec", "neuralab.experiments.sweep"), ("config", "neuralab.experiments.spec"),
    ("config", "neuralab.experiments.sweep"), ("points", "neuralab.experiments.spec"),
    ("run", "neuralab.report"), ("runners", "neuralab.report"), ("store", "neuralab.report"),
])
def test_imports_go_one_way(importer, imported):
    assert imported not in _imports(importer)


def test_the_import_walk_sees_the_imports_that_exist():
    assert "neuralab.experiments.spec" in _imports("sweep")
    assert "neuralab.experiments.config" in _imports("points")
    assert "neuralab.errors" in _imports("store")
