"""Render a case into a LAMMPS deck from the Jinja2 templates in ``templates/``.

:func:`build` packs the structure and fills a typed, frozen :class:`DeckContext` (every
value a template may use, in deck units: µm, pg, µs, nN, kPa), which the one Jinja2
environment of :mod:`assb_lmp.build.render` renders. The contact law's text comes from
:mod:`assb_lmp.build.contact`, the growth of expand stages from
:mod:`assb_lmp.build.expansion`, the time step from :mod:`assb_lmp.materials.physics`.
Only values that passed validation reach the templates; the number and name filters
check them again, so nothing user-typed can become a LAMMPS command.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assb_lmp import __version__
from assb_lmp.build import expansion, multisphere, packing
from assb_lmp.build.contact import (
    MdrContact,
    PairLine,
    WallFix,
    damping_ratio,
    mdr_contact,
    mdr_model,
    pair_model,
    particle_pairs,
    unlike_pair_model,
    wall_fixes,
    wall_model,
)
from assb_lmp.build.expansion import GrowthPlan
from assb_lmp.build.render import TEMPLATE_DIR, environment
from assb_lmp.build.render import number as _g
from assb_lmp.build.render import safe_name as _safe
from assb_lmp.core.errors import SpecError
from assb_lmp.core.io import atomic_write_json, atomic_write_text
from assb_lmp.core.units import kpa_to_mpa, mpa_to_kpa
from assb_lmp.materials import physics
from assb_lmp.materials.cards import Material
from assb_lmp.materials.resolve import case_cards
from assb_lmp.spec.case import DT_STABILITY_FRACTION, CaseSpec, Contact, Control, dump_case
from assb_lmp.spec.stages import ExpandStage, HoldStage, PressStage, ReleaseStage, SettleStage

__all__ = [
    "MAIN_TEMPLATE", "TEMPLATE_DIR", "WALLS", "WALLS_3D", "Deck", "DeckCards", "DeckContext",
    "StageContext", "build", "context", "damping_ratio", "environment", "mdr_model",
    "pair_model", "particle_pairs", "stage_contexts", "unlike_pair_model", "wall_model",
    "write_case",
]

#: Main template.
MAIN_TEMPLATE = "case.lmp.j2"
#: Walls of a quasi-2D cell in walls mode.
WALLS = ("xlo", "xhi", "ylo", "yhi")
#: Walls of a 3D cell (pressed along z; x and y periodic).
WALLS_3D = ("zlo", "zhi")


@dataclass(frozen=True)
class DeckCards:
    """The material cards of a deck by role."""

    am: Material
    se: Material
    wall: Material


@dataclass(frozen=True)
class StageContext:
    """One stage as the templates use it (targets in kPa or µm, damping in deck units).

    ``control`` is ``pressure`` (servo to ``target_kpa``), ``width`` (drive to
    ``final_width`` µm) or ``hold`` (boundary still); ``gamma_se`` (pg/µs) is the
    background viscous damping of the SE over ``damping_time_us``; ``growth`` the plan of
    an expand stage; ``undamped_hold_steps`` > 0 (last stage, ``control.final_hold:
    undamped``) adds a final hold of at least that many steps without the background
    damping.
    """

    name: str
    kind: str
    control: str
    description: str
    hold_steps: int = 0
    target_kpa: float | None = None
    final_width: float | None = None
    damping_time_us: float = 0.0
    gamma_se: float = 0.0
    growth: GrowthPlan | None = None
    undamped_hold_steps: int = 0


@dataclass(frozen=True)
class DeckContext:
    """Every value the deck templates use (lengths µm, densities pg/µm³, pressures kPa,
    times µs, masses pg)."""

    version: str
    case: CaseSpec
    cards: DeckCards
    contact: Contact
    control: Control
    dimension: int
    periodic: bool
    width: float
    height: float
    depth: float
    lx: float | None
    ly: float | None
    se_diameter: float
    rho_se: float
    rho_eff: float
    solid_volume: float
    p_floor_kpa: float
    pairs: tuple[PairLine, ...]
    mdr: MdrContact | None
    walls: tuple[WallFix, ...]
    wall_regions: tuple[str, ...]
    wall_names: tuple[str, ...]
    boundary_flags: str
    marker_motion: str
    marker_id: int
    skin: float
    dt: float
    dt_note: str
    stages: tuple[StageContext, ...]
    cell_fields: str
    gamma_ratio: float
    box_margin_um: float
    multisphere: bool
    body_densities: tuple[tuple[int, float], ...]
    integrate_group: str
    n_bodies: int

    def variables(self) -> dict:
        """The context as template variables (one per field, values not copied)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class Deck:
    """A rendered case: the deck text, the structure it reads, its time step (µs) and
    the context it was rendered from."""

    text: str
    structure: packing.Structure
    dt_us: float
    context: DeckContext


