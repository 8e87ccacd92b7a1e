"""The process stages of a case: settle, press, hold, release and expand (pure data)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from assb_lmp.spec.validation import SAFE_NAME, STRICT

#: Stage names that would collide with folders of a case (outputs go to DIR/<stage>/).
RESERVED_STAGE_NAMES = frozenset({"dumps", "figures", "dataset", "failed", "tmp"})


class SettleStage(BaseModel):
    """Pre-load: servo the moving wall to a small pressure (default 1 MPa)."""

    model_config = STRICT
    kind: Literal["settle"]
    name: str = Field("settle", pattern=SAFE_NAME)
    pressure_mpa: float = Field(1.0, gt=0, le=10_000)


class PressStage(BaseModel):
    """Press to a final width (``mode: width``) or to a target pressure (``mode: pressure``)."""

    model_config = STRICT
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

    model_config = STRICT
    kind: Literal["hold"]
    name: str = Field("hold", pattern=SAFE_NAME)
    duration_us: float = Field(0.0, ge=0, le=1.0e4)


class ReleaseStage(BaseModel):
    """Servo the moving wall down to a stack pressure (e.g. 25 MPa)."""

    model_config = STRICT
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
    :mod:`assb_lmp.materials.vegard`.
    """

    model_config = STRICT
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

    model_config = STRICT
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


