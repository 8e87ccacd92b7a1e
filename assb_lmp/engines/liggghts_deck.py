"""Render a case into a LIGGGHTS-PUBLIC 3.8 deck (``templates/liggghts/``) and write its folder.

The deck is the LAMMPS deck's twin in the LIGGGHTS dialect: the same units (``micro``), the
same packing (one ``structure.data``, its lines ordered SE first), the same stages and the
same quasi-static controller. What differs, and why:

* materials are per-type tables (``fix property/global``); LIGGGHTS mixes E*, G* of every
  pair and wall exactly, so no pair needs explicit coefficients;
* the quasi-2D mode is a 3D run with the forces along z zeroed (``fix setforce``);
* planes cannot move along their normal in LIGGGHTS, so the moving wall is a mesh (an STL
  file written here) moved by ``fix move/mesh``; a marker atom carries its position;
* 3.8 has no ``fix halt``, ``timer``, ``ternary()`` or ``$(x:%fmt)``: stage ends are
  run/if/jump loops and choices are comparisons (1 or 0) times values;
* the per-contact and per-atom dumps are written with LIGGGHTS's column names and turned
  into the toolkit's contract after the run (:mod:`assb_lmp.engines.liggghts_outputs`).

Only validated values reach a deck: numbers pass the ``g`` filter and names the
``safe_name`` filter of :func:`assb_lmp.build.deck.environment` (LIGGGHTS has a ``shell``
command too).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import assb_lmp.engines.liggghts_plastic as plastic
from assb_lmp.build import deck as lammps_deck
from assb_lmp.build import packing
from assb_lmp.build.render import TEMPLATE_DIR, environment, number
from assb_lmp.core.errors import SpecError
from assb_lmp.core.io import atomic_write_json, atomic_write_text
from assb_lmp.core.units import gpa_to_kpa
from assb_lmp.materials import physics
from assb_lmp.materials.cards import Material
from assb_lmp.materials.resolve import case_cards
from assb_lmp.spec.case import CaseSpec, dump_case

#: The dialect's template folder (``templates/liggghts``) and its main template.
DIALECT = "liggghts"
BUILTIN_DIR = TEMPLATE_DIR / DIALECT
MAIN_TEMPLATE = "case.lmp.j2"
#: STL file of the moving wall (walls mode), written next to the deck.
MESH_FILE = "wall_xhi.stl"
#: The stage-end loop the deck includes, written next to it.
SEGMENTS_FILE = "segments.lmp"
SEGMENTS_TEMPLATE = "segments.lmp.j2"
#: Walls of the quasi-2D walls mode, in the contract's order.
WALLS = ("xlo", "xhi", "ylo", "yhi")
#: Normal models of the LIGGGHTS decks by the case's ``contact.normal``.
NORMAL_MODELS = {"hertz": "hertz", "thornton_ning": "thornton_ning"}
#: The decks' number format (shortest round-trip text; refuses non-numbers).
_G = number


@dataclass(frozen=True)
class Deck:
    """A rendered LIGGGHTS case: the deck text, the packing, the time step, the context."""

    text: str
    structure: packing.Structure
    dt_us: float
    context: dict


def normal_model(spec: CaseSpec) -> str:
    """The case's normal contact model (``hertz``, ``mdr`` or ``thornton_ning``)."""
    return str(spec.contact.normal)


def check_spec(spec: CaseSpec) -> None:
    """Refuse, before anything is written or run, what a LIGGGHTS 3.8 deck cannot do.

    Raises
    ------
    SpecError
        Naming the key, the value and what LIGGGHTS lacks.
    """
    c = spec.contact
    if spec.geometry.dimension != 2:
        raise SpecError(
            "engine: liggghts: geometry.dimension = 3 is not supported by the LIGGGHTS decks "
            "(the moving mesh wall of a cell periodic in x and y is not implemented); use "
            "engine: lammps for 3D cells")
    if spec.packing.am_shape.kind != "sphere":
        raise SpecError(
            "engine: liggghts: packing.am_shape.kind = 'ellipse' (multisphere AM) cannot run "
            "in LIGGGHTS 3.8: fix multisphere creates bodies only by insertion "
            "(fix insert/* with fix particletemplate/multisphere), never from the bodies of "
            "a data file (structure.data), and it does not work together with fix deform; "
            "use engine: lammps for multisphere AM")
    if normal_model(spec) not in NORMAL_MODELS:
        raise SpecError(
            f"engine: liggghts: contact.normal = {normal_model(spec)!r} is a LAMMPS model; "
            f"allowed with LIGGGHTS: {', '.join(NORMAL_MODELS)}")
    if c.tangential != "mindlin":
        raise SpecError(
            f"engine: liggghts: contact.tangential = {c.tangential!r}: LIGGGHTS's tangential "
            "history model is the Mindlin spring k_t = 8 G* sqrt(R* delta); use mindlin")
    if c.damping == "viscoelastic":
        raise SpecError(
            "engine: liggghts: contact.damping = 'viscoelastic' does not exist in LIGGGHTS; "
            "its one Hertz damping law is set by the restitution coefficient (allowed: "
            "coeff_restitution, or tsuji, which gets that law with the same restitution)")
    if normal_model(spec) == "thornton_ning":
        plastic.check(spec)


