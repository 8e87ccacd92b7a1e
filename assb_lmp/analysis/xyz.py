"""Stage frames as extended XYZ, for OVITO and the ASE GUI (``DIR/<stage>/frame.xyz`` and
``DIR/frame.xyz`` for the last stage, written by the analysis).

Each particle becomes one row with its position (µm), its phase as the chemical symbol of
a stand-in element (``AM`` → Co, ``SE`` → S, so that viewers colour the phases apart), and
the per-particle columns given (radius, stress, …). The cell is the simulation box, with
periodic flags as in the run. Units stay the toolkit's (µm, MPa); the comment line says so.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import ase
import ase.io
import numpy as np

from assb_lmp.analysis.contacts import AM
from assb_lmp.analysis.result import StageResult
from assb_lmp.core.io import atomic_write_text

SYMBOLS = {"AM": "Co", "SE": "S"}


def frame_atoms(positions_um: np.ndarray, phases: np.ndarray, box_um: np.ndarray,
                periodic: tuple[bool, bool, bool],
                columns: Mapping[str, np.ndarray]) -> ase.Atoms:
    """One stage frame as :class:`ase.Atoms` with per-particle arrays.

    Parameters
    ----------
    positions_um : numpy.ndarray
        Particle centres, shape (N, 3) (µm).
    phases : numpy.ndarray
        ``"AM"`` or ``"SE"`` per particle, shape (N,).
    box_um : numpy.ndarray
        Cell bounds ``[[xlo, xhi], [ylo, yhi], [zlo, zhi]]`` (µm); positions are stored
        relative to the lower corner.
    periodic : tuple of bool
        Periodic flag per axis.
    columns : mapping of str to numpy.ndarray
        Per-particle values, shape (N,) each (e.g. ``radius_um``, ``stress_mpa``); names
        become extended-XYZ property names.

    Raises
    ------
    ValueError
        For an unknown phase or a column of the wrong length.
    """
    phases = np.asarray(phases)
    unknown = sorted(set(phases.tolist()) - set(SYMBOLS))
    if unknown:
        raise ValueError(f"phases {unknown}: allowed {sorted(SYMBOLS)}")
    box = np.asarray(box_um, dtype=float)
    lengths = box[:, 1] - box[:, 0]
    atoms = ase.Atoms(symbols=[SYMBOLS[p] for p in phases.tolist()],
                      positions=np.asarray(positions_um, dtype=float) - box[:, 0],
                      cell=np.diag(lengths), pbc=periodic)
    for name, values in columns.items():
        values = np.asarray(values)
        if values.shape != (len(atoms),):
            raise ValueError(f"column {name!r} has shape {values.shape}, "
                             f"expected ({len(atoms)},)")
        atoms.new_array(name, values)
    return atoms


def stage_atoms(res: StageResult) -> ase.Atoms:
    """One analysed stage as :class:`ase.Atoms`: particle centres (bodies: centres of mass),
    ``id``, ``radius_um``, ``stress_mpa`` (p in the convention of the targets), both
    quasi-2D conventions where present, ``n_contacts`` and ``in_window`` as columns.

    Parameters
    ----------
    res : StageResult
        From :func:`assb_lmp.analysis.stage.analyze_stage`.
    """
    c = res.cell
    half = 0.5 * res.depth_um
    box = np.array([[c["xlo_um"], c["xhi_um"]], [c["ylo_um"], c["yhi_um"]],
                    [c.get("zlo_um", -half), c.get("zhi_um", half)]], dtype=float)
    periodic = (res.periodic_lengths[0] is not None, res.periodic_lengths[1] is not None,
                False)
    columns = {"id": res.ids, "radius_um": res.radius, "stress_mpa": res.stress_mpa,
               "n_contacts": res.n_contacts, "in_window": res.p_in.astype(int)}
    for name, values in res.stress_by_convention.items():
        columns[f"stress_mpa_{name}"] = values
    phases = np.where(res.phase == AM, "AM", "SE")
    return frame_atoms(res.pos, phases, box, periodic, columns)


def write_extxyz(path: str | Path, atoms: ase.Atoms, comment: str = "") -> Path:
    """Write one frame as extended XYZ (atomically); returns the path.

    The comment line carries the units (``units: um MPa``) and ``comment``.
    """
    path = Path(path)
    info = dict(atoms.info)
    atoms.info["units"] = "um MPa"
    if comment:
        atoms.info["note"] = comment
    buffer = io.StringIO()
    try:
        # parallel=False: under mpirun ASE would otherwise write on its world rank 0 only,
        # while each rank of a sweep analyses its own case
        ase.io.write(buffer, atoms, format="extxyz", parallel=False)
    finally:
        atoms.info = info
    atomic_write_text(path, buffer.getvalue())
    return path


def read_extxyz(path: str | Path) -> ase.Atoms:
    """Read a frame written by :func:`write_extxyz`."""
    return ase.io.read(Path(path), format="extxyz", parallel=False)
