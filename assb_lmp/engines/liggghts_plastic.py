"""Thornton–Ning elastic–plastic contacts in LIGGGHTS 3.8: the yield-ratio conversion, the
closed forms LIGGGHTS implements and the published (1998) ones.

LIGGGHTS's ``model thornton_ning`` (``src/normal_model_thornton_ning.h``, surface energy 0)
takes, for a pair (i, j), the yield contact radius ``a_y = r_i · yieldRatio[type_i]`` from
the *first* atom i only. The contact is Hertzian while ``a = sqrt(R* δ) < a_y``; after that
the force grows linearly, ``dF = 2 E* a_y dδ``: the contact pressure is capped at
``p_y = 2 E* a_y / (π R*)``, the peak Hertz pressure at contact radius a_y. Unloading (and
reloading below the largest overlap) is ``dF = 2 E* sqrt(R* δ) dδ`` from the largest force:
with zero surface energy LIGGGHTS keeps R_p = R* (the 1998 paper enlarges the curvature,
see :func:`tn1998_unloading`), so the residual overlap is larger than the paper's.

Conversion of a yield stress: ``p_y = c σ_y`` with c = :data:`HERTZ_YIELD_FACTOR` (1.6, the
peak Hertz pressure at first yield under the contact, Johnson, *Contact Mechanics* §6.2, the
factor the design's Hertz-validity check uses). For the SE–SE contact of two equal SE
spheres (R* = r/2) ``a_y = π R* p_y / (2 E*)`` gives ``yieldRatio_SE = π p_y / (4 E*_SS)``.
With per-type values the other contacts of an SE yield at ``p_y,ij = 2 E*_ij a_y / (π R*_ij)``
(reported per case: for LCO/LGPS 10:1 the AM–SE pressure is 0.995 p_y, SE–steel 0.88 p_y).
The AM and the walls get yieldRatio 1 (a_y = the particle radius, never reached: elastic).

Order: in an AM–SE pair i must be the SE. LIGGGHTS's half neighbour list (newton off) keeps
i as the lower *local* index; the decks list the SE first in ``structure.data`` and switch
atom sorting off, which holds on one process without periodic images (a pair that crosses a
process or a periodic boundary is computed once per owner with its own atom as i, so the two
forces differ). Hence: one process, walls mode (:func:`check`).
"""

from __future__ import annotations

import math

from assb_lmp.core.errors import SpecError
from assb_lmp.core.units import gpa_to_kpa, kpa_to_mpa, mpa_to_kpa
from assb_lmp.materials.cards import Material
from assb_lmp.materials.physics import effective_modulus_gpa
from assb_lmp.materials.resolve import case_cards
from assb_lmp.spec.case import CaseSpec

#: p_y / σ_y: the peak Hertz contact pressure at first yield (Johnson 1985, §6.2).
HERTZ_YIELD_FACTOR = 1.6
#: yieldRatio of the elastic bodies (AM, walls): a_y equals the particle radius.
ELASTIC_YIELD_RATIO = 1.0


def se_yield_mpa(spec: CaseSpec) -> float:
    """The SE card's yield stress (MPa).

    Raises
    ------
    SpecError
        When the SE card has no positive ``yield_stress_mpa``.
    """
    se = case_cards(spec)["se"]
    if se.yield_mpa is None or not se.yield_mpa > 0:
        raise SpecError(
            f"contact.normal = 'thornton_ning' (elastic-plastic SE) needs the yield stress of "
            f"the SE card {se.name!r}, but its yield_stress_mpa is {se.yield_mpa!r}; allowed: a "
            "positive value in MPa (a user card in the card folder shadows the built-in one)")
    return float(se.yield_mpa)


def check(spec: CaseSpec) -> None:
    """What a Thornton–Ning deck needs: an SE yield stress and a walls-mode cell.

    Raises
    ------
    SpecError
        Missing yield stress, or a periodic cell (a pair across the periodic boundary is
        computed twice, each time with its own atom first: AM–SE contacts would be
        elastic on the AM's side and plastic on the SE's).
    """
    se_yield_mpa(spec)
    if spec.geometry.boundary != "walls":
        raise SpecError(
            "contact.normal = 'thornton_ning' needs geometry.boundary: walls: LIGGGHTS takes "
            "the yield radius from the first atom of a pair, and a pair across a periodic "
            "boundary is computed once from each side, so AM-SE contacts would not be "
            "action-reaction pairs")


def pair_modulus_kpa(a: Material, b: Material) -> float:
    """E* of two cards (kPa)."""
    return gpa_to_kpa(effective_modulus_gpa(a, b))


def yield_ratio_se(p_y_kpa: float, e_star_ss_kpa: float) -> float:
    """yieldRatio of the SE so that two equal SE spheres yield at contact pressure p_y:
    ``π p_y / (4 E*_SS)``."""
    return math.pi * p_y_kpa / (4.0 * e_star_ss_kpa)


def pressure_at_yield_kpa(a_y_um: float, e_star_kpa: float, r_star_um: float) -> float:
    """Contact pressure cap ``p_y = 2 E* a_y / (π R*)`` (kPa) of a pair."""
    return 2.0 * e_star_kpa * a_y_um / (math.pi * r_star_um)