def _pair(spec: CaseSpec, a: Material, b: Material, what: str) -> float:
    """Restitution (``what = 'e'``) or friction (``'mu'``) of cards a, b: the case's
    override, else the geometric mean of the two cards' values (the LAMMPS decks' rule)."""
    override = spec.contact.restitution if what == "e" else spec.contact.friction
    if override is not None:
        return float(override)
    va, vb = (a.e_rest, b.e_rest) if what == "e" else (a.mu, b.mu)
    return math.sqrt(va * vb)


def material_tables(spec: CaseSpec, cards: dict[str, Material], structure) -> dict:
    """Per-type tables of the ``fix property/global`` lines (types 1 AM, 2 SE, 3 wall).

    Returns
    -------
    dict
        ``E`` (kPa) and ``nu`` per type; ``e``, ``mu`` and ``surface_energy`` as 3 × 3
        row-major matrices; ``yield_ratio`` per type and ``tn`` (the Thornton–Ning
        conversion, :func:`assb_lmp.engines.liggghts_plastic.yield_context`) for
        ``thornton_ning`` decks.
    """
    order = [cards["am"], cards["se"], cards["wall"]]
    out = {
        "E": [gpa_to_kpa(m.E_gpa) for m in order],
        "nu": [m.nu for m in order],
        "e": [_pair(spec, a, b, "e") for a in order for b in order],
        "mu": [_pair(spec, a, b, "mu") for a in order for b in order],
        "surface_energy": [0.0] * 9,
        "yield_ratio": None,
        "tn": None,
    }
    if normal_model(spec) == "thornton_ning":
        am_r = 0.5 * structure.diameters[structure.types == packing.TYPE_AM]
        tn = plastic.yield_context(spec, cards, float(np.mean(am_r)) if am_r.size else None)
        out["yield_ratio"] = [tn["ratio_am"], tn["ratio_se"], tn["ratio_wall"]]
        out["tn"] = tn
    return out


def _stages(base: lammps_deck.DeckContext) -> list[dict]:
    """The LAMMPS decks' per-stage values (:func:`~assb_lmp.build.deck.stage_contexts`: the
    same targets and background damping) as template dictionaries, with a tag for labels
    and the growth plan of an expand stage spread into its keys."""
    out = []
    for k, st in enumerate(base.stages):
        d = {f.name: getattr(st, f.name) for f in dataclasses.fields(st)}
        growth = d.pop("growth")
        if growth is not None:
            d.update({f.name: getattr(growth, f.name) for f in dataclasses.fields(growth)})
        d["tag"] = f"s{k}"
        out.append(d)
    return out


def _walls_context(spec: CaseSpec, margin: float) -> dict:
    """Walls mode: the three fixed planes, the mesh of the moving wall and the marker."""
    h = spec.geometry.height_um
    walls = [{"name": "xlo", "primitive": True, "plane": "xplane 0.0"},
             {"name": "xhi", "primitive": False, "plane": None},
             {"name": "ylo", "primitive": True, "plane": "yplane 0.0"},
             {"name": "yhi", "primitive": True, "plane": f"yplane {_G(h)}"}]
    # the marker sits beyond the cell and the mesh (a marker that the mesh sweeps makes
    # LIGGGHTS abort without a message)
    marker_y = h + 0.75 * min(margin, 1.0)
    cell_fields = (
        '"xlo_um": 0.0, "xhi_um": ${L}, "ylo_um": 0.0, "yhi_um": ' + _G(h)
        + ', "zlo_um": ' + _G(-0.5 * spec.depth_um) + ', "zhi_um": '
        + _G(0.5 * spec.depth_um)
        + ', "p_xlo_mpa": $(v_p_xlo/1000), "p_xhi_mpa": $(v_p_xhi/1000), '
        '"p_ylo_mpa": $(v_p_ylo/1000), "p_yhi_mpa": $(v_p_yhi/1000)')
    return {"walls": walls, "marker_y": marker_y, "mesh": {"file": MESH_FILE},
            "cell_fields": cell_fields, "wall_names": list(WALLS),
            "pressure_vars": [f"v_p_{w}" for w in WALLS]}


