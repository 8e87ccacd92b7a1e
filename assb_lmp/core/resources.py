"""Where the package's own data lives: templates, material cards, shipped examples.

The top-level ``templates/``, ``potentials/`` and ``runs/*.yaml`` of the source tree are
mapped into the package as ``assb_lmp.templates``, ``assb_lmp.potentials`` and
``assb_lmp.examples`` (``pyproject.toml``, ``[tool.setuptools.package-dir]``), so a wheel,
a plain ``pip install .`` and an editable install all find them through
:mod:`importlib.resources`; nothing looks for the checkout's parent folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _package_path(package: str) -> Path:
    return Path(str(resources.files(package)))


def templates_dir() -> Path:
    """Folder of the built-in Jinja2 deck templates."""
    return _package_path("assb_lmp.templates")


def cards_dir() -> Path:
    """Folder of the built-in material cards (YAML)."""
    return _package_path("assb_lmp.potentials")


def examples_dir() -> Path:
    """Folder of the shipped example case and sweep specs (``*.yaml``)."""
    return _package_path("assb_lmp.examples")


def example(name: str) -> Path:
    """Path of a shipped example spec by name (``quick`` → ``.../quick.yaml``)."""
    return examples_dir() / f"{name}.yaml"
