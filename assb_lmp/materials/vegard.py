"""AM volume strain from the lattice data of a material card (Vegard's law, pymatgen).

A card's ``lattice`` block gives the lattice of two end members, *lithiated* and
*delithiated*, each with its Li content per host unit and the number of host units per
cell (:class:`assb_lmp.materials.Lattice`). The lithiation ``y`` runs from 0 (the
delithiated end member) to 1 (the lithiated one).

Vegard's law: when both end members are written in the same cell (same number of host
units and the same cell angles — LCO, NCM811, graphite here) the lattice parameters
``a, b, c, α, β, γ`` vary linearly with ``y`` and the volume per host unit comes from the
interpolated cell (``pymatgen.core.Lattice.from_parameters(...).volume / hosts_per_cell``).
When the cells differ (Si → Li15Si4: diamond cubic with 8 Si against a cubic cell with 16
Si) interpolating lattice parameters has no meaning; the *volume per host unit* is then
interpolated linearly instead (Vegard's law in its volume form).

State of charge ``s``: the fraction of the card's Li range that has been moved out of the
as-made state. A positive electrode is made lithiated and delithiates on charge
(``y = 1 − s``); a negative electrode is made delithiated and lithiates on charge
(``y = s``). ``electrode="auto"`` takes *positive* when the card's formula starts with
``Li`` (LiCoO2, LiNi0.8Co0.1Mn0.1O2) and *negative* otherwise (C, Si).
"""

from __future__ import annotations

import math

from assb_lmp.core.errors import SpecError
from assb_lmp.materials.cards import EndMember, Material


def _cell_volume(em: EndMember) -> float:
    from pymatgen.core import Lattice

    return float(Lattice.from_parameters(em.a, em.b, em.c, em.alpha, em.beta, em.gamma).volume)


def same_cell(a: EndMember, b: EndMember) -> bool:
    """Whether two end members are written in the same cell (host count and angles)."""
    return (math.isclose(a.hosts_per_cell, b.hosts_per_cell)
            and all(math.isclose(getattr(a, k), getattr(b, k), abs_tol=1e-6)
                    for k in ("alpha", "beta", "gamma")))


def electrode_of(card: Material, electrode: str = "auto") -> str:
    """``positive`` or ``negative`` (``auto``: positive when the formula starts with Li)."""
    if electrode in ("positive", "negative"):
        return electrode
    if electrode != "auto":
        raise ValueError(f"electrode must be auto, positive or negative, got {electrode!r}")
    return "positive" if card.formula.strip().startswith("Li") else "negative"


def lithiation(card: Material, state_of_charge: float, electrode: str = "auto") -> float:
    """Lithiation y (0 delithiated … 1 lithiated end member) at a state of charge."""
    if not 0.0 <= state_of_charge <= 1.0:
        raise SpecError(f"state of charge must lie in [0, 1], got {state_of_charge!r}")
    return 1.0 - state_of_charge if electrode_of(card, electrode) == "positive" else (
        state_of_charge)


def _lattice(card: Material):
    if card.lattice is None:
        raise SpecError(
            f"material card {card.name!r} has no lattice data, so a Vegard expansion cannot "
            "be computed from it; give volume_strain instead, or use a card with a "
            "'lattice' block (lithiated and delithiated end members), e.g. LCO, NCM811, "
            "graphite, Si"
        )
    return card.lattice


def volume_per_host(card: Material, y: float) -> float:
    """Volume per host unit (Å³) at lithiation ``y`` by Vegard's law (see module doc)."""
    lat = _lattice(card)
    if not 0.0 <= y <= 1.0:
        raise SpecError(f"lithiation must lie in [0, 1], got {y!r}")
    lo, hi = lat.delithiated, lat.lithiated
    if same_cell(lo, hi):
        mixed = EndMember(**{
            k: (1.0 - y) * getattr(lo, k) + y * getattr(hi, k)
            for k in ("li_per_host", "a", "b", "c", "alpha", "beta", "gamma",
                      "hosts_per_cell")
        })
        return _cell_volume(mixed) / mixed.hosts_per_cell
    v_lo = _cell_volume(lo) / lo.hosts_per_cell
    v_hi = _cell_volume(hi) / hi.hosts_per_cell
    return (1.0 - y) * v_lo + y * v_hi


def volume_strain(card: Material, from_soc: float, to_soc: float,
                  electrode: str = "auto") -> float:
    """AM volume strain ``V(to) / V(from) − 1`` between two states of charge (−).

    Raises
    ------
    SpecError
        If the card has no lattice data.
    """
    _lattice(card)
    y0 = lithiation(card, from_soc, electrode)
    y1 = lithiation(card, to_soc, electrode)
    return volume_per_host(card, y1) / volume_per_host(card, y0) - 1.0


def describe(card: Material, from_soc: float, to_soc: float, electrode: str = "auto") -> str:
    """One line for decks and logs: which end members, which law, the strain."""
    lat = _lattice(card)
    el = electrode_of(card, electrode)
    law = ("lattice parameters linear in lithiation" if same_cell(lat.lithiated,
                                                                   lat.delithiated)
           else "volume per host linear in lithiation (end-member cells differ)")
    e = volume_strain(card, from_soc, to_soc, electrode)
    return (f"Vegard ({law}), {card.name} as a {el} electrode, state of charge "
            f"{from_soc:g} -> {to_soc:g}: volume strain {e:+.5f}")