def _periodic_context(spec: CaseSpec) -> dict:
    half = _G(0.5 * spec.depth_um)
    cell_fields = (
        '"xlo_um": $(xlo), "xhi_um": $(xhi), "ylo_um": $(ylo), "yhi_um": $(yhi), '
        f'"zlo_um": -{half}, "zhi_um": {half}, "p_xx_mpa": $(v_p_xx/1000), '
        '"p_yy_mpa": $(v_p_yy/1000)')
    return {"walls": [], "marker_y": None, "mesh": None, "cell_fields": cell_fields,
            "wall_names": [], "pressure_vars": ["v_p_xx", "v_p_yy"]}


def atom_columns(wall_names: list[str]) -> tuple[list[str], list[str]]:
    """(LIGGGHTS dump columns, contract names) of ``<stage>.atoms.dump``."""
    raw = ["id", "type", "radius", "mass", "x", "y", "z", "vx", "vy", "vz",
           "omegax", "omegay", "omegaz", "c_virial[1]", "c_virial[2]", "c_virial[4]"]
    names = raw[:13] + ["virial_xx", "virial_yy", "virial_xy"]
    for w in wall_names:
        for k, ax in enumerate("xyz", start=1):
            raw.append(f"f_force_w{w}[{k}]")
            names.append(f"wall_{w}_f{ax}")
    return raw, names


def _base_context(spec: CaseSpec, structure: packing.Structure | None
                  ) -> tuple[lammps_deck.DeckContext, packing.Structure, dict[str, Material]]:
    """The values both engines' decks share (time step, stages, masses, marker), from the
    LAMMPS deck builder's :func:`~assb_lmp.build.deck.context`."""
    cards = case_cards(spec)
    dt = physics.timestep_us(spec, cards)
    if structure is None:
        structure = packing.generate(spec)
    dcards = lammps_deck.DeckCards(am=cards["am"], se=cards["se"], wall=cards["wall"])
    return lammps_deck.context(spec, dcards, structure, dt), structure, cards


def build(spec: CaseSpec, user_templates: Path | None = None,
          structure: packing.Structure | None = None) -> Deck:
    """Pack the structure (or take the one given, e.g. a settled state) and render the
    LIGGGHTS deck of a case.

    Parameters
    ----------
    spec : CaseSpec
        A validated case with ``engine: liggghts``.
    user_templates : Path, optional
        Folder searched before ``templates/liggghts`` (blocks of the same file name
        replace the built-in ones).
    structure : Structure, optional
        The packing to start from (default: packed from the spec).

    Raises
    ------
    SpecError
        For another engine's case, what LIGGGHTS 3.8 cannot do (:func:`check_spec`) or an
        unsafe value.
    """
    if spec.engine != "liggghts":
        raise SpecError(f"engine = {spec.engine!r}: this builder writes LIGGGHTS decks only")
    check_spec(spec)
    base, structure, cards = _base_context(spec, structure)
    if not np.any(structure.types == packing.TYPE_AM):
        raise SpecError("engine: liggghts: the packing has no AM particle (type 1); LIGGGHTS "
                        "stops when no atom of type 1 exists")
    periodic = base.periodic
    geometry = (_periodic_context(spec) if periodic
                else _walls_context(spec, base.box_margin_um))
    raw_cols, _ = atom_columns(geometry["wall_names"])
    shared = ("version", "case", "cards", "contact", "control", "periodic", "width", "height",
              "depth", "se_diameter", "rho_se", "rho_eff", "solid_volume", "p_floor_kpa",
              "skin", "dt", "dt_note", "gamma_ratio", "marker_id")
    context = {k: getattr(base, k) for k in shared}
    context.update(
        stages=_stages(base), box_margin_um=0.0 if periodic else base.box_margin_um,
        boundary_flags="p p f" if periodic else "f f f",
        mat=material_tables(spec, cards, structure),
        normal_model=NORMAL_MODELS[normal_model(spec)], atom_columns=raw_cols,
        atom_format=" ".join(["%d", "%d"] + ["%.10g"] * (len(raw_cols) - 2)),
        pair_format=" ".join(["%.10g"] * 6 + ["%.0f"] * 3 + ["%.10g"] * 7), pi=math.pi,
        segments=max(1, math.ceil(spec.control.max_steps_per_stage
                                  / spec.control.check_every)),
        segments_file=SEGMENTS_FILE, **geometry)
    context["tn"] = context["mat"]["tn"]
    env = environment(user_templates, BUILTIN_DIR)
    text = env.get_template(MAIN_TEMPLATE).render(**context)
    context["segments_text"] = env.get_template(SEGMENTS_TEMPLATE).render(**context)
    return Deck(text=text, structure=structure, dt_us=base.dt, context=context)


