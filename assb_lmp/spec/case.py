"""Typed, validated case specifications (YAML in, frozen pydantic models out).

Every user-facing quantity carries its unit in its name (``width_um``,
``pressure_mpa``); conversion to LAMMPS ``units micro`` happens in
:mod:`assb_lmp.units` and :mod:`assb_lmp.deck`, nowhere else.

Unknown keys are rejected. Every error names the file, the key, the value and the
allowed range, and is raised before LAMMPS is touched. Strings that can reach a deck
(case names, stage names, material names) are checked against strict patterns, so a
spec can never inject a LAMMPS command.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from assb_lmp.core.errors import SpecError
from assb_lmp.materials import cards as materials

#: A name that may reach a deck or a file name: letters, digits, ``_`` and ``-``.
SAFE_NAME = r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$"

_STRICT = ConfigDict(extra="forbid", frozen=True)

#: Stability limit of the time step as a fraction of the Rayleigh time. Measured on
#: this engine: 0.20 T_R (1.5e-4 µs for 1 µm LGPS) runs stable, 0.26 T_R pumps energy in.
DT_STABILITY_FRACTION = 0.20
#: Factor on the time step (default and stability limit) of an elastic-plastic ``mdr`` deck.
#: A plastically flattened contact unloads elastically over its enlarged contact radius, so
#: it is stiffer than a Hertz contact at the same force. Measured on the tiny mdr case pressed
#: to 500 MPa: 0.15 × Rayleigh time never converged (kinetic energy kept up by the stiff
#: contacts), 0.10 and 0.075 converged in 20,500 and 30,800 press steps.
MDR_DT_FACTOR = 0.5

Range = tuple[float, float]

#: Random SE packing: the largest SE fill of the free space it accepts (random discs jam
#: near 0.84 of the plane and spheres near 0.64 of space; the AM walls lower both), and the
#: truncation of the SE diameter draw as multiples of the mean diameter.
MAX_SE_FILL_FRACTION = 0.80
SE_DIAMETER_LIMITS = (0.5, 2.0)

#: Stage names that would collide with folders of a case (outputs go to DIR/<stage>/).
RESERVED_STAGE_NAMES = frozenset({"dumps", "figures", "dataset", "failed", "tmp"})


class Materials(BaseModel):
    """Material cards by name (file stem in ``potentials/`` or the user's card folder)."""

    model_config = _STRICT
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

    model_config = _STRICT
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
    :mod:`assb_lmp.mechanics`).
    """

    model_config = _STRICT
    axis: Literal["x", "y"] = "y"
    position_um: float = Field(description="position of the plane along its axis (µm)")
    name: str | None = Field(None, pattern=SAFE_NAME, description="default: <axis><position>")

    @property
    def label(self) -> str:
        """Folder name of the section's outputs (``y12p5`` for y = 12.5 µm)."""
        if self.name:
            return self.name
        return f"{self.axis}{self.position_um:g}".replace(".", "p").replace("-", "m")


class SphereShape(BaseModel):
    """AM particles are single spheres (the default)."""

    model_config = _STRICT
    kind: Literal["sphere"] = "sphere"


#: Largest aspect ratio of an elliptical AM particle.
MAX_ASPECT_RATIO = 10.0
#: Most sub-spheres a multisphere body may have.
MAX_SPHERES = 64


