"""Physics that follows from a case and its material cards: contact moduli, time step,
Vegard strains. One place for each formula; the deck builder, the resolve step and the
analysis all call these.

Every function takes the cards it needs (:class:`~assb_lmp.materials.cards.Material`);
none reads a file. :func:`assb_lmp.materials.resolve.case_cards` loads the cards of a case.

Units: moduli GPa (converted to LAMMPS kPa through :mod:`assb_lmp.core.units`), density
g/cm³ = pg/µm³, lengths µm, times µs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from assb_lmp.core.errors import SpecError
from assb_lmp.core.units import gpa_to_kpa
from assb_lmp.materials import vegard
from assb_lmp.materials.cards import Material
from assb_lmp.spec.case import DT_STABILITY_FRACTION, CaseSpec, se_diameter_bounds_um
from assb_lmp.spec.stages import VOLUME_STRAIN_RANGE, ExpandStage

#: Factor on the time step (default and stability limit) of an elastic-plastic ``mdr`` deck.
#: A plastically flattened contact unloads elastically over its enlarged contact radius, so
#: it is stiffer than a Hertz contact at the same force. Measured on the tiny mdr case pressed
#: to 500 MPa: 0.15 × Rayleigh time never converged (kinetic energy kept up by the stiff
#: contacts), 0.10 and 0.075 converged in 20,500 and 30,800 press steps.
MDR_DT_FACTOR = 0.5

#: The cards of a case by role: ``{"am": ..., "se": ..., "wall": ...}``.
CaseCards = Mapping[str, Material]


# ---- contact moduli --------------------------------------------------------------------------
def effective_modulus_gpa(a: Material, b: Material) -> float:
    """Hertz effective modulus E* with 1/E* = (1-νa²)/Ea + (1-νb²)/Eb (GPa)."""
    return 1.0 / ((1.0 - a.nu**2) / a.E_gpa + (1.0 - b.nu**2) / b.E_gpa)


def effective_shear_gpa(a: Material, b: Material) -> float:
    """Mindlin effective shear modulus G* with 1/G* = (2-νa)/Ga + (2-νb)/Gb (GPa),
    G = E / (2 (1 + ν))."""
    return 1.0 / ((2.0 - a.nu) / a.G_gpa + (2.0 - b.nu) / b.G_gpa)


def damping_ratio(restitution: float) -> float:
    """Damping ratio ζ of a linear spring-dashpot with restitution e:
    ``ζ = −ln e / √(π² + ln² e)``."""
    ln_e = math.log(restitution)
    return -ln_e / math.sqrt(math.pi**2 + ln_e**2)


# ---- time step ---------------------------------------------------------------------------------
def rayleigh_time_us(radius_um: float, mat: Material) -> float:
    """Rayleigh time T_R = π r √(ρ/G) / (0.1631 ν + 0.8766) (µs).

    Parameters
    ----------
    radius_um : float
        Particle radius (µm).
    mat : Material
        Card giving ρ (g/cm³ = pg/µm³), E (GPa) and ν.
    """
    g_kpa = gpa_to_kpa(mat.G_gpa)
    return math.pi * radius_um * math.sqrt(mat.rho / g_kpa) / (0.1631 * mat.nu + 0.8766)


def critical_timestep_us(spec: CaseSpec, cards: CaseCards) -> float:
    """Smallest Rayleigh time over the particle kinds of a case (µs): the SE diameter and
    the smallest AM diameter the packing may draw."""
    r_se = 0.5 * se_diameter_bounds_um(spec.packing)[0]  # the smallest SE a packing draws
    r_am = 0.5 * spec.packing.am_diameter_min_um
    return min(rayleigh_time_us(r_se, cards["se"]), rayleigh_time_us(r_am, cards["am"]))


def timestep_factor(spec: CaseSpec) -> float:
    """Factor on the default time step and on its limit: :data:`MDR_DT_FACTOR` for an
    elastic-plastic (``mdr``) contact, else 1."""
    return MDR_DT_FACTOR if spec.contact.normal == "mdr" else 1.0


def timestep_limit_us(spec: CaseSpec, cards: CaseCards) -> float:
    """Largest stable time step of a case (µs): factor × DT_STABILITY_FRACTION × T_R."""
    return timestep_factor(spec) * DT_STABILITY_FRACTION * critical_timestep_us(spec, cards)


def timestep_us(spec: CaseSpec, cards: CaseCards) -> float:
    """The time step a case runs with (µs): given, or factor × safety × Rayleigh time.

    Raises
    ------
    SpecError
        If a given time step exceeds the stability limit.
    """
    t_r = critical_timestep_us(spec, cards)
    factor = timestep_factor(spec)
    if spec.control.timestep_us is None:
        return factor * spec.control.timestep_safety * t_r
    limit = timestep_limit_us(spec, cards)
    if spec.control.timestep_us > limit:
        raise SpecError(
            f"control.timestep_us = {spec.control.timestep_us!r}: above the stability limit; "
            f"allowed range (0, {limit:.3e}] µs ({factor * DT_STABILITY_FRACTION:.2f} × Rayleigh "
            f"time {t_r:.3e} µs of the smallest, stiffest particle"
            + (", halved for the mdr contact)" if factor != 1.0 else ")")
        )
    return spec.control.timestep_us


# ---- expansion -----------------------------------------------------------------------------------
def expand_volume_strain(stage: ExpandStage, am: Material) -> float:
    """The AM volume strain of an expand stage (−): given, or by Vegard's law from the card.

    Parameters
    ----------
    stage : ExpandStage
        The stage (``volume_strain`` or a ``vegard`` request).
    am : Material
        The case's AM card (its lattice block for a Vegard request).

    Raises
    ------
    SpecError
        For a Vegard request on a card without lattice data, or a strain outside
        :data:`~assb_lmp.spec.stages.VOLUME_STRAIN_RANGE`.
    """
    if stage.volume_strain is not None:
        return float(stage.volume_strain)
    v = stage.vegard
    e = vegard.volume_strain(am, v.from_state_of_charge, v.state_of_charge, v.electrode)
    lo, hi = VOLUME_STRAIN_RANGE
    if not lo < e <= hi:
        raise SpecError(
            f"vegard: the card {am.name!r} gives a volume strain of {e:+.4f} between "
            f"states of charge {v.from_state_of_charge:g} and {v.state_of_charge:g}, outside "
            f"the range ({lo}, {hi}] the growth can follow"
        )
    return e
