"""Contact physics of the LIGGGHTS decks against closed forms, with the real ``liggghts`` binary.

The material lines come from the engine's own template (``liggghts/contact.lmp.j2``)
rendered with the context the case decks get, so the tests check what the toolkit runs:
Hertz normal force, Mindlin tangential stiffness, Coulomb limit, walls (plane and mesh),
restitution, the Thornton–Ning load–unload cycle with the toolkit's yield ratio, and the
shortfalls of LIGGGHTS's Thornton–Ning (order of a pair, energy gain of a vibrating contact).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from assb_lmp.build.render import environment
from assb_lmp.core.units import gpa_to_kpa
from assb_lmp.engines import liggghts, liggghts_deck
from assb_lmp.engines import liggghts_plastic as tn
from assb_lmp.materials import cards as materials
from assb_lmp.materials.physics import effective_modulus_gpa, effective_shear_gpa
from assb_lmp.materials.resolve import case_cards
from assb_lmp.spec.case import CaseSpec

pytestmark = pytest.mark.skipif(liggghts.binary() is None, reason="needs the liggghts binary")

DT = 1.0e-5


def case_spec(normal: str = "hertz", **contact) -> CaseSpec:
    """A small LCO/LGPS/steel case; ``normal`` set without validation until the spec has
    ``thornton_ning`` (the engine reads ``contact.normal``)."""
    spec = CaseSpec.model_validate({
        "name": "t", "seed": 2, "engine": "liggghts", "geometry": {"width_um": 14, "height_um": 10},
        "packing": {"am_area_fraction": 0.3, "am_diameter_mean_um": 3.0,
                    "am_diameter_sd_um": 0.0},
        "stages": [{"kind": "settle"}], "contact": {"damping": "coeff_restitution", **contact},
    })
    if normal != "hertz":
        spec = spec.model_copy(update={"contact": spec.contact.model_copy(
            update={"normal": normal})})
    return spec


def contact_block(spec: CaseSpec) -> str:
    """The deck's materials and contact-law block for ``spec`` (without the integrator)."""
    ctx = liggghts_deck.build(spec).context
    text = environment(None, liggghts_deck.BUILTIN_DIR).get_template(
        "contact.lmp.j2").render(**ctx)
    return text + f"unfix           integrate\ntimestep        {DT:g}\n"


HEAD = """units           micro
atom_style      granular
atom_modify     map array sort 0 0.0
boundary        f f f
newton          off
communicate     single vel yes
region          box block -30 30 -30 30 -30 30 units box
create_box      3 box
"""


def place(atoms: list[tuple[int, float, float, float, float]]) -> str:
    """create_atoms + set lines: (type, diameter, density, x, y) per atom, ids 1.."""
    out = []
    for k, (t, d, rho, x, y) in enumerate(atoms, start=1):
        out.append(f"create_atoms    {t} single {x!r} {y!r} 0.0 units box")
        out.append(f"set             atom {k} diameter {d!r} density {rho!r}")
    out.append("group           grains type 1 2")
    return "\n".join(out) + "\n"


def run(tmp_path: Path, text: str) -> Path:
    deck = tmp_path / "deck.lmp"
    deck.write_text(text + 'print           "=== assb_lmp done"\n')
    liggghts.run_deck(deck, timeout_s=60, convert=False)
    return tmp_path


def read_local(path: Path) -> np.ndarray:
    """Rows of the last frame of a local dump."""
    lines = path.read_text().splitlines()
    k = max(i for i, ln in enumerate(lines) if ln.startswith("ITEM: ENTRIES"))
    return np.array([[float(v) for v in ln.split()] for ln in lines[k + 1:]])


PAIR_COMPUTE = "compute         cp grains pair/gran/local id force_normal force_tangential delta\n"
PAIR_DUMP = ("dump            dp grains local {every} pairs.dump c_cp[1] c_cp[2] c_cp[4] c_cp[5] "
             "c_cp[6] c_cp[7] c_cp[8] c_cp[9] c_cp[10]\n"
             'dump_modify     dp format "%.0f %.0f %.14g %.14g %.14g %.14g %.14g %.14g %.14g"\n')


