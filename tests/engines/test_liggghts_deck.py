"""LIGGGHTS decks rendered from templates/liggghts: dialect, materials, refusals, case folder."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from assb_lmp.build import deck as lammps_deck
from assb_lmp.core.errors import SpecError
from assb_lmp.core.units import gpa_to_kpa
from assb_lmp.engines import liggghts_deck as ld
from assb_lmp.engines import liggghts_plastic as tn
from assb_lmp.materials import cards as materials
from assb_lmp.materials.resolve import case_cards
from assb_lmp.materials.resolve import load_case as load_any
from assb_lmp.spec.case import CaseSpec

RUNS = Path(__file__).resolve().parents[2] / "runs"
SPECS = Path(__file__).resolve().parents[1] / "specs"


def load_case(path: Path) -> CaseSpec:
    """A shipped or test case, to run with LIGGGHTS."""
    return load_any(path).model_copy(update={"engine": "liggghts"})


def with_contact(spec: CaseSpec, **contact) -> CaseSpec:
    """A copy of ``spec`` with contact keys replaced (``normal: thornton_ning`` included, which
    the engine reads from ``contact.normal``)."""
    return spec.model_copy(update={"contact": spec.contact.model_copy(update=contact)})


@pytest.fixture(scope="module")
def komori():
    spec = load_case(RUNS / "komori2022_case.yaml")
    return spec, ld.build(spec)


def test_deck_is_liggghts_dialect(komori):
    """Nothing of the LAMMPS-only syntax LIGGGHTS 3.8 lacks; the stage loop and walls."""
    _, deck = komori
    text = deck.text
    commands = "\n".join(ln.split("#")[0] for ln in text.splitlines() if ln.strip()
                         and not ln.lstrip().startswith("#"))
    for lammps_only in ("ternary(", "fix             halt", "timer ", ":%", "colname",
                        "pair_style      granular", "hertz/material", "enforce2d"):
        assert lammps_only not in commands, lammps_only
    assert "units           micro" in text
    assert "atom_style      granular" in text
    assert "pair_style      gran model hertz tangential history" in text
    assert "fix             mxhi all mesh/surface/stress file wall_xhi.stl type 3" in text
    assert "fix             drivemesh all move/mesh mesh mxhi linear/variable v_vwall" in text
    assert text.count("include         segments.lmp") == 2 * 2     # two stages, two loops
    assert "fix             flat grains setforce NULL NULL 0.0" in text
    assert text.rstrip().endswith('print           "=== assb_lmp done"')


def test_pressure_servo_reads_a_ten_step_average(komori):
    """As in the LAMMPS deck: the servo's rate follows the moving wall's pressure averaged over
    10 steps, never the instantaneous one (which locks a wall touched by one AM particle into
    a +/- rate-cap cycle)."""
    text = komori[1].text
    assert "fix             avPservo all ave/time 1 1 1 v_Pmove ave window 10" in text
    rraw = [ln for ln in text.splitlines() if ln.startswith("variable        rraw equal (v_Pt")]
    assert rraw and all("(v_Pt-f_avPservo)/(v_M*v_tau)" in ln for ln in rraw)


def test_material_tables_are_the_cards(komori):
    """Per-type E (kPa), ν; per-pair restitution and friction: geometric means."""
    spec, deck = komori
    cards = case_cards(spec)
    order = [cards["am"], cards["se"], cards["wall"]]
    line = re.search(r"youngsModulus peratomtype (.*)", deck.text).group(1).split()
    assert [float(v) for v in line] == [gpa_to_kpa(c.E_gpa) for c in order]
    line = re.search(r"poissonsRatio peratomtype (.*)", deck.text).group(1).split()
    assert [float(v) for v in line] == [c.nu for c in order]
    e = [float(v) for v in re.search(r"coefficientRestitution peratomtypepair 3 (.*)",
                                      deck.text).group(1).split()]
    assert e[1] == pytest.approx(math.sqrt(order[0].e_rest * order[1].e_rest))
    assert e == [e[3 * (k % 3) + k // 3] for k in range(9)]          # symmetric


def test_overrides_reach_the_tables():
    spec = with_contact(load_case(SPECS / "tiny_pressure.yaml"), restitution=0.8, friction=0.0)
    text = ld.build(spec).text
    assert "coefficientRestitution peratomtypepair 3 " + " ".join(["0.8"] * 9) in text
    assert "coefficientFriction peratomtypepair 3 " + " ".join(["0"] * 9) in text


def test_periodic_deck_uses_fix_deform():
    text = ld.build(load_case(SPECS / "tiny_periodic.yaml")).text
    assert "boundary        p p f" in text
    assert "fix             drive grains deform 1 x variable v_dLrun v_vbox remap x" in text
    assert "mesh/surface" not in text
    assert "variable        L0run equal $(lx)" in text


def test_thornton_ning_deck_has_the_yield_ratios():
    spec = with_contact(load_case(SPECS / "tiny_pressure.yaml"), normal="thornton_ning")
    deck = ld.build(spec)
    text = deck.text
    assert "pair_style      gran model thornton_ning tangential history" in text
    assert "model thornton_ning tangential history primitive type 3" in text
    yr = [float(v) for v in re.search(r"coefficientYieldRatio peratomtype (.*)", text)
          .group(1).split()]
    se = case_cards(spec)["se"]
    p_y = gpa_to_kpa(1.6 * se.yield_mpa / 1000.0)
    assert yr[1] == pytest.approx(math.pi * p_y / (4 * tn.pair_modulus_kpa(se, se)))
    assert yr[0] == yr[2] == 1.0
    assert "surfaceEnergy peratomtypepair 3 " + " ".join(["0"] * 9) in text
    assert "ONE process" in text


@pytest.mark.parametrize("change,words", [
    ({"packing": {"am_shape": {"kind": "ellipse", "aspect_ratio": 1.5}}},
     ["multisphere", "data file", "fix deform", "engine: lammps"]),
    ({"contact": {"normal": "mdr"}}, ["LAMMPS model", "contact.normal"]),
    ({"contact": {"tangential": "linear_history"}}, ["mindlin"]),
    ({"contact": {"damping": "viscoelastic"}}, ["viscoelastic", "restitution"]),
])
def test_refusals_before_anything_is_written(tmp_path, change, words):
    data = load_case(SPECS / "tiny_pressure.yaml").model_dump(mode="json")
    for key, value in change.items():
        data[key].update(value)
    spec = CaseSpec.model_validate(data | {"engine": "liggghts"})
    with pytest.raises(SpecError) as err:
        ld.write_case(spec, tmp_path / "case")
    for w in words:
        assert w in str(err.value)
    assert not (tmp_path / "case" / "deck.lmp").exists()


def test_3d_is_refused():
    spec = load_case(SPECS / "tiny_3d.yaml")
    with pytest.raises(SpecError, match="dimension = 3"):
        ld.check_spec(spec)


def test_thornton_ning_needs_walls_and_a_yield_stress(monkeypatch):
    spec = with_contact(load_case(SPECS / "tiny_periodic.yaml"), normal="thornton_ning")
    with pytest.raises(SpecError, match="boundary: walls"):
        ld.check_spec(spec)
    spec = with_contact(load_case(SPECS / "tiny_pressure.yaml"), normal="thornton_ning")
    ld.check_spec(spec)
    real = materials.get

    def no_yield(name, user_dir=None):
        card = real(name, user_dir)
        return card.model_copy(update={"yield_stress_mpa": None}) if name == "LGPS" else card

    monkeypatch.setattr(materials, "get", no_yield)
    with pytest.raises(SpecError, match="yield_stress_mpa"):
        ld.check_spec(spec)


def test_case_folder(tmp_path):
    """The data file holds the LAMMPS data file's atoms, SE lines first; the mesh sits at
    the initial width; the loop file is there; spec and materials are written."""
    spec = load_case(SPECS / "tiny_pressure.yaml")
    ld.write_case(spec, tmp_path / "lig")
    lammps_deck.write_case(spec.model_copy(update={"engine": "lammps"}), tmp_path / "lmp")

    def atoms(path):
        lines = path.read_text().splitlines()
        k = next(i for i, ln in enumerate(lines) if ln.startswith("Atoms"))
        return [ln.split() for ln in lines[k + 2:] if ln.strip()]

    lig, lmp = atoms(tmp_path / "lig/structure.data"), atoms(tmp_path / "lmp/structure.data")
    assert sorted(lig) == sorted(lmp)
    types = [int(r[1]) for r in lig]
    assert types == sorted(types, key=lambda t: t != 2)            # SE (type 2) first
    stl = (tmp_path / "lig/wall_xhi.stl").read_text()
    xs = {float(ln.split()[1]) for ln in stl.splitlines() if ln.strip().startswith("vertex")}
    assert xs == {spec.geometry.width_um}
    assert "label           seg\n" in (tmp_path / "lig/segments.lmp").read_text()
    for name in ("deck.lmp", "spec.yaml", "materials.json", "structure.json"):
        assert (tmp_path / "lig" / name).is_file()


def test_mesh_sits_at_the_collapsed_width(tmp_path):
    """With packing.collapse: geometric the cell starts narrower than geometry.width_um;
    the moving mesh starts where the packer left the cell (the LAMMPS wall's position)."""
    data = load_case(SPECS / "tiny_pressure.yaml").model_dump(mode="json")
    data["packing"]["collapse"] = "geometric"
    spec = CaseSpec.model_validate(data | {"engine": "liggghts"})
    ld.write_case(spec, tmp_path / "lig")
    width = json.loads((tmp_path / "lig/structure.json").read_text())["collapse"][
        "collapsed_width_um"]
    assert width < spec.geometry.width_um - 0.1
    stl = (tmp_path / "lig/wall_xhi.stl").read_text()
    xs = {float(ln.split()[1]) for ln in stl.splitlines() if ln.strip().startswith("vertex")}
    assert len(xs) == 1 and xs.pop() == pytest.approx(width, rel=1e-9)


def test_atom_columns_map_to_the_contract():
    raw, names = ld.atom_columns(["xlo", "xhi"])
    assert names[:16] == ["id", "type", "radius", "mass", "x", "y", "z", "vx", "vy", "vz",
                          "omegax", "omegay", "omegaz", "virial_xx", "virial_yy", "virial_xy"]
    assert raw[16:19] == ["f_force_wxlo[1]", "f_force_wxlo[2]", "f_force_wxlo[3]"]
    assert names[16:] == ["wall_xlo_fx", "wall_xlo_fy", "wall_xlo_fz",
                          "wall_xhi_fx", "wall_xhi_fy", "wall_xhi_fz"]