# ---- stages ---------------------------------------------------------------------------------
def _stage_control(s, previous: StageContext | None, dt: float) -> dict:
    """Boundary control, target and description of one stage (no damping yet)."""
    if isinstance(s, SettleStage):
        return dict(control="pressure", target_kpa=mpa_to_kpa(s.pressure_mpa),
                    description=f"pre-load to {s.pressure_mpa:g} MPa")
    if isinstance(s, PressStage) and s.mode == "pressure":
        return dict(control="pressure", target_kpa=mpa_to_kpa(s.pressure_mpa),
                    description=f"press to {s.pressure_mpa:g} MPa")
    if isinstance(s, PressStage):
        return dict(control="width", final_width=s.final_width_um,
                    description=f"press to a width of {s.final_width_um:g} um")
    if isinstance(s, ReleaseStage):
        return dict(control="pressure", target_kpa=mpa_to_kpa(s.pressure_mpa),
                    description=f"release to a stack pressure of {s.pressure_mpa:g} MPa")
    if isinstance(s, HoldStage):
        steps = int(round(s.duration_us / dt))
        if previous is not None and previous.control == "pressure":
            out = dict(control="pressure", target_kpa=previous.target_kpa)
            what = f"hold {kpa_to_mpa(previous.target_kpa):g} MPa"
        else:
            out = dict(control="hold")
            what = "hold the boundary still"
        return out | dict(hold_steps=steps, description=f"{what} for {s.duration_us:g} us, "
                          "then until at rest")
    if isinstance(s, ExpandStage):
        return _expand_control(s, previous)
    raise SpecError(f"stage {s.name!r}: unknown kind {s.kind!r}")  # pragma: no cover


def _expand_control(s: ExpandStage, previous: StageContext | None) -> dict:
    """Boundary control of an expand stage: servo to a pressure, or hold the gap."""
    before = previous.target_kpa if previous is not None else None
    if s.boundary == "gap":
        # target_kpa only sets the background damping of the hold (the pressure before)
        return dict(control="hold", target_kpa=before,
                    description="AM growth at a fixed gap (the moving wall held still), then "
                    "until at rest")
    target = mpa_to_kpa(s.pressure_mpa) if s.pressure_mpa is not None else before
    if target is None:  # pragma: no cover - the case model refuses this
        raise SpecError(f"stage {s.name!r}: no pressure to hold")
    return dict(control="pressure", target_kpa=target,
                description=f"AM growth holding {kpa_to_mpa(target):g} MPa, then until at rest")


def stage_contexts(spec: CaseSpec, cards: DeckCards, structure: packing.Structure,
                   dt: float, rho_eff: float) -> tuple[StageContext, ...]:
    """Per-stage values for the templates.

    Background damping of the hold segments: F = −γ v with γ = m / τ per type, τ a
    fraction (``control.damping_transit_fraction``) of one wave-transit time of the cell
    at the stage's pressure, ``W √(ρ_eff / M)`` with the modulus estimate M = C √P.
    """
    m_se = cards.se.rho * math.pi / 6.0 * spec.packing.se_diameter_um**3
    floor = mpa_to_kpa(spec.control.pressure_floor_mpa)
    all_cards = {"am": cards.am, "se": cards.se, "wall": cards.wall}
    out: list[StageContext] = []
    previous = None
    every = spec.control.controller_every
    for k, s in enumerate(spec.stages):
        base = _stage_control(s, previous, dt)
        if "hold_steps" in base:
            base["hold_steps"] = _multiple(base["hold_steps"], every)
        p_kpa = max(base.get("target_kpa") or 0.0, floor)
        modulus = spec.control.stiffness_coefficient * math.sqrt(p_kpa)
        tau = spec.control.damping_transit_fraction * (
            spec.geometry.width_um * math.sqrt(rho_eff / modulus))
        growth = (expansion.plan(spec, k, structure, dt, all_cards)
                  if isinstance(s, ExpandStage) else None)
        undamped = 0
        if k == len(spec.stages) - 1 and spec.control.final_hold == "undamped":
            undamped = _multiple(max(1, math.ceil(
                spec.control.undamped_hold_damping_times * tau / dt)), every)
        previous = StageContext(name=_safe(s.name), kind=s.kind, damping_time_us=tau,
                                gamma_se=m_se / tau, growth=growth,
                                undamped_hold_steps=undamped, **base)
        out.append(previous)
    return tuple(out)


