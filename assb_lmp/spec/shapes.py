"""AM particle shapes of a case: the shape models, their limits and sub-sphere counts.

The case model (:class:`assb_lmp.spec.case.EllipseShape`) checks a requested sphere count
against these; the body builder (:mod:`assb_lmp.build.multisphere`) uses the same
functions, so the spec and the builder cannot disagree.

A quasi-2D ellipse of aspect ratio ``AR = a / b`` is built from ``n`` spheres whose
centres span ``2 (a − b²/a) = 2 b (AR − 1/AR)`` on the major axis.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from assb_lmp.spec.validation import STRICT

Range = tuple[float, float]

#: Largest aspect ratio of an elliptical AM particle.
MAX_ASPECT_RATIO = 10.0
#: Most sub-spheres a multisphere body may have.
MAX_SPHERES = 64
#: Sub-sphere centres closer than this fraction of the minor semi-axis are not sensible.
MIN_SPACING_FRACTION = 0.05
#: Aspect ratios within this of 1 are circles (one sphere).
_CIRCLE_TOL = 1e-12


def default_spheres(aspect_ratio: float) -> int:
    """Default number of sub-spheres: ``2 ⌈6 (AR − 1)⌉ + 1`` (1 for a circle)."""
    if aspect_ratio <= 1.0 + _CIRCLE_TOL:
        return 1
    return 2 * math.ceil(6.0 * (aspect_ratio - 1.0) - 1e-9) + 1


def min_spheres(aspect_ratio: float) -> int:
    """Fewest sub-spheres that still make an ellipse: 1 for a circle, else 3."""
    return 1 if aspect_ratio <= 1.0 + _CIRCLE_TOL else 3


def max_spheres(aspect_ratio: float) -> int:
    """Most sub-spheres that are sensible: centre spacing ≥ MIN_SPACING_FRACTION × b.

    ``n ≤ 1 + 2 (AR − 1/AR) / MIN_SPACING_FRACTION``, and at most :data:`MAX_SPHERES`.
    """
    if aspect_ratio <= 1.0 + _CIRCLE_TOL:
        return 1
    n = 1 + int(math.floor(2.0 * (aspect_ratio - 1.0 / aspect_ratio) / MIN_SPACING_FRACTION
                           + 1e-9))
    return max(min(n, MAX_SPHERES), min_spheres(aspect_ratio))


class SphereShape(BaseModel):
    """AM particles are single spheres (the default)."""

    model_config = STRICT
    kind: Literal["sphere"] = "sphere"


class EllipseShape(BaseModel):
    """AM particles are ellipses built from overlapping spheres moved as rigid bodies.

    The drawn AM diameter is the *area-equivalent* diameter of the ellipse section, so the
    AM area fraction keeps its meaning. ``aspect_ratio`` (major / minor axis, ≥ 1) is a
    number or a ``[lo, hi]`` range from which each particle draws its own value
    (uniformly). ``spheres`` fixes the number of sub-spheres per body (default: chosen
    from the aspect ratio so that the union's circularity is within about 1 % of the
    ellipse's, see :mod:`assb_lmp.build.multisphere`). ``orientation_deg`` fixes the angle of
    the major axis to the press axis (x); default a uniformly random angle per particle.
    """

    model_config = STRICT
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
        lo, hi = (self.aspect_ratio, self.aspect_ratio) if isinstance(
            self.aspect_ratio, int | float) else self.aspect_ratio
        most = max_spheres(lo)
        if self.spheres > most:
            raise ValueError(
                f"spheres = {self.spheres} is more than sensible for aspect ratio {lo:g}: at "
                f"most {most} (sub-sphere centres closer than "
                f"{MIN_SPACING_FRACTION:g} of the minor semi-axis add nothing)"
            )
        least = min_spheres(hi)
        if self.spheres < least:
            raise ValueError(
                f"spheres = {self.spheres} cannot make an ellipse of aspect ratio {hi:g}: at "
                f"least {least} (fewer sub-spheres give a chain of beads)"
            )
        return self


AmShape = Annotated[SphereShape | EllipseShape, Field(discriminator="kind")]


