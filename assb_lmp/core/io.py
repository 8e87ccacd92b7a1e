"""File helpers every stage shares: atomic writes and reading YAML/JSON with a clear error.

An atomic write goes to a hidden temporary file in the same folder (named after the target
and the writing process) and is renamed over the target with :func:`os.replace`, so a reader
(or a run that dies half-way) never sees a half-written file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from assb_lmp.core.errors import AssbError, SpecError


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    path = Path(path)
    tmp = _tmp_path(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON (numpy scalars as floats) atomically."""
    return atomic_write_text(path, json.dumps(data, indent=2, default=float) + "\n")


def read_yaml(path: str | Path, what: str = "YAML file",
              error: type[AssbError] = SpecError) -> Any:
    """Read a YAML file.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file is, for the message (``"a case spec"``, ``"material card"``).
    error : type of AssbError
        The error raised (default :class:`SpecError`).

    Raises
    ------
    AssbError
        ``error``, naming the file and what is wrong (unreadable, or not valid YAML).
    """
    return _read(path, what, error, yaml.safe_load, yaml.YAMLError)


def read_json(path: str | Path, what: str = "JSON file",
              error: type[AssbError] = SpecError) -> Any:
    """Read a JSON file; errors as for :func:`read_yaml`."""
    return _read(path, what, error, json.loads, json.JSONDecodeError)


def _read(path: str | Path, what: str, error: type[AssbError],
          parse: Callable[[str], Any], parse_error: type[Exception]) -> Any:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from None
    try:
        return parse(text)
    except parse_error as exc:
        raise error(f"{path}: {what} is not valid {'YAML' if parse is yaml.safe_load else 'JSON'}: "
                    f"{exc}") from None