def hertz_kpa(e_star_gpa: float, r_star: float, delta: float) -> float:
    return 4.0 / 3.0 * gpa_to_kpa(e_star_gpa) * math.sqrt(r_star) * delta**1.5


@pytest.mark.parametrize("pair", [("LCO", "LGPS"), ("LGPS", "LGPS"), ("LCO", "LCO")])
def test_pair_normal_and_tangential_force(tmp_path, pair):
    """Held overlap δ, atom 2 sliding slowly along y for N steps, then at rest for one:
    F_n = 4/3 E* √R* δ^1.5 and F_t = 8 G* √(R* δ) · (N v dt), exactly (the target is 1 %;
    LIGGGHTS meets it to 1e-13)."""
    spec = case_spec()
    cards = {"LCO": (1, 10.0, 4.72), "LGPS": (2, 1.0, 1.99)}
    (ta, da, ra), (tb, db, rb) = cards[pair[0]], cards[pair[1]]
    delta, vt, n = 0.02 * min(da, db), 0.5, 200
    atoms = [(ta, da, ra, 0.0, 0.0), (tb, db, rb, 0.5 * (da + db) - delta, 0.0)]
    if 1 not in (ta, tb):
        atoms.append((1, 1.0, 4.72, 25.0, 25.0))      # LIGGGHTS needs a type-1 atom
    text = (HEAD + place(atoms) + contact_block(spec)
            + PAIR_COMPUTE + "velocity        grains set 0 0 0\ngroup           mover id 2\n"
            f"velocity        mover set 0 {vt!r} 0\nrun             {n}\n"
            "velocity        mover set 0 0 0\n" + PAIR_DUMP.format(every=1) + "run 1\n")
    rows = read_local(run(tmp_path, text) / "pairs.dump")
    row = rows[(rows[:, 0] == 1) & (rows[:, 1] == 2)][0]
    a, b = materials.get(pair[0]), materials.get(pair[1])
    r_star = (0.25 * da * db) / (0.5 * (da + db))
    fn = hertz_kpa(effective_modulus_gpa(a, b), r_star, row[8])
    assert abs(np.linalg.norm(row[2:5]) - fn) / fn < 1e-9          # (target: 1 %)
    kt = 8.0 * gpa_to_kpa(effective_shear_gpa(a, b)) * math.sqrt(r_star * row[8])
    ft = kt * n * vt * DT                    # n steps of sliding, then one at rest
    assert abs(np.linalg.norm(row[5:8]) - ft) / ft < 1e-9


def test_coulomb_limit_while_sliding(tmp_path):
    """A large tangential displacement: |F_t| = μ |F_n| (the card friction 0.3)."""
    spec = case_spec()
    atoms = [(2, 1.0, 1.99, 0.0, 0.0), (2, 1.0, 1.99, 0.98, 0.0), (1, 1.0, 4.72, 25.0, 25.0)]
    text = (HEAD + place(atoms) + contact_block(spec) + PAIR_COMPUTE
            + "velocity        grains set 0 0 0\ngroup           mover id 2\n"
            "velocity        mover set 0 20.0 0\nrun 1000\nvelocity        mover set 0 0 0\n"
            + PAIR_DUMP.format(every=1) + "run 1\n")
    row = read_local(run(tmp_path, text) / "pairs.dump")[0]
    assert abs(np.linalg.norm(row[5:8]) / np.linalg.norm(row[2:5]) - 0.3) < 1e-3