class EllipseShape(BaseModel):
    """AM particles are ellipses built from overlapping spheres moved as rigid bodies.

    The drawn AM diameter is the *area-equivalent* diameter of the ellipse section, so the
    AM area fraction keeps its meaning. ``aspect_ratio`` (major / minor axis, ≥ 1) is a
    number or a ``[lo, hi]`` range from which each particle draws its own value
    (uniformly). ``spheres`` fixes the number of sub-spheres per body (default: chosen
    from the aspect ratio so that the union's circularity is within about 1 % of the
    ellipse's, see :mod:`assb_lmp.multisphere`). ``orientation_deg`` fixes the angle of
    the major axis to the press axis (x); default a uniformly random angle per particle.
    """

    model_config = _STRICT
    kind: Literal["ellipse"]
    aspect_ratio: float | Range
    spheres: int | None = Field(None, ge=1, le=MAX_SPHERES,
                                description="sub-spheres per body (default: automatic)")
    orientation_deg: float | None = Field(None, ge=-180, le=180)

    @field_validator("aspect_ratio")
    @classmethod
    def _aspect(cls, v: float | Range) -> float | Range:
        lo, hi = (v, v) if isinstance(v, int | float) else v
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise ValueError(f"must be a number or an increasing [lo, hi] pair, got {v!r}")
        if lo < 1.0:
            raise ValueError(
                f"aspect ratio {lo!r} < 1 is impossible: it is major axis / minor axis of the "
                f"ellipse; allowed range [1, {MAX_ASPECT_RATIO:g}]"
            )
        if hi > MAX_ASPECT_RATIO:
            raise ValueError(f"aspect ratio {hi!r} is above {MAX_ASPECT_RATIO:g}; allowed range "
                             f"[1, {MAX_ASPECT_RATIO:g}]")
        return v

    @model_validator(mode="after")
    def _sphere_count(self) -> EllipseShape:
        if self.spheres is None:
            return self
        from assb_lmp.build import multisphere

        lo, hi = (self.aspect_ratio, self.aspect_ratio) if isinstance(
            self.aspect_ratio, int | float) else self.aspect_ratio
        most = multisphere.max_spheres(lo)
        if self.spheres > most:
            raise ValueError(
                f"spheres = {self.spheres} is more than sensible for aspect ratio {lo:g}: at "
                f"most {most} (sub-sphere centres closer than "
                f"{multisphere.MIN_SPACING_FRACTION:g} of the minor semi-axis add nothing)"
            )
        least = multisphere.min_spheres(hi)
        if self.spheres < least:
            raise ValueError(
                f"spheres = {self.spheres} cannot make an ellipse of aspect ratio {hi:g}: at "
                f"least {least} (fewer sub-spheres give a chain of beads)"
            )
        return self


AmShape = Annotated[SphereShape | EllipseShape, Field(discriminator="kind")]


class Packing(BaseModel):
    """Packing parameters (Komori §2.1.1).

    AM mean diameter and SD are either fixed numbers or ``[lo, hi]`` ranges from which
    one value is drawn per structure. The AM area fraction refers to the *compressed*
    cell (``reference_width_um`` × height; default the final width of the first
    width-mode press stage, else the initial width). In 3D it is the AM *volume* fraction of
    the cell ``height × depth × reference_width_um``, and ``se_lattice`` is simple cubic
    (``square``) or fcc (``hex``). ``se_packing: random`` replaces the SE lattice by random
    polydisperse particles (``se_diameter_sd_um``, ``se_size_distribution``,
    ``se_fill_fraction``); ``collapse: geometric`` starts the cell at the width of the
    pre-load.
    """

    model_config = _STRICT
    am_area_fraction: float = Field(gt=0, le=0.80)
    am_diameter_mean_um: float | Range = (9.0, 12.0)
    am_diameter_sd_um: float | Range = (0.0, 2.0)
    am_diameter_min_um: float = Field(2.0, gt=0, description="truncation of the AM size draw (µm)")
    se_diameter_um: float = Field(1.0, gt=0, le=50)
    se_lattice: Literal["square", "hex"] = "square"
    se_lattice_pitch_um: float | None = Field(
        None, gt=0, le=100,
        description="distance between SE lattice sites (µm, default the SE diameter: discs "
        "touching). With touching discs, Komori's widths (46-55 µm pressed to 40 µm) drive "
        "the 2D solid fraction to 0.93-1.13; a larger pitch fills less SE",
    )
    reference_width_um: float | None = Field(None, gt=0)
    max_attempts: int = Field(200_000, ge=1000, le=10_000_000)
    am_shape: AmShape = Field(
        default_factory=SphereShape,
        description="shape of the AM particles: sphere (default) or multisphere ellipse",
    )
    se_packing: Literal["lattice", "random"] = Field(
        "lattice", description="SE placement: ``lattice`` sites that overlap no AM particle, "
        "filled exhaustively (Komori's reproduction, the default), or ``random``: discs "
        "(3D: spheres) with diameters from se_size_distribution, placed by random sequential "
        "addition and densified by a collective rearrangement up to se_fill_fraction",
    )
    se_diameter_sd_um: float = Field(
        0.0, ge=0, le=10, description="random SE only: SD of the SE diameter (µm); the mean "
        "is se_diameter_um; draws are truncated to se_diameter_bounds_um",
    )
    se_size_distribution: Literal["normal", "lognormal"] = Field(
        "normal", description="random SE only: distribution of the SE diameter (mean "
        "se_diameter_um, SD se_diameter_sd_um)",
    )
    se_fill_fraction: float = Field(
        0.60, gt=0, le=MAX_SE_FILL_FRACTION, description="random SE only: SE area (3D: "
        "volume) as a fraction of the initial cell area the AM leaves free (the square "
        "lattice of the Komori case fills about 0.61 of it)",
    )
    collapse: Literal["none", "geometric"] = Field(
        "none", description="``geometric``: the packer collapses the cell along the press "
        "axis to first jamming (frictionless, at rest, overlaps of about 0.01 % of a "
        "diameter) so that the pre-load starts at contact instead of crossing the loose "
        "gap; the material (set by the initial width) and the press to the final width are "
        "unchanged, the cell just starts at its jammed width (assb_lmp.build.collapse)",
    )

    @model_validator(mode="after")
    def _se_options(self) -> Packing:
        # compared with the defaults, not with the keys given: a resolved spec (every
        # default written out) must load again
        if self.se_packing == "lattice":
            extra = [k for k, v in (("se_diameter_sd_um", self.se_diameter_sd_um > 0),
                                    ("se_size_distribution",
                                     self.se_size_distribution != "normal"),
                                    ("se_fill_fraction", self.se_fill_fraction != 0.60)) if v]
            if extra:
                raise ValueError(
                    f"{', '.join(extra)} applies to se_packing: random only (a lattice has "
                    "one SE diameter and fills every free site)"
                )
        elif self.se_lattice != "square" or self.se_lattice_pitch_um is not None:
            raise ValueError("se_lattice and se_lattice_pitch_um apply to se_packing: "
                             "lattice only")
        if self.collapse == "geometric" and self.am_shape.kind != "sphere":
            raise ValueError("collapse: geometric needs round AM particles (am_shape: sphere); "
                             "multisphere bodies are collapsed by the pre-load only")
        return self

    @field_validator("am_diameter_mean_um", "am_diameter_sd_um")
    @classmethod
    def _range(cls, v: float | Range, info) -> float | Range:
        lo, hi = (v, v) if isinstance(v, int | float) else v
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise ValueError(f"must be a number or an increasing [lo, hi] pair, got {v!r}")
        if info.field_name == "am_diameter_mean_um" and not (0 < lo and hi <= 200):
            raise ValueError(f"AM mean diameter must lie in (0, 200] µm, got {v!r}")
        if info.field_name == "am_diameter_sd_um" and not (0 <= lo and hi <= 50):
            raise ValueError(f"AM diameter SD must lie in [0, 50] µm, got {v!r}")
        return v


