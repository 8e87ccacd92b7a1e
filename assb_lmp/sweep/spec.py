"""The sweep spec: a base case, axes of values, structures per point, split and options.

A *sweep spec* (``runs/<name>.yaml``) is a base case plus *axes* (dotted keys into the case
spec, each with a list, a range or seeded random draws of values) and a number of random
*structures* per point of the grid. These models validate it (unknown keys rejected, every
error naming the key, the value and the allowed range); :mod:`assb_lmp.sweep.expand` loads
a file and turns it into cases. :func:`default_label` and :func:`format_value` make the
readable parts of a case id.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assb_lmp.core.errors import SpecError
from assb_lmp.spec.case import SAFE_NAME

_STRICT = ConfigDict(extra="forbid", frozen=True)
_LABEL = r"^[A-Za-z][A-Za-z0-9]{0,15}$"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|[0-9]+))*$")
_FORMAT = r"^[0-9]{0,2}(\.[0-9]{1,2})?[eEfFgGd]$"
_VALUE_TEXT = re.compile(r"^[A-Za-z0-9\-]+$")
_UNIT_SUFFIX = re.compile(r"_(um|mpa|gpa|kpa|us|nn|um2)$")

Scalar = bool | int | float | str


def crc(text: str) -> int:
    """CRC-32 of a text: a stable small integer for seeding (not for security)."""
    return zlib.crc32(text.encode())


class RangeSpec(BaseModel):
    """Evenly spaced values from ``start`` to ``stop`` (inclusive): by ``step`` or ``num``."""

    model_config = _STRICT
    start: float
    stop: float
    step: float | None = Field(None, gt=0)
    num: int | None = Field(None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _check(self) -> RangeSpec:
        if (self.step is None) == (self.num is None):
            raise ValueError("give exactly one of step or num")
        if not (math.isfinite(self.start) and math.isfinite(self.stop)) or self.stop < self.start:
            raise ValueError(f"needs finite start <= stop, got start = {self.start}, "
                             f"stop = {self.stop}")
        if self.step is not None and (self.stop - self.start) / self.step > 100_000:
            raise ValueError("more than 100000 values; allowed range of the count [1, 100000]")
        return self

    def values(self) -> list[int | float]:
        """The values, as ints when start and step are whole numbers."""
        if self.num is not None:
            vals = np.linspace(self.start, self.stop, self.num)
            integral = all(float(v).is_integer() for v in (self.start, self.stop)) and (
                self.num == 1 or float((self.stop - self.start) / (self.num - 1)).is_integer())
        else:
            n = int(math.floor((self.stop - self.start) / self.step + 1e-9)) + 1
            vals = self.start + self.step * np.arange(n)
            integral = float(self.start).is_integer() and float(self.step).is_integer()
        if integral:
            return [int(round(v)) for v in vals]
        return [float(f"{v:.12g}") for v in vals]


class RandomSpec(BaseModel):
    """``count`` seeded random draws (sorted), rounded to ``decimals`` places."""

    model_config = _STRICT
    distribution: Literal["uniform", "loguniform", "integers"] = "uniform"
    low: float
    high: float
    count: int = Field(ge=1, le=100_000)
    decimals: int = Field(4, ge=0, le=12, description="rounding of uniform/loguniform draws")
    seed: int | None = Field(
        None, ge=0, le=2**31 - 1,
        description="default: derived from the sweep seed and the axis key",
    )

    @model_validator(mode="after")
    def _check(self) -> RandomSpec:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.high <= self.low:
            raise ValueError(f"needs finite low < high, got low = {self.low}, "
                             f"high = {self.high}")
        if self.distribution == "loguniform" and self.low <= 0:
            raise ValueError(f"loguniform needs low > 0, got {self.low}")
        if self.distribution == "integers" and self.high - self.low + 1 < self.count:
            raise ValueError(f"cannot draw {self.count} distinct integers from "
                             f"[{self.low}, {self.high}]")
        return self

    def values(self, key: str, sweep_seed: int) -> list[int | float]:
        """The draws of axis ``key`` (distinct, sorted)."""
        seed = self.seed if self.seed is not None else [sweep_seed, crc(key)]
        rng = np.random.default_rng(seed)
        if self.distribution == "integers":
            lo, hi = math.ceil(self.low), math.floor(self.high)
            vals = rng.choice(np.arange(lo, hi + 1), size=self.count, replace=False)
            return sorted(int(v) for v in vals)
        if self.distribution == "uniform":
            draws = rng.uniform(self.low, self.high, self.count)
        else:
            draws = np.exp(rng.uniform(math.log(self.low), math.log(self.high), self.count))
        vals = sorted({round(float(v), self.decimals) for v in draws})
        if len(vals) < self.count:
            raise SpecError(f"random draws of {key}: {self.count} values rounded to "
                            f"{self.decimals} decimals are not distinct; raise 'decimals'")
        return vals


class Axis(BaseModel):
    """One axis of the grid: a dotted key into the case spec and its values.

    Exactly one of ``values`` (a list), ``range`` or ``random``. ``label`` (letters and
    digits) and ``format`` (a Python format spec such as ``.2f``) make the case id.
    ``zip`` names an earlier axis with as many values: the two then vary together (one
    dimension of the grid) instead of forming a product. ``in_seed: false`` leaves the
    axis out of the case seed: cases that differ only in it get the same structure (for
    example ``engine``: one packing run in LAMMPS and in LIGGGHTS), and the dataset split,
    which goes by seed, keeps them together.
    """

    model_config = _STRICT
    label: str | None = Field(None, pattern=_LABEL)
    values: list[Scalar] | None = Field(None, min_length=1, max_length=100_000)
    range: RangeSpec | None = None
    random: RandomSpec | None = None
    format: str | None = Field(None, pattern=_FORMAT)
    zip: str | None = Field(None, description="key of an earlier axis to vary together with")
    in_seed: bool = Field(True, description="whether the axis value enters the case seed")

    @model_validator(mode="after")
    def _one_source(self) -> Axis:
        given = [k for k in ("values", "range", "random") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of values, range or random (got {given or 'none'})")
        if self.values is not None:
            seen = [json.dumps(v) for v in self.values]
            dup = sorted({s for s in seen if seen.count(s) > 1})
            if dup:
                raise ValueError(f"repeated values {dup}")
        return self


class Split(BaseModel):
    """Fractions of the train / validation / test split, the seed of its order, and the
    axis values held out of training.

    ``holdout`` maps an axis key to values of that axis; a case with any of them is never
    in train / val / test but in the ``holdout`` split (or ``excluded``, when its
    structure is also used in training; :func:`assb_lmp.learn.dataset.assign_split`).
    ``holdout_structures`` sets how many structures such a point gets.
    That the keys are axes and the values theirs is checked with the axes
    (:meth:`assb_lmp.sweep.expand.Sweep.holdout`).
    """

    model_config = _STRICT
    train: float = Field(0.64, ge=0, le=1)
    val: float = Field(0.16, ge=0, le=1)
    test: float = Field(0.20, ge=0, le=1)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    holdout: dict[str, list[Scalar]] = Field(
        default_factory=dict, description="axis key -> values held out of training")
    holdout_structures: int | None = Field(
        None, ge=1, le=100_000, description="structures at each grid point with a held-out "
        "value (default: the sweep's ``structures``): a few cases per held-out point measure "
        "generalisation without the cost of a full row of the grid")

    @model_validator(mode="after")
    def _sum(self) -> Split:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self

    @property
    def fractions(self) -> tuple[float, float, float]:
        """(train, val, test)."""
        return (self.train, self.val, self.test)


class SweepSpec(BaseModel):
    """A sweep: a base case, axes, structures per point, split and run options."""

    model_config = _STRICT
    name: str = Field(pattern=SAFE_NAME)
    description: str = ""
    seed: int = Field(0, ge=0, le=2**31 - 1, description="sweep seed (case seeds derive from it)")
    base: dict[str, Any] | str = Field(
        description="the base case: a mapping, or a case YAML path relative to the sweep file"
    )
    axes: dict[str, Axis] = Field(default_factory=dict)
    structures: int = Field(1, ge=1, le=100_000, description="random structures per point")
    seed_per: Literal["case", "structure"] = Field(
        "case", description="case: every case its own seed; structure: the seed depends only "
        "on the structure index (the same seed at every point)",
    )
    split: Split = Split()
    figures: bool = Field(False, description="draw each case's figures (slower)")
    analyze: bool = Field(True, description="labels and image of each case")
    templates: str | None = Field(None, description="user template folder (relative to the file)")
    train: dict[str, Any] = Field(
        default_factory=dict, description="overrides of learn.cnn.TrainConfig (demo --train)"
    )

    @field_validator("axes", mode="before")
    @classmethod
    def _axes(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        out = {}
        for key, axis in v.items():
            if not isinstance(key, str) or not _KEY.match(key):
                raise ValueError(f"axis key {key!r} is not a dotted key such as "
                                 "packing.am_area_fraction or stages.1.final_width_um")
            if key.split(".")[0] in ("name", "seed"):
                raise ValueError(f"axis key {key!r}: name and seed are set by the sweep")
            out[key] = {"values": axis} if isinstance(axis, list) else axis
        return out

    @field_validator("train")
    @classmethod
    def _train(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in v if not isinstance(k, str) or not k.isidentifier()]
        if bad:
            raise ValueError(f"training settings must be names, got {bad}")
        return v


def default_label(key: str) -> str:
    """Short id label of an axis key: initials of its last component without unit.

    ``geometry.width_um`` → ``w``; ``packing.am_area_fraction`` → ``aaf``.
    """
    last = _UNIT_SUFFIX.sub("", key.split(".")[-1])
    words = [w for w in last.split("_") if w]
    label = "".join(w[0] for w in words if w[0].isalnum()) or "x"
    return label if label[0].isalpha() else "x" + label


def format_value(value: Any, fmt: str | None = None) -> str:
    """A value as it appears in a case id (``.`` → ``p``, no ``+``)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int) and fmt is None:
        return str(value)
    if isinstance(value, int | float):
        return format(value, fmt or "g").replace("+", "").replace(".", "p")
    text = str(value)
    if not _VALUE_TEXT.match(text):
        raise SpecError(f"value {value!r} cannot be part of a case id (letters, digits, '-')")
    return text


def same_value(a: Any, b: Any) -> bool:
    """Whether two axis values are the same value (numbers to 1e-9 relative, bools and
    text exactly; a bool is never a number)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return type(a) is type(b) and a == b


def is_held_out(params: dict[str, Any], holdout: dict[str, list]) -> bool:
    """Whether a case's axis values (``params``) include a held-out value."""
    return any(key in params and any(same_value(params[key], v) for v in values)
               for key, values in holdout.items())
