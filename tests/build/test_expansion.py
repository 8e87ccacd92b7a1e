"""Vegard expansion by radius growth, run with real LAMMPS on tiny systems.

Spheres grow with ``fix adapt`` (mass with them); rigid multisphere bodies grow in
increments (offsets about the centre of mass and diameters scaled). Held to: the AM
volume changes by the requested amount within 0.5 % (absolute), the aspect ratio of the
bodies is kept within 1 %, the wall pressure rises under a fixed gap and is held under a
pressure boundary; bad requests fail before LAMMPS starts.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from assb_lmp.analysis import bodies, dumps
from assb_lmp.build import deck, multisphere
from assb_lmp.core.errors import SpecError
from assb_lmp.materials import physics, vegard
from assb_lmp.materials.resolve import case_cards, load_case, parse_case
from assb_lmp.pipeline import runner
from assb_lmp.spec.case import CaseSpec

SPECS = Path(__file__).parents[1] / "specs"
BIN = Path(sys.executable).parent
BASE = yaml.safe_load((SPECS / "tiny_expand.yaml").read_text())

#: name → (changes to the tiny spec, expected requested strain, basis)
CASES = {
    # multisphere bodies, fixed gap, +10 % volume (the spec as shipped)
    "bodies_gap": ({}, 0.10, "volume"),
    # spheres, fixed gap, +10 % volume
    "spheres_gap": ({"shape": {"kind": "sphere"}}, 0.10, "volume"),
    # bodies shrinking by 5 % of their section area while the 20 MPa are held
    "bodies_pressure_area": ({"expand": {"volume_strain": -0.05, "basis": "area",
                                         "boundary": "pressure"}}, -0.05, "area"),
    # graphite spheres, Vegard from the card between states of charge 0 and 0.5
    "spheres_vegard": ({"shape": {"kind": "sphere"}, "am": "graphite",
                        "expand": {"vegard": {"state_of_charge": 0.5}, "volume_strain": None,
                                   "boundary": "pressure"}}, None, "volume"),
}


def _variant(name: str, changes: dict) -> dict:
    data = copy.deepcopy(BASE)
    data["name"] = name
    if "shape" in changes:
        data["packing"]["am_shape"] = changes["shape"]
    if "am" in changes:
        data["materials"] = {"am": changes["am"]}
    exp = data["stages"][-1]
    for k, v in changes.get("expand", {}).items():
        if v is None:
            exp.pop(k, None)
        else:
            exp[k] = v
    return data


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every case of CASES run end to end (analysis on, figures for the first only)."""
    out = {}
    for k, (name, (changes, _, _)) in enumerate(CASES.items()):
        spec = parse_case(_variant(name, changes), name)
        case_dir = tmp_path_factory.mktemp(name)
        summary = runner.run_case(spec, case_dir, figures=(k == 0))
        out[name] = (spec, case_dir, summary)
    return out


def _requested(name: str, spec: CaseSpec) -> float:
    e = CASES[name][1]
    if e is not None:
        return e
    return physics.expand_volume_strain(spec.stages[-1], case_cards(spec)["am"])


