"""Multisphere AM bodies: geometry, packing, circularity against the ellipse relation,
bad input, and the deck blocks (no LAMMPS run here; see tests/build/test_expansion.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from assb_lmp.build import deck, multisphere, packing
from assb_lmp.cli import main as cli
from assb_lmp.core.errors import SpecError
from assb_lmp.materials.resolve import load_case, parse_case
from assb_lmp.spec import shapes
from assb_lmp.spec.case import CaseSpec

REPO = Path(__file__).parents[2]
SPECS = REPO / "tests" / "specs"


def _spec_data() -> dict:
    return yaml.safe_load((SPECS / "tiny_expand.yaml").read_text())


def _parse(data: dict) -> CaseSpec:
    return parse_case(data, "test.yaml")


# ----------------------------------------------------------------- geometry
def test_ellipse_perimeter_matches_integral():
    a, b = 3.0, 1.0
    t = np.linspace(0.0, 2.0 * math.pi, 200_001)
    integral = np.trapezoid(np.sqrt((a * np.sin(t)) ** 2 + (b * np.cos(t)) ** 2), t)
    assert multisphere.ellipse_perimeter(a, b) == pytest.approx(integral, rel=1e-7)
    assert multisphere.ellipse_circularity(1.0) == pytest.approx(1.0)


def test_union_area_perimeter_exact_for_two_discs():
    r, d = 1.0, 1.2
    lens = 2 * r * r * math.acos(d / (2 * r)) - 0.5 * d * math.sqrt(4 * r * r - d * d)
    area, perim = multisphere.union_area_perimeter(np.array([[0, 0], [d, 0]]),
                                                   np.array([r, r]))
    assert area == pytest.approx(2 * math.pi * r * r - lens, rel=1e-12)
    assert perim == pytest.approx(2 * r * (2 * math.pi - 2 * math.acos(d / (2 * r))),
                                  rel=1e-12)
    # a disc inside another adds nothing
    area2, perim2 = multisphere.union_area_perimeter(np.array([[0, 0], [0.2, 0]]),
                                                     np.array([1.0, 0.5]))
    assert (area2, perim2) == pytest.approx((math.pi, 2 * math.pi))


@pytest.mark.parametrize("ar", [1.0, 1.3, 1.5, 2.0, 3.0, 5.0])
def test_body_has_the_ellipse_area_aspect_and_circularity(ar):
    body = multisphere.build_body(8.0, ar)
    assert body.area == pytest.approx(math.pi * 16.0, rel=1e-12)
    half_major, half_minor = body.extent
    assert half_major / half_minor == pytest.approx(ar, rel=1e-12)
    assert np.all(body.offsets[:, 1] == 0)
    # exact union circularity within 1 % of the ellipse's
    assert body.circularity == pytest.approx(multisphere.ellipse_circularity(ar), rel=0.01)
    # 3D volume of the union: between the inscribed and the scaled spheroid's
    vol, surf = multisphere.union_volume_surface_3d(body.offsets, body.radii)
    spheroid = 4 / 3 * math.pi * half_major * half_minor**2
    assert 0.95 * spheroid < vol <= spheroid * (1 + 1e-9)
    assert surf > 0


def test_sphere_counts_and_limits():
    assert shapes.default_spheres(1.0) == 1
    assert shapes.default_spheres(2.0) == 13
    assert shapes.max_spheres(1.0) == 1
    assert shapes.max_spheres(1.5) == 34
    assert shapes.min_spheres(1.0) == 1 and shapes.min_spheres(1.2) == 3
    # by default the builder uses the count of the spec's shape rules
    assert multisphere.unit_cluster(2.0)[0].shape[0] == shapes.default_spheres(2.0)
    with pytest.raises(ValueError, match="one sphere cannot"):
        multisphere.unit_cluster(2.0, 1)


def test_circularity_of_generated_particles_follows_the_ellipse_relation():
    """The validation the user sees (``shapes``): regionprops on the rendered sections of
    a default sweep and of the bodies of a packing, within 3 % of the ellipse relation."""
    spec = load_case(REPO / "runs" / "so2021_expansion.yaml")
    st = packing.generate(spec)
    bodies = [(st.positions[st.mol == b["mol"], :2], 0.5 * st.diameters[st.mol == b["mol"]],
               b["aspect_ratio"]) for b in st.info["bodies"]]
    rows = multisphere.validation(bodies)
    assert len(rows) == len(multisphere.SWEEP_ASPECT_RATIOS) + len(bodies)
    for r in rows:
        assert abs(r["relative_error"]) < 0.03, r
        assert r["aspect_ratio_measured"] == pytest.approx(r["aspect_ratio"], rel=0.02), r


def test_shapes_command_writes_table_and_figure(tmp_path, capsys):
    status = cli.main(["shapes", str(SPECS / "tiny_expand.yaml"), "--out", str(tmp_path),
                       "--aspect-ratios", "1", "2", "3"])
    assert status == 0
    assert "pass" in capsys.readouterr().out
    for name in ("shapes.csv", "shapes.json", "circularity.png"):
        assert (tmp_path / name).stat().st_size > 0
    rows = (tmp_path / "shapes.csv").read_text().splitlines()
    assert rows[0].startswith("source,aspect_ratio") and len(rows) > 4


# ----------------------------------------------------------------- packing
def _check_structure(st: packing.Structure, w: float, h: float) -> None:
    am = st.types == packing.TYPE_AM
    xy, r = st.positions[:, :2], 0.5 * st.diameters
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    gap = d - (r[:, None] + r[None])
    same_body = (st.mol[:, None] == st.mol[None]) & am[:, None] & am[None]
    np.fill_diagonal(gap, np.inf)
    assert gap[~same_body].min() > -1e-6  # no overlaps between particles
    assert np.all(xy - r[:, None] >= -1e-9) and np.all(xy[:, 0] + r <= w + 1e-9)
    assert np.all(xy[:, 1] + r <= h + 1e-9)


def test_bodies_are_packed_without_overlaps_and_reproducibly():
    spec = load_case(SPECS / "tiny_expand.yaml")
    st = packing.generate(spec)
    _check_structure(st, spec.geometry.width_um, spec.geometry.height_um)
    assert st.multisphere and st.n_am == len(st.info["bodies"]) == int(st.mol.max())
    # the AM area target is met to within half a smallest particle (as for discs)
    assert st.info["am_area_um2"] == pytest.approx(0.35 * 12 * 10, abs=math.pi * 2.0**2 / 8)
    assert st.info["am_area_um2"] <= 0.35 * 12 * 10 + 1e-9
    again = packing.generate(spec)
    assert np.array_equal(st.positions, again.positions)


def test_dense_bodies_need_the_rigid_body_rearrangement():
    data = _spec_data()
    data["packing"].update(am_area_fraction=0.6, reference_width_um=14)
    st = packing.generate(_parse(data))
    assert "collective rearrangement of rigid bodies" in st.info["densify"]
    _check_structure(st, 14, 10)


def test_data_file_has_molecules_and_deck_has_rigid_bodies(tmp_path):
    spec = load_case(SPECS / "tiny_expand.yaml")
    d = deck.write_case(spec, tmp_path)
    text = (tmp_path / "structure.data").read_text()
    assert "\nMolecules\n" in text
    for needle in ("fix             pmol all property/atom mol ghost yes",
                   "read_data       structure.data fix pmol NULL Molecules",
                   "neigh_modify    exclude molecule/intra am",
                   "fix             rigid am rigid/small molecule",
                   "fix             integrate se nve/sphere",
                   "dumps/expand.atoms.dump id type mol radius",
                   "unfix           rigid", "displace_atoms  am move v_gdx v_gdy NULL",
                   "jump            SELF grow_expand"):
        assert needle in d.text, needle
    # the rigid fix comes before fix enforce2d (LAMMPS requires it)
    assert d.text.index("rigid/small molecule") < d.text.index("fix             plane all")


def test_sphere_decks_are_unchanged_by_the_multisphere_blocks():
    text = deck.build(load_case(SPECS / "tiny_pressure.yaml")).text
    for needle in ("property/atom", "rigid", "molecule", " mol "):
        assert needle not in text, needle


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "shape, match",
    [
        ({"kind": "ellipse", "aspect_ratio": 0.8}, r"aspect_ratio.*< 1 is impossible"),
        ({"kind": "ellipse", "aspect_ratio": [2.0, 1.5]}, "increasing"),
        ({"kind": "ellipse", "aspect_ratio": 12}, "above 10"),
        ({"kind": "ellipse", "aspect_ratio": 1.5, "spheres": 60}, "more than sensible"),
        ({"kind": "ellipse", "aspect_ratio": 1.0, "spheres": 3}, "more than sensible"),
        ({"kind": "ellipse", "aspect_ratio": 2.0, "spheres": 2}, "chain of beads"),
        ({"kind": "ellipse", "aspect_ratio": 2.0, "spheres": 100}, "less than or equal"),
        ({"kind": "cube"}, "am_shape"),
    ],
)
def test_impossible_shapes_are_refused_with_the_key(shape, match):
    data = _spec_data()
    data["packing"]["am_shape"] = shape
    with pytest.raises(SpecError, match=match) as err:
        _parse(data)
    assert "test.yaml" in str(err.value) and "packing.am_shape" in str(err.value)


def test_body_longer_than_the_cell_is_refused():
    data = _spec_data()
    data["packing"].update(am_diameter_mean_um=7.0, am_diameter_sd_um=0.0,
                           am_diameter_min_um=6.0, am_area_fraction=0.3)
    data["packing"]["am_shape"] = {"kind": "ellipse", "aspect_ratio": 3.0}
    with pytest.raises(Exception, match="does not fit"):
        packing.generate(_parse(data))
