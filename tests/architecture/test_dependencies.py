"""Every declared dependency is imported by the package, and every import is declared."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# distribution name -> import name, where they differ
IMPORT_NAME = {"pyyaml": "yaml", "scikit-image": "skimage", "pillow": "PIL",
               "tensorflow-cpu": "tensorflow"}
# declared for the tools around the package, not imported by it
TOOLS = {"pytest", "ruff", "pytest-timeout", "pytest-xdist"}


def _declared() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(meta["dependencies"])
    for extra in meta.get("optional-dependencies", {}).values():
        names += extra
    out = set()
    for req in names:
        dist = re.split(r"[\[<>=!~ ;]", req, maxsplit=1)[0].strip().lower()
        if dist not in TOOLS:
            out.add(IMPORT_NAME.get(dist, dist.replace("-", "_")))
    return out


def _imported() -> set[str]:
    out = set()
    for path in (ROOT / "assb_lmp").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.add(node.module.split(".")[0])
    return {m for m in out if m not in sys.stdlib_module_names and m != "assb_lmp"}


def test_every_dependency_is_used():
    unused = _declared() - _imported()
    assert not unused, f"declared in pyproject.toml but imported nowhere: {sorted(unused)}"


def test_every_import_is_declared():
    undeclared = _imported() - _declared()
    assert not undeclared, f"imported but not declared in pyproject.toml: {sorted(undeclared)}"
