"""Writers of a packing: the LAMMPS data file (``structure.data``) and ``structure.json``.

Data file: ``atom_style sphere`` (id type diameter density x y z); multisphere structures
get a ``Molecules`` section (atom id, body id) that the deck reads into
``fix property/atom mol``. Quasi-2D: box [−m, width + m] × [−m, height + m] × [−0.5, 0.5]
(m = 0 in a periodic cell); 3D: x in [0, height], y in [0, depth] (periodic), z in
[−m, width + m]. Lengths in µm, densities in pg/µm³.
"""

from __future__ import annotations

from pathlib import Path

from assb_lmp.build.structure import Structure
from assb_lmp.core.io import atomic_write_json, atomic_write_text


def _box_lines(s: Structure, margin: float) -> list[str]:
    """Title, counts and box bounds of the data file."""
    if s.info.get("dimension") == 3:
        title = f"assb_lmp packing (3D): {s.n_am} AM + {s.n_se} SE, seed {s.info.get('seed')}"
        box = [f"0.0 {s.height:.6f} xlo xhi", f"0.0 {s.depth:.6f} ylo yhi",
               f"{-margin:.6f} {s.width + margin:.6f} zlo zhi"]
    else:
        m = 0.0 if s.periodic else margin
        title = f"assb_lmp packing: {s.n_am} AM + {s.n_se} SE, seed {s.info.get('seed')}"
        box = [f"{-m:.6f} {s.width + m:.6f} xlo xhi", f"{-m:.6f} {s.height + m:.6f} ylo yhi",
               "-0.5 0.5 zlo zhi"]
    return [title, "", f"{len(s.types)} atoms", "3 atom types", "", *box, "",
            "Atoms # sphere", ""]


def data_text(structure: Structure, densities: dict[int, float], margin: float = 1.0) -> str:
    """The text of the LAMMPS data file (see :func:`write_data`)."""
    s = structure
    body = [
        f"{i + 1} {t} {d:.9f} {densities[int(t)]:.6f} {x:.9f} {y:.9f} {z:.9f}"
        for i, (t, d, (x, y, z)) in enumerate(zip(s.types, s.diameters, s.positions, strict=True))
    ]
    if s.mol is not None and s.info.get("dimension") != 3:
        body += ["", "Molecules", ""]
        body += [f"{i + 1} {int(m)}" for i, m in enumerate(s.mol)]
    return "\n".join(_box_lines(s, margin) + body) + "\n"


def write_data(structure: Structure, path: Path, densities: dict[int, float],
               margin: float = 1.0) -> None:
    """Write a LAMMPS data file (``atom_style sphere``: id type diameter density x y z).

    Parameters
    ----------
    structure : Structure
        The packing.
    path : Path
        Output file.
    densities : dict
        Density (pg/µm³) per type id.
    margin : float
        Extra box room beyond the cell on each non-periodic side (µm).
    """
    atomic_write_text(path, data_text(structure, densities, margin))


def write_info(structure: Structure, path: Path) -> None:
    """Write ``structure.json`` (packing facts)."""
    atomic_write_json(path, structure.info)
