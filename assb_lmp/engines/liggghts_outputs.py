"""Turn the dumps a LIGGGHTS deck writes into the toolkit's stage files (``ARCHITECTURE.md``).

LIGGGHTS 3.8 cannot rename dump columns (no ``dump_modify colname``) and has no
``compute pair/local`` with ids, so a stage writes

* ``dumps/<stage>.atoms.liggghts``: the contract's columns under LIGGGHTS names
  (``c_virial[1]``, ``f_force_wxlo[1]``, ...), sorted by id;
* ``dumps/<stage>.pairs.liggghts``: ``compute pair/gran/local pos id force_normal
  force_tangential delta``: x1 (3), x2 (3), id1 id2 periodic-flag, the normal force on id1
  (3), the tangential force on id1 (3), the overlap.

:func:`convert_dumps` writes ``<stage>.atoms.dump`` (the same rows, the contract's header)
and ``<stage>.contacts.dump`` (``id1 id2 dist fn ftx fty ftz dx dy dz``: d = x1 − x2 as a
minimum image, fn = F_n · d/|d|, positive when repulsive; ft the tangential force on id1;
a pair listed twice, as under MPI, is kept once) and removes the LIGGGHTS files. It is
idempotent; after a run by hand::

    python -c "from assb_lmp.engines import liggghts; liggghts.convert_dumps('.')"
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from assb_lmp.core.errors import EngineError
from assb_lmp.core.io import atomic_write_text
from assb_lmp.engines.liggghts_deck import atom_columns

log = logging.getLogger(__name__)

ATOMS_RAW = ".atoms.liggghts"
PAIRS_RAW = ".pairs.liggghts"
#: Columns of ``<stage>.contacts.dump`` (the contract).
CONTACT_COLUMNS = ("id1", "id2", "dist", "fn", "ftx", "fty", "ftz", "dx", "dy", "dz")
#: Number of columns of the pair/gran/local dump the decks write.
PAIR_COLUMNS = 16


def _split_frame(text: str, path: Path) -> tuple[list[str], list[str], list[str]]:
    """(header lines up to and including the ITEM: ATOMS/ENTRIES line, its column names,
    the rows) of the last frame of a LIGGGHTS text dump."""
    lines = text.splitlines()
    starts = [k for k, ln in enumerate(lines) if ln.startswith("ITEM: TIMESTEP")]
    if not starts:
        raise EngineError(f"{path}: not a LIGGGHTS dump (no ITEM: TIMESTEP)")
    frame = lines[starts[-1]:]
    counts = [k for k, ln in enumerate(frame) if ln.startswith("ITEM: NUMBER OF")]
    for k, ln in enumerate(frame):
        if counts and (ln.startswith("ITEM: ATOMS") or ln.startswith("ITEM: ENTRIES")):
            n = int(frame[counts[0] + 1].split()[0])
            rows = frame[k + 1:k + 1 + n]
            if len(rows) != n:
                raise EngineError(f"{path}: truncated dump ({len(rows)} of {n} rows)")
            return frame[:k + 1], ln.split()[2:], rows
    raise EngineError(f"{path}: no ITEM: ATOMS or ITEM: ENTRIES line")


def convert_atoms(raw: Path, out: Path) -> None:
    """``<stage>.atoms.liggghts`` → ``<stage>.atoms.dump``: the contract's column names."""
    header, columns, rows = _split_frame(raw.read_text(), raw)
    walls = sorted({c[len("f_force_w"):].split("[")[0] for c in columns
                    if c.startswith("f_force_w")}, key=lambda w: ("xlo", "xhi", "ylo",
                                                                   "yhi").index(w))
    expected, names = atom_columns(walls)
    if columns != expected:
        raise EngineError(f"{raw}: unexpected columns {' '.join(columns)}")
    header[-1] = "ITEM: ATOMS " + " ".join(names)
    atomic_write_text(out, "\n".join(header + [r.rstrip() for r in rows]) + "\n")


