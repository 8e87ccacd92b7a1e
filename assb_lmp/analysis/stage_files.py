"""The side files of a stage in a case folder: paths, ``<stage>.cell.json`` and
``<stage>.series.txt``.

The case-folder contract (``ARCHITECTURE.md``) names the files per stage:
``dumps/<stage>.atoms.dump``, ``dumps/<stage>.contacts.dump``,
``dumps/<stage>.cell.json`` and ``dumps/<stage>.series.txt``. The JSON and series files are
in named units (``_um``, ``_mpa``). :mod:`assb_lmp.analysis.dumps` re-exports these names.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from assb_lmp.core.errors import AnalysisError
from assb_lmp.core.io import read_json

#: Columns of ``<stage>.series.txt``.
SERIES_COLUMNS: tuple[str, ...] = (
    "step", "time_us", "width_um", "p_move_mpa", "p_fix_mpa", "ke_fj", "rate_per_us",
)

#: Keys every ``<stage>.cell.json`` must have.
CELL_KEYS: tuple[str, ...] = (
    "stage", "step", "xlo_um", "xhi_um", "ylo_um", "yhi_um", "zlo_um", "zhi_um", "depth_um",
)

def stage_paths(case_dir: str | os.PathLike[str], stage: str) -> dict[str, Path]:
    """Paths of the four files of a stage: ``atoms``, ``contacts``, ``cell``, ``series``."""
    d = Path(case_dir) / "dumps"
    return {
        "atoms": d / f"{stage}.atoms.dump",
        "contacts": d / f"{stage}.contacts.dump",
        "cell": d / f"{stage}.cell.json",
        "series": d / f"{stage}.series.txt",
    }


def discover_stages(case_dir: str | os.PathLike[str]) -> list[str]:
    """Stage names that have an atoms dump in ``DIR/dumps/``, unordered (sorted by name)."""
    d = Path(case_dir) / "dumps"
    if not d.is_dir():
        return []
    suffix = ".atoms.dump"
    return sorted(p.name[: -len(suffix)] for p in d.glob(f"*{suffix}"))


def read_cell(path: str | os.PathLike[str]) -> dict:
    """Read and check a ``<stage>.cell.json``.

    Returns
    -------
    dict
        The JSON object (bounds in µm, pressures in MPa).

    Raises
    ------
    AnalysisError
        If the file is missing, not JSON, lacks a key of :data:`CELL_KEYS` or has
        non-finite or inverted bounds.
    """
    path = Path(path)
    if not path.is_file():
        raise AnalysisError(f"{path}: cell file not found")
    try:
        cell = read_json(path, "the cell file", AnalysisError)
    except AnalysisError as exc:
        raise AnalysisError(f"{exc} (truncated?)") from None
    if not isinstance(cell, dict):
        raise AnalysisError(f"{path}: expected a JSON object")
    missing = [k for k in CELL_KEYS if k not in cell]
    if missing:
        raise AnalysisError(f"{path}: missing key(s) {', '.join(missing)}")
    for ax in "xyz":
        lo, hi = cell[f"{ax}lo_um"], cell[f"{ax}hi_um"]
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (lo, hi)) or hi <= lo:
            raise AnalysisError(f"{path}: bad {ax} bounds [{lo!r}, {hi!r}]")
    return cell


def read_series(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a ``<stage>.series.txt`` whitespace table with a ``#`` header.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per column of the header (empty arrays for an empty table).

    Raises
    ------
    AnalysisError
        If the file is missing, has no header or ragged rows.
    """
    path = Path(path)
    if not path.is_file():
        raise AnalysisError(f"{path}: series file not found")
    names: list[str] | None = None
    rows: list[list[float]] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for k, line in enumerate(fh, start=1):
            s = line.strip()
            if not s:
                continue
            if s.startswith("#"):
                if names is None and len(s[1:].split()) > 1:
                    names = s[1:].split()
                continue
            if names is None:
                raise AnalysisError(f"{path}: line {k}: data before the '#' header")
            parts = s.split()
            if len(parts) != len(names):
                raise AnalysisError(
                    f"{path}: line {k}: expected {len(names)} values ({' '.join(names)}), "
                    f"got {len(parts)}"
                )
            try:
                rows.append([float(p) for p in parts])
            except ValueError:
                raise AnalysisError(f"{path}: line {k}: non-numeric value in {s!r}") from None
    if names is None:
        raise AnalysisError(f"{path}: no '#' header line")
    table = np.array(rows, dtype=float).reshape(len(rows), len(names))
    return {name: table[:, j] for j, name in enumerate(names)}


def format_series(columns: Mapping[str, Sequence[float] | np.ndarray]) -> str:
    """A series table (``# step time_us ...`` header, one row per sample) as text."""
    names = list(columns)
    cols = [np.asarray(columns[c], dtype=float) for c in names]
    lines = ["# " + " ".join(names)]
    for row in zip(*cols, strict=True):
        lines.append(" ".join(f"{v:.10g}" for v in row))
    return "\n".join(lines) + "\n"
