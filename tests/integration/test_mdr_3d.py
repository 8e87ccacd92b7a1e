"""Elastic-plastic contacts (LAMMPS mdr) and 3D cells, with real LAMMPS on tiny systems."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assb_lmp.analysis import imaging, mechanics
from assb_lmp.build import deck
from assb_lmp.core.errors import SpecError
from assb_lmp.engines import lammps as engine
from assb_lmp.materials import cards as materials
from assb_lmp.materials import resolve
from assb_lmp.materials.physics import effective_modulus_gpa
from assb_lmp.pipeline import runner
from assb_lmp.spec import case as config

SPECS = Path(__file__).parents[1] / "specs"
BIN = Path(sys.executable).parent


def _load(name: str, **changes) -> config.CaseSpec:
    import yaml

    data = yaml.safe_load((SPECS / name).read_text())
    for key, value in changes.items():
        node = data
        *path, last = key.split(".")
        for p in path:
            node = node.setdefault(p, {})
        node[last] = value
    return resolve.parse_case(data, name)


# ----------------------------------------------------------------- decks (no LAMMPS)
def test_mdr_deck_uses_one_mdr_model_for_every_contact():
    text = deck.build(_load("tiny_mdr.yaml")).text
    body = [ln for ln in text.splitlines() if not ln.startswith("#")]
    pair = [ln for ln in body if ln.startswith("pair_")]
    assert pair[0].split() == ["pair_style", "granular"]
    assert len(pair) == 2 and pair[1].split()[1:4] == ["*", "*", "mdr"]
    model = pair[1].split("#")[0].split()[3:]
    assert "damping" in model and model[model.index("damping") + 1] == "mdr"
    assert "newton          off" in text and "comm_modify     vel yes" in text
    # yield stress of the LGPS card (630 MPa) in kPa
    assert model[3] == "630000"
    walls = [ln for ln in body if ln.startswith("fix") and "wall/gran" in ln]
    assert len(walls) == 8
    for ln in walls:
        assert " wall/gran/region granular mdr " in ln, ln
        assert " ".join(model) in ln  # the deck's one mdr parameter set
    # half the Hertz time step (flattened contacts unload stiffly)
    hertz = deck.build(_load("tiny_pressure.yaml"))
    assert deck.build(_load("tiny_mdr.yaml")).dt_us == pytest.approx(0.5 * hertz.dt_us)


def test_mdr_yield_override_and_damping_ratio():
    text = deck.build(_load("tiny_mdr.yaml", **{"contact.mdr_yield_mpa": 250.0})).text
    assert "mdr 26700000 0.37 250000 0 0.5 " in text
    assert deck.damping_ratio(1.0) == 0.0
    assert deck.damping_ratio(0.5) == pytest.approx(0.21545, rel=1e-4)


def test_3d_deck_presses_along_z_between_walls():
    d = deck.build(_load("tiny_3d.yaml"))
    text = d.text
    assert "dimension       3" in text and "boundary        p p f" in text
    assert "enforce2d" not in text
    assert "zplane 0.0 NULL" in text
    assert "move NULL NULL v_dzw" in text
    assert "fix             drive marker move variable NULL NULL NULL NULL NULL v_vwall" in text
    assert "xplane" not in text and "yplane" not in text
    s = d.structure
    assert s.info["dimension"] == 3 and s.positions.shape[1] == 3
    lx, ly, h = 8.0, 8.0, 10.0
    r = 0.5 * s.diameters
    assert np.all(s.positions[:, 2] - r >= -1e-9) and np.all(s.positions[:, 2] + r <= h + 1e-9)
    assert np.all((s.positions[:, :2] >= 0) & (s.positions[:, :2] <= [lx, ly]))
    # no two spheres overlap, across the periodic x and y boundaries either
    dd = s.positions[:, None, :] - s.positions[None, :, :]
    dd[..., 0] -= lx * np.round(dd[..., 0] / lx)
    dd[..., 1] -= ly * np.round(dd[..., 1] / ly)
    dist = np.sqrt((dd**2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    assert np.all(dist >= (r[:, None] + r[None, :]) - 1e-9)
    # AM volume fraction of the compressed cell (reference thickness 8.5 µm) as asked
    am = s.types == 1
    assert np.sum(np.pi / 6 * s.diameters[am] ** 3) / (lx * ly * 8.5) == pytest.approx(0.3)


def test_3d_mdr_deck_renders():
    text = deck.build(_load("tiny_3d.yaml", **{"contact.normal": "mdr"})).text
    assert "pair_coeff      * * mdr" in text
    assert text.count("wall/gran/region granular mdr") == 4
    assert "region          rzlo plane 0 0 0 0 0 1 side in units box" in text


# ----------------------------------------------------------------- bad input
def test_plastic_model_needs_a_yield_stress(tmp_path, monkeypatch):
    cards = tmp_path / "cards"
    shutil.copytree(materials.CARDS_DIR, cards)
    lgps = (cards / "LGPS.yaml").read_text()
    head, _ = lgps.split("yield_stress_mpa:")
    (cards / "LGPS.yaml").write_text(head + "yield_stress_mpa: {value: null, source: none}\n")
    monkeypatch.setattr(materials, "CARDS_DIR", cards)
    called = []
    monkeypatch.setattr(engine, "run_deck", lambda *a, **k: called.append(1))
    with pytest.raises(SpecError) as err:
        _load("tiny_mdr.yaml")
    msg = str(err.value)
    assert "tiny_mdr.yaml" in msg and "yield_stress_mpa" in msg and "'LGPS'" in msg
    # a spec validated without parse_case still fails before LAMMPS starts
    spec = config.CaseSpec.model_validate(
        {**_load("tiny_pressure.yaml").model_dump(), "contact": {"normal": "mdr"}})
    with pytest.raises(SpecError, match="yield"):
        runner.run_case(spec, tmp_path / "case", analyze=False)
    assert not called
    # the same spec is fine with an explicit yield stress
    _load("tiny_mdr.yaml", **{"contact.mdr_yield_mpa": 400.0})


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("geometry.height_um", 3.5, "height_um (x) = 3.5 µm < 3.9 µm"),
    ("geometry.depth_um", 3.0, "depth_um (y) = 3 µm"),
    ("stages", [{"kind": "press", "mode": "width", "final_width_um": 3.0}],
     "final width along z = 3 µm"),
])
def test_3d_cell_too_thin_for_its_largest_particle(key, value, needle):
    with pytest.raises(SpecError) as err:
        _load("tiny_3d.yaml", **{key: value})
    msg = str(err.value)
    assert "too thin for its largest particle" in msg and needle in msg, msg


@pytest.mark.parametrize("section", [{"axis": "y", "position_um": 9.0},
                                     {"axis": "x", "position_um": -0.5}])
def test_section_plane_outside_the_cell(section):
    with pytest.raises(SpecError) as err:
        _load("tiny_3d.yaml", sections=[section])
    msg = str(err.value)
    assert "sections.0" in msg and "outside the cell" in msg and "[0, 8] µm" in msg, msg


def test_sections_and_periodic_rejected_where_they_make_no_sense():
    with pytest.raises(SpecError, match="3D cells only"):
        _load("tiny_pressure.yaml", sections=[{"axis": "y", "position_um": 1.0}])
    with pytest.raises(SpecError, match="use boundary: walls"):
        _load("tiny_3d.yaml", **{"geometry.boundary": "periodic"})


# ----------------------------------------------------------------- mdr contact physics
def _pair_curve(model: str, r: float, dmax: float, n: int = 40, back: bool = True):
    """Two equal spheres, one held, one driven into it and back: (overlap, force)."""
    lmp = engine.open_lammps("none")
    try:
        lmp.commands_string(f"""