class Contact(BaseModel):
    """Contact law: Hertz (``hertz/material``) + damping + tangential history + friction.

    ``normal: mdr`` makes the contacts elastic-plastic with LAMMPS's ``mdr`` normal model
    (Zunker & Gonzalez 2024) with the SE card's E, ν and yield stress. LAMMPS allows one
    mdr parameter set per deck and no other model beside it, so with ``mdr`` *every*
    contact, AM included, uses the SE's model; see ``docs/plasticity.md``.
    """

    model_config = _STRICT
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


class Control(BaseModel):
    """Quasi-static control of every stage.

    The wall strain rate is capped by the inertial number, rate ≤ I √(P/ρ) / d
    (d, ρ of the SE; P the current mean wall pressure, floored at ``pressure_floor_mpa``),
    and in pressure stages follows the servo error with a time constant of
    ``servo_transit_times`` wave-transit times of the cell.
    """

    model_config = _STRICT
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


class SettleStage(BaseModel):
    """Pre-load: servo the moving wall to a small pressure (default 1 MPa)."""

    model_config = _STRICT
    kind: Literal["settle"]
    name: str = Field("settle", pattern=SAFE_NAME)
    pressure_mpa: float = Field(1.0, gt=0, le=10_000)


class PressStage(BaseModel):
    """Press to a final width (``mode: width``) or to a target pressure (``mode: pressure``)."""

    model_config = _STRICT
    kind: Literal["press"]
    name: str = Field("press", pattern=SAFE_NAME)
    mode: Literal["width", "pressure"]
    final_width_um: float | None = Field(None, gt=0)
    pressure_mpa: float | None = Field(None, gt=0, le=10_000)

    @model_validator(mode="after")
    def _mode_fields(self) -> PressStage:
        if self.mode == "width" and self.final_width_um is None:
            raise ValueError("mode: width needs final_width_um")
        if self.mode == "pressure" and self.pressure_mpa is None:
            raise ValueError("mode: pressure needs pressure_mpa")
        if self.mode == "width" and self.pressure_mpa is not None:
            raise ValueError("mode: width takes final_width_um, not pressure_mpa")
        if self.mode == "pressure" and self.final_width_um is not None:
            raise ValueError("mode: pressure takes pressure_mpa, not final_width_um")
        return self