@pytest.mark.parametrize("style", ["primitive", "mesh"])
@pytest.mark.parametrize("card", ["LCO", "LGPS"])
def test_wall_normal_and_tangential_force(tmp_path, style, card):
    """A sphere pressed into the steel wall x = 0 (plane or mesh): the wall's own E, ν with
    R* = r; F_n and F_t = 8 G* √(R* δ) s exactly (target 1 %)."""
    spec = case_spec()
    t, d, rho = {"LCO": (1, 10.0, 4.72), "LGPS": (2, 1.0, 1.99)}[card]
    delta, vt, n = 0.02 * d, 0.5, 200
    atoms = [(t, d, rho, 0.5 * d - delta, 0.0)]
    if t != 1:
        atoms.append((1, 1.0, 4.72, 25.0, 25.0))
    if style == "primitive":
        wall = ("fix             w grains wall/gran model hertz tangential history primitive "
                "type 3 xplane 0.0 store_force yes\n")
    else:
        liggghts_deck.write_plane_stl(tmp_path / "w.stl", 0.0, (-20.0, 20.0), (-20.0, 20.0),
                                      normal_x=1.0)
        wall = ("fix             m all mesh/surface/stress file w.stl type 3\n"
                "fix             w grains wall/gran model hertz tangential history mesh "
                "n_meshes 1 meshes m store_force yes\n")
    text = (HEAD + place(atoms) + contact_block(spec) + wall
            + "velocity        grains set 0 0 0\ngroup           mover id 1\n"
            f"velocity        mover set 0 {vt!r} 0\nrun {n}\nvelocity        mover set 0 0 0\n"
            "dump            d mover custom 1 wall.dump id f_force_w[1] f_force_w[2]\n"
            'dump_modify     d format "%d %.14g %.14g"\nrun 1\n')
    lines = (run(tmp_path, text) / "wall.dump").read_text().splitlines()
    _, fx, fy = (float(v) for v in lines[-1].split())
    a, w = materials.get(card), materials.get("steel")
    fn = hertz_kpa(effective_modulus_gpa(a, w), 0.5 * d, delta)
    assert abs(fx - fn) / fn < 1e-9                               # (target: 1 %)
    ft = 8.0 * gpa_to_kpa(effective_shear_gpa(a, w)) * math.sqrt(0.5 * d * delta) * (
        n * vt * DT)
    assert abs(abs(fy) - ft) / ft < 1e-9


@pytest.mark.parametrize("diameter,rho,speed", [(10.0, 4.72, 0.5), (1.0, 1.99, 0.5)])
def test_restitution(tmp_path, diameter, rho, speed):
    """Head-on collision with e = 0.8 from the case: e measured within 0.01."""
    spec = case_spec(restitution=0.8)
    t = 1 if diameter > 5 else 2
    gap = 0.01 * diameter
    atoms = [(t, diameter, rho, 0.0, 0.0), (t, diameter, rho, diameter + gap, 0.0)]
    if t != 1:
        atoms.append((1, 1.0, 4.72, 25.0, 25.0))
    steps = int(round((2.0 * gap / (2 * speed) + 20 * diameter / speed * 0.01) / DT))
    text = (HEAD + place(atoms) + contact_block(spec)
            + "fix             integrate grains nve/sphere\ngroup           a1 id 1\n"
            f"group           a2 id 2\nvelocity        a1 set {speed!r} 0 0\n"
            f"velocity        a2 set {-speed!r} 0 0\nrun {steps}\n"
            "dump            d grains custom 1 v.dump id vx\n"
            'dump_modify     d sort id format "%d %.14g"\nrun 0\n')
    lines = (run(tmp_path, text) / "v.dump").read_text().splitlines()
    v = {int(ln.split()[0]): float(ln.split()[1]) for ln in lines[-len(atoms):]}
    assert v[1] < 0 < v[2], "the collision must be over"
    e = (v[2] - v[1]) / (2.0 * speed)
    assert abs(e - 0.8) < 0.01


