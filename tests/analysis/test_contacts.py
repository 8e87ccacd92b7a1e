"""The contact table: the one wall-contact routine (signs, overlaps, contact points), MPI
duplicate rows, and the effective moduli of Hertz and mdr decks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assb_lmp.analysis.contacts import Atoms, contact_table, pair_contacts, wall_contacts
from assb_lmp.analysis.dumps import Frame
from assb_lmp.analysis.hertz import effective_moduli_kpa
from assb_lmp.core.units import KPA_PER_GPA

from ._helpers import CARDS, cell_json, estar_kpa


def _frame(kind: str, data: dict) -> Frame:
    arrays = {k: np.asarray(v, dtype=np.int64 if k in ("id", "type", "id1", "id2") else float)
              for k, v in data.items()}
    return Frame(timestep=0, kind=kind, box=np.array([[0, 10], [0, 10], [-0.5, 0.5]]),
                 boundary=("ff", "ff", "pp"), columns=tuple(data), data=arrays,
                 source=Path(f"{kind}.dump"))


def _atoms() -> Atoms:
    """Atom 3 (listed first) pushed by xlo; 1 pushed by xhi; 2 pulled by xhi (damping);
    1 and 2 touch each other."""
    return Atoms.from_frame(_frame("atoms", {
        "id": [3, 1, 2], "type": [2, 1, 2], "radius": [0.5, 1.0, 0.5],
        "x": [0.4, 9.2, 9.6], "y": [5.0, 5.0, 6.2], "z": [0.0, 0.0, 0.0],
        "wall_xlo_fx": [3.0, 0.0, 0.0], "wall_xlo_fy": [0.2, 0.0, 0.0],
        "wall_xlo_fz": [0.0, 0.0, 0.0],
        "wall_xhi_fx": [0.0, -2.0, 0.1], "wall_xhi_fy": [0.0, 0.0, 0.0],
        "wall_xhi_fz": [0.0, 0.0, 0.0]}))


def test_wall_contacts_signs_and_geometry():
    atoms = _atoms()
    assert atoms.ids.tolist() == [1, 2, 3]
    w = wall_contacts(atoms, cell_json("s", 0))
    assert w.wall.tolist() == ["xlo", "xhi", "xhi"]
    assert atoms.ids[w.index].tolist() == [3, 1, 2]
    # pushing walls give fn > 0 on either side, a pulling one fn < 0
    np.testing.assert_allclose(w.fn, [3.0, 2.0, -0.1])
    np.testing.assert_allclose(w.ft, [0.2, 0.0, 0.0])
    # overlap R - distance on the particle's side of the plane
    np.testing.assert_allclose(w.overlap, [0.1, 0.2, 0.1], atol=1e-12)
    np.testing.assert_allclose(w.point, [[0.0, 5.0, 0.0], [10.0, 5.0, 0.0],
                                         [10.0, 6.2, 0.0]])
    np.testing.assert_allclose(w.branch[:, 0], [-0.4, 0.8, 0.4], atol=1e-12)
    np.testing.assert_allclose(w.force[0], [3.0, 0.2, 0.0])


def test_contact_table_dedupes_and_names_pairs():
    atoms = _atoms()
    d = np.array([9.2 - 9.6, 5.0 - 6.2, 0.0])
    dist = float(np.linalg.norm(d))
    # the same pair written twice (two MPI ranks), once the other way round
    cont = _frame("entries", {
        "id1": [1, 2], "id2": [2, 1], "dist": [dist, dist], "fn": [4.0, 4.0],
        "ftx": [0.0, 0.0], "fty": [0.0, 0.0], "ftz": [0.0, 0.0],
        "dx": [d[0], -d[0]], "dy": [d[1], -d[1]], "dz": [0.0, 0.0]})
    pairs = pair_contacts(atoms, cont)
    assert pairs.i.tolist() == [0] and pairs.j.tolist() == [1]
    walls = wall_contacts(atoms, cell_json("s", 0))
    e_pp, e_pw = effective_moduli_kpa(CARDS)
    t = contact_table(atoms, pairs, walls, e_pp, e_pw)
    assert t["pair"].tolist() == ["AM-SE", "SE-wall", "AM-wall", "SE-wall"]
    np.testing.assert_allclose(t["overlap"][0], 1.5 - dist)
    np.testing.assert_allclose(t["r_star"], [0.5 / 1.5, 0.5, 1.0, 0.5])
    np.testing.assert_allclose(t["d_min"], [1.0, 1.0, 2.0, 1.0])
    np.testing.assert_allclose(t["e_star"], [estar_kpa("am", "se"), estar_kpa("se", "wall"),
                                             estar_kpa("am", "wall"), estar_kpa("se", "wall")])
    assert t["a"][3] == 0.0  # a pulling contact has no Hertz area


def test_effective_moduli_of_mdr_decks_are_the_se_cards():
    se = CARDS["se"]
    e_pp, e_pw = effective_moduli_kpa(CARDS, "mdr")
    assert np.all(e_pp == pytest.approx(estar_kpa("se", "se"), rel=1e-12))
    assert np.all(e_pw == pytest.approx(se.E_gpa * KPA_PER_GPA / (1 - se.nu**2), rel=1e-12))
