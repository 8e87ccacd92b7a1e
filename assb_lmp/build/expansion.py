"""Plan of an ``expand`` stage: how much, how fast, in how many steps, and whether it fits.

An expand stage grows (or shrinks) every AM particle about its own centre by a linear
factor ``s``:

* ``basis: volume`` (default): ``s = (1 + e)^(1/3)``. The particles are spheres (and
  clusters of spheres) in 3D, so every 3D volume — the sphere volume, the volume of the
  union of a body's sub-spheres, the mass — changes by exactly ``1 + e``; the quasi-2D
  section area changes by ``(1 + e)^(2/3)``. This is the reading of a "+10 % volume
  expansion" of So et al. (a 3D study).
* ``basis: area``: ``s = (1 + e)^(1/2)``: the quasi-2D section area changes by ``1 + e``
  (the 3D volume by ``(1 + e)^(3/2)``).

How LAMMPS does it (``templates/expand.lmp.j2``):

* spheres: ``fix adapt ... atom diameter v_gs scale yes mass yes`` with a linear ramp, in
  ``chunks`` consecutive runs (each run re-initialises the pair style, so the neighbour
  cutoffs follow the growing radii; each chunk grows a radius by at most half the
  neighbour skin); the mass grows with the diameter (sphere mass, constant density);
* rigid multisphere bodies: ``fix adapt`` would grow each sub-sphere about its own centre
  (the body fattens instead of scaling), and ``set`` must not run while a rigid fix
  exists. So the growth runs in ``increments`` steps: ``unfix`` the rigid fix, move every
  sub-sphere away from its body's centre of mass by the ratio of the increment
  (``displace_atoms`` with per-atom variables from ``compute com/chunk`` and
  ``chunk/spread/atom``), scale its diameter and mass (``set``), re-create the rigid
  fix, and run ``steps_per_increment`` steps. Each increment moves an AM surface by at
  most ``max_increment_um`` (default 2 nm, a tenth of a typical Hertz overlap at a 25 MPa
  stack pressure), so the growth is gradual.

Growth rate: the linear strain rate is capped like the press, ``I √(P/ρ) / d`` (inertial
number ``control.inertial_number``, SE density and diameter, ``P`` the stage's pressure,
at least the floor; a tenth of it under a pressure boundary, so that the servoed wall can
follow: at half the cap the held 25 MPa of the So et al. example peaked at 45 MPa during
the growth, at a tenth it stays within about 15 %), unless ``growth_strain_rate`` is given.

Box: the LAMMPS box of the walls mode ends 1 µm beyond the initial cell; a swelling
held at a pressure may push the moving wall further out, so cases with such a stage get a
box margin of ``1 + W0 (s² − 1)`` µm (:func:`box_margin_um`; W0 the initial width: the
section area of everything in the cell grows at most by s² and the height is fixed).

Checks before LAMMPS starts (:class:`assb_lmp.core.errors.SpecError`): a grown particle longer
than the fixed cell height (or, under a fixed gap at a known width, than the width); under
a fixed gap, grown solids whose section area exceeds the cell's (the expansion would push
particles through a wall); a rigid-body increment that would move a surface by more than
5 % of the SE diameter at once; multisphere growth in a periodic cell (not supported:
the rigid fix would have to be re-created after ``fix deform``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from assb_lmp.build import multisphere, packing
from assb_lmp.core.errors import SpecError
from assb_lmp.core.units import mpa_to_kpa
from assb_lmp.materials import vegard
from assb_lmp.materials.cards import Material
from assb_lmp.materials.physics import CaseCards, expand_volume_strain
from assb_lmp.spec.case import CaseSpec
from assb_lmp.spec.stages import ExpandStage, PressStage

#: Largest surface step of one rigid-body growth increment, as a fraction of the SE diameter.
MAX_INCREMENT_FRACTION = 0.05
#: Fewest steps of a growth run (chunk or increment).
MIN_STEPS_PER_RUN = 20
#: Fewest steps of the whole growth.
MIN_GROWTH_STEPS = 200
#: Growth rate as a fraction of the controller's rate cap under a pressure boundary: the
#: height is fixed, so the wall must move up to twice as fast (in strain) as the AM grows.
GROWTH_RATE_FRACTION_PRESSURE = 0.1


def linear_scale(volume_strain: float, basis: str) -> float:
    """Linear scale factor s of the AM lengths for a volume (or area) strain."""
    if basis == "volume":
        return (1.0 + volume_strain) ** (1.0 / 3.0)
    if basis == "area":
        return (1.0 + volume_strain) ** 0.5
    raise ValueError(f"basis must be 'volume' or 'area', got {basis!r}")


def _stage_pressure_mpa(spec: CaseSpec, index: int) -> float | None:
    """The pressure an expand stage holds (pressure boundary), or the last pressure target
    before it (gap), or None."""
    st = spec.stages[index]
    if isinstance(st, ExpandStage) and st.boundary == "pressure" and st.pressure_mpa:
        return st.pressure_mpa
    for s in reversed(spec.stages[:index]):
        p = getattr(s, "pressure_mpa", None)
        if p is not None and not (isinstance(s, ExpandStage) and s.boundary == "gap"):
            return p
    return None


def _known_width(spec: CaseSpec, index: int) -> float | None:
    """The cell width at an expand stage when it is known before running (the last
    width-mode press with only gap/hold stages after it), else None."""
    width = None
    for s in spec.stages[:index]:
        if isinstance(s, PressStage) and s.mode == "width":
            width = s.final_width_um
        elif s.kind == "hold" or (isinstance(s, ExpandStage) and s.boundary == "gap"):
            continue
        else:
            width = None
    return width


def _body_reach(structure: packing.Structure) -> tuple[np.ndarray, np.ndarray]:
    """Per AM particle: the largest distance from its centre to its surface (µm) and its
    section area (µm², exact union for bodies)."""
    am = structure.types == packing.TYPE_AM
    if structure.mol is None:
        r = 0.5 * structure.diameters[am]
        return r, math.pi * r * r
    reach, area = [], []
    for m in np.unique(structure.mol[am]):
        sel = am & (structure.mol == m)
        xy = structure.positions[sel, :2]
        r = 0.5 * structure.diameters[sel]
        com = np.average(xy, axis=0, weights=r**3)
        reach.append(float(np.max(np.linalg.norm(xy - com, axis=1) + r)))
        area.append(multisphere.union_area_perimeter(xy, r)[0])
    return np.asarray(reach), np.asarray(area)


def box_margin_um(spec: CaseSpec, am: Material, default: float = 1.0) -> float:
    """Box margin beyond the cell (µm) that leaves room for every expand stage held at a
    pressure: ``default + W0 (s² − 1)`` for the largest swelling ``s`` (``am``: the case's
    AM card, for Vegard strains)."""
    extra = 0.0
    for st in spec.stages:
        if isinstance(st, ExpandStage) and st.boundary == "pressure":
            s = linear_scale(expand_volume_strain(st, am), st.basis)
            extra = max(extra, spec.geometry.width_um * (s * s - 1.0))
    return default + extra


@dataclass(frozen=True)
class GrowthPlan:
    """The growth of one expand stage, as the templates use it.

    Attributes
    ----------
    volume_strain : float
        AM volume (or area) strain e (−).
    basis : str
        ``volume`` or ``area``.
    scale, lin : float
        Linear scale s of the AM lengths, and s − 1.
    rigid : bool
        Multisphere bodies (grown in increments) instead of spheres (grown continuously).
    runs, steps_per_run, growth_steps : int
        Chunks (spheres) or increments (bodies), steps of each, steps in all.
    growth_rate_per_us : float
        Linear strain rate of the growth (1/µs).
    max_step_um : float
        Largest surface step of one increment (µm; 0 for continuous growth).
    strain_note : str
        Where the strain comes from (the spec, or Vegard's law from the AM card).
    boundary : str
        ``pressure`` or ``gap``.
    """

    volume_strain: float
    basis: str
    scale: float
    lin: float
    rigid: bool
    runs: int
    steps_per_run: int
    growth_steps: int
    growth_rate_per_us: float
    max_step_um: float
    strain_note: str
    boundary: str


def _growth_rate(spec: CaseSpec, index: int, se: Material) -> float:
    """Linear strain rate of the growth (1/µs): given, or the controller's inertial-number
    cap at the stage's pressure (a tenth of it under a pressure boundary)."""
    st = spec.stages[index]
    p_mpa = _stage_pressure_mpa(spec, index) or spec.control.pressure_floor_mpa
    p_kpa = max(mpa_to_kpa(p_mpa), mpa_to_kpa(spec.control.pressure_floor_mpa))
    return st.growth_strain_rate or spec.control.inertial_number * math.sqrt(
        p_kpa / se.rho) / spec.packing.se_diameter_um * (
            GROWTH_RATE_FRACTION_PRESSURE if st.boundary == "pressure" else 1.0)


def _check_fit(spec: CaseSpec, index: int, structure: packing.Structure, s: float,
               reach: np.ndarray, area: np.ndarray) -> None:
    """Refuse a growth that would push particles through a wall (see module doc)."""
    st = spec.stages[index]
    where = f"stages.{index} ({st.name})"
    h = spec.geometry.height_um
    grown_len = 2.0 * float(reach.max()) * s if reach.size else 0.0
    width = _known_width(spec, index) if st.boundary == "gap" else None
    if spec.geometry.boundary == "walls":
        limit, what = (h, f"the fixed cell height of {h:g} µm")
        if width is not None and width < h:
            limit, what = width, f"the fixed gap of {width:g} µm"
        if grown_len > limit:
            raise SpecError(
                f"{where}: the expansion would push AM particles through a wall: the longest "
                f"grows to {grown_len:.4g} µm (linear scale {s:.4f}), more than {what}; "
                "lower the strain or the particle size"
            )
    if st.boundary == "gap":
        w_max = width if width is not None else spec.geometry.width_um
        se_area = float(np.sum(np.pi / 4 * structure.diameters[
            structure.types == packing.TYPE_SE] ** 2))
        grown = se_area + float(area.sum()) * s * s
        if grown > w_max * h:
            raise SpecError(
                f"{where}: the expansion would push particles through a wall: under a fixed "
                f"gap the grown solids need {grown:.4g} µm² of section, more than the cell's "
                f"{w_max * h:.4g} µm² even at a width of {w_max:g} µm; lower the strain or "
                "use boundary: pressure"
            )


def _runs(spec: CaseSpec, index: int, rigid: bool, lin: float,
          reach: np.ndarray) -> tuple[int, float]:
    """(runs, largest surface step per increment in µm) of the growth."""
    st = spec.stages[index]
    where = f"stages.{index} ({st.name})"
    r_max = float(reach.max()) if reach.size else 0.0
    if not rigid:
        return max(1, math.ceil(abs(lin) * r_max / (0.5 * spec.control.skin_um))), 0.0
    if spec.geometry.boundary == "periodic":
        raise SpecError(
            f"{where}: growing multisphere bodies re-creates the rigid fix, which LAMMPS "
            "only accepts before the box-changing fix deform of a periodic cell; expand "
            "stages of multisphere AM need boundary: walls (spheres work in both)"
        )
    step_cap = MAX_INCREMENT_FRACTION * spec.packing.se_diameter_um
    if st.increments is None:
        runs = max(10, math.ceil(abs(lin) * r_max / st.max_increment_um))
        if runs > 5000:
            raise SpecError(
                f"{where}: growing the bodies by {lin:+.4f} in steps of at most "
                f"{st.max_increment_um} µm needs {runs} increments (at most 5000); raise "
                "max_increment_um"
            )
    else:
        runs = st.increments
    max_step = abs(lin) / runs * r_max
    if max_step > step_cap:
        raise SpecError(
            f"{where}: increments = {runs} moves an AM surface by {max_step:.3g} µm per "
            f"increment, more than {step_cap:.3g} µm ({MAX_INCREMENT_FRACTION:g} of the SE "
            "diameter): the sudden overlaps would shoot particles through their neighbours "
            f"and the walls; use at least {math.ceil(abs(lin) * r_max / step_cap)} "
            "increments (or leave increments unset)"
        )
    return runs, max_step


def strain_note(st: ExpandStage, am: Material, e: float) -> str:
    """Where an expand stage's strain comes from, for the deck."""
    if st.vegard is None:
        return f"volume strain {e:+.6g} given in the spec"
    return vegard.describe(am, st.vegard.from_state_of_charge, st.vegard.state_of_charge,
                           st.vegard.electrode)


def plan(spec: CaseSpec, index: int, structure: packing.Structure, dt_us: float,
         cards: CaseCards) -> GrowthPlan:
    """The growth of the expand stage ``spec.stages[index]`` (``cards``: the case's cards).

    Raises
    ------
    SpecError
        When the grown particles would not fit (see module doc) or an increment is too big.
    """
    st = spec.stages[index]
    if not isinstance(st, ExpandStage):
        raise TypeError(f"stages.{index} is a {st.kind} stage, not an expand stage")
    e = expand_volume_strain(st, cards["am"])
    s = linear_scale(e, st.basis)
    lin = s - 1.0
    rate = _growth_rate(spec, index, cards["se"])
    growth_steps = max(MIN_GROWTH_STEPS, math.ceil(abs(lin) / (rate * dt_us)))
    reach, area = _body_reach(structure)
    _check_fit(spec, index, structure, s, reach, area)
    runs, max_step = _runs(spec, index, structure.multisphere, lin, reach)
    steps_per_run = max(MIN_STEPS_PER_RUN, math.ceil(growth_steps / runs))
    return GrowthPlan(
        volume_strain=e, basis=st.basis, scale=s, lin=lin, rigid=structure.multisphere,
        runs=int(runs), steps_per_run=int(steps_per_run),
        growth_steps=int(runs * steps_per_run),
        growth_rate_per_us=abs(lin) / (runs * steps_per_run * dt_us),
        max_step_um=max_step, strain_note=strain_note(st, cards["am"], e),
        boundary=st.boundary,
    )