class HoldStage(BaseModel):
    """Hold the current boundary state for a time (µs), then until the packing is at rest."""

    model_config = _STRICT
    kind: Literal["hold"]
    name: str = Field("hold", pattern=SAFE_NAME)
    duration_us: float = Field(0.0, ge=0, le=1.0e4)


class ReleaseStage(BaseModel):
    """Servo the moving wall down to a stack pressure (e.g. 25 MPa)."""

    model_config = _STRICT
    kind: Literal["release"]
    name: str = Field("release", pattern=SAFE_NAME)
    pressure_mpa: float = Field(25.0, gt=0, le=10_000)


class Vegard(BaseModel):
    """Volume strain from the lattice of the AM card's end members (Vegard's law).

    The state of charge ``s`` maps to the lithiation ``y`` between the delithiated (0) and
    lithiated (1) end members of the card: ``y = 1 − s`` for a positive electrode (made
    lithiated, charging removes Li), ``y = s`` for a negative one. ``electrode: auto``
    takes *positive* when the card's formula starts with ``Li`` and *negative* otherwise.
    The strain is ``V(y_to) / V(y_from) − 1`` with V the volume per host unit, see
    :mod:`assb_lmp.vegard`.
    """

    model_config = _STRICT
    state_of_charge: float = Field(ge=0, le=1, description="state of charge after the stage")
    from_state_of_charge: float = Field(0.0, ge=0, le=1,
                                        description="state of charge before the stage")
    electrode: Literal["auto", "positive", "negative"] = "auto"


#: Allowed range of a requested AM volume strain.
VOLUME_STRAIN_RANGE = (-0.5, 3.0)


class ExpandStage(BaseModel):
    """Vegard expansion (or contraction) of the AM by radius growth, gradual over the stage.

    The amount is ``volume_strain`` (positive: swelling, negative: shrinking) or a
    ``vegard`` request computed from the card's lattice data. ``basis: volume`` (default)
    reads the strain as a change of the 3D particle volume (lengths scale by
    ``(1 + e)^(1/3)``: the bodies are spheres and sphere clusters); ``basis: area`` as a
    change of the quasi-2D section area (lengths scale by ``(1 + e)^(1/2)``). During and
    after the growth the moving wall either holds a pressure (``boundary: pressure``,
    default the last pressure target of the earlier stages, e.g. the 25 MPa stack pressure)
    or stays where it is (``boundary: gap``). Rigid multisphere bodies grow in
    ``increments`` steps (default: automatic, each step moves an AM surface by at most
    ``max_increment_um``); spheres grow continuously.
    """

    model_config = _STRICT
    kind: Literal["expand"]
    name: str = Field("expand", pattern=SAFE_NAME)
    volume_strain: float | None = Field(None, description="AM volume strain (−) e.g. 0.10")
    vegard: Vegard | None = None
    basis: Literal["volume", "area"] = "volume"
    boundary: Literal["pressure", "gap"] = "pressure"
    pressure_mpa: float | None = Field(None, gt=0, le=10_000)
    increments: int | None = Field(None, ge=1, le=5000)
    max_increment_um: float = Field(
        0.002, gt=0, le=0.1,
        description="rigid bodies: largest step of an AM surface per growth increment (µm)",
    )
    growth_strain_rate: float | None = Field(
        None, gt=0, le=10,
        description="linear strain rate of the growth (1/µs); default: the inertial-number "
        "cap of the controller at the stage's pressure",
    )

    @model_validator(mode="after")
    def _amount(self) -> ExpandStage:
        if (self.volume_strain is None) == (self.vegard is None):
            raise ValueError("give exactly one of volume_strain and vegard")
        lo, hi = VOLUME_STRAIN_RANGE
        if self.volume_strain is not None and not lo < self.volume_strain <= hi:
            raise ValueError(f"volume_strain = {self.volume_strain!r} outside the allowed "
                             f"range ({lo}, {hi}]")
        if self.boundary == "gap" and self.pressure_mpa is not None:
            raise ValueError("boundary: gap holds the wall still; it takes no pressure_mpa")
        return self