def write_data(structure: packing.Structure, path: Path, densities: dict[int, float],
               margin: float = 1.0) -> None:
    """The LAMMPS data file of the packing (``id type diameter density x y z``), SE lines
    first: the atoms keep their ids, and the local order that LIGGGHTS keeps (sorting off)
    makes the SE the first atom of every AM–SE pair (see ``liggghts_plastic``)."""
    s = structure
    m = 0.0 if s.periodic else margin
    lines = [
        f"assb_lmp packing: {s.n_am} AM + {s.n_se} SE, seed {s.info.get('seed')} "
        "(LIGGGHTS order: SE lines first)", "",
        f"{len(s.types)} atoms", "3 atom types", "",
        f"{-m:.6f} {s.width + m:.6f} xlo xhi", f"{-m:.6f} {s.height + m:.6f} ylo yhi",
        "-0.5 0.5 zlo zhi", "", "Atoms # granular", "",
    ]
    order = np.argsort(s.types != packing.TYPE_SE, kind="stable")
    body = [
        f"{i + 1} {s.types[i]} {s.diameters[i]:.9f} {densities[int(s.types[i])]:.6f} "
        f"{s.positions[i, 0]:.9f} {s.positions[i, 1]:.9f} {s.positions[i, 2]:.9f}"
        for i in order.tolist()
    ]
    atomic_write_text(path, "\n".join(lines + body) + "\n")


def write_plane_stl(path: Path, x: float, y: tuple[float, float], z: tuple[float, float],
                    normal_x: float = -1.0) -> None:
    """An ASCII STL of the plane ``x = const`` over ``y × z`` (two triangles; µm)."""
    (y0, y1), (z0, z1) = y, z
    g = _G
    quads = [((x, y0, z0), (x, y1, z1), (x, y1, z0)), ((x, y0, z0), (x, y0, z1), (x, y1, z1))]
    if normal_x > 0:
        quads = [(a, c, b) for a, b, c in quads]
    out = ["solid wall"]
    for tri in quads:
        out += [f"  facet normal {g(normal_x)} 0 0", "    outer loop"]
        out += [f"      vertex {g(p[0])} {g(p[1])} {g(p[2])}" for p in tri]
        out += ["    endloop", "  endfacet"]
    out.append("endsolid wall")
    atomic_write_text(path, "\n".join(out) + "\n")


def write_case(spec: CaseSpec, out_dir: Path, user_templates: Path | None = None,
               structure: packing.Structure | None = None) -> Deck:
    """Write ``deck.lmp``, the stage-end loop ``segments.lmp`` it includes,
    ``structure.data`` (SE first), ``structure.json``, ``spec.yaml``, ``materials.json`` and,
    in walls mode, the moving wall's ``wall_xhi.stl`` into ``out_dir`` (nothing is run)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dumps").mkdir(exist_ok=True)
    deck = build(spec, user_templates, structure)
    ctx = deck.context
    cards = ctx["cards"]
    write_data(deck.structure, out_dir / "structure.data",
               {1: cards.am.rho, 2: cards.se.rho, 3: 1.0}, margin=ctx["box_margin_um"])
    if not ctx["periodic"]:
        # the data file's box is 1 um deep (z in [-0.5, 0.5]); the mesh stays inside it, at
        # the packing's width (a geometric collapse starts the cell narrower than the spec's)
        h = spec.geometry.height_um
        write_plane_stl(out_dir / MESH_FILE, deck.structure.width, (-0.25, h + 0.25),
                        (-0.4, 0.4))
    packing.write_info(deck.structure, out_dir / "structure.json")
    atomic_write_text(out_dir / "spec.yaml", dump_case(spec))
    atomic_write_json(out_dir / "materials.json",
                      {role: getattr(cards, role).model_dump(mode="json")
                       for role in ("am", "se", "wall")})
    atomic_write_text(out_dir / SEGMENTS_FILE, ctx["segments_text"])
    atomic_write_text(out_dir / "deck.lmp", deck.text)
    return deck
