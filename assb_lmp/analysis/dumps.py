"""Streaming reader (and a small writer) for LAMMPS text dumps and the stage side files.

A LAMMPS text dump is a sequence of frames; each frame is a few ``ITEM:`` header
sections followed by one row per atom (``ITEM: ATOMS ...``, custom dumps) or per
entry (``ITEM: ENTRIES ...``, local dumps such as the contact dump)::

    ITEM: TIMESTEP
    1200
    ITEM: NUMBER OF ATOMS          (local dumps: NUMBER OF ENTRIES)
    1634
    ITEM: BOX BOUNDS ff ff pp      (triclinic: BOX BOUNDS xy xz yz ..., 3 values a line)
    0.0 46.0
    0.0 40.0
    -0.5 0.5
    ITEM: ATOMS id type radius x y z ...   (local: ITEM: ENTRIES id1 id2 ...)
    1 1 5.2 ...

:func:`iter_frames` reads one frame at a time (a large trajectory is never loaded
whole); every frame is checked for completeness, and a truncated or garbled frame
raises :class:`~assb_lmp.core.errors.AnalysisError` naming the file, the line and what is
wrong. Files ending in ``.gz`` are read through :mod:`gzip`.

The case-folder contract (``ARCHITECTURE.md``) names the files per stage:
``dumps/<stage>.atoms.dump``, ``dumps/<stage>.contacts.dump``,
``dumps/<stage>.cell.json`` and ``dumps/<stage>.series.txt``. Units are LAMMPS
``units micro`` (µm, nN, µs) in the dumps. The side files (paths, ``cell.json``,
``series.txt``) are read by :mod:`assb_lmp.analysis.stage_files`; their names are re-exported
here so that one import serves a whole stage.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO

import numpy as np

from assb_lmp.analysis.stage_files import (
    CELL_KEYS,
    SERIES_COLUMNS,
    discover_stages,
    format_series,
    read_cell,
    read_series,
    stage_paths,
)
from assb_lmp.core.errors import AnalysisError

log = logging.getLogger(__name__)

#: Column names that hold integers (ids, types, image flags, processor ranks).
INTEGER_COLUMNS = frozenset(
    {"id", "type", "mol", "proc", "procp1", "ix", "iy", "iz", "id1", "id2", "type1", "type2"}
)

#: Columns of ``<stage>.atoms.dump`` required by the contract (wall columns come on top).
ATOM_COLUMNS: tuple[str, ...] = (
    "id", "type", "radius", "mass", "x", "y", "z",
    "vx", "vy", "vz", "omegax", "omegay", "omegaz",
)
#: Columns of ``<stage>.contacts.dump``.
CONTACT_COLUMNS: tuple[str, ...] = (
    "id1", "id2", "dist", "fn", "ftx", "fty", "ftz", "dx", "dy", "dz",
)
#: Wall names of the contract, in the order of their columns.
WALLS: tuple[str, ...] = ("xlo", "xhi", "ylo", "yhi")


@dataclass
class Frame:
    """One frame of a LAMMPS text dump.

    Attributes
    ----------
    timestep : int
        The ``ITEM: TIMESTEP`` value.
    kind : str
        ``"atoms"`` (custom/atom dump) or ``"entries"`` (local dump).
    box : numpy.ndarray
        Box bounds, shape (3, 2): ``[[xlo, xhi], [ylo, yhi], [zlo, zhi]]`` (µm). For a
        triclinic box these are the bounding-box values as LAMMPS writes them.
    tilt : numpy.ndarray or None
        Tilt factors ``(xy, xz, yz)`` of a triclinic box, else None.
    boundary : tuple of str
        Boundary flags per axis as written (e.g. ``("ff", "ff", "pp")``).
    columns : tuple of str
        Column names in file order.
    data : dict of str to numpy.ndarray
        One 1-D array per column (length :attr:`n`); integer columns
        (:data:`INTEGER_COLUMNS`) are ``int64``, the others ``float64``.
    source : pathlib.Path
        The file the frame was read from.
    time : float or None
        The ``ITEM: TIME`` value when the dump carries one (µs).
    """

    timestep: int
    kind: str
    box: np.ndarray
    boundary: tuple[str, ...]
    columns: tuple[str, ...]
    data: dict[str, np.ndarray]
    source: Path
    tilt: np.ndarray | None = None
    time: float | None = None
    line: int = field(default=0, repr=False)

    @property
    def n(self) -> int:
        """Number of rows (atoms or entries)."""
        return len(next(iter(self.data.values()))) if self.data else 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.data[name]
        except KeyError:
            raise KeyError(
                f"{self.source}: column {name!r} not in the dump (columns: "
                f"{' '.join(self.columns)})"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.data

    def require(self, names: Sequence[str]) -> None:
        """Raise :class:`AnalysisError` unless every column in ``names`` is present."""
        missing = [c for c in names if c not in self.data]
        if missing:
            raise AnalysisError(
                f"{self.source}: missing column(s) {', '.join(missing)} in the frame at "
                f"timestep {self.timestep} (columns present: {' '.join(self.columns)})"
            )


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 - caller closes


class _Lines:
    """A line iterator that counts lines (1-based numbers for messages)."""

    def __init__(self, handle: IO[str], path: Path) -> None:
        self.handle = handle
        self.path = path
        self.lineno = 0

    def next(self, what: str) -> str:
        line = self.handle.readline()
        if not line:
            raise AnalysisError(
                f"{self.path}: truncated dump: the file ends at line {self.lineno} "
                f"where {what} was expected"
            )
        self.lineno += 1
        return line.rstrip("\n")

    def take(self, n: int) -> list[str]:
        rows = list(islice(self.handle, n))
        self.lineno += len(rows)
        return rows


def _parse_int(text: str, lines: _Lines, what: str) -> int:
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        raise AnalysisError(
            f"{lines.path}: line {lines.lineno}: expected {what} (an integer), got {text!r}"
        ) from None


def _parse_rows(
    rows: list[str], ncol: int, columns: tuple[str, ...], lines: _Lines, first_line: int,
    timestep: int,
) -> dict[str, np.ndarray]:
    n = len(rows)
    if n == 0:
        return {c: np.zeros(0, dtype=np.int64 if c in INTEGER_COLUMNS else float)
                for c in columns}
    try:
        flat = np.array("".join(rows).split(), dtype=float)
    except ValueError:
        flat = None
    if flat is None or flat.size != n * ncol:
        # find the first bad row for the message
        for k, row in enumerate(rows):
            parts = row.split()
            bad = len(parts) != ncol
            if not bad:
                try:
                    [float(p) for p in parts]
                except ValueError:
                    bad = True
            if bad:
                raise AnalysisError(
                    f"{lines.path}: line {first_line + k}: frame at timestep {timestep}: "
                    f"expected {ncol} numbers ({' '.join(columns)}), got {row.strip()!r}"
                    + (" (truncated file?)" if k == n - 1 else "")
                )
        raise AnalysisError(f"{lines.path}: frame at timestep {timestep}: unreadable rows")
    table = flat.reshape(n, ncol)
    if not np.all(np.isfinite(table)):
        bad_row = int(np.nonzero(~np.all(np.isfinite(table), axis=1))[0][0])
        raise AnalysisError(
            f"{lines.path}: line {first_line + bad_row}: frame at timestep {timestep}: "
            f"non-finite value in {rows[bad_row].strip()!r}"
        )
    data: dict[str, np.ndarray] = {}
    for j, name in enumerate(columns):
        col = table[:, j]
        if name in INTEGER_COLUMNS:
            data[name] = col.astype(np.int64)
        else:
            data[name] = np.ascontiguousarray(col)
    return data


@dataclass
class _Header:
    """The header sections of a frame read so far."""

    timestep: int
    start: int
    n: int | None = None
    time: float | None = None
    box: np.ndarray = field(default_factory=lambda: np.zeros((3, 2)))
    tilt: np.ndarray | None = None
    boundary: tuple[str, ...] = ()


def _read_box(lines: _Lines, key: str, head: _Header) -> None:
    """``ITEM: BOX BOUNDS [xy xz yz] flags``: three lines of bounds (and tilts)."""
    path = lines.path
    flags = key[len("BOX BOUNDS"):].split()
    triclinic = len(flags) >= 3 and flags[0] == "xy"
    head.boundary = tuple(flags[3:] if triclinic else flags)
    vals = []
    for _ in range(3):
        row = lines.next("a box-bounds line").split()
        try:
            vals.append([float(v) for v in row])
        except ValueError:
            raise AnalysisError(f"{path}: line {lines.lineno}: bad box bounds {row!r}") from None
    try:
        head.box = np.array([v[:2] for v in vals], dtype=float)
        if triclinic:
            head.tilt = np.array([v[2] for v in vals], dtype=float)
    except (IndexError, ValueError):
        raise AnalysisError(f"{path}: line {lines.lineno}: bad box bounds") from None


def _read_rows(lines: _Lines, key: str, head: _Header) -> Frame:
    """``ITEM: ATOMS ...`` / ``ITEM: ENTRIES ...`` and the rows of the frame."""
    path, timestep = lines.path, head.timestep
    kind = "atoms" if key.startswith("ATOMS") else "entries"
    columns = tuple(key.split()[1:])
    if not columns:
        raise AnalysisError(
            f"{path}: line {lines.lineno}: no column names after ITEM: {kind.upper()}")
    if len(set(columns)) != len(columns):
        raise AnalysisError(f"{path}: line {lines.lineno}: repeated column names in {key!r}")
    if head.n is None:
        raise AnalysisError(
            f"{path}: line {lines.lineno}: frame at timestep {timestep} has no "
            "'ITEM: NUMBER OF ...' section")
    first = lines.lineno + 1
    rows = lines.take(head.n)
    if len(rows) < head.n:
        raise AnalysisError(
            f"{path}: truncated dump: the frame at timestep {timestep} (line {head.start}) "
            f"announces {head.n} rows but the file ends after {len(rows)}")
    if rows and not rows[-1].endswith("\n"):
        raise AnalysisError(
            f"{path}: truncated dump: line {lines.lineno} (the last row of the frame at "
            f"timestep {timestep}) has no line end")
    data = _parse_rows(rows, len(columns), columns, lines, first, timestep)
    return Frame(timestep=timestep, kind=kind, box=head.box, boundary=head.boundary,
                 columns=columns, data=data, source=path, tilt=head.tilt, time=head.time,
                 line=head.start)


def _read_frame(lines: _Lines) -> Frame:
    """One frame after its ``ITEM: TIMESTEP`` line."""
    path = lines.path
    start = lines.lineno
    head = _Header(timestep=_parse_int(lines.next("the timestep"), lines, "the timestep"),
                   start=start)
    while True:
        item = lines.next("an ITEM: line")
        if not item.startswith("ITEM:"):
            raise AnalysisError(
                f"{path}: line {lines.lineno}: frame at timestep {head.timestep}: expected an "
                f"'ITEM:' line, got {item.strip()[:60]!r}")
        key = item[5:].strip()
        if key.startswith("NUMBER OF"):
            head.n = _parse_int(lines.next("the number of rows"), lines, "the number of rows")
        elif key.startswith("BOX BOUNDS"):
            _read_box(lines, key, head)
        elif key.startswith("TIME"):
            try:
                head.time = float(lines.next("the time").split()[0])
            except (ValueError, IndexError):
                raise AnalysisError(f"{path}: line {lines.lineno}: bad time") from None
        elif key.startswith("UNITS"):
            lines.next("the units")
        elif key.startswith("ATOMS") or key.startswith("ENTRIES"):
            return _read_rows(lines, key, head)
        else:
            raise AnalysisError(
                f"{path}: line {lines.lineno}: unknown dump section {item.strip()!r}")


def iter_frames(path: str | os.PathLike[str]) -> Iterator[Frame]:
    """Yield the frames of a LAMMPS text dump one at a time.

    Parameters
    ----------
    path : path-like
        A custom/atom dump (``ITEM: ATOMS``) or a local dump (``ITEM: ENTRIES``);
        ``.gz`` files are decompressed on the fly.

    Yields
    ------
    Frame
        Timestep, box, column names and one numpy array per column.

    Raises
    ------
    AnalysisError
        If the file is missing, not a LAMMPS dump, or a frame is truncated or garbled;
        the message names the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise AnalysisError(f"{path}: dump file not found")
    with _open_text(path) as handle:
        lines = _Lines(handle, path)
        while True:
            header = handle.readline()
            if not header:
                return
            lines.lineno += 1
            if not header.strip():
                continue
            if not header.startswith("ITEM: TIMESTEP"):
                raise AnalysisError(
                    f"{path}: line {lines.lineno}: not a LAMMPS text dump (expected "
                    f"'ITEM: TIMESTEP', got {header.strip()[:60]!r})"
                )
            yield _read_frame(lines)