Stage = Annotated[
    SettleStage | PressStage | HoldStage | ReleaseStage | ExpandStage,
    Field(discriminator="kind"),
]


class CaseSpec(BaseModel):
    """One DEM case: materials, geometry, packing, contact law, control and stages."""

    model_config = _STRICT
    name: str = Field(pattern=SAFE_NAME)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    materials: Materials = Materials()
    geometry: Geometry
    packing: Packing
    contact: Contact = Contact()
    control: Control = Control()
    stages: list[Stage] = Field(min_length=1, max_length=32)
    sections: list[Section] = Field(
        default_factory=list, max_length=64,
        description="3D only: section planes for images and labels (default: the plane "
        "y = depth/2)",
    )

    @model_validator(mode="after")
    def _consistency(self) -> CaseSpec:
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
        width = self.geometry.width_um
        for s in self.stages:
            if isinstance(s, PressStage) and s.mode == "width":
                if s.final_width_um >= width:
                    raise ValueError(
                        f"stage {s.name!r}: final_width_um = {s.final_width_um} must be smaller "
                        f"than the width before the stage ({width} µm)"
                    )
                width = s.final_width_um
        maxd = _max_value(self.packing.am_diameter_mean_um) + 4 * _max_value(
            self.packing.am_diameter_sd_um
        )
        if self.packing.se_diameter_um > min(self.geometry.width_um, self.geometry.height_um):
            raise ValueError("se_diameter_um is larger than the cell")
        if _min_value(self.packing.am_diameter_mean_um) > min(width, self.geometry.height_um):
            raise ValueError(
                f"the AM mean diameter ({_min_value(self.packing.am_diameter_mean_um)} µm) does "
                f"not fit in the compressed cell ({width} × {self.geometry.height_um} µm)"
            )
        del maxd
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
        if g.dimension == 3:
            self._check_3d(width)
        return self

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

    # derived values ------------------------------------------------------------
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

    def cards(self) -> dict[str, materials.Material]:
        """The three material cards, loaded and validated."""
        return {
            "am": materials.get(self.materials.am),
            "se": materials.get(self.materials.se),
            "wall": materials.get(self.materials.wall),
        }


def se_diameter_bounds_um(p: Packing) -> tuple[float, float]:
    """Smallest and largest SE diameter a packing can draw (µm).

    One diameter for a lattice or a zero SD. Otherwise mean ∓ 3 SD (normal) or the
    median × exp(∓3 s) (lognormal, s the SD of the log), kept within
    :data:`SE_DIAMETER_LIMITS` × the mean.
    """
    d, sd = p.se_diameter_um, p.se_diameter_sd_um
    if p.se_packing == "lattice" or sd == 0:
        return d, d
    if p.se_size_distribution == "normal":
        lo, hi = d - 3.0 * sd, d + 3.0 * sd
    else:
        s2 = math.log1p((sd / d) ** 2)
        median = d / math.sqrt(1.0 + (sd / d) ** 2)
        lo, hi = median * math.exp(-3.0 * math.sqrt(s2)), median * math.exp(3.0 * math.sqrt(s2))
    return max(lo, SE_DIAMETER_LIMITS[0] * d), min(hi, SE_DIAMETER_LIMITS[1] * d)


def largest_am_diameter_um(p: Packing) -> float:
    """Largest AM diameter a packing can draw (µm): the upper mean + 3 × the upper SD
    (the 3D packer truncates its draw there)."""
    return _max_value(p.am_diameter_mean_um) + 3.0 * _max_value(p.am_diameter_sd_um)


def _max_value(v: float | Range) -> float:
    return float(v) if isinstance(v, int | float) else float(v[1])


def _min_value(v: float | Range) -> float:
    return float(v) if isinstance(v, int | float) else float(v[0])


def rayleigh_time_us(radius_um: float, mat: materials.Material) -> float:
    """Rayleigh time T_R = π r √(ρ/G) / (0.1631 ν + 0.8766) (µs).

    Parameters
    ----------
    radius_um : float
        Particle radius (µm).
    mat : Material
        Card giving ρ (g/cm³ = pg/µm³), E (GPa) and ν.
    """
    g_kpa = mat.G_gpa * 1.0e6
    return math.pi * radius_um * math.sqrt(mat.rho / g_kpa) / (0.1631 * mat.nu + 0.8766)


