"""The contact law of the decks against closed-form results, with real LAMMPS on two
spheres or a sphere and a wall.

Contact parameters come from the same functions that write the decks
(:mod:`assb_lmp.build.contact`: ``particle_pairs``, ``pair_model``, ``wall_model``), so
these tests check what the toolkit actually runs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from assb_lmp.build import contact
from assb_lmp.engines import lammps as engine
from assb_lmp.materials import cards
from assb_lmp.materials.physics import effective_modulus_gpa, effective_shear_gpa
from assb_lmp.spec.case import CaseSpec


def _spec(**contact) -> CaseSpec:
    return CaseSpec.model_validate({
        "name": "t", "geometry": {"width_um": 20, "height_um": 20},
        "packing": {"am_area_fraction": 0.3}, "stages": [{"kind": "settle"}],
        "contact": contact,
    })


def _lmp():
    return engine.open_lammps("none")


def _hertz(e_star_gpa: float, r_star: float, delta: float) -> float:
    """4/3 E* sqrt(R*) delta^1.5 in nN (E* GPa -> kPa, lengths µm)."""
    return 4.0 / 3.0 * e_star_gpa * 1e6 * math.sqrt(r_star) * delta**1.5


BASE = """
units micro
dimension 3
atom_style sphere 1
atom_modify map array
newton off
comm_modify vel yes
boundary f f f
region box block -20 20 -20 20 -20 20
create_box 3 box
timestep 1e-5
"""


@pytest.mark.parametrize("pair", [("LCO", "LGPS"), ("LGPS", "LGPS"), ("LCO", "LCO")])
def test_hertz_pair_force_matches_closed_form(pair):
    """Two spheres pressed slowly together: F = 4/3 E* sqrt(R*) delta^1.5 within 1 %."""
    spec = _spec()
    a, b = cards.get(pair[0]), cards.get(pair[1])
    r1, r2 = 2.0, 0.5
    lmp = _lmp()
    try:
        lmp.commands_string(BASE + f"""
create_atoms 1 single 0 0 0
create_atoms 2 single {r1 + r2} 0 0
set atom 1 diameter {2 * r1} density {a.rho}
set atom 2 diameter {2 * r2} density {b.rho}
pair_style granular
pair_coeff 1 1 {contact.pair_model(spec, a)}
pair_coeff 2 2 {contact.pair_model(spec, b)}
pair_coeff 3 3 {contact.pair_model(spec, b)}
group one id 1
group two id 2
fix hold one setforce 0 0 0
fix push two move linear -0.02 0 0
fix nve one nve/sphere
run 0
""")
        e_star = effective_modulus_gpa(a, b)
        r_star = r1 * r2 / (r1 + r2)
        for _ in range(5):
            lmp.command("run 10000")
            pos = lmp.numpy.extract_atom("x")
            f = lmp.numpy.extract_atom("f")
            ids = lmp.numpy.extract_atom("id")
            i1, i2 = int(np.where(ids == 1)[0][0]), int(np.where(ids == 2)[0][0])
            delta = r1 + r2 - float(np.linalg.norm(pos[i2] - pos[i1]))
            # repulsive force on the pushed sphere (+x; setforce zeroes the fixed one's)
            fx = float(f[i2][0])
            expected = _hertz(e_star, r_star, delta)
            assert delta > 0
            assert fx == pytest.approx(expected, rel=0.01), (pair, delta)
    finally:
        lmp.close()


@pytest.mark.parametrize("card", ["LCO", "LGPS"])
def test_hertz_wall_force_uses_particle_and_wall_cards(card):
    """Sphere against a wall/gran plane: E* from the particle card and the wall card."""
    spec = _spec()
    c, w = cards.get(card), cards.get("steel")
    r = 1.0
    lmp = _lmp()
    try:
        lmp.commands_string(BASE + f"""
