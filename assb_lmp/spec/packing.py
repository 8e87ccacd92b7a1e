"""The packing part of the case model: AM and SE particles, their sizes and placement
(Komori §2.1.1 made definite; random polydisperse SE as the physical alternative)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from assb_lmp.spec.shapes import AmShape, Range, SphereShape
from assb_lmp.spec.validation import STRICT

#: Random SE packing: the largest SE fill of the free space it accepts (random discs jam
#: near 0.84 of the plane and spheres near 0.64 of space; the AM walls lower both), and the
#: truncation of the SE diameter draw as multiples of the mean diameter.
MAX_SE_FILL_FRACTION = 0.80
SE_DIAMETER_LIMITS = (0.5, 2.0)


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

    model_config = STRICT
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
    reference_width_um: float | None = Field(
        None, gt=0, le=2000,
        description="width of the compressed cell the AM fraction refers to (µm); its AM "
        "must fit into the initial cell, and it must hold one AM particle",
    )
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
