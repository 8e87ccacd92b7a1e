"""The contact law of a LAMMPS deck as ``pair_coeff`` and wall-fix model text.

Hertz decks (``pair_style granular``, ``hertz/material``; E in kPa):

* like pairs (AM–AM, SE–SE) give the card's own E and ν; LAMMPS's mixing of a type with
  itself gives E* = E / (2 (1 − ν²)) and, with ``kt NULL``, 8 G*, the closed forms for
  two equal cards;
* the unlike pair (AM–SE) and every particle–wall pair are given explicitly, nothing left
  to LAMMPS's mixing: an explicit ``hertz/material E damp ν`` acts as E / (2 (1 − ν²)), so
  E = 2 E* and ν = 0, and the Mindlin stiffness 8 G* is given as ``kt`` (with ``kt NULL``
  LAMMPS would derive it from the already mixed E*, a second mixing: 0.5787 × 8 G* for
  LCO–LGPS);
* mixing rules for two cards a, b: E* and G* of :mod:`assb_lmp.materials.physics`;
  damping parameter (restitution) √(e_a e_b) and friction √(μ_a μ_b), the spec's
  ``contact.restitution`` / ``contact.friction`` overriding both.

mdr decks: one elastic-plastic parameter set (the SE card's) for every contact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from assb_lmp.build.render import number as _g
from assb_lmp.core.errors import SpecError
from assb_lmp.core.units import gpa_to_kpa, j_m2_to_micro, mpa_to_kpa
from assb_lmp.materials.cards import Material
from assb_lmp.materials.physics import damping_ratio, effective_modulus_gpa, effective_shear_gpa
from assb_lmp.spec.case import CaseSpec


@dataclass(frozen=True)
class PairLine:
    """One ``pair_coeff`` line: atom types, model text, comment."""

    types: str
    model: str
    comment: str


@dataclass(frozen=True)
class WallFix:
    """One wall fix of one phase: ``fix w<wall>_<phase> <phase> <style> granular <model>
    <where> contacts``."""

    wall: str
    phase: str
    style: str
    where: str
    model: str


@dataclass(frozen=True)
class MdrContact:
    """The one mdr parameter set of an elastic-plastic deck."""

    model: str
    yield_mpa: float
    psi_b: float
    pairs: tuple[PairLine, ...]


def _damping_param(spec: CaseSpec, a: Material, b: Material | None = None) -> float:
    """Damping parameter of a contact between cards ``a`` and ``b`` (``b`` None: like pair).

    ``viscoelastic``: the spec's η0. ``tsuji`` / ``coeff_restitution``: the spec's
    restitution override, else the geometric mean √(e_a e_b) of the two cards' restitution
    (LAMMPS's own mixing rule for a damping coefficient, written out explicitly).
    """
    c = spec.contact
    if c.damping == "viscoelastic":
        return c.viscoelastic_eta
    if c.restitution is not None:
        return c.restitution
    return a.e_rest if b is None else math.sqrt(a.e_rest * b.e_rest)


def _friction(spec: CaseSpec, a: Material, b: Material | None = None) -> float:
    """Friction of a contact: the spec's override, else √(μ_a μ_b) (``b`` None: μ_a)."""
    if spec.contact.friction is not None:
        return spec.contact.friction
    return a.mu if b is None else math.sqrt(a.mu * b.mu)


def _tangential(spec: CaseSpec, mu: float, kt: float | None = None) -> str:
    """Tangential model arguments: ``mindlin kt x_gammat mu`` (kt NULL = 8 G*)."""
    kt_txt = "NULL" if kt is None else _g(kt)
    if spec.contact.tangential == "mindlin":
        return f"mindlin {kt_txt} 1.0 {_g(mu)}"
    # linear_history: k_t as a fraction of the normal stiffness is not defined for Hertz;
    # use the Mindlin stiffness as a constant spring scaled by the SE diameter.
    return f"linear_history {_g(kt if kt is not None else 0.0)} 1.0 {_g(mu)}"


def _linear_kt(spec: CaseSpec, a: Material, b: Material) -> float:
    """Constant tangential stiffness (nN/µm) for linear_history: 8 G* a_ref, a_ref = 0.1 d_SE."""
    return 8.0 * gpa_to_kpa(effective_shear_gpa(a, b)) * 0.1 * spec.packing.se_diameter_um


def pair_model(spec: CaseSpec, card: Material) -> str:
    """``pair_coeff`` model text of like particles of one card (E in kPa)::

        hertz/material E damp nu damping <model> tangential <model> kt x_gammat mu
    """
    kt = None if spec.contact.tangential == "mindlin" else _linear_kt(spec, card, card)
    return (f"hertz/material {_g(gpa_to_kpa(card.E_gpa))} {_g(_damping_param(spec, card))} "
            f"{_g(card.nu)} damping {spec.contact.damping} tangential "
            f"{_tangential(spec, _friction(spec, card), kt)}")


def _explicit_model(spec: CaseSpec, a: Material, b: Material) -> str:
    """Contact of cards ``a`` and ``b`` with every coefficient given (module doc):
    E = 2 E*, ν = 0, kt = 8 G*, damping parameter and friction by the mixing rules."""
    e_star = gpa_to_kpa(effective_modulus_gpa(a, b))
    g_star = gpa_to_kpa(effective_shear_gpa(a, b))
    kt = 8.0 * g_star if spec.contact.tangential == "mindlin" else _linear_kt(spec, a, b)
    return (f"hertz/material {_g(2.0 * e_star)} {_g(_damping_param(spec, a, b))} 0.0 "
            f"damping {spec.contact.damping} tangential "
            f"{_tangential(spec, _friction(spec, a, b), kt)}")


def unlike_pair_model(spec: CaseSpec, a: Material, b: Material) -> str:
    """``pair_coeff I J`` model text of particles of two different cards (AM–SE):
    E = 2 E*, ν = 0, kt = 8 G*, damping parameter √(e_a e_b), friction √(μ_a μ_b)
    (or the spec's overrides)."""
    return _explicit_model(spec, a, b)


def wall_model(spec: CaseSpec, card: Material, wall: Material) -> str:
    """``fix wall/gran`` model text for particles of ``card`` against a ``wall`` card.

    LAMMPS gives a wall the fix's own E and nu and mixes them with themselves, so the fix
    gets E = 2 E* and nu = 0 (E* of the particle card against the wall card) and the
    Mindlin stiffness 8 G* explicitly; damping parameter and friction follow the same
    mixing rules as an unlike particle pair (:func:`unlike_pair_model`).
    """
    return _explicit_model(spec, card, wall)


def particle_pairs(spec: CaseSpec, am: Material, se: Material) -> tuple[PairLine, ...]:
    """The ``pair_coeff`` lines of a Hertz deck.

    Type 1 = AM, type 2 = SE (like pairs mixed by LAMMPS from their own card, correct for
    equal cards), the AM–SE pair explicit (:func:`unlike_pair_model`), type 3 the servo
    marker (excluded from the neighbour lists; its pairs exist only because LAMMPS needs
    coefficients for every type).
    """
    return (
        PairLine("1 1", pair_model(spec, am), f"AM {am.name}"),
        PairLine("2 2", pair_model(spec, se), f"SE {se.name}"),
        PairLine("1 2", unlike_pair_model(spec, am, se),
                 f"AM {am.name} - SE {se.name}: E = 2 E*, nu = 0, kt = 8 G*"),
        PairLine("3 3", pair_model(spec, se), "servo marker (excluded)"),
    )


def mdr_yield_mpa(spec: CaseSpec, se: Material) -> float:
    """Yield stress of the mdr contact (MPa): the spec's override, else the SE card's.

    Raises
    ------
    SpecError
        When neither gives one.
    """
    c = spec.contact
    y = c.mdr_yield_mpa if c.mdr_yield_mpa is not None else se.yield_mpa
    if y is None:
        raise SpecError(f"contact.normal = 'mdr' needs a yield stress; card {se.name!r} has none")
    return y


def mdr_model(spec: CaseSpec, se: Material) -> str:
    """``mdr`` normal model text of the SE card (one parameter set for the whole deck)::

        mdr E nu Y gamma psi_b zeta damping mdr 1 tangential mindlin NULL 1.0 mu

    E and Y in kPa, gamma (surface energy) in fJ/µm²; ζ, the coefficient of
    ``damping mdr 1``, is the damping ratio of the card's restitution (measured here: a
    head-on SE-SE collision rebounds with e = 0.71 at ζ = 0.1 and 0.13 at ζ = 0.5, the
    linear spring-dashpot values within 0.04).
    """
    c = spec.contact
    e = c.restitution if c.restitution is not None else se.e_rest
    y = mdr_yield_mpa(spec, se)
    return (f"mdr {_g(gpa_to_kpa(se.E_gpa))} {_g(se.nu)} {_g(mpa_to_kpa(y))} "
            f"{_g(j_m2_to_micro(c.mdr_surface_energy_j_m2))} {_g(c.mdr_psi_b)} "
            f"{_g(damping_ratio(e))} damping mdr 1 tangential mindlin NULL 1.0 "
            f"{_g(_friction(spec, se))}")


def mdr_contact(spec: CaseSpec, se: Material) -> MdrContact:
    """Pair line and wall model of an mdr deck (see ``templates/contact_mdr.lmp.j2``).

    LAMMPS (22 Jul 2025) accepts one mdr parameter set per deck, no other normal model in
    the same ``pair_style granular``, and stops ("Contact between a pair of particles was
    detected by the MDR model, however it is not reflected in the neighbor lists") when
    any overlapping pair of particles is left to another pair style of a hybrid. So every
    particle pair, AM included, uses the SE card's mdr model.
    """
    model = mdr_model(spec, se)
    return MdrContact(model=model, yield_mpa=mdr_yield_mpa(spec, se),
                      psi_b=spec.contact.mdr_psi_b,
                      pairs=(PairLine("* *", model,
                                      f"every pair: elastic-plastic mdr of {se.name}"),))


def _planes(spec: CaseSpec) -> tuple[dict[str, tuple[str | None, str | None]], str]:
    """Wall planes: ``{wall: (wall/gran plane args, plane-region args)}`` and the moving
    wall (its region is written by the cell template)."""
    if spec.geometry.dimension == 3:
        return {"zlo": ("zplane 0.0 NULL", "0 0 0 0 0 1"), "zhi": (None, None)}, "zhi"
    h = spec.geometry.height_um
    return {"xlo": ("xplane 0.0 NULL", "0 0 0 1 0 0"), "xhi": (None, None),
            "ylo": ("yplane 0.0 NULL", "0 0 0 0 1 0"),
            "yhi": (f"yplane NULL {_g(h)}", f"0 {_g(h)} 0 0 -1 0")}, "xhi"


def wall_fixes(spec: CaseSpec, am: Material, se: Material, wall: Material,
               mdr: MdrContact | None) -> tuple[tuple[WallFix, ...], tuple[str, ...]]:
    """Wall fixes (per wall and phase) and the plane regions they need.

    Hertz decks: ``fix wall/gran`` planes, and ``fix wall/gran/region`` on the moving
    plane region. mdr decks: LAMMPS requires every ``wall/gran/region`` fix to use the
    deck's one mdr model (same E, nu, Y, psi_b, damping) and refuses ``fix wall/gran``
    with an mdr model, so every wall is a plane region with the mdr model, for both phases
    (the wall itself is rigid in mdr).
    """
    planes, moving = _planes(spec)
    walls, regions = [], []
    for w, (plane, region) in planes.items():
        if mdr is not None and w != moving:
            regions.append(f"region          r{w} plane {region} side in units box")
        for phase, card in (("am", am), ("se", se)):
            if w == moving or mdr is not None:
                style, where = "wall/gran/region", f"region r{w}"
            else:
                style, where = "wall/gran", plane
            if mdr is not None and style == "wall/gran/region":
                model = mdr.model
            else:
                model = wall_model(spec, card, wall)
            walls.append(WallFix(wall=w, phase=phase, style=style, where=where, model=model))
    return tuple(walls), tuple(regions)