create_atoms 1 single {r} 0 0
set atom 1 diameter {2 * r} density {c.rho}
pair_style granular
pair_coeff * * {contact.pair_model(spec, c)}
fix wall all wall/gran granular {contact.wall_model(spec, c, w)} xplane 0.0 NULL
fix push all move linear -0.02 0 0
run 0
""")
        e_star = effective_modulus_gpa(c, w)
        for _ in range(4):
            lmp.command("run 10000")
            x = float(lmp.numpy.extract_atom("x")[0][0])
            fx = float(lmp.numpy.extract_atom("f")[0][0])
            delta = r - x
            assert delta > 0
            assert fx == pytest.approx(_hertz(e_star, r, delta), rel=0.01)
    finally:
        lmp.close()


# ---- one contact held still: normal force, Mindlin stiffness, Coulomb limit ----------------
#: Sphere radii (µm) of the two-sphere contact tests: a 10 µm AM and a 1 µm SE particle.
R_BIG, R_SMALL = 5.0, 0.5
#: Overlap of the held contact (µm): δ/R* = 4.4 %, inside Hertz.
DELTA = 0.02
#: Time step and tangential speed of the imposed sliding (µs, µm/µs).
DT_SLIDE, V_SLIDE = 1.0e-6, 0.01


def _mindlin_kt(g_star_gpa: float, r_star: float, delta: float) -> float:
    """Mindlin tangential stiffness k_t = 8 G* sqrt(R* delta) (nN/µm)."""
    return 8.0 * g_star_gpa * 1e6 * math.sqrt(r_star * delta)


def _split(force: np.ndarray, normal: np.ndarray) -> tuple[float, float]:
    """(normal component, magnitude of the tangential part) of a force."""
    fn = float(np.dot(force, normal))
    return fn, float(np.linalg.norm(force - fn * normal))


def _pair_lines(spec: CaseSpec, am, se) -> str:
    return "\n".join(f"pair_coeff {p.types} {p.model}"
                      for p in contact.particle_pairs(spec, am, se))


def _held_pair(spec: CaseSpec, am, se, types: tuple[int, int]) -> tuple[object, callable]:
    """Two spheres of ``types`` (1 = AM card, 2 = SE card) overlapping by DELTA, not
    integrated (held); sphere 2 is moved only by ``fix move``. Returns the instance and a
    function giving (F on sphere 1 as a vector, unit normal from 2 to 1, overlap)."""
    lmp = _lmp()
    lmp.commands_string(BASE.replace("timestep 1e-5", f"timestep {DT_SLIDE}") + f"""
