"""Check that neuralab's imports run one way: no cycles, and no module importing a layer
above its own.

    python tools/dependencies.py          # prints the layer graph; exit 1 on a violation

Layers, lowest first (a module may import its own layer and those below it)::

    core       backend, errors, registry, saving, io_utils, utils, tensor, parameter,
               parallel, kernels (compiled C kernels), symbolic, ops, activations,
               initializers, regularizers, functional, losses, metrics, optimizers,
               schedules, datasets (data files, batching)
    layers     neuralab.layers
    training   neuralab.training, callbacks, tensorboard (the trainer, its loops, callbacks)
    models     neuralab.models (graphs; Model inherits the Trainer, as in Keras), gradcheck
    front ends neuralab.keras, neuralab.torch (and torchvision), sklearn, export, audio, plots
    labs       neuralab.experiments, labs, report, playground
    cli        neuralab.cli, __main__, _launch, and the package's own __init__ (the facade)

Every ``import`` counts, at module level or inside a function. Cycles are looked for
among modules' *module-level* imports (the ones that run at import time).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "neuralab"

LAYERS = [
    ("core", {"backend", "errors", "registry", "saving", "io_utils", "utils", "tensor",
              "parameter", "parallel", "kernels", "symbolic", "ops", "activations",
              "initializers", "regularizers", "functional", "losses", "metrics", "optimizers",
              "schedules", "datasets"}),
    ("layers", {"layers"}),
    ("training", {"training", "callbacks", "tensorboard"}),
    ("models", {"models", "gradcheck"}),
    ("front ends", {"keras", "torch", "torchvision", "sklearn", "export", "audio", "plots"}),
    ("labs", {"experiments", "labs", "report", "playground"}),
    ("cli", {"cli", "__main__", "__init__", "_launch"}),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def level_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for i, (_, names) in enumerate(LAYERS):
        if top in names:
            return i
    raise SystemExit(f"{module}: not in any layer of tools/dependencies.py")


def imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported module, at module level?)`` for every neuralab import in ``path``."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    top_level = {id(n) for n in tree.body} | {id(c) for n in tree.body
                                             if isinstance(n, (ast.If, ast.Try))
                                             for c in ast.walk(n)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "neuralab":
                found.append((name, id(node) in top_level))
    return found


def main() -> int:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    known = set(modules)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    problems = []
    for module, path in sorted(modules.items()):
        for target, top in imports(path):
            while target not in known and target.count(".") > 1:
                target = target.rsplit(".", 1)[0]
            if target not in known:
                target = target.rsplit(".", 1)[0]
            if target == module or target not in known:
                continue
            if level_of(target) > level_of(module):
                problems.append(f"{module} ({LAYERS[level_of(module)][0]}) imports {target} "
                                f"({LAYERS[level_of(target)][0]}), a layer above it")
            if top:
                graph[module].add(target)
    cycles = find_cycles(graph)
    for cycle in cycles:
        problems.append("import cycle: " + " -> ".join(cycle + [cycle[0]]))
    for i, (name, tops) in enumerate(LAYERS):
        print(f"{i} {name:10s} {', '.join(sorted(tops))}")
    print(f"{len(modules)} modules, {sum(map(len, graph.values()))} module-level imports: "
          f"{len(problems)} problem(s)")
    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


if __name__ == "__main__":
    sys.exit(main())