def _multiple(steps: int, every: int) -> int:
    """``steps`` rounded up to a multiple of ``every`` (runs end on controller steps)."""
    return -(-steps // every) * every


# ---- masses, cell, time step ----------------------------------------------------------------
def _body_densities(structure: packing.Structure, rho: np.ndarray, rho_am: float) -> tuple[
    np.ndarray, float, tuple[tuple[int, float], ...]
]:
    """Per-atom densities that give every multisphere body the mass of the union of its
    spheres (overlaps counted once): ``ρ V_union / Σ V_spheres`` on each of its atoms.
    Returns the densities, the solid volume (bodies as unions) and ``(mol, density)``."""
    rho = rho.astype(float).copy()
    d = structure.diameters
    solid = float(np.sum(np.pi / 6.0 * d[structure.mol == 0] ** 3))
    out = []
    for m in np.unique(structure.mol[structure.mol > 0]).tolist():
        sel = structure.mol == m
        v_union = multisphere.union_volume_surface_3d(
            structure.positions[sel], 0.5 * d[sel], samples=8)[0]
        v_sum = float(np.sum(np.pi / 6.0 * d[sel] ** 3))
        # 12 significant digits: the union volume's quadrature differs in the last bits
        # between numpy builds (SIMD summation), and the deck must not
        rho_body = float(f"{rho_am * v_union / v_sum:.12g}")
        rho[sel] = rho_body
        solid += v_union
        out.append((int(m), rho_body))
    return rho, solid, tuple(out)


def _masses(spec: CaseSpec, cards: DeckCards, structure: packing.Structure) -> dict:
    """Solid volume (µm³), effective density of the cell (pg/µm³), multisphere body
    densities, and the ratio of the mean AM particle mass to the SE particle mass."""
    d = structure.diameters
    is_am = structure.types == packing.TYPE_AM
    rho = np.where(is_am, cards.am.rho, cards.se.rho)
    solid_volume = float(np.sum(np.pi / 6.0 * d**3))
    body_densities: tuple[tuple[int, float], ...] = ()
    if structure.multisphere:
        rho, solid_volume, body_densities = _body_densities(structure, rho, cards.am.rho)
    mass = float(np.sum(rho * np.pi / 6.0 * d**3))
    cell_volume = spec.geometry.width_um * spec.geometry.height_um * spec.depth_um
    m_se = cards.se.rho * math.pi / 6.0 * spec.packing.se_diameter_um**3
    m_am = float(np.mean(rho[is_am] * math.pi / 6.0 * d[is_am] ** 3)) if is_am.any() else m_se
    return {"solid_volume": solid_volume, "rho_eff": mass / cell_volume,
            "body_densities": body_densities, "gamma_ratio": m_am / m_se}


def _cell_fields(spec: CaseSpec) -> str:
    """The cell part of a stage's ``<stage>.cell.json`` line (LAMMPS immediate variables)."""
    depth = spec.depth_um
    if spec.geometry.dimension == 3:
        return (
            '"xlo_um": $(xlo:%.10g), "xhi_um": $(xhi:%.10g), "ylo_um": $(ylo:%.10g), '
            '"yhi_um": $(yhi:%.10g), "zlo_um": 0.0, "zhi_um": $(v_L:%.10g), '
            '"p_zlo_mpa": $(v_p_zlo/1000:%.8g), "p_zhi_mpa": $(v_p_zhi/1000:%.8g), '
            '"p_xx_mpa": $(v_p_xx/1000:%.8g), "p_yy_mpa": $(v_p_yy/1000:%.8g), "dimension": 3'
        )
    if spec.geometry.boundary == "periodic":
        return (
            '"xlo_um": $(xlo:%.10g), "xhi_um": $(xhi:%.10g), "ylo_um": $(ylo:%.10g), '
            '"yhi_um": $(yhi:%.10g), "zlo_um": ' + _g(-0.5 * depth) + ', "zhi_um": '
            + _g(0.5 * depth) + ', "p_xx_mpa": $(v_p_xx/1000:%.8g), '
            '"p_yy_mpa": $(v_p_yy/1000:%.8g)'
        )
    return (
        '"xlo_um": 0.0, "xhi_um": $(v_L:%.10g), "ylo_um": 0.0, "yhi_um": '
        + _g(spec.geometry.height_um) + ', "zlo_um": ' + _g(-0.5 * depth)
        + ', "zhi_um": ' + _g(0.5 * depth) + ', "p_xlo_mpa": $(v_p_xlo/1000:%.8g), '
        '"p_xhi_mpa": $(v_p_xhi/1000:%.8g), "p_ylo_mpa": $(v_p_ylo/1000:%.8g), '
        '"p_yhi_mpa": $(v_p_yhi/1000:%.8g)'
    )


def _dt_note(spec: CaseSpec, cards: DeckCards, dt: float) -> str:
    """The time step's comment: its multiple of the Rayleigh time and the limit."""
    t_r = physics.critical_timestep_us(spec, {"am": cards.am, "se": cards.se})
    head = f"{dt / t_r:.3f} x Rayleigh time {t_r:.4g} us of the smallest, stiffest particle "
    if spec.contact.normal != "mdr":
        return head + f"(stability limit {DT_STABILITY_FRACTION:.2f})"
    return head + (f"(mdr: stability limit {physics.MDR_DT_FACTOR * DT_STABILITY_FRACTION:.2f}, "
                   "flattened contacts unload stiffly)")


def _box_margin(spec: CaseSpec, am: Material) -> float:
    """Box margin beyond the cell (µm): 1, more when an expand stage may push the wall out."""
    if not any(isinstance(s, ExpandStage) for s in spec.stages):
        return 1.0
    return expansion.box_margin_um(spec, am)


# ---- the deck ---------------------------------------------------------------------------------
def context(spec: CaseSpec, cards: DeckCards, structure: packing.Structure,
            dt: float) -> DeckContext:
    """Every template value of a case with its packed structure and time step (µs)."""
    g = spec.geometry
    dim3, periodic = g.dimension == 3, g.boundary == "periodic"
    mdr = mdr_contact(spec, cards.se) if spec.contact.normal == "mdr" else None
    walls, wall_regions = ((), ()) if periodic else wall_fixes(
        spec, cards.am, cards.se, cards.wall, mdr)
    masses = _masses(spec, cards, structure)
    return DeckContext(
        version=__version__, case=spec, cards=cards, contact=spec.contact,
        control=spec.control, dimension=g.dimension, periodic=periodic,
        width=structure.width, height=g.height_um, depth=spec.depth_um,  # collapse may narrow it
        lx=g.height_um if dim3 else None, ly=spec.depth_um if dim3 else None,
        se_diameter=spec.packing.se_diameter_um, rho_se=cards.se.rho,
        rho_eff=masses["rho_eff"], solid_volume=masses["solid_volume"],
        p_floor_kpa=mpa_to_kpa(spec.control.pressure_floor_mpa),
        pairs=particle_pairs(spec, cards.am, cards.se), mdr=mdr, walls=walls,
        wall_regions=wall_regions,
        wall_names=WALLS_3D if dim3 else (() if periodic else WALLS),
        boundary_flags="p p f" if dim3 else ("p p p" if periodic else "f f p"),
        marker_motion=("NULL NULL NULL NULL NULL v_vwall" if dim3
                       else "NULL NULL NULL v_vwall NULL NULL"),
        marker_id=len(structure.types) + 1, skin=spec.control.skin_um,
        dt=dt, dt_note=_dt_note(spec, cards, dt),
        stages=stage_contexts(spec, cards, structure, dt, masses["rho_eff"]),
        cell_fields=_cell_fields(spec), gamma_ratio=masses["gamma_ratio"],
        box_margin_um=_box_margin(spec, cards.am), multisphere=structure.multisphere,
        body_densities=masses["body_densities"],
        integrate_group="se" if structure.multisphere else "grains",
        n_bodies=structure.n_am,
    )


def build(spec: CaseSpec, user_templates: Path | None = None) -> Deck:
    """Pack the structure and render the deck of a case.

    Parameters
    ----------
    spec : CaseSpec
        A validated case (:func:`assb_lmp.materials.resolve.load_case`).
    user_templates : Path, optional
        Folder searched before the built-in templates.

    Raises
    ------
    SpecError
        For a case this builder cannot render (another engine's, a missing card, a time
        step above the limit, an expansion that does not fit).
    """
    if spec.engine != "lammps":
        raise SpecError(f"engine = {spec.engine!r}: this builder writes LAMMPS decks only")
    found = case_cards(spec)
    cards = DeckCards(am=found["am"], se=found["se"], wall=found["wall"])
    dt = physics.timestep_us(spec, found)
    structure = packing.generate(spec)
    ctx = context(spec, cards, structure, dt)
    text = environment(user_templates).get_template(MAIN_TEMPLATE).render(**ctx.variables())
    return Deck(text=text, structure=structure, dt_us=dt, context=ctx)


def write_case(spec: CaseSpec, out_dir: Path, user_templates: Path | None = None) -> Deck:
    """Write ``deck.lmp``, ``structure.data``, ``structure.json``, ``spec.yaml`` and
    ``materials.json`` into ``out_dir`` (nothing is run)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dumps").mkdir(exist_ok=True)
    deck = build(spec, user_templates)
    cards = deck.context.cards
    packing.write_data(deck.structure, out_dir / "structure.data",
                       {1: cards.am.rho, 2: cards.se.rho, 3: 1.0},
                       margin=deck.context.box_margin_um)
    packing.write_info(deck.structure, out_dir / "structure.json")
    atomic_write_text(out_dir / "spec.yaml", dump_case(spec))
    atomic_write_json(out_dir / "materials.json",
                      {role: getattr(cards, role).model_dump(mode="json")
                       for role in ("am", "se", "wall")})
    atomic_write_text(out_dir / "deck.lmp", deck.text)
    return deck