create_atoms {types[0]} single 0 0 0
create_atoms {types[1]} single {R_BIG + R_SMALL - DELTA} 0 0
set atom 1 diameter {2 * R_BIG} density {am.rho}
set atom 2 diameter {2 * R_SMALL} density {se.rho}
pair_style granular
{_pair_lines(spec, am, se)}
group two id 2
run 0
""")

    def state():
        ids = lmp.numpy.extract_atom("id")
        i1, i2 = int(np.where(ids == 1)[0][0]), int(np.where(ids == 2)[0][0])
        x = lmp.numpy.extract_atom("x")
        d = np.array(x[i1], dtype=float) - np.array(x[i2], dtype=float)
        f = np.array(lmp.numpy.extract_atom("f")[i1], dtype=float)
        r = float(np.linalg.norm(d))
        return f, d / r, R_BIG + R_SMALL - r

    return lmp, state


def _slide(lmp, steps: int, stop: bool) -> float:
    """Move sphere 2 along y at V_SLIDE for ``steps`` steps; ``stop``: then at rest and
    recompute the force (no damping, no history update). Returns the displacement (µm)."""
    lmp.commands_string(f"fix slide two move linear 0 {V_SLIDE} 0\nrun {steps}\nunfix slide")
    if stop:
        lmp.commands_string("velocity all set 0 0 0\nrun 0")
    return steps * V_SLIDE * DT_SLIDE


@pytest.mark.parametrize(("pair", "types"), [
    (("LCO", "LGPS"), (1, 2)), (("LGPS", "LGPS"), (2, 2)), (("LCO", "LCO"), (1, 1))],
    ids=["LCO-LGPS", "LGPS-LGPS", "LCO-LCO"])
def test_pair_contact_normal_mindlin_and_coulomb(pair, types):
    """The deck's pair coefficients against the closed forms, one held contact (1 %):

    normal F = 4/3 E* sqrt(R*) delta^1.5; after a small tangential displacement s (well
    below sliding) |F_t| = k_t s with k_t = 8 G* sqrt(R* delta); while sliding
    |F_t| = mu |F_n|. E*, G* of the two cards of the contact; mu the cards' (both 0.3).
    """
    spec = _spec()
    am, se = cards.get("LCO"), cards.get("LGPS")
    ca, cb = cards.get(pair[0]), cards.get(pair[1])
    r_star = R_BIG * R_SMALL / (R_BIG + R_SMALL)
    lmp, state = _held_pair(spec, am, se, types)
    try:
        f, n, delta = state()
        fn0, ft0 = _split(f, n)
        assert delta == pytest.approx(DELTA, rel=1e-9)
        assert fn0 == pytest.approx(_hertz(effective_modulus_gpa(ca, cb), r_star, delta),
                                    rel=0.01)
        assert ft0 == pytest.approx(0.0, abs=1e-9 * fn0)
        kt = _mindlin_kt(effective_shear_gpa(ca, cb), r_star, delta)
        s = _slide(lmp, 200, stop=True)
        assert kt * s < 0.1 * 0.3 * fn0  # far from sliding
        f, n, delta = state()
        fn, ft = _split(f, n)
        assert ft == pytest.approx(kt * s, rel=0.01), pair
        assert fn == pytest.approx(fn0, rel=1e-4)
        # slide well past the Coulomb limit (mu Fn / kt) and measure while sliding
        steps = int(3 * 0.3 * fn0 / kt / (V_SLIDE * DT_SLIDE))
        _slide(lmp, steps, stop=False)
        f, n, _ = state()
        fn, ft = _split(f, n)
        assert ft == pytest.approx(0.3 * fn, rel=0.01), pair
    finally:
        lmp.close()


def _user_card(folder, base: str, name: str, **values) -> None:
    """A copy of a built-in card under another name with some values replaced."""
    data = yaml.safe_load((cards.CARDS_DIR / f"{base}.yaml").read_text())
    data["name"] = name
    for key, value in values.items():
        data[key] = {"value": value, "source": "test card"}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data))


def test_unlike_pair_friction_is_geometric_mean(tmp_path):
    """AM mu = 0.2, SE mu = 0.8: the AM-SE contact slides at |F_t| = sqrt(0.16) |F_n| (1 %)."""
    _user_card(tmp_path, "LCO", "LCOmu", friction=0.2)
    _user_card(tmp_path, "LGPS", "LGPSmu", friction=0.8)
    am, se = cards.get("LCOmu", tmp_path), cards.get("LGPSmu", tmp_path)
    spec = _spec()
    lmp, state = _held_pair(spec, am, se, (1, 2))
    try:
        f, n, delta = state()
        fn0, _ = _split(f, n)
        r_star = R_BIG * R_SMALL / (R_BIG + R_SMALL)
        kt = _mindlin_kt(effective_shear_gpa(am, se), r_star, delta)
        _slide(lmp, int(3 * 0.8 * fn0 / kt / (V_SLIDE * DT_SLIDE)), stop=False)
        f, n, _ = state()
        fn, ft = _split(f, n)
        assert ft == pytest.approx(0.4 * fn, rel=0.01)
    finally:
        lmp.close()


def test_unlike_pair_restitution_is_geometric_mean(tmp_path):
    """AM e = 0.6, SE e = 0.9 with coeff_restitution damping: an AM-SE head-on collision
    rebounds with e = sqrt(0.54) = 0.735 (+- 0.01)."""
    _user_card(tmp_path, "LCO", "LCOe", restitution=0.6)
    _user_card(tmp_path, "LGPS", "LGPSe", restitution=0.9)
    am, se = cards.get("LCOe", tmp_path), cards.get("LGPSe", tmp_path)
    spec = _spec(damping="coeff_restitution", friction=0.0)
    v0 = 0.5  # µm/µs
    lmp = _lmp()
    try:
        lmp.commands_string(BASE + f"""