def _bodies_of(frame: dumps.Frame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """AM particles of a frame: id → (centres (n, 2), radii); one per body or sphere."""
    order = np.argsort(frame["id"])
    am = frame["type"][order] == 1
    xy = np.column_stack([frame["x"][order], frame["y"][order]])[am]
    r = frame["radius"][order][am]
    if "mol" in frame:
        mol = frame["mol"][order][am].astype(int)
        return {m: (xy[mol == m], r[mol == m]) for m in np.unique(mol).tolist()}
    ids = frame["id"][order][am].astype(int)
    return {i: (xy[k:k + 1], r[k:k + 1]) for k, i in enumerate(ids.tolist())}


def _frames(case_dir: Path, stage_before: str = "press", stage_after: str = "expand"):
    return (dumps.read_last_frame(dumps.stage_paths(case_dir, stage_before)["atoms"]),
            dumps.read_last_frame(dumps.stage_paths(case_dir, stage_after)["atoms"]))


@pytest.mark.parametrize("name", list(CASES))
def test_am_volume_changes_by_the_requested_amount(runs, name):
    """From the dumps alone: 3D volume (or, basis area, section area) of every AM particle
    (spheres, or the union of a body's spheres) changes by the request within 0.5 %."""
    spec, case_dir, summary = runs[name]
    assert summary["status"] == "complete"
    e = _requested(name, spec)
    before, after = _frames(case_dir)
    b0, b1 = _bodies_of(before), _bodies_of(after)
    assert b0.keys() == b1.keys()
    basis = CASES[name][2]
    total0 = total1 = 0.0
    for key in b0:
        for (xy, r), acc in ((b0[key], 0), (b1[key], 1)):
            if basis == "volume":
                v = multisphere.union_volume_surface_3d(xy - xy.mean(axis=0), r, samples=50)[0]
            else:
                v = multisphere.union_area_perimeter(xy, r)[0]
            if acc == 0:
                total0 += v
            else:
                total1 += v
    assert total1 / total0 - 1.0 == pytest.approx(e, abs=0.005)
    # the mass grows with the volume (constant density, sphere masses)
    am0, am1 = before["type"] == 1, after["type"] == 1
    scale = physics.expand_volume_strain(spec.stages[-1], case_cards(spec)["am"])
    mass_ratio = after["mass"][am1].sum() / before["mass"][am0].sum()
    lin = (1 + scale) ** (1 / 3 if basis == "volume" else 1 / 2)
    assert mass_ratio == pytest.approx(lin**3, rel=1e-6)
    # the analysis reports the same
    report = json.loads((case_dir / "expansion.json").read_text())
    key = "volume_strain_measured" if basis == "volume" else "section_area_strain_measured"
    assert report["am"][key] == pytest.approx(e, abs=0.005)
    assert report["requested"]["volume_strain"] == pytest.approx(e, rel=1e-12)


def test_vegard_strain_comes_from_the_card(runs):
    spec, _, _ = runs["spheres_vegard"]
    e = physics.expand_volume_strain(spec.stages[-1], case_cards(spec)["am"])
    assert e == pytest.approx(vegard.volume_strain(case_cards(spec)["am"], 0.0, 0.5), rel=1e-12)
    assert 0.05 < e < 0.08  # half-way from C6 to LiC6: about +6 %


@pytest.mark.parametrize("name", ["bodies_gap", "bodies_pressure_area"])
def test_bodies_keep_their_shape(runs, name):
    """Aspect ratio unchanged within 1 %; every sub-sphere offset scales by s (rigid)."""
    spec, case_dir, _ = runs[name]
    before, after = _frames(case_dir)
    b0, b1 = _bodies_of(before), _bodies_of(after)
    e = _requested(name, spec)
    s = (1 + e) ** (1 / 3 if CASES[name][2] == "volume" else 1 / 2)
    for key in b0:
        (xy0, r0), (xy1, r1) = b0[key], b1[key]
        assert len(r0) > 1
        ar0 = bodies.section_aspect_ratio(xy0 - xy0.mean(axis=0), r0)
        ar1 = bodies.section_aspect_ratio(xy1 - xy1.mean(axis=0), r1)
        assert ar1 == pytest.approx(ar0, rel=0.01)
        d0 = np.linalg.norm(xy0[:, None] - xy0[None], axis=2)
        d1 = np.linalg.norm(xy1[:, None] - xy1[None], axis=2)
        assert np.allclose(d1, s * d0, rtol=1e-6, atol=1e-9)
        assert np.allclose(r1, s * r0, rtol=1e-9)
    report = json.loads((case_dir / "expansion.json").read_text())
    assert report["am"]["aspect_ratio_max_relative_change"] < 0.01


@pytest.mark.parametrize("name", ["bodies_gap", "spheres_gap"])
def test_fixed_gap_wall_pressure_rises_when_the_am_swells(runs, name):
    spec, case_dir, summary = runs[name]
    st = {s["name"]: s for s in summary["stages"]}
    assert st["expand"]["cell_um"][0] == pytest.approx(st["press"]["cell_um"][0], rel=1e-9)
    p0 = st["press"]["pressure_mpa"]["xhi"]
    p1 = st["expand"]["pressure_mpa"]["xhi"]
    assert p0 == pytest.approx(20.0, rel=0.02)
    assert p1 > 1.5 * p0, (p0, p1)
    assert st["expand"]["pressure_mpa"]["xlo"] > 1.5 * st["press"]["pressure_mpa"]["xlo"]


def test_pressure_boundary_holds_the_stack_pressure(runs):
    spec, case_dir, summary = runs["bodies_pressure_area"]
    st = {s["name"]: s for s in summary["stages"]}
    assert st["expand"]["converged"]
    assert st["expand"]["pressure_mpa"]["xhi"] == pytest.approx(20.0, rel=0.02)
    # the AM shrank and the wall followed it in
    assert st["expand"]["cell_um"][0] < st["press"]["cell_um"][0]
    spec, case_dir, summary = runs["spheres_vegard"]
    st = {s["name"]: s for s in summary["stages"]}
    assert st["expand"]["pressure_mpa"]["xhi"] == pytest.approx(20.0, rel=0.02)
    assert st["expand"]["cell_um"][0] > st["press"]["cell_um"][0]


def test_growth_is_gradual(runs):
    for name in ("bodies_gap", "spheres_gap"):
        spec, case_dir, _ = runs[name]
        tab = dumps.read_series(case_dir / "dumps" / "expand.growth.txt")
        v = tab["am_volume_um3"]
        assert v.size >= 5
        assert np.all(np.diff(v) > 0)
        steps = tab["step"]
        assert steps[-1] - steps[0] > 100


def test_analysis_counts_a_body_as_one_particle(runs):
    spec, case_dir, _ = runs["bodies_gap"]
    structure = json.loads((case_dir / "structure.json").read_text())
    n_bodies = len(structure["bodies"])
    for stage in ("press", "expand"):
        with open(case_dir / stage / "particles.csv") as fh:
            rows = list(csv.DictReader(fh))
        am = [r for r in rows if r["phase"] == "AM"]
        assert len(am) == n_bodies
        assert {int(r["mol"]) for r in am} == set(range(1, n_bodies + 1))
        assert all(int(r["n_spheres"]) > 1 for r in am)
        labels = json.loads((case_dir / stage / "labels.json").read_text())
        balance = labels["info"]["stress_balance"]["wall_forces"]
        assert balance["xx"] == pytest.approx(1.0, abs=0.03)
        assert balance["yy"] == pytest.approx(1.0, abs=0.03)
        assert (case_dir / stage / "stress_map.png").stat().st_size > 0
    assert (case_dir / "figures" / "expansion_expand.png").stat().st_size > 0
    report = json.loads((case_dir / "expansion.json").read_text())
    for key in ("se_stress_mean_mpa", "se_stress_sd_mpa", "reaction_area_um2"):
        entry = report["labels"][key]
        assert entry["change"] == pytest.approx(entry["after"] - entry["before"])
    assert report["reference_stage"] == "press"


# ----------------------------------------------------------------- bad input, before LAMMPS
def _expect_spec_error(data: dict, match: str, tmp_path: Path) -> None:
    """The error comes from parse_case or deck.build, before LAMMPS starts."""
    out = tmp_path / "case"
    with pytest.raises(SpecError, match=match):
        spec = parse_case(data, "test.yaml")
        runner.run_case(spec, out, analyze=False)
    assert not (out / "log.lammps").exists()


def test_vegard_on_a_card_without_lattice_data(tmp_path):
    data = _variant("bad", {"shape": {"kind": "sphere"}, "am": "LGPS",
                            "expand": {"vegard": {"state_of_charge": 1.0},
                                       "volume_strain": None}})
    _expect_spec_error(data, r"stages\.2 \(expand\): material card 'LGPS' has no lattice",
                       tmp_path)


def test_expansion_that_would_push_bodies_through_a_wall(tmp_path):
    # Si-like swelling at a fixed gap: the solids no longer fit in the cell
    data = _variant("bad", {"expand": {"volume_strain": 2.8}})
    _expect_spec_error(data, "push particles through a wall", tmp_path)
    # a body that grows longer than the cell height
    data = _variant("bad", {"expand": {"volume_strain": 3.0, "boundary": "pressure"}})
    data["packing"]["am_shape"] = {"kind": "ellipse", "aspect_ratio": 5.0}
    _expect_spec_error(data, "push AM particles through a wall", tmp_path)
    # too few increments: the sudden overlaps would shoot particles through the walls
    data = _variant("bad", {"expand": {"increments": 1}})
    _expect_spec_error(data, "at least .* increments", tmp_path)


def test_multisphere_growth_in_a_periodic_cell_is_refused(tmp_path):
    data = _variant("bad", {"expand": {"boundary": "pressure", "pressure_mpa": 5.0}})
    data["geometry"]["boundary"] = "periodic"
    _expect_spec_error(data, "need boundary: walls", tmp_path)


@pytest.mark.parametrize(
    "stage, match",
    [
        ({"kind": "expand"}, "exactly one of volume_strain and vegard"),
        ({"kind": "expand", "volume_strain": 0.1, "vegard": {"state_of_charge": 1}},
         "exactly one"),
        ({"kind": "expand", "volume_strain": -0.7}, "outside the allowed range"),
        ({"kind": "expand", "volume_strain": 0.1, "boundary": "gap", "pressure_mpa": 5},
         "takes no pressure_mpa"),
        ({"kind": "expand", "vegard": {"state_of_charge": 1.5}}, "state_of_charge"),
        ({"kind": "expand", "volume_strain": 0.1, "basis": "length"}, "basis"),
    ],
)
def test_bad_expand_stages(stage, match):
    data = copy.deepcopy(BASE)
    data["stages"][-1] = stage
    with pytest.raises(SpecError, match=match):
        parse_case(data, "test.yaml")


def test_pressure_boundary_needs_a_pressure():
    data = copy.deepcopy(BASE)
    data["stages"] = [{"kind": "press", "mode": "width", "final_width_um": 12},
                      {"kind": "expand", "volume_strain": 0.1}]
    with pytest.raises(SpecError, match="needs pressure_mpa"):
        parse_case(data, "test.yaml")
    data["stages"][-1]["pressure_mpa"] = 5.0
    parse_case(data, "test.yaml")


# ----------------------------------------------------------------- by hand
@pytest.mark.slow
def test_multisphere_expand_deck_runs_standalone_with_lmp(tmp_path):
    """The growth loop (label/jump SELF) runs under ``lmp -in deck.lmp`` as well."""
    out = tmp_path / "case"
    deck.write_case(load_case(SPECS / "tiny_expand.yaml"), out)
    lmp = shutil.which("lmp", path=str(BIN)) or "lmp"
    proc = subprocess.run([lmp, "-in", "deck.lmp"], cwd=out, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    cell0 = json.loads((out / "dumps" / "press.cell.json").read_text())
    cell1 = json.loads((out / "dumps" / "expand.cell.json").read_text())
    assert cell1["p_xhi_mpa"] > 1.5 * cell0["p_xhi_mpa"]
    assert math.isclose(cell1["xhi_um"], cell0["xhi_um"], rel_tol=1e-9)