def read_last_frame(path: str | os.PathLike[str]) -> Frame:
    """Read the last frame of a dump (streaming through the earlier ones).

    Raises
    ------
    AnalysisError
        If the file holds no frame or a frame is truncated.
    """
    last: Frame | None = None
    for frame in iter_frames(path):
        last = frame
    if last is None:
        raise AnalysisError(f"{path}: the dump is empty (no frame)")
    return last


def read_frames(path: str | os.PathLike[str]) -> list[Frame]:
    """All frames of a (small) dump as a list; prefer :func:`iter_frames` for large ones."""
    return list(iter_frames(path))


# --------------------------------------------------------------------------- writers
def _fmt(values: np.ndarray, name: str) -> list[str]:
    if name in INTEGER_COLUMNS:
        return [str(int(v)) for v in values]
    return [repr(float(v)) for v in values]


def format_frame(
    columns: Sequence[str],
    data: Mapping[str, Sequence[float] | np.ndarray],
    *,
    timestep: int = 0,
    box: Sequence[Sequence[float]] | np.ndarray = ((0, 1), (0, 1), (-0.5, 0.5)),
    boundary: Sequence[str] = ("ff", "ff", "pp"),
    kind: str = "atoms",
) -> str:
    """One frame in LAMMPS text-dump format (floats written with full precision).

    Parameters
    ----------
    columns : sequence of str
        Column names, in order.
    data : mapping
        One array per column, all of the same length.
    timestep : int
        The timestep written in the header.
    box : array-like, shape (3, 2)
        Box bounds (µm).
    boundary : sequence of str
        Boundary flags per axis.
    kind : {"atoms", "entries"}
        Custom dump (``ITEM: ATOMS``) or local dump (``ITEM: ENTRIES``).
    """
    if kind not in ("atoms", "entries"):
        raise ValueError(f"kind must be 'atoms' or 'entries', got {kind!r}")
    cols = [np.asarray(data[c]) for c in columns]
    n = len(cols[0]) if cols else 0
    if any(len(c) != n for c in cols):
        raise ValueError("all columns must have the same length")
    noun = "ATOMS" if kind == "atoms" else "ENTRIES"
    out = [
        "ITEM: TIMESTEP", str(int(timestep)),
        f"ITEM: NUMBER OF {noun}", str(n),
        "ITEM: BOX BOUNDS " + " ".join(boundary),
    ]
    out += [f"{float(lo)!r} {float(hi)!r}" for lo, hi in np.asarray(box, dtype=float)]
    out.append(f"ITEM: {noun} " + " ".join(columns))
    text_cols = [_fmt(c, name) for c, name in zip(cols, columns, strict=True)]
    out += [" ".join(row) for row in zip(*text_cols, strict=True)]
    return "\n".join(out) + "\n"


def write_dump(path: str | os.PathLike[str], frames: Sequence[str]) -> Path:
    """Write pre-formatted frames (:func:`format_frame`) to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(frames))
    return path


__all__ = [
    "ATOM_COLUMNS", "CELL_KEYS", "CONTACT_COLUMNS", "INTEGER_COLUMNS", "SERIES_COLUMNS",
    "WALLS", "Frame", "discover_stages", "format_frame", "format_series", "iter_frames",
    "read_cell", "read_frames", "read_last_frame", "read_series", "stage_paths",
    "write_dump",
]