create_atoms 1 single -0.6 0 0
create_atoms 2 single 0.6 0 0
set atom 1 diameter 1.0 density {am.rho}
set atom 2 diameter 1.0 density {se.rho}
pair_style granular
{_pair_lines(spec, am, se)}
velocity all set 0 0 0
set atom 1 vx {v0}
set atom 2 vx {-v0}
fix nve all nve/sphere
timestep 2e-5
run 20000
""")
        v = lmp.numpy.extract_atom("v")
        ids = lmp.numpy.extract_atom("id")
        v1 = float(v[np.where(ids == 1)[0][0]][0])
        v2 = float(v[np.where(ids == 2)[0][0]][0])
        assert v2 > v1  # they separated
        assert (v2 - v1) / (2 * v0) == pytest.approx(math.sqrt(0.6 * 0.9), abs=0.01)
    finally:
        lmp.close()


@pytest.mark.parametrize("style", ["wall/gran", "wall/gran/region"])
@pytest.mark.parametrize("card", ["LCO", "LGPS"])
def test_wall_contact_normal_mindlin_and_coulomb(card, style):
    """A held sphere against a steel plane (both wall fixes of the decks), 1 %:

    normal F = 4/3 E* sqrt(R) delta^1.5, |F_t| = 8 G* sqrt(R delta) s before sliding and
    mu |F_n| while sliding, with E*, G* of the particle card against the wall card and
    mu = sqrt(mu_card mu_wall).
    """
    spec = _spec()
    c, w = cards.get(card), cards.get("steel")
    r = 1.0
    where = ("xplane 0.0 NULL" if style == "wall/gran" else "region rw")
    lmp = _lmp()
    try:
        lmp.commands_string(BASE.replace("timestep 1e-5", f"timestep {DT_SLIDE}") + f"""
region rw plane 0 0 0 1 0 0 side in units box
create_atoms 1 single {r - DELTA} 0 0
set atom 1 diameter {2 * r} density {c.rho}
pair_style granular
pair_coeff * * {contact.pair_model(spec, c)}
group one id 1
fix wall all {style} granular {contact.wall_model(spec, c, w)} {where}
run 0
""")

        def force():
            return np.array(lmp.numpy.extract_atom("f")[0], dtype=float)

        f = force()
        delta = r - float(lmp.numpy.extract_atom("x")[0][0])
        assert f[0] == pytest.approx(_hertz(effective_modulus_gpa(c, w), r, delta), rel=0.01)
        kt = _mindlin_kt(effective_shear_gpa(c, w), r, delta)
        mu = math.sqrt(c.mu * w.mu)
        lmp.commands_string(f"fix slide one move linear 0 {V_SLIDE} 0\nrun 200\n"
                            "unfix slide\nvelocity all set 0 0 0\nrun 0")
        s = 200 * V_SLIDE * DT_SLIDE
        f = force()
        assert kt * s < 0.1 * mu * f[0]
        assert math.hypot(f[1], f[2]) == pytest.approx(kt * s, rel=0.01)
        steps = int(3 * mu * f[0] / kt / (V_SLIDE * DT_SLIDE))
        lmp.commands_string(f"fix slide one move linear 0 {V_SLIDE} 0\nrun {steps}")
        f = force()
        assert math.hypot(f[1], f[2]) == pytest.approx(mu * f[0], rel=0.01)
    finally:
        lmp.close()


def test_coefficient_of_restitution_head_on():
    """Head-on collision with coeff_restitution damping e = 0.8 rebounds with e +- 0.01."""
    spec = _spec(damping="coeff_restitution", restitution=0.8, friction=0.0)
    c = cards.get("LGPS")
    v0 = 0.5  # µm/µs
    lmp = _lmp()
    try:
        lmp.commands_string(BASE + f"""
create_atoms 1 single -0.6 0 0
create_atoms 1 single 0.6 0 0
set type 1 diameter 1.0 density {c.rho}
pair_style granular
pair_coeff * * {contact.pair_model(spec, c)}
velocity all set 0 0 0
set atom 1 vx {v0}
set atom 2 vx {-v0}
fix nve all nve/sphere
timestep 2e-5
run 20000
""")
        v = lmp.numpy.extract_atom("v")
        ids = lmp.numpy.extract_atom("id")
        v1 = float(v[np.where(ids == 1)[0][0]][0])
        v2 = float(v[np.where(ids == 2)[0][0]][0])
        e = (v2 - v1) / (2 * v0)
        assert e == pytest.approx(0.8, abs=0.01)
    finally:
        lmp.close()
