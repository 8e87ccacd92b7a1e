"""The typed case model: one DEM case as frozen pydantic models (pure data).

Every user-facing quantity carries its unit in its name (``width_um``, ``pressure_mpa``);
conversion to LAMMPS ``units micro`` happens in :mod:`assb_lmp.core.units` and the deck
builder, nowhere else.

This module only checks the *structure* of a case: types, ranges, unknown keys (refused)
and the consistency of the case with itself. It reads no file and no material card and
derives no physics: the cross-references to the cards (do they exist, is the time step
below the stability limit, does a plastic contact have a yield stress) are checked by
:func:`assb_lmp.materials.resolve.parse_case` / :func:`~assb_lmp.materials.resolve.load_case`,
and the derived physics (time step, E*, G*, Vegard strains) lives in
:mod:`assb_lmp.materials.physics`.

Every error names the file, the key, the value and the allowed range. Strings that can
reach a deck (case names, stage names, material names) are checked against strict
patterns, so a spec can never inject a LAMMPS command; numbers must be finite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, model_validator

from assb_lmp.spec.packing import (  # noqa: F401 - re-exported: the case model's names
    MAX_SE_FILL_FRACTION,
    SE_DIAMETER_LIMITS,
    Packing,
    _max_value,
    _min_value,
    largest_am_diameter_um,
    se_diameter_bounds_um,
)
from assb_lmp.spec.stages import (
    RESERVED_STAGE_NAMES,
    ExpandStage,
    PressStage,
    Stage,
)
from assb_lmp.spec.validation import SAFE_NAME, STRICT, validate_mapping

#: Stability limit of the time step as a fraction of the Rayleigh time (the upper bound of
#: ``control.timestep_safety``). Measured on this engine: 0.20 T_R (1.5e-4 µs for 1 µm LGPS)
#: runs stable, 0.26 T_R pumps energy in. The time step itself is chosen in
#: :func:`assb_lmp.materials.physics.timestep_us`.
DT_STABILITY_FRACTION = 0.20

#: Largest AM fraction of the *initial* cell the packers reach (quasi-2D discs between
#: walls, 3D spheres): ``am_area_fraction × reference width / initial width`` above it is
#: refused (:mod:`assb_lmp.build.packing` gives up there too).
MAX_INITIAL_FILL = {2: 0.80, 3: 0.60}

#: Engines a case may name (``engine:``); which of them can run is the engine registry's
#: business (:func:`assb_lmp.engines.get`).
ENGINE_NAMES = ("lammps", "liggghts")




class Materials(BaseModel):
    """Material cards by name (file stem in ``potentials/`` or the user's card folder)."""

    model_config = STRICT
    am: str = Field("LCO", pattern=SAFE_NAME, description="active-material card")
    se: str = Field("LGPS", pattern=SAFE_NAME, description="solid-electrolyte card")
    wall: str = Field("steel", pattern=SAFE_NAME, description="die/punch wall card")


class Geometry(BaseModel):
    """Cell geometry.

    The *width* is always the cell length along the press axis (the axis a width-mode
    press stage drives to ``final_width_um``).

    * Quasi-2D (``dimension: 2``): the press axis is x (as in Komori et al.: 46-55 µm
      pressed to 40 µm); the height (y) is fixed. All centres share z = 0 and
      ``depth_um`` is the nominal layer depth t used for stresses and pressures.
    * 3D (``dimension: 3``): the press axis is z, between a fixed wall at z = 0 and a
      moving wall at z = width; x and y are periodic. ``height_um`` is the cell length
      along x and ``depth_um`` along y (default: equal to the height); both are fixed.
    """

    model_config = STRICT
    dimension: Literal[2, 3] = 2
    width_um: float = Field(
        gt=0, le=2000, description="initial length along the press axis (µm): x in 2D, z in 3D"
    )
    height_um: float = Field(
        gt=0, le=2000, description="fixed transverse length (µm): y in 2D, x in 3D"
    )
    depth_um: float | None = Field(
        None, gt=0, le=2000,
        description="quasi-2D: nominal layer depth t (µm, default the SE diameter); "
        "3D: fixed transverse length along y (µm, default the height)",
    )
    boundary: Literal["walls", "periodic"] = Field(
        "walls", description="2D: walls on all sides or periodic in x and y; 3D: 'walls' "
        "(press-axis walls along z, periodic in x and y) is the only choice",
    )


class Section(BaseModel):
    """A section plane of a 3D cell: the image and the labels of one cross-section.

    The plane contains the press axis z: ``axis: y`` is the plane y = ``position_um``
    (the image shows x across and z up), ``axis: x`` the plane x = ``position_um`` (y
    across, z up). The label window is the square of that image (see
    :mod:`assb_lmp.analysis.mechanics`).
    """

    model_config = STRICT
    axis: Literal["x", "y"] = "y"
    position_um: float = Field(description="position of the plane along its axis (µm)")
    name: str | None = Field(None, pattern=SAFE_NAME, description="default: <axis><position>")

    @property
    def label(self) -> str:
        """Folder name of the section's outputs (``y12p5`` for y = 12.5 µm)."""
        if self.name:
            return self.name
        return f"{self.axis}{self.position_um:g}".replace(".", "p").replace("-", "m")


class Contact(BaseModel):
    """Contact law: Hertz (``hertz/material``) + damping + tangential history + friction.

    ``normal: mdr`` makes the contacts elastic-plastic with LAMMPS's ``mdr`` normal model
    (Zunker & Gonzalez 2024) with the SE card's E, ν and yield stress. LAMMPS allows one
    mdr parameter set per deck and no other model beside it, so with ``mdr`` *every*
    contact, AM included, uses the SE's model; see ``docs/plasticity.md``.
    """

    model_config = STRICT
    normal: Literal["hertz", "mdr"] = "hertz"
    mdr_yield_mpa: float | None = Field(
        None, gt=0, le=1.0e6, description="mdr only: overrides the SE card's yield stress (MPa)"
    )
    mdr_psi_b: float = Field(
        0.5, gt=0, le=1, description="mdr only: bulk-response trigger psi_b of the mdr "
        "model (free-surface fraction below which the bulk response starts)",
    )
    mdr_surface_energy_j_m2: float = Field(
        0.0, ge=0, le=10, description="mdr only: effective surface energy (J/m^2; 0 = no "
        "adhesion)",
    )
    damping: Literal["viscoelastic", "tsuji", "coeff_restitution"] = "tsuji"
    viscoelastic_eta: float = Field(
        0.5, ge=0, description="viscoelastic damping coefficient η0 (1/(µs·µm)); "
        "only for damping: viscoelastic",
    )
    restitution: float | None = Field(
        None, gt=0, le=1, description="overrides the cards' restitution (tsuji, coeff_restitution)"
    )
    tangential: Literal["mindlin", "linear_history"] = "mindlin"
    friction: float | None = Field(None, ge=0, le=10, description="overrides the cards' friction")


class Analysis(BaseModel):
    """Options of the analysis of the case's dumps (``assb_lmp.analysis``, docs/stress.md)."""

    model_config = STRICT
    stress_convention: Literal["per_depth", "per_sphere"] | None = Field(
        None, description="quasi-2D: which particle stress the CNN targets hold: per nominal "
        "depth t (V = pi r^2 t, comparable with Komori's 2D numbers; the default) or the "
        "sphere's own mean stress (V = 4/3 pi r^3); both are always reported. 3D has one "
        "convention, the sphere volume (per_sphere)",
    )


class Control(BaseModel):
    """Quasi-static control of every stage.

    The wall strain rate is capped by the inertial number, rate ≤ I √(P/ρ) / d
    (d, ρ of the SE; P the current mean wall pressure, floored at ``pressure_floor_mpa``),
    and in pressure stages follows the servo error with a time constant of
    ``servo_transit_times`` wave-transit times of the cell.
    """

    model_config = STRICT
    timestep_us: float | None = Field(None, gt=0, description="default: safety × Rayleigh time")
    timestep_safety: float = Field(0.15, gt=0, le=DT_STABILITY_FRACTION)
    inertial_number: float = Field(1.0e-3, gt=0, le=1.0e-2)
    pressure_floor_mpa: float = Field(1.0, gt=0, le=100)
    max_strain_rate: float = Field(
        0.1, gt=0, le=10,
        description="absolute cap of the boundary strain rate (1/µs): the inertial-number cap "
        "uses the SE and grows as √P, but the heavy AM particles of a GPa-level width press "
        "cannot follow it (a 0.6/µs press lost atoms)",
    )
    loose_strain_rate: float = Field(
        0.03, gt=0, le=10, description="strain-rate cap (1/µs) before the packing jams"
    )
    servo_transit_times: float = Field(1.5, ge=1.0, le=100)
    servo_tolerance: float = Field(0.005, gt=0, le=0.1, description="relative servo error")
    width_tolerance: float = Field(
        1.0e-4, gt=0, le=0.01, description="relative width error that ends a width-mode press"
    )
    hold_inertial_number: float = Field(
        3.0e-4, gt=0, le=1e-2, description="kinetic-energy criterion of stage ends"
    )
    min_hold_steps: int = Field(300, ge=0, le=1_000_000)
    check_every: int = Field(50, ge=1, le=10_000)
    max_steps_per_stage: int = Field(1_000_000, ge=100, le=100_000_000)
    neighbor: Literal["multi", "bin"] = "multi"
    skin_um: float = Field(0.3, gt=0, le=10)
    thermo_every: int = Field(1000, ge=1)
    series_every: int = Field(200, ge=1, description="steps between rows of the stage series")
    damping_transit_fraction: float = Field(
        0.25, gt=0, le=100,
        description="time constant of the background viscous damping of the hold (and of "
        "the approach after the first stage) as a fraction of one wave-transit time of the "
        "cell; measured: 0.25 settles the examples fastest (1.0 rings, 0.1 overdamps)",
    )
    stiffness_coefficient: float = Field(
        1.0e4, gt=0, description="packing modulus estimate M = C √P (kPa), for the servo gain"
    )
    final_hold: Literal["damped", "undamped"] = Field(
        "damped", description="``undamped``: after the last stage's hold, hold again with the "
        "background viscous damping removed (contact damping only), for at least "
        "``undamped_hold_damping_times`` damping time constants and until the kinetic-energy "
        "criterion holds again, so that the end state carries no bias of the viscous drag",
    )
    undamped_hold_damping_times: float = Field(
        20.0, ge=0, le=10_000, description="minimum length of the undamped final hold, in "
        "time constants of the stage's background damping",
    )
    controller_every: int = Field(
        1, ge=1, le=10, description="steps between updates of the quasi-static controller "
        "(pressure averages, servo rate, box deformation): the controller's equal-style "
        "variables cost more than the contact forces of a small cell when evaluated every "
        "step; 5 makes a 400-particle periodic case 2.5 x faster (BENCHMARKS.md). LAMMPS "
        "only; not with expand stages",
    )

    @model_validator(mode="after")
    def _controller_every(self) -> Control:
        n = self.controller_every
        if n == 1:
            return self
        bad = [f"{k} = {getattr(self, k)}" for k in
               ("check_every", "min_hold_steps", "thermo_every", "series_every",
                "max_steps_per_stage")
               if getattr(self, k) % n]
        if bad:
            raise ValueError(f"controller_every = {n}: {', '.join(bad)} must be multiples of it "
                             "(the controller's averages exist only on those steps)")
        return self


class CaseSpec(BaseModel):
    """One DEM case: engine, materials, geometry, packing, contact law, control and stages."""

    model_config = STRICT
    name: str = Field(pattern=SAFE_NAME)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    engine: Literal[ENGINE_NAMES] = Field(
        "lammps", description="the engine that runs the case (see assb_lmp.engines)"
    )
    materials: Materials = Materials()
    geometry: Geometry
    packing: Packing
    contact: Contact = Contact()
    control: Control = Control()
    analysis: Analysis = Analysis()
    stages: list[Stage] = Field(min_length=1, max_length=32)
    sections: list[Section] = Field(
        default_factory=list, max_length=64,
        description="3D only: section planes for images and labels (default: the plane "
        "y = depth/2)",
    )

    @model_validator(mode="after")
    def _consistency(self) -> CaseSpec:
        self._check_stage_names()
        g = self.geometry
        if g.dimension == 2 and self.sections:
            raise ValueError(
                "sections: section planes are for 3D cells only (dimension: 3); the "
                "quasi-2D image is the plane of the centres"
            )
        if g.dimension == 3 and g.boundary != "walls":
            raise ValueError(
                f"geometry.boundary = {g.boundary!r}: a 3D cell is pressed along z between "
                "walls and is periodic in x and y; use boundary: walls"
            )
        width = self._check_widths()
        self._check_reference_width()
        self._check_expand_pressures()
        if g.dimension == 3:
            self._check_3d(width)
        self._check_controller_every()
        return self

    def _check_controller_every(self) -> None:
        n = self.control.controller_every
        if n == 1:
            return
        where = f"control.controller_every = {n}"
        if self.engine != "lammps":
            raise ValueError(f"{where}: implemented for engine lammps (got {self.engine}); "
                             "allowed there: 1")
        if any(isinstance(s, ExpandStage) for s in self.stages):
            raise ValueError(f"{where}: not with expand stages; allowed there: 1")

    def _check_stage_names(self) -> None:
        names = [s.name for s in self.stages]
        reserved = sorted(set(names) & RESERVED_STAGE_NAMES)
        if reserved:
            raise ValueError(
                f"stage names {reserved} are reserved (case-folder names: "
                f"{', '.join(sorted(RESERVED_STAGE_NAMES))})"
            )
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"stage names must be unique, repeated: {sorted(dup)}")

    def _check_widths(self) -> float:
        """Width-mode presses must compress; the SE and the AM must fit. Returns the width
        after the last width-mode press (µm)."""
        width = self.geometry.width_um
        for s in self.stages:
            if isinstance(s, PressStage) and s.mode == "width":
                if s.final_width_um >= width:
                    raise ValueError(
                        f"stage {s.name!r}: final_width_um = {s.final_width_um} must be smaller "
                        f"than the width before the stage ({width} µm)"
                    )
                width = s.final_width_um
        if self.packing.se_diameter_um > min(self.geometry.width_um, self.geometry.height_um):
            raise ValueError("se_diameter_um is larger than the cell")
        if _min_value(self.packing.am_diameter_mean_um) > min(width, self.geometry.height_um):
            raise ValueError(
                f"the AM mean diameter ({_min_value(self.packing.am_diameter_mean_um)} µm) does "
                f"not fit in the compressed cell ({width} × {self.geometry.height_um} µm)"
            )
        return width

    def _check_reference_width(self) -> None:
        """A given reference width must describe a compressed cell of this case: wide
        enough to hold one AM particle, and narrow enough that its AM fits into the initial
        cell (at most :data:`MAX_INITIAL_FILL` of it)."""
        p = self.packing
        ref = p.reference_width_um
        if ref is None:
            return
        w0 = self.geometry.width_um
        d_am = _min_value(p.am_diameter_mean_um)
        fill = MAX_INITIAL_FILL[self.geometry.dimension]
        widest = fill * w0 / p.am_area_fraction
        if not d_am <= ref <= widest:
            raise ValueError(
                f"packing.reference_width_um = {ref!r} µm: the AM fraction "
                f"{p.am_area_fraction:g} of a cell that wide must fit into the initial cell "
                f"(geometry.width_um = {w0:g} µm, filled to at most {fill:g}) and the cell must "
                f"hold one AM particle ({d_am:g} µm); allowed range [{d_am:g}, {widest:.4g}] µm"
            )

    def _check_expand_pressures(self) -> None:
        """An expand stage held at a pressure needs one (its own or an earlier stage's)."""
        last_pressure = None
        for s in self.stages:
            if isinstance(s, ExpandStage) and s.boundary == "pressure" and (
                s.pressure_mpa is None and last_pressure is None
            ):
                raise ValueError(
                    f"stage {s.name!r}: boundary: pressure needs pressure_mpa (no earlier "
                    "stage sets a pressure to hold)"
                )
            p = getattr(s, "pressure_mpa", None)
            if p is not None and not (isinstance(s, ExpandStage) and s.boundary == "gap"):
                last_pressure = p

    def _check_3d(self, final_width: float) -> None:
        """A 3D cell must hold its largest particle in every direction and its section
        planes must lie inside it."""
        g, p = self.geometry, self.packing
        lx, ly = g.height_um, self.depth_um
        d_max = largest_am_diameter_um(p)
        thinnest = min(("height_um (x)", lx), ("depth_um (y)", ly),
                       ("final width along z", final_width), key=lambda kv: kv[1])
        if thinnest[1] < d_max:
            raise ValueError(
                f"geometry: the 3D cell is too thin for its largest particle: "
                f"{thinnest[0]} = {thinnest[1]:g} µm < {d_max:g} µm, the largest AM diameter "
                f"(upper mean {_max_value(p.am_diameter_mean_um):g} + 3 × upper SD "
                f"{_max_value(p.am_diameter_sd_um):g} µm); allowed: every cell length ≥ the "
                "largest AM diameter"
            )
        for k, s in enumerate(self.sections):
            length = lx if s.axis == "x" else ly
            if not 0.0 <= s.position_um <= length:
                raise ValueError(
                    f"sections.{k}: plane {s.axis} = {s.position_um:g} µm lies outside the "
                    f"cell; allowed range [0, {length:g}] µm (the cell's {s.axis} length)"
                )
        labels = [s.label for s in self.sections]
        dup = {n for n in labels if labels.count(n) > 1}
        if dup:
            raise ValueError(f"sections: repeated section names {sorted(dup)}")

    # values that follow from the case's own data ---------------------------------
    @property
    def depth_um(self) -> float:
        """Nominal layer depth t of the quasi-2D mode, or the y length of a 3D cell (µm)."""
        if self.geometry.dimension == 3:
            return self.geometry.depth_um or self.geometry.height_um
        return self.geometry.depth_um or self.packing.se_diameter_um

    @property
    def section_planes(self) -> list[Section]:
        """3D: the section planes (default: y = depth/2); quasi-2D: empty."""
        if self.geometry.dimension != 3:
            return []
        return list(self.sections) or [Section(axis="y", position_um=0.5 * self.depth_um)]

    @property
    def reference_width_um(self) -> float:
        """Width of the compressed cell over which the AM area fraction is taken (µm)."""
        if self.packing.reference_width_um:
            return self.packing.reference_width_um
        for s in self.stages:
            if isinstance(s, PressStage) and s.mode == "width":
                return s.final_width_um
        return self.geometry.width_um


def validate_case(data: object, source: str | Path = "<spec>") -> CaseSpec:
    """Validate the structure of a case mapping (no card is read).

    :func:`assb_lmp.materials.resolve.parse_case` adds the cross-references to the cards;
    use that one for a case that is going to run.

    Raises
    ------
    SpecError
        Naming the source, the key, the value and the allowed range.
    """
    return validate_mapping(CaseSpec, data, source, "a case spec")


def dump_case(spec: CaseSpec) -> str:
    """The resolved spec as YAML text (every default written out)."""
    return yaml.safe_dump(
        spec.model_dump(mode="json"), sort_keys=False, default_flow_style=None
    )