def critical_timestep_us(spec: CaseSpec) -> float:
    """Smallest Rayleigh time over the particle kinds of a case (µs)."""
    cards = spec.cards()
    r_se = 0.5 * se_diameter_bounds_um(spec.packing)[0]
    r_am = 0.5 * spec.packing.am_diameter_min_um
    return min(rayleigh_time_us(r_se, cards["se"]), rayleigh_time_us(r_am, cards["am"]))


def timestep_us(spec: CaseSpec) -> float:
    """The time step a case runs with (µs): given, or safety × Rayleigh time.

    Elastic-plastic (``contact.normal: mdr``) decks use :data:`MDR_DT_FACTOR` times the
    default and the limit.

    Raises
    ------
    SpecError
        If a given time step exceeds the stability limit.
    """
    t_r = critical_timestep_us(spec)
    factor = MDR_DT_FACTOR if spec.contact.normal == "mdr" else 1.0
    if spec.control.timestep_us is None:
        return factor * spec.control.timestep_safety * t_r
    limit = factor * DT_STABILITY_FRACTION * t_r
    if spec.control.timestep_us > limit:
        raise SpecError(
            f"control.timestep_us = {spec.control.timestep_us!r}: above the stability limit; "
            f"allowed range (0, {limit:.3e}] µs ({factor * DT_STABILITY_FRACTION:.2f} × Rayleigh "
            f"time {t_r:.3e} µs of the smallest, stiffest particle"
            + (", halved for the mdr contact)" if factor != 1.0 else ")")
        )
    return spec.control.timestep_us


def expand_volume_strain(spec: CaseSpec, stage: ExpandStage) -> float:
    """The AM volume strain of an expand stage (−): given, or by Vegard's law from the card.

    Raises
    ------
    SpecError
        For a Vegard request on a card without lattice data.
    """
    if stage.volume_strain is not None:
        return float(stage.volume_strain)
    from assb_lmp.materials import vegard

    v = stage.vegard
    e = vegard.volume_strain(spec.cards()["am"], v.from_state_of_charge, v.state_of_charge,
                             v.electrode)
    lo, hi = VOLUME_STRAIN_RANGE
    if not lo < e <= hi:
        raise SpecError(
            f"vegard: the card {spec.materials.am!r} gives a volume strain of {e:+.4f} between "
            f"states of charge {v.from_state_of_charge:g} and {v.state_of_charge:g}, outside "
            f"the range ({lo}, {hi}] the growth can follow"
        )
    return e


def parse_case(data: dict, source: str | Path = "<spec>") -> CaseSpec:
    """Validate a case mapping and its cross-references (cards, time step).

    Raises
    ------
    SpecError
        Naming the source, the key, the value and the allowed range.
    """
    spec = materials.validate_mapping(CaseSpec, data, source, "a case spec")
    try:
        spec.cards()
        timestep_us(spec)
        for k, s in enumerate(spec.stages):
            if isinstance(s, ExpandStage):
                try:
                    expand_volume_strain(spec, s)
                except SpecError as exc:
                    raise SpecError(f"stages.{k} ({s.name}): {exc}") from None
        check_plastic(spec)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None
    return spec


def check_plastic(spec: CaseSpec) -> None:
    """An elastic-plastic contact needs the SE card's yield stress.

    Raises
    ------
    SpecError
        ``contact.normal: mdr`` with an SE card whose ``yield_stress_mpa`` is missing.
    """
    if spec.contact.normal != "mdr":
        return
    se = spec.cards()["se"]
    if spec.contact.mdr_yield_mpa is not None:
        return
    if se.yield_mpa is None or not se.yield_mpa > 0:
        raise SpecError(
            f"contact.normal = 'mdr' (elastic-plastic) needs the yield stress of the SE card "
            f"{se.name!r}, but its yield_stress_mpa is {se.yield_mpa!r}; allowed: a positive "
            "value in MPa. Give the card a sourced yield_stress_mpa (a user card in the card "
            "folder shadows the built-in one), set contact.mdr_yield_mpa, or use "
            "contact.normal: hertz"
        )


def load_case(path: str | Path) -> CaseSpec:
    """Load and validate a case spec from a YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    return parse_case(data, path)


def dump_case(spec: CaseSpec) -> str:
    """The resolved spec as YAML (every default written out)."""
    return yaml.safe_dump(
        spec.model_dump(mode="json"), sort_keys=False, default_flow_style=None
    )
