"""How much of a stage stayed inside the range of the Hertz contact law.

Every stage of every case reports, per pair type (AM-AM, AM-SE, SE-SE, AM-wall, SE-wall),
the median, 95th percentile and maximum of the relative overlaps ``δ/R*`` and ``δ/d``
(``R* = R_i R_j / (R_i + R_j)`` and ``d`` the smaller diameter of the pair; walls:
``R* = r``, ``d = 2r``), the fraction of contacts beyond the Hertz range, and the largest
estimated peak contact pressure. The report goes to ``labels.json["validity"]`` and to every
stage of ``summary.json`` (over *all* contacts of the stage, not only those of the image
window: it describes the simulation, not a label).

The bounds
----------

* **Small strain**, ``δ/R* ≤ 0.1`` (:data:`HERTZ_BOUND`). Hertz's theory treats each body
  as an elastic half-space, which requires the contact radius to be small against the radii
  of curvature, ``a ≪ R`` (Johnson, *Contact Mechanics*, CUP 1985, §4.1). With
  ``a = √(R* δ)``, ``δ/R* = 0.1`` is ``a/R* ≈ 0.32``: the contact circle already spans a
  third of the effective radius and the contact strain ``a/R*`` is no longer small. Beyond
  it the half-space assumption fails, neighbouring contacts of one particle start to
  interact (DESIGN.md: Hertz holds for δ/R* of a few per cent, contacts that do not
  interact) and the Hertz force of a deformable sphere is no longer a good model. The
  bound is the loose end of "a few per cent"; the report gives the distribution, so a
  stricter reader can apply their own.
* **Below yield**: the Hertz peak pressure ``p0 = (2E*/π)√(δ/R*)`` (from
  ``p0 = 2 a E* / (π R*)`` with ``a = √(R* δ)``) is compared with the SE card's yield
  stress. First yield below the surface of a Hertz contact occurs at ``p0 ≈ 1.6 Y``
  (von Mises, ν ≈ 0.3; Johnson 1985, §6.2), so ``p0_max_over_se_yield`` above
  :data:`P0_YIELD_FACTOR` means some SE contacts have yielded, and an elastic Hertz SE
  overstates their force. For the elastic-plastic ``mdr`` decks ``p0`` is the elastic
  estimate at the same overlap (an upper bound of the real pressure).

``inside`` is true when at most :data:`INSIDE_FRACTION` (10 %) of the contacts that involve
an SE particle (AM-SE, SE-SE, SE-wall) are beyond the small-strain bound (true also when
there are none). The CLI ``run`` prints one warning line when more than half of them are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from assb_lmp.analysis.contacts import PAIR_TYPES
from assb_lmp.core.units import kpa_to_mpa

#: Largest δ/R* of the Hertz range (a/R* ≈ 0.32), see the module docstring.
HERTZ_BOUND = 0.1
#: First yield below a Hertz contact at p0 ≈ 1.6 × the yield stress (Johnson 1985, §6.2).
P0_YIELD_FACTOR = 1.6
#: ``inside`` allows at most this fraction of SE contacts beyond :data:`HERTZ_BOUND`.
INSIDE_FRACTION = 0.1
#: The CLI warns when more than this fraction of SE contacts is beyond the bound.
WARN_FRACTION = 0.5
#: Pair types that involve an SE particle.
SE_PAIRS: tuple[str, ...] = ("AM-SE", "SE-SE", "SE-wall")


def peak_pressure_mpa(delta_over_rstar: np.ndarray, e_star_kpa: np.ndarray) -> np.ndarray:
    """Hertz peak contact pressure ``p0 = (2E*/π)√(δ/R*)`` (MPa); 0 where ``δ ≤ 0``."""
    ratio = np.clip(np.asarray(delta_over_rstar, dtype=float), 0.0, None)
    return kpa_to_mpa(2.0 * np.asarray(e_star_kpa, dtype=float) / math.pi * np.sqrt(ratio))


def se_yield_mpa(se_card_yield_mpa: float | None, normal: str = "hertz",
                 mdr_yield_mpa: float | None = None) -> float | None:
    """The SE yield stress the report compares with (MPa): the SE card's
    ``yield_stress_mpa``, or the spec's ``contact.mdr_yield_mpa`` where an mdr deck uses
    that instead."""
    if normal == "mdr" and mdr_yield_mpa is not None:
        return float(mdr_yield_mpa)
    return None if se_card_yield_mpa is None else float(se_card_yield_mpa)


def _stats(v: np.ndarray) -> dict[str, float | None]:
    if v.size == 0:
        return {"median": None, "p95": None, "max": None}
    return {"median": float(np.median(v)), "p95": float(np.percentile(v, 95.0)),
            "max": float(v.max())}


def _pair_report(dr: np.ndarray, dd: np.ndarray, p0: np.ndarray, bound: float) -> dict:
    return {
        "n": int(dr.size),
        "delta_over_rstar": _stats(dr),
        "delta_over_d": _stats(dd),
        "fraction_beyond_hertz": float(np.mean(dr > bound)) if dr.size else None,
        "p0_max_mpa": float(p0.max()) if p0.size else None,
    }


def validity_report(contacts: Mapping[str, np.ndarray], se_yield_mpa: float | None,
                    bound: float = HERTZ_BOUND) -> dict:
    """The validity report of one stage from its contact table.

    Parameters
    ----------
    contacts : mapping
        The atom-level contact table of :func:`assb_lmp.analysis.contacts.contact_table`:
        ``pair``, ``overlap`` (µm), ``r_star`` (µm), ``d_min`` (µm), ``e_star`` (kPa).
    se_yield_mpa : float or None
        Yield stress of the SE (MPa); None when the card has none.
    bound : float
        Largest δ/R* of the Hertz range.

    Returns
    -------
    dict
        ``{"hertz_bound_delta_over_rstar", "pairs": {type: {"n", "delta_over_rstar":
        {"median", "p95", "max"}, "delta_over_d": {...}, "fraction_beyond_hertz",
        "p0_max_mpa"}}, "se_yield_mpa", "p0_yield_factor", "p0_max_over_se_yield",
        "n_se_contacts", "se_fraction_beyond_hertz", "inside"}``; statistics of a pair type
        without contacts are None. Overlaps below 0 count as 0.
    """
    pair = np.asarray(contacts["pair"])
    overlap = np.clip(np.asarray(contacts["overlap"], dtype=float), 0.0, None)
    dr = overlap / np.asarray(contacts["r_star"], dtype=float)
    dd = overlap / np.asarray(contacts["d_min"], dtype=float)
    p0 = peak_pressure_mpa(dr, contacts["e_star"])
    pairs = {t: _pair_report(dr[pair == t], dd[pair == t], p0[pair == t], bound)
             for t in PAIR_TYPES}
    se = np.isin(pair, SE_PAIRS)
    se_fraction = float(np.mean(dr[se] > bound)) if se.any() else None
    p0_se = float(p0[se].max()) if se.any() else None
    ratio = (p0_se / se_yield_mpa if p0_se is not None and se_yield_mpa else None)
    return {
        "hertz_bound_delta_over_rstar": float(bound),
        "pairs": pairs,
        "se_yield_mpa": se_yield_mpa,
        "p0_yield_factor": P0_YIELD_FACTOR,
        "p0_max_over_se_yield": ratio,
        "n_se_contacts": int(se.sum()),
        "se_fraction_beyond_hertz": se_fraction,
        "inside": se_fraction is None or se_fraction <= INSIDE_FRACTION,
    }


def warning_line(stages: list[Mapping]) -> str | None:
    """One warning line when more than half of the SE contacts of some stage are beyond the
    Hertz range (``stages``: the stage entries of ``summary.json``), else None."""
    bad, bound = [], HERTZ_BOUND
    for st in stages:
        v = st.get("validity") or {}
        f = v.get("se_fraction_beyond_hertz")
        if f is not None and f > WARN_FRACTION:
            bad.append(f"{st.get('name', '?')} {100.0 * f:.0f} %")
            bound = v.get("hertz_bound_delta_over_rstar", bound)
    if not bad:
        return None
    return (f"WARNING: most SE contacts are outside the Hertz range (δ/R* > {bound:g}) in "
            f"stage {', '.join(bad)} of the SE contacts: the contact law does not hold "
            "there; see 'validity' in summary.json and labels.json")
