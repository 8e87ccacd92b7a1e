"""Geometric collapse of a packing to the pre-load (``packing.collapse: geometric``).

The published protocol presses from an initial width W0 (46-55 µm) to 40 µm; W0 sets the
amount of material (AM area = fraction × final cell, SE filling the W0 cell) and with it
the final solid fraction. Before the press, a 1 MPa pre-load (the settle stage) collapses
the loose packing: the moving wall crosses the gaps at a fixed loose strain rate until
the packing jams, then a servo finds the force balance at 1 MPa. In a paper case that
costs three quarters of all steps, although the state it ends in is simply the static
packing of the same particles at 1 MPa.

With ``collapse: geometric`` the packer computes that state itself: a frictionless FIRE
relaxation with the engine's normal contact law (Hertz, E* and ν of the cards for every
pair and wall) and an affine barostat along the press axis
(:func:`assb_lmp.build.softpack.collapse`) brings the cell to the width at which the
packing carries the pre-load. The data file and the deck then start the cell at that
width; the material and the press to the final width are unchanged, so the final solid
fraction is the published one. The settle stage still runs and finds the force balance
with friction and damping; a frictionless static state is also a static state with
friction (zero tangential force lies inside every Coulomb cone), so it only has to
correct the difference between the two contact laws. The frictionless collapse ends
about 1 % narrower than the frictional pre-load (measured on the Komori case, seed 1:
45.37 against 45.76 µm); the labels after the press are compared over seeds in
:mod:`assb_lmp.pipeline.protocols`.
"""

from __future__ import annotations

import logging

import numpy as np

from assb_lmp.build.softpack import Cell, collapse, hertz_law
from assb_lmp.build.structure import TYPE_AM
from assb_lmp.core.units import gpa_to_kpa, kpa_to_mpa, mpa_to_kpa
from assb_lmp.materials.physics import effective_modulus_gpa
from assb_lmp.materials.resolve import case_cards
from assb_lmp.spec.case import CaseSpec
from assb_lmp.spec.stages import SettleStage

log = logging.getLogger(__name__)


def _preload_kpa(spec: CaseSpec) -> float:
    """The pressure the packing is collapsed to (kPa): the first stage's if it is a settle,
    else the controller's pressure floor."""
    first = spec.stages[0]
    mpa = first.pressure_mpa if isinstance(first, SettleStage) else (
        spec.control.pressure_floor_mpa)
    return mpa_to_kpa(mpa)


def collapse_cell(spec: CaseSpec, types: np.ndarray, pos: np.ndarray, dia: np.ndarray,
                  lengths: np.ndarray, periodic: tuple[bool, ...], axis: int, info: dict
                  ) -> tuple[np.ndarray, float]:
    """Collapse the packing along the press ``axis`` to the static state of the pre-load
    (``packing.collapse: geometric``; :func:`assb_lmp.build.softpack.collapse` with the
    Hertz law and E*, ν of the cards: walls, AM and SE as in the deck, no friction).

    Returns the new centres (n, dim) and press-axis length (µm); records the collapse in
    ``info["collapse"]``.
    """
    cards = case_cards(spec)
    am, se, wall = cards["am"], cards["se"], cards["wall"]
    e_ref = effective_modulus_gpa(se, se)
    c = {k: (1.0 - m.nu**2) / m.E_gpa * e_ref for k, m in cards.items()}
    law, unit = hertz_law(0.5 * dia, gpa_to_kpa(e_ref),
                          np.where(types == TYPE_AM, c["am"], c["se"]), c["wall"])
    p_kpa = _preload_kpa(spec)
    dim = pos.shape[1]
    target = p_kpa * (spec.depth_um if dim == 2 else 1.0) / unit
    res = collapse(pos, 0.5 * dia, Cell(lengths, periodic), law, target, axis=axis)
    solid = float(np.sum(np.pi / 4 * dia**2) if dim == 2 else np.sum(np.pi / 6 * dia**3))
    info["collapse"] = {
        "method": "geometric: frictionless FIRE relaxation with the Hertz law of the cards "
                  f"(AM {am.name}, SE {se.name}, wall {wall.name}) and an affine barostat "
                  "along the press axis, to the static state at the pre-load",
        "pressure_mpa": kpa_to_mpa(p_kpa),
        "pressure_reached_mpa": kpa_to_mpa(res.stress * unit) / (
            spec.depth_um if dim == 2 else 1.0),
        "initial_width_um": float(lengths[axis]),
        "collapsed_width_um": res.length,
        "solid_fraction_collapsed": solid / (float(np.prod(lengths)) / float(lengths[axis])
                                             * res.length),
        "max_overlap_um": res.max_overlap_um,
        "iterations": res.iterations,
        "converged": res.converged,
    }
    if not res.converged:
        log.warning("geometric collapse stopped at its iteration limit (width %.4g um)",
                    res.length)
    return res.positions, res.length