# ------------------------------------------------------------------- Thornton-Ning
def tn_cycle(tmp_path: Path, first: tuple, second: tuple, d_max: float, speed: float = 0.01,
             dt: float = 1e-4) -> np.ndarray:
    """Atom 2 driven into atom 1 to overlap d_max and back; returns rows of
    (step, id1, id2, |F_n|, δ) for the contact every 10 steps."""
    spec = case_spec(normal="thornton_ning")
    (ta, da, ra), (tb, db, rb) = first, second
    atoms = [(ta, da, ra, 0.0, 0.0), (tb, db, rb, 0.5 * (da + db), 0.0)]
    if 1 not in (ta, tb):
        atoms.append((1, 1.0, 4.72, 25.0, 25.0))
    n = int(round(d_max / speed / dt))
    block = contact_block(spec).replace(f"timestep        {DT:g}", f"timestep        {dt:g}")
    text = (HEAD + place(atoms) + block
            + "group           mover id 2\n"
            "compute         cp grains pair/gran/local id force_normal delta\n"
            "dump            dp grains local 10 pairs.dump c_cp[1] c_cp[2] c_cp[4] c_cp[5] "
            "c_cp[6] c_cp[7]\n"
            'dump_modify     dp format "%.0f %.0f %.14g %.14g %.14g %.14g"\n'
            f"fix             mv mover move linear {-speed!r} 0 0\nrun {n}\nunfix mv\n"
            f"fix             mv mover move linear {speed!r} 0 0\nrun {n}\n")
    run(tmp_path, text)
    out = []
    lines = (tmp_path / "pairs.dump").read_text().splitlines()
    for k, ln in enumerate(lines):
        if ln.startswith("ITEM: TIMESTEP"):
            step = int(lines[k + 1])
        elif ln and ln[0].isdigit() and len(ln.split()) == 6:
            i, j, fx, fy, fz, delta = (float(v) for v in ln.split())
            out.append((step, i, j, math.sqrt(fx * fx + fy * fy + fz * fz), delta))
    return np.array(out)


SE = (2, 1.0, 1.99)
AM = (1, 10.0, 4.72)


def _se_pair_constants():
    spec = case_spec(normal="thornton_ning")
    cards = case_cards(spec)
    ctx = tn.yield_context(spec, cards, 5.0)
    e_star = tn.pair_modulus_kpa(cards["se"], cards["se"])
    return ctx, e_star


def test_tn_yield_ratio_is_the_se_yield_pressure():
    """yieldRatio_SE = π p_y / (4 E*_SS) with p_y = 1.6 σ_y of the LGPS card (630 MPa): two
    equal SE spheres yield at contact pressure p_y."""
    ctx, e_star = _se_pair_constants()
    assert ctx["yield_mpa"] == 630.0
    a_y = ctx["ratio_se"] * 0.5
    p_y = tn.pressure_at_yield_kpa(a_y, e_star, 0.25)
    assert p_y == pytest.approx(1.6 * 630.0e3, rel=1e-12)
    assert ctx["p_y_pairs"]["se_se"] == pytest.approx(1008.0, rel=1e-12)
    # the AM-SE contact (10 um AM) yields within 1 % of the same pressure
    assert ctx["p_y_pairs"]["am_se"] == pytest.approx(1008.0, rel=0.01)


def test_tn_load_unload_matches_what_liggghts_implements(tmp_path):
    """SE-SE load to δ_max = 5 δ_y and back: Hertz, then the linear plastic branch, then
    elastic unloading from F_max to the residual overlap, within 2 % of F_max at every
    sample; the published TN 1998 unloading (enlarged curvature) departs by more."""
    ctx, e_star = _se_pair_constants()
    r_star, a_y = 0.25, ctx["ratio_se"] * 0.5
    d_y, f_y, _ = tn.yield_point(a_y, e_star, r_star)
    d_max = 5.0 * d_y
    rows = tn_cycle(tmp_path, SE, SE, d_max, speed=d_max / 1000 / 1e-4 / 10)
    f_max = tn.tn_loading(d_max, a_y, e_star, r_star)
    half = rows[:, 0] <= rows[:, 0].max() / 2
    load = np.array([tn.tn_loading(d, a_y, e_star, r_star) for d in rows[half, 4]])
    assert np.max(np.abs(rows[half, 3] - load)) / f_max < 0.02
    f_top = rows[half, 3].max()
    d_top = rows[half, 4].max()
    unload = np.array([tn.liggghts_unloading(d, d_top, f_top, e_star, r_star)
                       for d in rows[~half, 4]])
    assert np.max(np.abs(rows[~half, 3] - unload)) / f_max < 0.02
    paper = np.array([tn.tn1998_unloading(d, a_y, d_top, e_star, r_star)
                      for d in rows[~half, 4]])
    assert np.max(np.abs(rows[~half, 3] - paper)) / f_max > 0.05
    assert rows[half, 3][rows[half, 4] > 1.5 * d_y].min() > f_y