def yield_context(spec: CaseSpec, cards: dict[str, Material],
                  mean_am_radius_um: float | None) -> dict:
    """Yield ratios per type and the effective yield pressure of each kind of contact.

    Returns
    -------
    dict
        ``yield_mpa``, ``factor``, ``p_y_mpa``, ``ratio_se``, ``ratio_am``, ``ratio_wall``,
        ``a_y_um`` (SE yield contact radius), ``p_y_pairs`` (MPa: ``se_se``, ``am_se`` at
        the mean AM radius, ``se_wall``) and a ``note``.
    """
    am, se, wall = cards["am"], cards["se"], cards["wall"]
    sigma = se_yield_mpa(spec)
    p_y = mpa_to_kpa(HERTZ_YIELD_FACTOR * sigma)
    r_se = 0.5 * spec.packing.se_diameter_um
    ratio = yield_ratio_se(p_y, pair_modulus_kpa(se, se))
    a_y = ratio * r_se
    r_am = mean_am_radius_um if mean_am_radius_um else r_se
    pairs = {
        "se_se": kpa_to_mpa(pressure_at_yield_kpa(a_y, pair_modulus_kpa(se, se), 0.5 * r_se)),
        "am_se": kpa_to_mpa(pressure_at_yield_kpa(a_y, pair_modulus_kpa(am, se),
                                                  r_am * r_se / (r_am + r_se))),
        "se_wall": kpa_to_mpa(pressure_at_yield_kpa(a_y, pair_modulus_kpa(se, wall), r_se)),
    }
    return {
        "yield_mpa": sigma, "factor": HERTZ_YIELD_FACTOR, "p_y_mpa": kpa_to_mpa(p_y),
        "ratio_se": ratio, "ratio_am": ELASTIC_YIELD_RATIO, "ratio_wall": ELASTIC_YIELD_RATIO,
        "a_y_um": a_y, "p_y_pairs": pairs,
        "note": "a_y = r_i * yieldRatio[type_i] (LIGGGHTS), p_y = 2 E* a_y / (pi R*)",
    }


# --------------------------------------------------------------------------- closed forms
def hertz_force(delta: float, e_star: float, r_star: float) -> float:
    """Hertz force ``4/3 E* sqrt(R*) δ^1.5`` (units of E* × length²)."""
    return 4.0 / 3.0 * e_star * math.sqrt(r_star) * max(delta, 0.0) ** 1.5


def yield_point(a_y: float, e_star: float, r_star: float) -> tuple[float, float, float]:
    """(δ_y, F_y, p_y) of a contact with yield radius a_y: ``δ_y = a_y² / R*``."""
    d_y = a_y * a_y / r_star
    return d_y, hertz_force(d_y, e_star, r_star), pressure_at_yield_kpa(a_y, e_star, r_star)


def tn_loading(delta: float, a_y: float, e_star: float, r_star: float) -> float:
    """Virgin loading force (TN 1998 and LIGGGHTS alike): Hertz to δ_y, then
    ``F_y + π p_y R* (δ − δ_y)``."""
    d_y, f_y, p_y = yield_point(a_y, e_star, r_star)
    if delta <= d_y:
        return hertz_force(delta, e_star, r_star)
    return f_y + math.pi * p_y * r_star * (delta - d_y)


def liggghts_unloading(delta: float, d_max: float, f_max: float, e_star: float,
                       r_star: float) -> float:
    """Unloading as LIGGGHTS 3.8 implements it with zero surface energy (R_p = R*):
    ``F = F_max − 4/3 E* sqrt(R*) (δ_max^1.5 − δ^1.5)``, at least 0."""
    f = f_max - 4.0 / 3.0 * e_star * math.sqrt(r_star) * (d_max**1.5 - max(delta, 0.0) ** 1.5)
    return max(f, 0.0)


def liggghts_residual_overlap(d_max: float, f_max: float, e_star: float, r_star: float
                              ) -> float:
    """Overlap where the LIGGGHTS unloading reaches zero force."""
    inner = d_max**1.5 - f_max / (4.0 / 3.0 * e_star * math.sqrt(r_star))
    return max(inner, 0.0) ** (2.0 / 3.0)


def tn1998_unloading(delta: float, a_y: float, d_max: float, e_star: float, r_star: float
                     ) -> float:
    """Unloading of Thornton & Ning (1998), Powder Technol. 99, 154: Hertz with the enlarged
    curvature ``R_p = 4 E* / (3 F_max) ((2 F_max + F_y) / (2 π p_y))^1.5`` through the
    residual overlap δ_p, ``F = 4/3 E* sqrt(R_p) (δ − δ_p)^1.5``."""
    _, f_y, p_y = yield_point(a_y, e_star, r_star)
    f_max = tn_loading(d_max, a_y, e_star, r_star)
    r_p = 4.0 * e_star / (3.0 * f_max) * ((2.0 * f_max + f_y) / (2.0 * math.pi * p_y)) ** 1.5
    d_p = d_max - (f_max / (4.0 / 3.0 * e_star * math.sqrt(r_p))) ** (2.0 / 3.0)
    return hertz_force(delta - d_p, e_star, r_p)