units micro
dimension 3
atom_style sphere 1
atom_modify map array
newton off
comm_modify vel yes
boundary f f f
region box block -5 5 -5 5 -5 5
create_box 2 box
timestep 1e-6
create_atoms 2 single 0 0 0
create_atoms 2 single {2 * r} 0 0
set atom * diameter {2 * r} density 1.99
pair_style granular
pair_coeff * * {model}
group one id 1
group two id 2
variable dx equal 0
fix hold one move linear 0 0 0
fix push two move variable v_dx NULL NULL NULL NULL NULL
run 0
""")
        path = list(np.linspace(0, dmax, n)[1:])
        if back:
            path += list(np.linspace(dmax, 0, n)[1:])
        out = []
        for d in path:
            lmp.command(f"variable dx equal {-d}")
            lmp.command("run 100 post no")
            out.append((d, float(lmp.numpy.extract_atom("f")[1][0])))
        return np.array(out)
    finally:
        lmp.close()


@pytest.mark.slow
def test_mdr_pair_is_hertz_then_yields_and_keeps_a_residual_overlap():
    se = materials.get("LGPS")
    spec = _load("tiny_mdr.yaml")
    r = 0.5
    curve = _pair_curve(deck.mdr_model(spec, se), r, 0.1)
    e_star = effective_modulus_gpa(se, se) * 1e6
    hertz = 4.0 / 3.0 * e_star * math.sqrt(0.5 * r) * curve[:, 0] ** 1.5
    load = slice(0, 39)
    # elastic start: Hertz within 3 % below the yield onset (delta <= 0.01 um here)
    small = (curve[load, 0] > 0.004) & (curve[load, 0] < 0.011)
    assert np.allclose(curve[load][small, 1], hertz[load][small], rtol=0.03)
    # plastic: at 20 % of the radius the force is well below Hertz ...
    assert curve[38, 1] < 0.7 * hertz[38]
    # ... and grows about linearly with overlap, F ~ k Y pi R* delta (a flattened contact)
    y = resolve.case_cards(spec)["se"].yield_mpa * 1e3
    slope = np.polyfit(curve[30:39, 0], curve[30:39, 1], 1)[0]
    assert 2.0 < slope / (y * math.pi * 0.5 * r) < 5.0
    # unloading: elastic, steeper than loading; force reaches zero at a residual overlap
    unload = curve[39:]
    zero = unload[unload[:, 1] <= 0, 0]
    assert zero.size and zero.max() > 0.5 * 0.1
    # a yield stress far above the contact pressures gives back Hertz, no residual overlap
    spec_el = _load("tiny_mdr.yaml", **{"contact.mdr_yield_mpa": 1.0e6})
    el = _pair_curve(deck.mdr_model(spec_el, se), r, 0.05, n=20)
    h_el = 4.0 / 3.0 * e_star * math.sqrt(0.5 * r) * el[:19, 0] ** 1.5
    assert np.allclose(el[2:19, 1], h_el[2:19], rtol=0.03)
    assert el[-2, 1] == pytest.approx(4.0 / 3.0 * e_star * math.sqrt(0.5 * r)
                                      * el[-2, 0] ** 1.5, rel=0.05)


@pytest.fixture(scope="module")
def mdr_run(tmp_path_factory):
    spec = _load("tiny_mdr.yaml")
    out = tmp_path_factory.mktemp("tiny_mdr")
    summary = runner.run_case(spec, out, analyze=True, figures=False)
    return spec, out, summary


@pytest.mark.slow
def test_mdr_case_runs_and_compacts_more_than_hertz(mdr_run, tiny_pressure_run):
    spec, out, summary = mdr_run
    assert summary["status"] == "complete"
    press = {s["name"]: s for s in summary["stages"]}
    assert press["press"]["pressure_mpa"]["xhi"] == pytest.approx(100.0, rel=0.01)
    assert press["release"]["pressure_mpa"]["xhi"] == pytest.approx(10.0, rel=0.01)
    _, _, hertz = tiny_pressure_run
    h = {s["name"]: s for s in hertz["stages"]}
    # same packing (same seed and packing spec): plastic flattening ends narrower ...
    assert press["release"]["cell_um"][0] < h["release"]["cell_um"][0] - 0.3
    # ... and springs back less on release
    back = lambda s: s["release"]["cell_um"][0] / s["press"]["cell_um"][0] - 1  # noqa: E731
    assert back(press) < back(h)
    labels = json.loads((out / "labels.json").read_text())
    info = labels["info"]
    assert info["contact_radius"] == "overlap"
    assert labels["reaction_area_um2"] == pytest.approx(info["reaction_area_overlap_um2"])
    assert info["reaction_area_overlap_um2"] > info["reaction_area_hertz_um2"] > 0
    bal = info["stress_balance"]["wall_forces"]
    assert bal["xx"] == pytest.approx(1.0, abs=0.03) and bal["yy"] == pytest.approx(1.0, abs=0.03)


# ----------------------------------------------------------------- 3D runs
@pytest.fixture(scope="module")
def run_3d(tmp_path_factory):
    spec = _load("tiny_3d.yaml")
    out = tmp_path_factory.mktemp("tiny_3d")
    summary = runner.run_case(spec, out, analyze=True, figures=True)
    return spec, out, summary


@pytest.mark.slow
def test_3d_case_reaches_its_targets_and_balances(run_3d):
    spec, out, summary = run_3d
    assert summary["status"] == "complete"
    st = {s["name"]: s for s in summary["stages"]}
    for name, target in (("settle", 1.0), ("press", 100.0), ("release", 10.0)):
        p = st[name]["pressure_mpa"]
        assert p["zhi"] == pytest.approx(target, rel=0.01), name
        assert p["zlo"] == pytest.approx(target, rel=0.05), name
        assert len(st[name]["cell_um"]) == 3
    assert st["press"]["cell_um"][2] < st["release"]["cell_um"][2] < 10.0
    assert st["press"]["cell_um"][:2] == [8, 8]
    for stage in ("press", "release"):
        info = json.loads((out / stage / "labels.json").read_text())["info"]
        bal = info["stress_balance"]
        for ax in ("xx", "yy", "zz"):
            assert bal["wall_pressure"][ax] == pytest.approx(1.0, abs=0.02), (stage, ax)
        assert bal["wall_forces"]["zz"] == pytest.approx(1.0, abs=0.02)
        assert info["dimension"] == 3


@pytest.mark.slow
def test_3d_sections_give_one_image_and_label_set_per_plane(run_3d):
    spec, out, _ = run_3d
    names = [s.label for s in spec.section_planes]
    assert names == ["y4", "x2p5"]
    top = json.loads((out / "labels.json").read_text())
    per = {}
    for n in names:
        lab = json.loads((out / "sections" / n / "labels.json").read_text())
        img = imaging.load_png(out / "sections" / n / "image.png")
        assert img.shape == (224, 224)
        assert set(np.unique(img)) <= {0, 128, 255}
        fr = imaging.phase_fractions(img)
        assert fr["am"] > 0.02 and fr["se"] > 0.1
        assert lab["info"]["section"]["name"] == n
        per[n] = lab
        # the stage folder holds the same planes
        assert (out / "release" / "sections" / n / "image.png").is_file()
    assert top == per["y4"]  # labels.json / image.png are those of the first plane
    assert (imaging.load_png(out / "image.png") == imaging.load_png(
        out / "sections" / "y4" / "image.png")).all()
    # different planes see different particles
    assert per["y4"]["porosity"] != per["x2p5"]["porosity"]
    # the label window of a plane is the image: square, cropped 2 um from the walls in z
    cell = json.loads((out / "dumps" / "release.cell.json").read_text())
    x0, x1, z0, z1 = per["y4"]["info"]["window_um"]
    assert x1 - x0 == pytest.approx(z1 - z0)
    assert z1 - z0 == pytest.approx(min(8.0, cell["zhi_um"]) - 4.0)
    assert (out / "figures" / "force_chains.png").is_file()


@pytest.mark.slow
def test_section_view_cuts_spheres_as_the_image_does(run_3d):
    spec, out, _ = run_3d
    info = mechanics.load_case_info(out)
    res = mechanics.analyze_stage(info, "release", sections=[("y", 1e-9, "a"),
                                                             ("y", 8.0 - 1e-9, "b")])
    a, b = res.sections["a"], res.sections["b"]
    # planes at both ends of the periodic y see the same spheres (cut across the boundary)
    assert np.array_equal(np.abs(a.pos[:, 2] - 1e-9) < a.radius,
                          np.abs(b.pos[:, 2] - 8.0 + 1e-9) < b.radius)
    assert (np.abs(a.pos[:, 2] - 1e-9) < a.radius).sum() > 10
    shown = np.abs(a.pos[:, 2] - 1e-9) < a.radius
    slab = mechanics.section_slab(a)
    assert slab.ids.size == int(shown.sum())
    h = a.pos[shown, 2] - 1e-9
    assert np.allclose(slab.radius, np.sqrt(a.radius[shown] ** 2 - h**2))
    with pytest.raises(mechanics.AnalysisError, match="outside the cell"):
        mechanics.section_view(res, "y", 9.0)


@pytest.mark.slow
def test_3d_mdr_case_runs(tmp_path):
    stages = [{"kind": "settle", "pressure_mpa": 1},
              {"kind": "press", "mode": "pressure", "pressure_mpa": 50}]
    # mdr compacts further than Hertz: start closer to the jammed thickness (7.5 um)
    spec = _load("tiny_3d.yaml", **{"contact.normal": "mdr", "geometry.width_um": 7.5,
                                    "stages": stages})
    summary = runner.run_case(spec, tmp_path / "c", analyze=True, figures=False)
    assert summary["status"] == "complete"
    st = {s["name"]: s for s in summary["stages"]}
    assert st["press"]["pressure_mpa"]["zhi"] == pytest.approx(50.0, rel=0.01)
    assert summary["labels"]["info"]["contact_radius"] == "overlap"


@pytest.mark.slow
@pytest.mark.mpi
def test_3d_case_under_mpirun_two_ranks(tmp_path, run_3d):
    out = tmp_path / "case"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [str(BIN / "mpirun"), "-np", "2", sys.executable, "-m", "assb_lmp", "run",
         str(SPECS / "tiny_3d.yaml"), "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["nprocs"] == 2 and summary["status"] == "complete"
    st = {s["name"]: s for s in summary["stages"]}
    assert st["release"]["pressure_mpa"]["zhi"] == pytest.approx(10.0, rel=0.01)
    for n in ("y4", "x2p5"):
        assert (out / "sections" / n / "labels.json").is_file()
    # same structure, same protocol: the final thickness agrees with the 1-rank run
    one = {s["name"]: s for s in run_3d[2]["stages"]}
    assert st["release"]["cell_um"][2] == pytest.approx(one["release"]["cell_um"][2], rel=0.03)