def _box(header: list[str]) -> tuple[np.ndarray, list[str]]:
    k = next(i for i, ln in enumerate(header) if ln.startswith("ITEM: BOX BOUNDS"))
    flags = header[k].split()[3:]
    box = np.array([[float(v) for v in header[k + 1 + a].split()[:2]] for a in range(3)])
    return box, flags


def contacts_from_pairs(table: np.ndarray, box: np.ndarray, periodic: list[bool]
                        ) -> dict[str, np.ndarray]:
    """Contract columns from the 16 pair/gran/local columns (one row per contact).

    The separation is the minimum image along periodic axes; the normal force is the
    projection of the force on id1 onto d/|d| (positive: repulsive); a pair that appears
    twice (once per owner under MPI) is kept once, with the lower id first as listed first.
    """
    x1, x2 = table[:, 0:3], table[:, 3:6]
    ids = np.rint(table[:, 6:8]).astype(np.int64)
    d = x1 - x2
    for a in range(3):
        if periodic[a]:
            length = box[a, 1] - box[a, 0]
            d[:, a] -= length * np.rint(d[:, a] / length)
    dist = np.linalg.norm(d, axis=1)
    unit = d / np.where(dist > 0, dist, 1.0)[:, None]
    fn = np.einsum("ij,ij->i", table[:, 9:12], unit)
    key = np.sort(ids, axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    keep = np.sort(first)
    ft = table[:, 12:15]
    return {"id1": ids[keep, 0], "id2": ids[keep, 1], "dist": dist[keep], "fn": fn[keep],
            "ftx": ft[keep, 0], "fty": ft[keep, 1], "ftz": ft[keep, 2],
            "dx": d[keep, 0], "dy": d[keep, 1], "dz": d[keep, 2]}


def convert_pairs(raw: Path, out: Path) -> int:
    """``<stage>.pairs.liggghts`` → ``<stage>.contacts.dump``; returns the contact count."""
    header, columns, rows = _split_frame(raw.read_text(), raw)
    if len(columns) != PAIR_COLUMNS:
        raise EngineError(f"{raw}: expected {PAIR_COLUMNS} pair/gran/local columns, got "
                          f"{len(columns)}")
    table = (np.array(" ".join(rows).split(), dtype=float).reshape(len(rows), PAIR_COLUMNS)
             if rows else np.zeros((0, PAIR_COLUMNS)))
    box, flags = _box(header)
    data = contacts_from_pairs(table, box, [f.startswith("p") for f in flags])
    step = header[header.index("ITEM: TIMESTEP") + 1]
    n = len(data["id1"])
    text = ["ITEM: TIMESTEP", step, "ITEM: NUMBER OF ENTRIES", str(n),
            "ITEM: BOX BOUNDS " + " ".join(flags)]
    text += [f"{lo!r} {hi!r}" for lo, hi in box.tolist()]
    text.append("ITEM: ENTRIES " + " ".join(CONTACT_COLUMNS))
    for k in range(n):
        text.append(" ".join(str(int(data[c][k])) if c in ("id1", "id2")
                             else repr(float(data[c][k])) for c in CONTACT_COLUMNS))
    atomic_write_text(out, "\n".join(text) + "\n")
    return n


def convert_dumps(case_dir: str | os.PathLike[str], keep_raw: bool = False) -> list[str]:
    """Convert every stage's LIGGGHTS dumps in ``case_dir/dumps`` (idempotent).

    Returns
    -------
    list of str
        The stages converted.
    """
    d = Path(case_dir) / "dumps"
    done = []
    for raw in sorted(d.glob(f"*{ATOMS_RAW}")):
        stage = raw.name[: -len(ATOMS_RAW)]
        convert_atoms(raw, d / f"{stage}.atoms.dump")
        pairs = d / f"{stage}{PAIRS_RAW}"
        if pairs.exists():
            n = convert_pairs(pairs, d / f"{stage}.contacts.dump")
            log.debug("stage %s: %d contacts", stage, n)
            if not keep_raw:
                pairs.unlink()
        if not keep_raw:
            raw.unlink()
        done.append(stage)
    return done
