"""The package's shape: imports point one way along the pipeline, no cycles, no hidden
imports of the package inside functions, and modules and functions of a readable size.

The layer order is the pipeline's (ARCHITECTURE.md): a module may import modules of its own
layer or of an earlier one, never of a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "assb_lmp"

LAYERS = [
    "core", "spec", "materials", "build", "engines", "analysis", "pipeline", "sweep",
    "learn", "synthetic", "bench", "cli", "api",
]
# The top-level package re-exports the public API; ``__main__`` runs the CLI.
API_MODULES = {"assb_lmp", "assb_lmp.__main__"}

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
# Justified exceptions (ARCHITECTURE.md lists them with the reason).
LONG_FUNCTIONS: set[str] = set()
LONG_MODULES: set[str] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1])


def _imports(path: Path) -> list[tuple[str, bool, int]]:
    """(imported package module, at module level?, line) for each import of the package."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    for n in tree.body:  # imports under ``if TYPE_CHECKING:`` count as module level
        if isinstance(n, ast.If):
            top.update(id(m) for m in n.body)
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "assb_lmp":
                names = [f"assb_lmp.{a.name}" for a in node.names]
            elif node.module.startswith("assb_lmp."):
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("assb_lmp")]
        for name in names:
            found.append((name, id(node) in top, node.lineno))
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def test_every_module_is_in_a_layer():
    for module in _modules():
        if module in API_MODULES:
            continue
        assert module.split(".")[1] in LAYERS, f"{module} is in no layer of {LAYERS}"


def test_imports_point_one_way():
    modules = _modules()
    bad = []
    for module, path in modules.items():
        if module in API_MODULES:
            continue
        for name, _, line in _imports(path):
            target = _resolve(name, modules)
            if target is None or target in API_MODULES:
                if name != "assb_lmp.__version__" and target == "assb_lmp":
                    bad.append(f"{path}:{line} imports the top-level package ({name})")
                continue
            if _layer(target) > _layer(module):
                bad.append(f"{path}:{line}: {module} ({LAYERS[_layer(module)]}) imports "
                           f"{target} ({LAYERS[_layer(target)]}), a later layer")
    assert not bad, "\n".join(bad)


def test_no_package_imports_inside_functions():
    modules = _modules()
    bad = [f"{path}:{line} imports {name} inside a function"
           for module, path in modules.items()
           for name, at_top, line in _imports(path) if not at_top]
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    modules = _modules()
    graph = {m: {t for n, _, _ in _imports(p) if (t := _resolve(n, modules)) and t != m
                 and t not in API_MODULES}
             for m, p in modules.items() if m not in API_MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state and (cycle := visit(t)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def test_sizes():
    bad = []
    for module, path in _modules().items():
        text = path.read_text()
        n = len(text.splitlines())
        if n > MAX_MODULE_LINES and module not in LONG_MODULES:
            bad.append(f"{path}: {n} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                qual = f"{module}.{node.name}"
                if length > MAX_FUNCTION_LINES and qual not in LONG_FUNCTIONS:
                    bad.append(f"{path}:{node.lineno} {node.name}: {length} lines "
                               f"(at most {MAX_FUNCTION_LINES})")
    assert not bad, "\n".join(bad)