def test_tn_unlike_pair_depends_on_the_first_atom(tmp_path):
    """LCO (elastic) - LGPS (plastic): with the SE first the contact yields (the deck's
    order); with the AM first LIGGGHTS keeps it elastic (Hertz)."""
    spec = case_spec(normal="thornton_ning")
    cards = case_cards(spec)
    e_star = tn.pair_modulus_kpa(cards["am"], cards["se"])
    r_star = 5.0 * 0.5 / 5.5
    ctx = tn.yield_context(spec, cards, 5.0)
    a_y = ctx["ratio_se"] * 0.5
    d_max = 4.0 * a_y * a_y / r_star
    (tmp_path / "se").mkdir()
    (tmp_path / "am").mkdir()
    se_first = tn_cycle(tmp_path / "se", SE, AM, d_max)
    am_first = tn_cycle(tmp_path / "am", AM, SE, d_max)
    f_plastic = tn.tn_loading(d_max, a_y, e_star, r_star)
    f_elastic = tn.hertz_force(d_max, e_star, r_star)
    assert se_first[:, 3].max() == pytest.approx(f_plastic, rel=0.02)
    assert am_first[:, 3].max() == pytest.approx(f_elastic, rel=0.02)
    assert np.all(se_first[:, 1] == 1)            # id1 = the SE (created first)


def test_tn_vibrating_contact_gains_force(tmp_path):
    """A measured shortfall of LIGGGHTS 3.8's Thornton-Ning: the force is integrated as
    F += k(δ_new) dδ, so a contact created at an overlap starts at 1.5 × Hertz and a contact
    that vibrates (here ±0.0005 µm about δ = 0.002 µm, elastic) gains force every cycle:
    energy enters the packing that only the background damping removes."""
    spec = case_spec(normal="thornton_ning")
    delta, amp, period, dt = 0.002, 0.0005, 0.01, 1e-4
    atoms = [SE + (0.0, 0.0), SE + (1.0 - delta, 0.0), (1, 1.0, 4.72, 25.0, 25.0)]
    block = contact_block(spec).replace(f"timestep        {DT:g}", f"timestep        {dt:g}")
    text = (HEAD + place(atoms) + block + "group           mover id 2\n"
            "compute         cp grains pair/gran/local id force_normal delta\n"
            "dump            dp grains local 1000 pairs.dump c_cp[1] c_cp[2] c_cp[4] c_cp[5] "
            "c_cp[6] c_cp[7]\n"
            'dump_modify     dp format "%.0f %.0f %.14g %.14g %.14g %.14g"\n'
            f"fix             mv mover move wiggle {amp!r} 0 0 {period!r}\nrun 10000\n")
    run(tmp_path, text)
    lines = (tmp_path / "pairs.dump").read_text().splitlines()
    forces = [math.dist((0, 0, 0), [float(v) for v in ln.split()[2:5]]) for ln in lines
              if ln and ln[0].isdigit() and len(ln.split()) == 6]
    cards = case_cards(spec)
    hertz = tn.hertz_force(delta, tn.pair_modulus_kpa(cards["se"], cards["se"]), 0.25)
    assert forces[0] == pytest.approx(1.5 * hertz, rel=1e-6)       # 2 E* sqrt(R* δ) δ
    growth = np.diff(forces)                                        # per 10 cycles
    assert np.all(growth > 0) and growth.mean() / forces[0] > 0.01
