"""Render a case into a LAMMPS deck from the Jinja2 templates in ``templates/``.

One Jinja2 environment: ``StrictUndefined``, ``trim_blocks``, ``lstrip_blocks``, a ``g``
number filter, and a user template folder searched before the built-in one. Only values
that passed validation in :mod:`assb_lmp.config` reach the templates; strings are checked
again here against a strict pattern, so nothing user-typed can become a LAMMPS command.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from assb_lmp import __version__
from assb_lmp.core import resources
from assb_lmp.build import packing
from assb_lmp.spec.case import (
    DT_STABILITY_FRACTION,
    MDR_DT_FACTOR,
    CaseSpec,
    ExpandStage,
    HoldStage,
    PressStage,
    ReleaseStage,
    SettleStage,
    critical_timestep_us,
    dump_case,
    timestep_us,
)
from assb_lmp.core.errors import SpecError
from assb_lmp.materials.cards import Material, effective_modulus_gpa, effective_shear_gpa
from assb_lmp.core.units import gpa_to_kpa, j_m2_to_micro, mpa_to_kpa

#: Built-in template folder.
TEMPLATE_DIR = resources.templates_dir()
#: Main template.
MAIN_TEMPLATE = "case.lmp.j2"
_SAFE = re.compile(r"^[A-Za-z0-9_\-\.]+$")
WALLS = ("xlo", "xhi", "ylo", "yhi")
#: Walls of a 3D cell (pressed along z; x and y periodic).
WALLS_3D = ("zlo", "zhi")


def _g(value: float) -> str:
    """Number filter: shortest round-trippable text of a float (no LAMMPS-hostile chars)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise SpecError(f"template number filter got a non-number: {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise SpecError(f"template number filter got a non-finite number: {value!r}")
    if v == int(v) and abs(v) < 1e15:
        return str(int(v)) if abs(v) >= 1 or v == 0 else repr(v)
    return repr(v)


def _safe(value: str) -> str:
    if not _SAFE.match(str(value)):
        raise SpecError(f"refusing to put {value!r} into a deck (allowed: letters, digits, _-.)")
    return str(value)


def environment(user_dir: Path | None = None) -> jinja2.Environment:
    """The project's Jinja2 environment (user templates first, then built-in)."""
    paths = ([str(user_dir)] if user_dir else []) + [str(TEMPLATE_DIR)]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(paths),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["g"] = _g
    env.filters["safe_name"] = _safe
    return env


@dataclass(frozen=True)
class Deck:
    """A rendered case: the deck text and the files it reads."""

    text: str
    structure: packing.Structure
    dt_us: float
    context: dict


def _damping_param(spec: CaseSpec, card: Material) -> float:
    c = spec.contact
    if c.damping == "viscoelastic":
        return c.viscoelastic_eta
    return c.restitution if c.restitution is not None else card.e_rest


def _tangential(spec: CaseSpec, mu: float, kt: float | None = None) -> str:
    """Tangential model arguments: ``mindlin kt x_gammat mu`` (kt NULL = 8 G*)."""
    kt_txt = "NULL" if kt is None else _g(kt)
    if spec.contact.tangential == "mindlin":
        return f"mindlin {kt_txt} 1.0 {_g(mu)}"
    # linear_history: k_t as a fraction of the normal stiffness is not defined for Hertz;
    # use the Mindlin stiffness as a constant spring scaled by the SE diameter.
    return f"linear_history {_g(kt if kt is not None else 0.0)} 1.0 {_g(mu)}"


def _friction(spec: CaseSpec, card: Material) -> float:
    return spec.contact.friction if spec.contact.friction is not None else card.mu


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


def wall_model(spec: CaseSpec, card: Material, wall: Material) -> str:
    """``fix wall/gran`` model text for particles of ``card`` against a ``wall`` card.

    LAMMPS gives a wall the fix's own E and nu and mixes them with themselves, so the
    fix gets E = 2 E* and nu = 0, where E* is the Hertz modulus of the particle card
    against the wall card; the Mindlin stiffness 8 G* is given explicitly; friction is
    the geometric mean of the two cards' (or the spec's override).
    """
    e_star = gpa_to_kpa(effective_modulus_gpa(card, wall))
    g_star = gpa_to_kpa(effective_shear_gpa(card, wall))
    mu = spec.contact.friction if spec.contact.friction is not None else math.sqrt(
        card.mu * wall.mu)
    kt = 8.0 * g_star if spec.contact.tangential == "mindlin" else _linear_kt(spec, card, wall)
    return (f"hertz/material {_g(2.0 * e_star)} {_g(_damping_param(spec, card))} 0.0 "
            f"damping {spec.contact.damping} tangential {_tangential(spec, mu, kt)}")


def damping_ratio(restitution: float) -> float:
    """Damping ratio ζ of a linear spring-dashpot with restitution e:
    ``ζ = −ln e / √(π² + ln² e)``."""
    ln_e = math.log(restitution)
    return -ln_e / math.sqrt(math.pi**2 + ln_e**2)


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
    y = c.mdr_yield_mpa if c.mdr_yield_mpa is not None else se.yield_mpa
    if y is None:
        raise SpecError(f"contact.normal = 'mdr' needs a yield stress; card {se.name!r} has none")
    return (f"mdr {_g(gpa_to_kpa(se.E_gpa))} {_g(se.nu)} {_g(mpa_to_kpa(y))} "
            f"{_g(j_m2_to_micro(c.mdr_surface_energy_j_m2))} {_g(c.mdr_psi_b)} "
            f"{_g(damping_ratio(e))} damping mdr 1 tangential mindlin NULL 1.0 "
            f"{_g(_friction(spec, se))}")


def mdr_context(spec: CaseSpec, se: Material) -> dict:
    """Pair line and wall model of an mdr deck (see ``templates/contact_mdr.lmp.j2``).

    LAMMPS (22 Jul 2025) accepts one mdr parameter set per deck, no other normal model in
    the same ``pair_style granular``, and stops ("Contact between a pair of particles was
    detected by the MDR model, however it is not reflected in the neighbor lists") when
    any overlapping pair of particles is left to another pair style of a hybrid. So every
    particle pair, AM included, uses the SE card's mdr model.
    """
    model = mdr_model(spec, se)
    y = spec.contact.mdr_yield_mpa if spec.contact.mdr_yield_mpa is not None else se.yield_mpa
    return {"model": model, "yield_mpa": y, "psi_b": spec.contact.mdr_psi_b,
            "pairs": [{"types": "* *", "model": model,
                       "comment": f"every pair: elastic-plastic mdr of {se.name}"}]}


def wall_specs(spec: CaseSpec, am: Material, se: Material, wall: Material,
               mdr: dict | None) -> tuple[list[dict], list[str]]:
    """Wall fixes (per wall and phase) and the plane regions they need.

    Hertz decks: ``fix wall/gran`` planes, and ``fix wall/gran/region`` on the moving
    plane region. mdr decks: LAMMPS requires every ``wall/gran/region`` fix to use the
    deck's one mdr model (same E, nu, Y, psi_b, damping) and refuses ``fix wall/gran``
    with an mdr model, so every wall is a plane region with the mdr model, for both phases
    (the wall itself is rigid in mdr).
    """
    if spec.geometry.dimension == 3:
        planes = {"zlo": ("zplane 0.0 NULL", "0 0 0 0 0 1"),
                  "zhi": (None, None)}
        moving = "zhi"
    else:
        h = spec.geometry.height_um
        planes = {"xlo": ("xplane 0.0 NULL", "0 0 0 1 0 0"), "xhi": (None, None),
                  "ylo": ("yplane 0.0 NULL", "0 0 0 0 1 0"),
                  "yhi": (f"yplane NULL {_g(h)}", f"0 {_g(h)} 0 0 -1 0")}
        moving = "xhi"
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
                model = mdr["model"]
            else:
                model = wall_model(spec, card, wall)
            walls.append({"wall": w, "phase": phase, "style": style, "where": where,
                          "model": model})
    return walls, regions


def stage_context(spec: CaseSpec, dt: float) -> list[dict]:
    """Per-stage values for the templates (targets in kPa / µm, hold steps)."""
    out = []
    previous = None
    for s in spec.stages:
        d: dict = {"name": _safe(s.name), "kind": s.kind, "hold_steps": 0}
        if isinstance(s, SettleStage):
            d.update(control="pressure", target_kpa=mpa_to_kpa(s.pressure_mpa),
                     description=f"pre-load to {s.pressure_mpa:g} MPa")
        elif isinstance(s, PressStage) and s.mode == "pressure":
            d.update(control="pressure", target_kpa=mpa_to_kpa(s.pressure_mpa),
                     description=f"press to {s.pressure_mpa:g} MPa")
        elif isinstance(s, PressStage):
            d.update(control="width", final_width=s.final_width_um,
                     description=f"press to a width of {s.final_width_um:g} um")
        elif isinstance(s, ReleaseStage):
            d.update(control="pressure", target_kpa=mpa_to_kpa(s.pressure_mpa),
                     description=f"release to a stack pressure of {s.pressure_mpa:g} MPa")
        elif isinstance(s, HoldStage):
            steps = int(round(s.duration_us / dt))
            if previous is not None and previous["control"] == "pressure":
                d.update(control="pressure", target_kpa=previous["target_kpa"])
                what = f"hold {previous['target_kpa'] / 1000:g} MPa"
            else:
                d.update(control="hold")
                what = "hold the boundary still"
            d.update(hold_steps=steps, description=f"{what} for {s.duration_us:g} us, then "
                     "until at rest")
        elif isinstance(s, ExpandStage):
            d.update(_expand_control(s, previous))
        out.append(d)
        previous = d
    return out


def _expand_control(s: ExpandStage, previous: dict | None) -> dict:
    """Boundary control of an expand stage: servo to a pressure, or hold the gap."""
    if s.boundary == "gap":
        # target_kpa only sets the background damping of the hold (the pressure before)
        out = {"control": "hold", "description": "AM growth at a fixed gap (the moving wall "
               "held still), then until at rest"}
        if previous is not None and "target_kpa" in previous:
            out["target_kpa"] = previous["target_kpa"]
        return out
    if s.pressure_mpa is not None:
        target = mpa_to_kpa(s.pressure_mpa)
    elif previous is not None and "target_kpa" in previous:
        target = previous["target_kpa"]
    else:  # pragma: no cover - config refuses this
        raise SpecError(f"stage {s.name!r}: no pressure to hold")
    return {"control": "pressure", "target_kpa": target,
            "description": f"AM growth holding {target / 1000:g} MPa, then until at rest"}


def _body_densities(structure: packing.Structure, rho: np.ndarray, rho_am: float) -> tuple[
    np.ndarray, float, list[tuple[int, float]]
]:
    """Per-atom densities that give every multisphere body the mass of the union of its
    spheres (overlaps counted once): ``ρ V_union / Σ V_spheres`` on each of its atoms.
    Returns the densities, the solid volume (bodies as unions) and ``(mol, density)``."""
    from assb_lmp.build import multisphere

    rho = rho.astype(float).copy()
    d = structure.diameters
    solid = float(np.sum(np.pi / 6.0 * d[structure.mol == 0] ** 3))
    out = []
    for m in np.unique(structure.mol[structure.mol > 0]).tolist():
        sel = structure.mol == m
        v_union = multisphere.union_volume_surface_3d(
            structure.positions[sel], 0.5 * d[sel], samples=8)[0]
        v_sum = float(np.sum(np.pi / 6.0 * d[sel] ** 3))
        rho[sel] = rho_am * v_union / v_sum
        solid += v_union
        out.append((int(m), float(rho_am * v_union / v_sum)))
    return rho, solid, out


def _box_margin(spec: CaseSpec) -> float:
    """Box margin beyond the cell (µm): 1, more when an expand stage may push the wall out."""
    if not any(isinstance(s, ExpandStage) for s in spec.stages):
        return 1.0
    from assb_lmp.build import expansion

    return expansion.box_margin_um(spec)


def build(spec: CaseSpec, user_templates: Path | None = None) -> Deck:
    """Pack the structure and render the deck of a case.

    Parameters
    ----------
    spec : CaseSpec
        A validated case.
    user_templates : Path, optional
        Folder searched before the built-in templates.
    """
    cards = spec.cards()
    am, se, wall = cards["am"], cards["se"], cards["wall"]
    dt = timestep_us(spec)
    structure = packing.generate(spec)
    periodic = spec.geometry.boundary == "periodic"
    depth = spec.depth_um
    dim3 = spec.geometry.dimension == 3
    is_am = structure.types == packing.TYPE_AM

    pairs = [
        {"types": f"{t} {t}", "model": pair_model(spec, card), "comment": comment}
        for t, card, comment in (
            (1, am, f"AM {am.name}"), (2, se, f"SE {se.name}"), (3, se, "servo marker (excluded)")
        )
    ]
    mdr = mdr_context(spec, se) if spec.contact.normal == "mdr" else None
    walls: list[dict] = []
    wall_regions: list[str] = []
    if not periodic:
        walls, wall_regions = wall_specs(spec, am, se, wall, mdr)
    skin = spec.control.skin_um

    d = structure.diameters
    rho = np.where(structure.types == packing.TYPE_AM, am.rho, se.rho)
    solid_volume = float(np.sum(np.pi / 6.0 * d**3))
    body_densities: list[tuple[int, float]] = []
    if structure.multisphere:
        rho, solid_volume, body_densities = _body_densities(structure, rho, am.rho)
    mass = float(np.sum(rho * np.pi / 6.0 * d**3))
    cell_volume = spec.geometry.width_um * spec.geometry.height_um * depth
    rho_eff = mass / cell_volume

    if dim3:
        cell_fields = (
            '"xlo_um": $(xlo:%.10g), "xhi_um": $(xhi:%.10g), "ylo_um": $(ylo:%.10g), '
            '"yhi_um": $(yhi:%.10g), "zlo_um": 0.0, "zhi_um": $(v_L:%.10g), '
            '"p_zlo_mpa": $(v_p_zlo/1000:%.8g), "p_zhi_mpa": $(v_p_zhi/1000:%.8g), '
            '"p_xx_mpa": $(v_p_xx/1000:%.8g), "p_yy_mpa": $(v_p_yy/1000:%.8g), "dimension": 3'
        )
    elif periodic:
        cell_fields = (
            '"xlo_um": $(xlo:%.10g), "xhi_um": $(xhi:%.10g), "ylo_um": $(ylo:%.10g), '
            '"yhi_um": $(yhi:%.10g), "zlo_um": ' + _g(-0.5 * depth) + ', "zhi_um": '
            + _g(0.5 * depth) + ', "p_xx_mpa": $(v_p_xx/1000:%.8g), '
            '"p_yy_mpa": $(v_p_yy/1000:%.8g)'
        )
    else:
        cell_fields = (
            '"xlo_um": 0.0, "xhi_um": $(v_L:%.10g), "ylo_um": 0.0, "yhi_um": '
            + _g(spec.geometry.height_um) + ', "zlo_um": ' + _g(-0.5 * depth)
            + ', "zhi_um": ' + _g(0.5 * depth) + ', "p_xlo_mpa": $(v_p_xlo/1000:%.8g), '
            '"p_xhi_mpa": $(v_p_xhi/1000:%.8g), "p_ylo_mpa": $(v_p_ylo/1000:%.8g), '
            '"p_yhi_mpa": $(v_p_yhi/1000:%.8g)'
        )

    # background damping of the hold segments: F = -gamma v with gamma = m / tau_v per type,
    # tau_v a fraction of one wave-transit time of the cell at the stage's pressure
    m_se = se.rho * math.pi / 6.0 * spec.packing.se_diameter_um**3
    stages = stage_context(spec, dt)
    for st in stages:
        p_kpa = max(st.get("target_kpa", 0.0), mpa_to_kpa(spec.control.pressure_floor_mpa))
        modulus = spec.control.stiffness_coefficient * math.sqrt(p_kpa)
        st["damping_time_us"] = spec.control.damping_transit_fraction * (
            spec.geometry.width_um * math.sqrt(rho_eff / modulus))
        st["gamma_se"] = m_se / st["damping_time_us"]
    is_am = structure.types == packing.TYPE_AM
    m_am = float(np.mean(rho[is_am] * math.pi / 6.0 * d[is_am] ** 3)) if is_am.any() else m_se
    for k, (s, st) in enumerate(zip(spec.stages, stages, strict=True)):
        if isinstance(s, ExpandStage):
            from assb_lmp.build import expansion

            st.update(expansion.plan(spec, k, structure, dt))

    t_r = critical_timestep_us(spec)
    context = {
        "version": __version__,
        "case": spec,
        "cards": {"am": am, "se": se, "wall": wall},
        "contact": spec.contact,
        "control": spec.control,
        "periodic": periodic,
        "width": structure.width,  # the start of the cell (packing.collapse may narrow it)
        "height": spec.geometry.height_um,
        "depth": depth,
        "se_diameter": spec.packing.se_diameter_um,
        "rho_se": se.rho,
        "rho_eff": rho_eff,
        "solid_volume": solid_volume,
        "p_floor_kpa": mpa_to_kpa(spec.control.pressure_floor_mpa),
        "pairs": pairs,
        "walls": walls,
        "wall_names": list(WALLS_3D) if dim3 else ([] if periodic else list(WALLS)),
        "dimension": spec.geometry.dimension,
        "boundary_flags": "p p f" if dim3 else ("p p p" if periodic else "f f p"),
        "mdr": mdr,
        "wall_regions": wall_regions,
        "skin": skin,
        "marker_motion": ("NULL NULL NULL NULL NULL v_vwall" if dim3
                          else "NULL NULL NULL v_vwall NULL NULL"),
        "lx": spec.geometry.height_um if dim3 else None,
        "ly": depth if dim3 else None,
        "marker_id": len(structure.types) + 1,
        "dt": dt,
        "dt_note": (
            f"{dt / t_r:.3f} x Rayleigh time {t_r:.4g} us of the smallest, stiffest particle "
            f"(stability limit {DT_STABILITY_FRACTION:.2f})"
            if mdr is None else
            f"{dt / t_r:.3f} x Rayleigh time {t_r:.4g} us of the smallest, stiffest particle "
            f"(mdr: stability limit {MDR_DT_FACTOR * DT_STABILITY_FRACTION:.2f}, flattened "
            "contacts unload stiffly)"
        ),
        "stages": stages,
        "cell_fields": cell_fields,
        "gamma_ratio": m_am / m_se,
        "box_margin_um": _box_margin(spec),
        "multisphere": structure.multisphere,
        "body_densities": body_densities,
        "integrate_group": "se" if structure.multisphere else "grains",
        "n_bodies": structure.n_am,
    }
    text = environment(user_templates).get_template(MAIN_TEMPLATE).render(**context)
    return Deck(text=text, structure=structure, dt_us=dt, context=context)


def write_case(spec: CaseSpec, out_dir: Path, user_templates: Path | None = None) -> Deck:
    """Write ``deck.lmp``, ``structure.data``, ``structure.json``, ``spec.yaml`` and
    ``materials.json`` into ``out_dir`` (nothing is run).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dumps").mkdir(exist_ok=True)
    deck = build(spec, user_templates)
    cards = deck.context["cards"]
    packing.write_data(deck.structure, out_dir / "structure.data",
                       {1: cards["am"].rho, 2: cards["se"].rho, 3: 1.0},
                       margin=deck.context["box_margin_um"])
    packing.write_info(deck.structure, out_dir / "structure.json")
    (out_dir / "spec.yaml").write_text(dump_case(spec))
    (out_dir / "materials.json").write_text(json.dumps(
        {k: v.model_dump(mode="json") for k, v in cards.items()}, indent=2) + "\n")
    (out_dir / "deck.lmp").write_text(deck.text)
    return deck
