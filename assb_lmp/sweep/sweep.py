"""Sweeps: many cases from one YAML file, run locally or on MPI, resumable, nothing lost.

A *sweep spec* is a base case plus *axes* (dotted keys into the case spec, each with a
list, a range or seeded random draws of values) and a number of random *structures* per
point of the grid. :func:`expand` turns it into validated :class:`Case` objects with
stable, readable ids (``f0p63_w50_s03``: axis labels and values, ``.`` written ``p``, and
the structure index) and seeds that are a deterministic function of the sweep seed, the
structure index and (by default) the point's values, so that a case keeps its seed and
its result when the sweep is extended or run on another machine.

Layout of a sweep folder ``DIR`` (default ``runs/<sweep name>/``):

``DIR/sweep.yaml``
    the resolved sweep spec (base case inlined), loadable again;
``DIR/cases.json``
    the expanded case list (id, seed, structure index, axis values);
``DIR/<case_id>/``
    a complete case folder (ARCHITECTURE.md); it appears only when the case is complete:
    each case runs in ``DIR/.tmp/<case_id>.<pid>/`` and is moved into place with one
    ``os.replace`` when it has finished;
``DIR/failed/<case_id>.json`` and ``DIR/failed/<case_id>/``
    why a case failed, and its folder (deck, LAMMPS log, ``error.json``);
``DIR/dataset/``
    written by :func:`assb_lmp.learn.dataset.export`.

A sweep holds ``DIR/.lock`` (an ``flock``, released by the kernel when the process dies)
while it runs, so two sweeps never share a folder and a restarted sweep may clear the
leftovers of a killed one. Started again, a sweep skips finished cases, redoes unfinished
ones and (unless asked to retry them) skips recorded failures.

Locally, cases run one per worker process (``forkserver`` start method; every process
opens its own LAMMPS instance). As always with that start method, a script that calls
:func:`run` must guard its top level with ``if __name__ == "__main__":`` (workers import
the main script); ``python -m assb_lmp sweep`` needs nothing. Under ``mpirun`` the
world is split into groups of ``ranks_per_case`` ranks; each group runs cases on its own
sub-communicator, handed out one at a time by a scheduler thread on rank 0, whose own
group computes as well.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import hashlib
import itertools
import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import connection as mp_connection
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assb_lmp.core import resources
from assb_lmp.core.errors import AssbError, SpecError
from assb_lmp.materials import cards as materials
from assb_lmp.materials import resolve
from assb_lmp.spec import case as config

log = logging.getLogger(__name__)

SWEEP_FILE = "sweep.yaml"
CASES_FILE = "cases.json"
FAILED_DIR = "failed"
TMP_DIR = ".tmp"
LOCK_FILE = ".lock"
CASE_INFO = "sweep_case.json"
SUMMARY = "summary.json"

_STRICT = ConfigDict(extra="forbid", frozen=True)
_LABEL = r"^[A-Za-z][A-Za-z0-9]{0,15}$"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|[0-9]+))*$")
_FORMAT = r"^[0-9]{0,2}(\.[0-9]{1,2})?[eEfFgGd]$"
_VALUE_TEXT = re.compile(r"^[A-Za-z0-9\-]+$")
_UNIT_SUFFIX = re.compile(r"_(um|mpa|gpa|kpa|us|nn|um2)$")
_MAX_CASES = 1_000_000

Scalar = bool | int | float | str


# ----------------------------------------------------------------------------- spec


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
        seed = self.seed if self.seed is not None else [sweep_seed, _crc(key)]
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
    dimension of the grid) instead of forming a product.
    """

    model_config = _STRICT
    label: str | None = Field(None, pattern=_LABEL)
    values: list[Scalar] | None = Field(None, min_length=1, max_length=100_000)
    range: RangeSpec | None = None
    random: RandomSpec | None = None
    format: str | None = Field(None, pattern=_FORMAT)
    zip: str | None = Field(None, description="key of an earlier axis to vary together with")

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
    """Fractions of the train / validation / test split and the seed of its order."""

    model_config = _STRICT
    train: float = Field(0.64, ge=0, le=1)
    val: float = Field(0.16, ge=0, le=1)
    test: float = Field(0.20, ge=0, le=1)
    seed: int = Field(0, ge=0, le=2**31 - 1)

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
    name: str = Field(pattern=config.SAFE_NAME)
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


@dataclass(frozen=True)
class Case:
    """One expanded case of a sweep.

    Attributes
    ----------
    id : str
        Case id = case name = folder name.
    seed : int
        The case's seed (structure seed).
    structure : int
        Structure index at its grid point.
    params : dict
        Axis key → value.
    spec : CaseSpec
        The validated case.
    """

    id: str
    seed: int
    structure: int
    params: dict[str, Any]
    spec: config.CaseSpec

    @property
    def spec_hash(self) -> str:
        """SHA-256 of the resolved spec (every default written out)."""
        return spec_hash(self.spec)

    def record(self) -> dict[str, Any]:
        """The entry of ``cases.json``."""
        return {"id": self.id, "seed": self.seed, "structure": self.structure,
                "params": self.params, "spec_hash": self.spec_hash}

    def __reduce__(self) -> tuple:
        # travels to worker processes and MPI ranks as plain data, validated again there
        return (_rebuild_case, (self.id, self.seed, self.structure, self.params,
                                self.spec.model_dump(mode="json")))


def _rebuild_case(cid: str, seed: int, structure: int, params: dict[str, Any],
                  spec: dict[str, Any]) -> Case:
    return Case(cid, seed, structure, params, resolve.parse_case(spec, f"case {cid}"))


@dataclass
class Sweep:
    """A loaded sweep spec.

    Attributes
    ----------
    spec : SweepSpec
    source : Path or str
        Where it came from (named in errors).
    base : dict
        The base case mapping (loaded when ``spec.base`` is a path).
    templates : Path or None
        User template folder, resolved.
    base_file : Path or None
        The case file the base came from.
    """

    spec: SweepSpec
    source: Path | str
    base: dict[str, Any]
    templates: Path | None = None
    base_file: Path | None = None
    _cases: list[Case] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """Sweep name."""
        return self.spec.name

    def axis_values(self) -> dict[str, list]:
        """Axis key → list of values, in grid order."""
        out = {}
        for key, axis in self.spec.axes.items():
            if axis.values is not None:
                out[key] = list(axis.values)
            elif axis.range is not None:
                out[key] = axis.range.values()
            else:
                out[key] = axis.random.values(key, self.spec.seed)
        return out

    def labels(self) -> dict[str, str]:
        """Axis key → label used in case ids."""
        labels = {k: a.label or default_label(k) for k, a in self.spec.axes.items()}
        seen: dict[str, str] = {}
        for k, lab in labels.items():
            if lab in seen:
                raise SpecError(f"{self.source}: axes {seen[lab]} and {k} both have the id "
                                f"label {lab!r}; give them distinct 'label's")
            seen[lab] = k
        return labels

    def cases(self) -> list[Case]:
        """The expanded, validated cases (cached); see :func:`expand`."""
        if self._cases is None:
            self._cases = expand(self)
        return self._cases

    def resolved(self) -> dict[str, Any]:
        """The sweep as a self-contained mapping (base inlined, template path absolute)."""
        data = self.spec.model_dump(mode="json", exclude_none=True)
        data["base"] = self.base
        if self.templates is not None:
            data["templates"] = str(self.templates)
        return data


def default_label(key: str) -> str:
    """Short id label of an axis key: initials of its last component without unit.

    ``geometry.width_um`` → ``w``; ``packing.am_area_fraction`` → ``aaf``.
    """
    last = _UNIT_SUFFIX.sub("", key.split(".")[-1])
    words = [w for w in last.split("_") if w]
    label = "".join(w[0] for w in words if w[0].isalnum()) or "x"
    return label if label[0].isalpha() else "x" + label


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


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


def spec_hash(spec: config.CaseSpec) -> str:
    """SHA-256 of a resolved case spec."""
    text = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def case_seed(sweep_seed: int, structure: int, params: dict[str, Any] | None) -> int:
    """Seed of a case: SeedSequence of the sweep seed, structure index and point values.

    ``params=None`` gives the seed of structure ``structure`` at every point.
    """
    entropy = [int(sweep_seed), int(structure)]
    if params is not None:
        entropy.append(_crc(json.dumps(params, sort_keys=True)))
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0]
    return int(state) & 0x7FFFFFFF


def _set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise SpecError(f"{source}: axes.{key}: {where} is not an index of a list of "
                                f"{len(node)} items (allowed range [0, {len(node) - 1}])")
            idx = int(part)
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise SpecError(f"{source}: axes.{key}: {'.'.join(parts[:i])} is a value "
                            f"({node!r}), not a section")


def _dimensions(sweep: Sweep, values: dict[str, list]) -> list[list[str]]:
    """Grid dimensions: lists of axis keys that vary together (``zip``)."""
    dims: list[list[str]] = []
    where: dict[str, int] = {}
    for key, axis in sweep.spec.axes.items():
        if axis.zip is None:
            where[key] = len(dims)
            dims.append([key])
            continue
        if axis.zip not in where:
            raise SpecError(f"{sweep.source}: axes.{key}.zip = {axis.zip!r}: not an earlier axis "
                            f"(allowed: {sorted(where)})")
        n, m = len(values[axis.zip]), len(values[key])
        if n != m:
            raise SpecError(f"{sweep.source}: axes.{key}: {m} values, but zipped axis "
                            f"{axis.zip} has {n}; allowed: exactly {n}")
        where[key] = where[axis.zip]
        dims[where[key]].append(key)
    return dims


def expand(sweep: Sweep) -> list[Case]:
    """All cases of a sweep: the grid of axis values times the structures.

    Every case spec is the base case deep-merged with the point's values, a ``seed`` and
    ``name`` = case id, validated by :func:`assb_lmp.materials.resolve.parse_case`.

    Raises
    ------
    SpecError
        Naming the sweep file, the case and its values, the key and the allowed range.
    """
    spec = sweep.spec
    values = sweep.axis_values()
    labels = sweep.labels()
    keys = list(values)
    dims = _dimensions(sweep, values)
    total = math.prod(len(values[d[0]]) for d in dims) * spec.structures
    if total > _MAX_CASES:
        raise SpecError(f"{sweep.source}: {total} cases; allowed range [1, {_MAX_CASES}]")
    texts = {}
    for key in keys:
        fmt = spec.axes[key].format
        shown = [format_value(v, fmt) for v in values[key]]
        if len(set(shown)) != len(shown):
            raise SpecError(f"{sweep.source}: axes.{key}: values {values[key]} look alike in "
                            f"case ids ({shown}); give a 'format' such as '.3f'")
        texts[key] = dict(zip(map(json.dumps, values[key]), shown, strict=True))
    width = max(2, len(str(spec.structures - 1)))
    cases: list[Case] = []
    for combo in itertools.product(*(range(len(values[d[0]])) for d in dims)):
        chosen = {k: values[k][i] for d, i in zip(dims, combo, strict=True) for k in d}
        params = {k: chosen[k] for k in keys}
        stem = "_".join(f"{labels[k]}{texts[k][json.dumps(v)]}" for k, v in params.items())
        for s in range(spec.structures):
            cid = f"{stem}_s{s:0{width}d}" if stem else f"s{s:0{width}d}"
            if not re.match(config.SAFE_NAME, cid):
                raise SpecError(f"{sweep.source}: case id {cid!r} is not a safe name "
                                f"({config.SAFE_NAME}; at most 64 characters); shorten the "
                                "axis labels or formats")
            seed = case_seed(spec.seed, s, params if spec.seed_per == "case" else None)
            data = copy.deepcopy(sweep.base)
            where = f"{sweep.source}: case {cid}"
            if sweep.base_file is not None:
                where += f" (base {sweep.base_file})"
            for k, v in params.items():
                _set_dotted(data, k, v, str(sweep.source))
            data["name"] = cid
            data["seed"] = seed
            shown = ", ".join(f"{k} = {v!r}" for k, v in params.items())
            case_spec = resolve.parse_case(data, f"{where} ({shown or 'base'})")
            cases.append(Case(cid, seed, s, params, case_spec))
    if spec.seed_per == "case" and len({c.seed for c in cases}) != len(cases):
        raise SpecError(f"{sweep.source}: two cases drew the same seed; change the sweep seed")
    return cases


def parse_sweep(data: Any, source: str | Path = "<sweep>", base_dir: Path | None = None) -> Sweep:
    """Validate a sweep mapping, load its base case and expand it (to check every case).

    Parameters
    ----------
    data : dict
        The sweep mapping.
    source : str or Path
        Named in errors.
    base_dir : Path, optional
        Folder that relative paths (``base``, ``templates``) refer to.

    Raises
    ------
    SpecError
        Naming the file, the key, the value and the allowed range.
    """
    spec = materials.validate_mapping(SweepSpec, data, source, "a sweep spec")
    base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
    if isinstance(spec.base, str):
        path = Path(spec.base)
        path = path if path.is_absolute() else base_dir / path
        try:
            base = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise SpecError(f"{source}: base = {spec.base!r}: cannot read {path}: {exc}") from None
        except yaml.YAMLError as exc:
            raise SpecError(f"{source}: base = {spec.base!r}: not valid YAML: {exc}") from None
        if not isinstance(base, dict):
            raise SpecError(f"{source}: base = {spec.base!r}: {path} is not a case mapping")
        base_file: Path | None = path
    else:
        base = copy.deepcopy(spec.base)
        base_file = None
    base.pop("name", None)
    base.pop("seed", None)
    # the base itself is not validated: an axis may supply what it lacks; every expanded
    # case is validated, and its errors name the sweep file, the case and the key
    templates = None
    if spec.templates:
        templates = Path(spec.templates)
        templates = templates if templates.is_absolute() else base_dir / templates
        if not templates.is_dir():
            raise SpecError(f"{source}: templates = {spec.templates!r}: no such folder "
                            f"({templates})")
    sweep = Sweep(spec, source, base, templates, base_file)
    sweep.cases()
    return sweep


def load_sweep(path: str | Path) -> Sweep:
    """Load, validate and expand a sweep YAML file.

    Raises
    ------
    SpecError
        Naming the file, the key, the value and the allowed range.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    return parse_sweep(data, path, path.resolve().parent)


def default_out(sweep: Sweep) -> Path:
    """Default sweep folder: ``runs/<sweep name>/`` (relative to the working directory)."""
    return Path("runs") / sweep.name


# ----------------------------------------------------------------------------- files


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float) + "\n")
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class SweepLock:
    """An exclusive ``flock`` on ``DIR/.lock``; the kernel drops it when the process dies."""

    def __init__(self, sweep_dir: Path) -> None:
        self.path = Path(sweep_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> SweepLock:
        """Take the lock.

        Raises
        ------
        SpecError
            If another live process holds it.
        """
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            holder = ""
            with contextlib.suppress(OSError):
                holder = self.path.read_text().strip()
            raise SpecError(f"{self.path.parent}: another sweep is running in this folder "
                            f"({holder or 'unknown process'}); wait for it or use another "
                            "--out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SweepLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(sweep_dir: Path) -> bool:
    """Whether a live process holds ``DIR/.lock``."""
    import fcntl

    path = Path(sweep_dir) / LOCK_FILE
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def is_done(sweep_dir: Path, case_id: str) -> bool:
    """A case is done when its folder (moved into place only when complete) has a summary."""
    return (Path(sweep_dir) / case_id / SUMMARY).is_file()


def read_failure(sweep_dir: Path, case_id: str) -> dict | None:
    """The failure record of a case, or None."""
    path = Path(sweep_dir) / FAILED_DIR / f"{case_id}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _done_spec_matches(sweep_dir: Path, case: Case) -> bool:
    path = Path(sweep_dir) / case.id / "spec.yaml"
    try:
        old = resolve.parse_case(yaml.safe_load(path.read_text()), path)
    except (OSError, yaml.YAMLError, AssbError):
        return False
    return old == case.spec


def _cost_estimate(spec: config.CaseSpec) -> float:
    """Relative cost of a case (particle count × compression), for longest-first order."""
    g, p = spec.geometry, spec.packing
    am_area = p.am_area_fraction * spec.reference_width_um * g.height_um
    se = max(g.width_um * g.height_um - am_area, 0.0) / p.se_diameter_um ** 2
    strain = 1.0 - spec.reference_width_um / g.width_um
    return se * (1.0 + 5.0 * strain)


@dataclass
class Plan:
    """A prepared sweep folder: which cases are done, failed and still to run."""

    sweep: Sweep
    out: Path
    cases: list[Case]
    todo: list[Case]
    done: list[str]
    failed: list[str]
    lock: SweepLock | None = None

    def release(self) -> None:
        """Drop the folder lock."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def prepare(sweep: Sweep, out: Path | None = None, *, retry_failed: bool = False,
            only: Sequence[str] | None = None) -> Plan:
    """Lock a sweep folder, clear a killed run's leftovers and list the cases to run.

    Writes ``DIR/sweep.yaml`` and ``DIR/cases.json``. A finished case is kept only when its
    spec equals the sweep's; a folder whose finished cases were run with other specs is
    refused (use another ``--out``).

    Parameters
    ----------
    sweep : Sweep
    out : Path, optional
        Sweep folder (default ``runs/<name>``).
    retry_failed : bool
        Run recorded failures again.
    only : sequence of str, optional
        Restrict the sweep to these case ids.

    Returns
    -------
    Plan
        Holding the folder lock until :meth:`Plan.release`.

    Raises
    ------
    SpecError
        Another sweep runs in the folder, or its finished cases have other specs.
    """
    out = Path(out) if out is not None else default_out(sweep)
    out.mkdir(parents=True, exist_ok=True)
    lock = SweepLock(out).acquire()
    try:
        all_cases = sweep.cases()
        cases = all_cases
        if only is not None:
            want = set(only)
            missing = sorted(want - {c.id for c in all_cases})
            if missing:
                raise SpecError(f"{sweep.source}: no cases {missing[:5]} in this sweep")
            cases = [c for c in all_cases if c.id in want]
        old = out / CASES_FILE
        if old.exists():
            with contextlib.suppress(OSError, ValueError):
                prev = json.loads(old.read_text()).get("sweep")
                if prev and prev != sweep.name:
                    raise SpecError(f"{out} holds sweep {prev!r}, not {sweep.name!r}; use "
                                    "another --out")
        tmp_root = out / TMP_DIR
        if tmp_root.exists():
            shutil.rmtree(tmp_root, ignore_errors=True)
        tmp_root.mkdir()
        done, failed, todo, stale = [], [], [], []
        for c in cases:
            if is_done(out, c.id):
                if _done_spec_matches(out, c):
                    done.append(c.id)
                else:
                    stale.append(c.id)
                continue
            rec = read_failure(out, c.id)
            if rec is not None and rec.get("spec_hash") == c.spec_hash and not retry_failed:
                failed.append(c.id)
                continue
            todo.append(c)
        if stale:
            raise SpecError(
                f"{out}: {len(stale)} finished case(s) were run with other specs than "
                f"{sweep.source} gives them (e.g. {', '.join(stale[:3])}); use another --out "
                "or remove those case folders")
        header = f"# resolved sweep spec, copied from {sweep.source} by assb_lmp\n"
        (out / SWEEP_FILE).write_text(
            header + yaml.safe_dump(sweep.resolved(), sort_keys=False, default_flow_style=None))
        _write_json(out / CASES_FILE, {
            "sweep": sweep.name,
            "source": str(sweep.source),
            "seed": sweep.spec.seed,
            "seed_per": sweep.spec.seed_per,
            "structures": sweep.spec.structures,
            "axes": {k: {"label": lab, "values": v} for (k, v), lab in
                     zip(sweep.axis_values().items(), sweep.labels().values(), strict=True)},
            "split": sweep.spec.split.model_dump(),
            "cases": [c.record() for c in all_cases],
        })
        order = {c.id: i for i, c in enumerate(todo)}
        todo.sort(key=lambda c: (-_cost_estimate(c.spec), order[c.id]))
    except BaseException:
        lock.release()
        raise
    return Plan(sweep, out, cases, todo, done, failed, lock)


# ----------------------------------------------------------------------------- one case


@dataclass
class CaseResult:
    """Outcome of one case in a sweep."""

    case_id: str
    status: Literal["done", "failed"]
    seconds: float
    reason: str = ""
    cpu_s: float | None = None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def record_failure(sweep_dir: Path, case: Case, reason: str, error: str,
                   seconds: float, tmp: Path | None = None, detail: str = "",
                   cpu_s: float | None = None) -> None:
    """Move a failed case's folder to ``failed/<id>/`` and write ``failed/<id>.json``."""
    fdir = Path(sweep_dir) / FAILED_DIR
    fdir.mkdir(exist_ok=True)
    dest = fdir / case.id
    if tmp is not None and tmp.exists():
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    stage = None
    with contextlib.suppress(OSError, ValueError):
        stage = json.loads((dest / "error.json").read_text()).get("stage")
    _write_json(fdir / f"{case.id}.json", {
        "case_id": case.id,
        "status": "failed",
        "error": error,
        "summary": _first_line(reason),
        "reason": reason,
        "stage": stage,
        "detail": detail,
        "seconds": round(seconds, 3),
        "cpu_s": None if cpu_s is None else round(cpu_s, 3),
        "seed": case.seed,
        "params": case.params,
        "spec_hash": case.spec_hash,
        "folder": f"{FAILED_DIR}/{case.id}" if dest.exists() else None,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    })


def _commit(tmp: Path, final: Path) -> None:
    if final.exists():
        if (final / SUMMARY).is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            return
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(final.parent)


def execute_case(case: Case, sweep_dir: Path, *, comm=None, templates: Path | None = None,
                 analyze: bool = True, figures: bool = False,
                 still_wanted: Callable[[], bool] | None = None) -> CaseResult:
    """Run one case of a sweep in ``DIR/.tmp/<id>.<pid>`` and move it into place.

    A failure of any kind (spec, packing, LAMMPS, servo, analysis) is recorded in
    ``DIR/failed/<id>.json`` (its folder in ``DIR/failed/<id>/``) and returned, never
    raised.

    Parameters
    ----------
    case : Case
    sweep_dir : Path
    comm : mpi4py communicator, optional
        The rank group that runs this case (all its ranks call this function).
    templates : Path, optional
        User template folder.
    analyze, figures : bool
        Passed to :func:`assb_lmp.pipeline.runner.run_case`.
    still_wanted : callable, optional
        Asked before anything is recorded; False (the sweep was killed) records nothing.
    """
    from assb_lmp.engines import base as engine
    from assb_lmp.pipeline import runner

    sweep_dir = Path(sweep_dir)
    rank = engine.comm_rank(comm)
    tag = f"{case.id}.{os.getpid()}"
    if comm is not None and comm.Get_size() > 1:
        tag = comm.bcast(tag, root=0)
    tmp = sweep_dir / TMP_DIR / tag
    t0, c0 = time.perf_counter(), time.process_time()
    error: BaseException | None = None
    detail = ""
    try:
        runner.run_case(case.spec, tmp, comm=comm, user_templates=templates,
                        analyze=analyze, figures=figures)
    except AssbError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 - one case's bug must not stop the sweep
        error = exc
        detail = traceback.format_exc()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if rank != 0:
        return CaseResult(case.id, "failed" if error else "done", seconds, cpu_s=cpu)
    if still_wanted is not None and not still_wanted():
        return CaseResult(case.id, "failed", seconds, "abandoned")
    if error is None:
        (tmp / CASE_INFO).write_text(json.dumps(
            {"case_id": case.id, "seed": case.seed, "structure": case.structure,
             "params": case.params, "seconds": round(seconds, 3), "cpu_s": round(cpu, 3),
             "worker": f"{socket.gethostname()}:{os.getpid()}"}, indent=2) + "\n")
        _commit(tmp, sweep_dir / case.id)
        (sweep_dir / FAILED_DIR / f"{case.id}.json").unlink(missing_ok=True)
        shutil.rmtree(sweep_dir / FAILED_DIR / case.id, ignore_errors=True)
        return CaseResult(case.id, "done", seconds, cpu_s=cpu)
    reason = str(error) or type(error).__name__
    log.warning("case %s failed: %s", case.id, _first_line(reason))
    record_failure(sweep_dir, case, reason, type(error).__name__, seconds, tmp, detail, cpu)
    return CaseResult(case.id, "failed", seconds, _first_line(reason), cpu)


# ----------------------------------------------------------------------------- progress


class _Progress:
    """tqdm bar with done / failed / running counts (disabled when not wanted)."""

    def __init__(self, total: int, done: int, failed: int, enabled: bool, name: str) -> None:
        self.done, self.failed, self.running = done, failed, 0
        self._lock = threading.Lock()
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done + failed, unit="case", desc=name,
                            smoothing=0.0, dynamic_ncols=True, mininterval=0.5,
                            file=sys.stderr)
            self._post()

    def _post(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"done {self.done}, failed {self.failed}, running {self.running}", refresh=True)

    def started(self) -> None:
        with self._lock:
            self.running += 1
            self._post()

    def finished(self, result: CaseResult) -> None:
        with self._lock:
            self.running = max(0, self.running - 1)
            if result.status == "done":
                self.done += 1
            else:
                self.failed += 1
                if self.bar is not None:
                    self.bar.write(f"failed: {result.case_id}: {result.reason}")
            if self.bar is not None:
                self.bar.set_postfix_str(
                    f"done {self.done}, failed {self.failed}, running {self.running}",
                    refresh=False)
                self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ----------------------------------------------------------------------------- local


def default_jobs() -> int:
    """Worker processes by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _process_identity(pid: int) -> tuple[int, str] | None:
    """(pid, start time) of a live process, None when it is gone or a zombie.

    The start time (``/proc/<pid>/stat`` field 22) tells a reused pid from the original.
    Without ``/proc`` only existence is checked.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return (pid, "")
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    if fields[0] in ("Z", "X"):
        return None
    return (pid, fields[19])


def _child(case: Case, sweep_dir: str, templates: str | None, analyze: bool,
           figures: bool, log_level: int, sweep_process: tuple[int, str] | None) -> None:
    """Worker process: run one case (results travel through the file system).

    The case's result is recorded only while the sweep process that started the worker is
    alive: a worker that outlives a killed sweep (its direct parent, the fork server, may
    linger) must not record a failure caused by the next run clearing its folder. A
    watchdog thread kills the worker within 0.2 s of the sweep process's death.
    """
    _die_with_parent()
    parent = os.getppid()
    logging.basicConfig(level=log_level, format=f"%(levelname)s {case.id}: %(message)s")

    def still_wanted() -> bool:
        if os.getppid() != parent:
            return False
        return sweep_process is None or _process_identity(sweep_process[0]) == sweep_process

    def watchdog() -> None:  # LAMMPS runs through ctypes, which releases the GIL
        while still_wanted():
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watchdog, name="sweep-watchdog", daemon=True).start()
    try:
        execute_case(case, Path(sweep_dir), templates=Path(templates) if templates else None,
                     analyze=analyze, figures=figures, still_wanted=still_wanted)
    finally:
        logging.shutdown()


def _start_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        # modules every worker needs, imported once in the fork server (never LAMMPS or
        # mpi4py: MPI must be initialised in the worker itself)
        ctx.set_forkserver_preload(
            ["assb_lmp.pipeline.runner", "assb_lmp.analysis.mechanics", "yaml"]
        )
    return ctx


def _signal_name(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by signal {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit status {code}"


def _case_log_level() -> int:
    """Log level inside cases: WARNING, or DEBUG when the user asked for debug output."""
    return logging.DEBUG if logging.getLogger("assb_lmp").getEffectiveLevel() <= logging.DEBUG \
        else logging.WARNING


@contextlib.contextmanager
def _quiet_cases() -> Iterator[None]:
    """Keep the stages' INFO lines (one per case) off the console while a sweep runs."""
    pkg, own = logging.getLogger("assb_lmp"), logging.getLogger(__name__)
    old_pkg, old_own = pkg.level, own.level
    if pkg.getEffectiveLevel() > logging.DEBUG:
        own.setLevel(pkg.getEffectiveLevel())
        pkg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        pkg.setLevel(old_pkg)
        own.setLevel(old_own)


def run_local(plan: Plan, jobs: int | None = None, *, progress: bool = True,
              log_level: int | None = None) -> list[CaseResult]:
    """Run a plan's cases in worker processes, one case per process at a time.

    Parameters
    ----------
    plan : Plan
        From :func:`prepare` (holding the folder lock).
    jobs : int, optional
        Worker processes (default: all cores).
    progress : bool
        Show a tqdm bar (done, failed, running, ETA) on stderr.
    log_level : int, optional
        Logging level inside the workers (default WARNING, DEBUG when debugging).

    Returns
    -------
    list of CaseResult
        One per case run, in completion order.
    """
    jobs = max(1, int(jobs or default_jobs()))
    log_level = _case_log_level() if log_level is None else log_level
    queue = deque(plan.todo)
    jobs = min(jobs, max(1, len(queue)))
    ctx = _start_context()
    templates = str(plan.sweep.templates) if plan.sweep.templates else None
    bar = _Progress(len(plan.cases), len(plan.done), len(plan.failed), progress, plan.sweep.name)
    active: dict[int, tuple[Case, Any, float]] = {}
    results: list[CaseResult] = []
    log.info("sweep %s: %d cases to run with %d worker process(es) in %s",
             plan.sweep.name, len(queue), jobs, plan.out)
    me = _process_identity(os.getpid())
    try:
        while queue or active:
            while queue and len(active) < jobs:
                case = queue.popleft()
                proc = ctx.Process(
                    target=_child, name=f"assb-{case.id}", daemon=True,
                    args=(case, str(plan.out.resolve()), templates, plan.sweep.spec.analyze,
                          plan.sweep.spec.figures, log_level, me))
                proc.start()
                active[proc.sentinel] = (case, proc, time.perf_counter())
                bar.started()
            ready = mp_connection.wait(list(active), timeout=1.0)
            for sentinel in ready:
                case, proc, t0 = active.pop(sentinel)
                proc.join()
                res = _outcome(plan.out, case, proc.pid, proc.exitcode,
                               time.perf_counter() - t0)
                results.append(res)
                bar.finished(res)
    finally:
        for _case, proc, _ in active.values():
            proc.terminate()
        for _case, proc, _ in active.values():
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        bar.close()
    return results


def _outcome(out: Path, case: Case, pid: int | None, exitcode: int | None,
             seconds: float) -> CaseResult:
    """What a finished worker left: a case folder, a failure record, or nothing (it died)."""
    if is_done(out, case.id):
        cpu = None
        with contextlib.suppress(OSError, ValueError):
            cpu = json.loads((out / case.id / CASE_INFO).read_text()).get("cpu_s")
        return CaseResult(case.id, "done", seconds, cpu_s=cpu)
    rec = read_failure(out, case.id)
    if rec is not None and rec.get("spec_hash") == case.spec_hash and rec.get("pid") == pid:
        return CaseResult(case.id, "failed", seconds, rec.get("summary", ""), rec.get("cpu_s"))
    reason = f"worker process died ({_signal_name(exitcode)}) before the case finished"
    tmp = None
    for cand in sorted((out / TMP_DIR).glob(f"{case.id}.*")):
        tmp = cand
    record_failure(out, case, reason, "WorkerDied", seconds, tmp)
    return CaseResult(case.id, "failed", seconds, reason)


# ----------------------------------------------------------------------------- MPI

_TAG_REQ, _TAG_CASE = 71, 72


def mpi_launch_size() -> int:
    """World size announced by an MPI launcher's environment (0 when not launched by one)."""
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE",
                "SLURM_NTASKS_MPI"):
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value)
    if os.environ.get("PMIX_RANK") is not None:
        return 1
    return 0


class _Scheduler:
    """Hands cases to rank groups one at a time (rank 0); thread-safe."""

    def __init__(self, todo: Sequence[Case], bar: _Progress) -> None:
        self.queue = deque(todo)
        self.bar = bar
        self.results: list[CaseResult] = []
        self._lock = threading.Lock()

    def next(self, last: CaseResult | None) -> Case | None:
        with self._lock:
            if last is not None:
                self.results.append(last)
                self.bar.finished(last)
            if not self.queue:
                return None
            case = self.queue.popleft()
        self.bar.started()
        return case


def _serve(sched: _Scheduler, comm, leaders: set[int], stop: threading.Event,
           blocking: bool) -> None:
    """Answer work requests of remote group leaders until each has been told to stop."""
    from mpi4py import MPI

    status = MPI.Status()
    while leaders and not stop.is_set():
        if comm.Iprobe(source=MPI.ANY_SOURCE, tag=_TAG_REQ, status=status):
            src = status.Get_source()
            last = comm.recv(source=src, tag=_TAG_REQ)
            case = sched.next(last)
            comm.send(case, dest=src, tag=_TAG_CASE)
            if case is None:
                leaders.discard(src)
        elif blocking:
            time.sleep(0.005)
        else:
            return


def run_mpi(sweep: Sweep, out: Path | None = None, *, ranks_per_case: int = 1, comm=None,
            retry_failed: bool = False, progress: bool = True,
            only: Sequence[str] | None = None) -> list[CaseResult] | None:
    """Run a sweep on an MPI world split into groups of ``ranks_per_case`` ranks.

    Every rank calls this. Rank 0 prepares the folder and schedules cases dynamically (a
    request/answer queue served by a thread, so that rank 0's own group computes too);
    each group runs its cases on its own sub-communicator. With ``ranks_per_case = 1``
    every case runs serially, so results equal a local run's.

    Returns
    -------
    list of CaseResult or None
        On rank 0 the results of the cases run; None elsewhere.

    Raises
    ------
    SpecError
        On every rank, when the world size is not a multiple of ``ranks_per_case`` or the
        folder cannot be prepared.
    """
    from mpi4py import MPI

    world = comm if comm is not None else MPI.COMM_WORLD
    rank, size = world.Get_rank(), world.Get_size()
    k = int(ranks_per_case)
    if k < 1 or size % k:
        raise SpecError(f"--ranks-per-case = {k}: must divide the number of MPI ranks ({size}); "
                        f"allowed values: {[d for d in range(1, size + 1) if size % d == 0]}")
    plan: Plan | None = None
    payload: Any = None
    failure: BaseException | None = None
    if rank == 0:
        try:
            plan = prepare(sweep, out, retry_failed=retry_failed, only=only)
            payload = ("ok", plan.todo, str(plan.out))
        except Exception as exc:  # noqa: BLE001 - told to every rank, then raised
            failure = exc
            payload = ("error", str(exc), "")
    payload = world.bcast(payload if rank == 0 else None, root=0)
    if payload[0] == "error":
        if failure is not None:
            raise failure
        raise SpecError(payload[1])
    _, todo, out_dir = payload
    out_path = Path(out_dir).resolve()
    group = world.Split(rank // k, rank)
    sched_comm = world.Dup()
    leader = group.Get_rank() == 0
    ngroups = size // k
    templates = sweep.templates
    opts = dict(templates=templates, analyze=sweep.spec.analyze, figures=sweep.spec.figures)
    results: list[CaseResult] = []
    quiet = _quiet_cases()
    quiet.__enter__()
    try:
        if rank == 0:
            bar = _Progress(len(plan.cases), len(plan.done), len(plan.failed), progress,
                            sweep.name)
            sched = _Scheduler(todo, bar)
            remote = {g * k for g in range(1, ngroups)}
            stop = threading.Event()
            threaded = MPI.Query_thread() >= MPI.THREAD_MULTIPLE
            thread = None
            if remote and threaded:
                thread = threading.Thread(target=_serve, args=(sched, sched_comm, remote, stop,
                                                               True), daemon=True)
                thread.start()
            elif remote:
                log.warning("MPI lacks THREAD_MULTIPLE: rank 0 answers work requests only "
                            "between its own cases")
            try:
                last = None
                while True:
                    if remote and not threaded:
                        _serve(sched, sched_comm, remote, stop, blocking=False)
                    case = sched.next(last)
                    if k > 1:
                        group.bcast(case, root=0)
                    if case is None:
                        break
                    last = execute_case(case, out_path, comm=group, **opts)
                if thread is not None:
                    thread.join()
                elif remote:
                    _serve(sched, sched_comm, remote, stop, blocking=True)
            finally:
                stop.set()
                bar.close()
            results = sched.results
        elif leader:
            last = None
            while True:
                sched_comm.send(last, dest=0, tag=_TAG_REQ)
                case = sched_comm.recv(source=0, tag=_TAG_CASE)
                if k > 1:
                    group.bcast(case, root=0)
                if case is None:
                    break
                last = execute_case(case, out_path, comm=group, **opts)
        else:
            while True:
                case = group.bcast(None, root=0)
                if case is None:
                    break
                execute_case(case, out_path, comm=group, **opts)
        world.Barrier()
    finally:
        quiet.__exit__(None, None, None)
        group.Free()
        sched_comm.Free()
        if plan is not None:
            plan.release()
    return results if rank == 0 else None


# ----------------------------------------------------------------------------- entry


def run(sweep: Sweep | str | Path, out: Path | None = None, *, jobs: int | None = None,
        ranks_per_case: int = 1, mpi: bool | None = None, retry_failed: bool = False,
        progress: bool = True, only: Sequence[str] | None = None) -> SweepStatus | None:
    """Run (or resume) a sweep: locally with worker processes, or on MPI.

    Parameters
    ----------
    sweep : Sweep or path
    out : Path, optional
        Sweep folder (default ``runs/<name>``).
    jobs : int, optional
        Local worker processes (default: all cores). Ignored on MPI.
    ranks_per_case : int
        MPI ranks per case (default 1).
    mpi : bool, optional
        Force (True) or forbid (False) the MPI mode; default: MPI when started by an
        MPI launcher or when ``ranks_per_case > 1``.
    retry_failed : bool
        Run recorded failures again.
    progress : bool
        Progress bar on stderr.
    only : sequence of str, optional
        Run only these case ids.

    Returns
    -------
    SweepStatus or None
        The folder's status after the run (None on MPI ranks other than 0).
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    out = Path(out) if out is not None else default_out(sweep)
    if mpi is None:
        mpi = mpi_launch_size() > 0 or ranks_per_case > 1
    t0 = time.perf_counter()
    if mpi:
        if jobs is not None:
            log.warning("--jobs is ignored on MPI: every rank group runs one case at a time")
        res = run_mpi(sweep, out, ranks_per_case=ranks_per_case, retry_failed=retry_failed,
                      progress=progress, only=only)
        if res is None:
            return None
    else:
        plan = prepare(sweep, out, retry_failed=retry_failed, only=only)
        try:
            if jobs is not None and jobs > default_jobs():
                log.warning("%d jobs on %d cores: cases will share cores", jobs, default_jobs())
            res = run_local(plan, jobs, progress=progress)
        finally:
            plan.release()
    st = status(out)
    st.seconds = time.perf_counter() - t0
    st.ran = len(res)
    return st


# ----------------------------------------------------------------------------- status


@dataclass
class SweepStatus:
    """Done / failed / pending cases of a sweep folder."""

    out: Path
    name: str
    total: int
    done: list[str]
    failed: dict[str, dict]
    pending: list[str]
    in_progress: list[str]
    running: bool
    seconds: float = 0.0
    ran: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"out": str(self.out), "name": self.name, "total": self.total,
                "done": self.done, "failed": self.failed, "pending": self.pending,
                "in_progress": self.in_progress, "running": self.running}

    def report(self, max_list: int = 20) -> str:
        """Human-readable summary."""
        lines = [f"sweep {self.name} in {self.out}: {self.total} cases: {len(self.done)} done, "
                 f"{len(self.failed)} failed, {len(self.pending)} pending"
                 + (f" ({len(self.in_progress)} running now)" if self.running else "")]
        if self.failed:
            lines.append("failed:")
            for cid, rec in list(self.failed.items())[:max_list]:
                lines.append(f"  {cid}: {rec.get('error', '?')}: {rec.get('summary', '')}")
            if len(self.failed) > max_list:
                lines.append(f"  ... and {len(self.failed) - max_list} more "
                             f"(see {self.out / FAILED_DIR})")
        if self.pending:
            shown = ", ".join(self.pending[:max_list])
            more = f", ... ({len(self.pending) - max_list} more)" if len(self.pending) > max_list \
                else ""
            lines.append(f"pending: {shown}{more}")
        return "\n".join(lines)


def read_cases(sweep_dir: Path) -> dict[str, Any]:
    """``DIR/cases.json``.

    Raises
    ------
    SpecError
        When the folder is no sweep folder.
    """
    path = Path(sweep_dir) / CASES_FILE
    try:
        return json.loads(path.read_text())
    except OSError:
        raise SpecError(f"{sweep_dir} is not a sweep folder: {CASES_FILE} is missing") from None
    except ValueError as exc:
        raise SpecError(f"{path}: not valid JSON: {exc}") from None


def status(sweep_dir: str | Path) -> SweepStatus:
    """Done, failed (with reasons) and pending cases of a sweep folder.

    Raises
    ------
    SpecError
        When the folder is no sweep folder.
    """
    out = Path(sweep_dir)
    info = read_cases(out)
    running = is_locked(out)
    tmp_ids = set()
    if (out / TMP_DIR).is_dir():
        tmp_ids = {p.name.rsplit(".", 1)[0] for p in (out / TMP_DIR).iterdir()}
    done, failed, pending, in_progress = [], {}, [], []
    for rec in info["cases"]:
        cid = rec["id"]
        if is_done(out, cid):
            done.append(cid)
            continue
        fail = read_failure(out, cid)
        if fail is not None and fail.get("spec_hash") == rec.get("spec_hash"):
            failed[cid] = fail
            continue
        pending.append(cid)
        if running and cid in tmp_ids:
            in_progress.append(cid)
    return SweepStatus(out, info.get("sweep", out.name), len(info["cases"]), done, failed,
                       pending, in_progress, running)


# ----------------------------------------------------------------------------- slurm


def slurm_script(sweep_path: str | Path, out: str | Path, *, nodes: int = 1,
                 tasks_per_node: int = 32, ranks_per_case: int = 1, hours: float = 24.0,
                 partition: str | None = None, account: str | None = None,
                 job_name: str | None = None) -> str:
    """A Slurm batch script that runs (or resumes) a sweep with ``mpirun``.

    The script uses this Python environment's ``mpirun`` (MPICH hydra, which reads the
    Slurm allocation) and ``python``; submitting it again resumes the sweep.
    """
    for name, value in (("nodes", nodes), ("tasks_per_node", tasks_per_node),
                        ("ranks_per_case", ranks_per_case)):
        if int(value) < 1:
            raise SpecError(f"{name} = {value!r}: must be at least 1")
    if (nodes * tasks_per_node) % ranks_per_case:
        raise SpecError(f"ranks_per_case = {ranks_per_case} must divide nodes × tasks_per_node "
                        f"= {nodes * tasks_per_node}")
    if not 0 < hours <= 10_000:
        raise SpecError(f"hours = {hours!r}: allowed range (0, 10000]")
    for name, value in (("partition", partition), ("account", account), ("job_name", job_name)):
        if value is not None and not re.match(r"^[A-Za-z0-9_.\-]+$", value):
            raise SpecError(f"{name} = {value!r}: letters, digits, '_', '.', '-' only")
    bindir = Path(sys.executable).parent
    minutes = int(round(hours * 60))
    out = Path(out).resolve()
    sweep_path = Path(sweep_path).resolve()
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name or 'assb-' + out.name}",
        f"#SBATCH --nodes={nodes}",
        f"#SBATCH --ntasks-per-node={tasks_per_node}",
        "#SBATCH --cpus-per-task=1",
        f"#SBATCH --time={minutes // 60:d}:{minutes % 60:02d}:00",
        f"#SBATCH --output={out}/slurm-%j.out",
    ]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if account:
        lines.append(f"#SBATCH --account={account}")
    lines += [
        "",
        f"# assb_lmp sweep into {out}: {nodes * tasks_per_node} MPI ranks in groups of "
        f"{ranks_per_case} rank(s) per case.",
        "# Submitting this script again resumes the sweep: finished cases are skipped,",
        "# unfinished ones are redone, failed ones are listed by `python -m assb_lmp status`.",
        "set -euo pipefail",
        f"cd {Path.cwd().resolve()}",
        "export OMP_NUM_THREADS=1",
        f"BIN={bindir}",
        f'"$BIN/mpirun" -np "$SLURM_NTASKS" "$BIN/python" -m assb_lmp sweep {sweep_path} \\',
        f"    --out {out} --ranks-per-case {ranks_per_case} --no-progress",
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- bench


def _spread(items: Sequence[Any], n: int) -> list[Any]:
    """``n`` items evenly spread over a sequence (first and last included)."""
    if n >= len(items):
        return list(items)
    if n == 1:
        return [items[0]]
    idx = sorted({int(round(i * (len(items) - 1) / (n - 1))) for i in range(n)})
    return [items[i] for i in idx]


@contextlib.contextmanager
def _tmpdir(base: Path | None) -> Iterator[Path]:
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
        yield base
    else:
        with tempfile.TemporaryDirectory(prefix="assb_bench_") as d:
            yield Path(d)


def _timed_local(sweep: Sweep, out: Path, ids: Sequence[str], jobs: int) -> dict[str, Any]:
    plan = prepare(sweep, out, only=ids)
    try:
        t0 = time.perf_counter()
        res = run_local(plan, jobs, progress=False)
        wall = time.perf_counter() - t0
    finally:
        plan.release()
    failed = [r.case_id for r in res if r.status != "done"]
    per_case = [r.seconds for r in res]
    cpu = [r.cpu_s for r in res if r.cpu_s is not None]
    return {"jobs": jobs, "cases": len(res), "failed": failed, "wall_s": wall,
            "cases_per_hour": 3600.0 * len(res) / wall if wall > 0 else None,
            "mean_case_s": float(np.mean(per_case)) if per_case else None,
            "mean_case_cpu_s": float(np.mean(cpu)) if cpu else None,
            "case_s": {r.case_id: round(r.seconds, 2) for r in res}}


def bench_sweep(quick: str | Path | None = None, *, n_cases: int = 8,
                workers: Sequence[int] = (1, 2), paper: str | Path | None = None,
                paper_cases: int = 4, out: Path | None = None) -> dict[str, Any]:
    """Measure sweep throughput (cases per hour) and project the paper sweep's wall time.

    Runs the same ``n_cases`` cases of the quick sweep once per worker count in
    ``workers``, then ``paper_cases`` cases spread over the paper sweep's grid with
    ``max(workers)`` workers at once, and projects the full paper sweep from their mean
    time per case under that load.

    Parameters
    ----------
    quick : path, optional
        The small sweep (default ``runs/quick.yaml``).
    n_cases : int
        Cases of it to time per worker count (spread over its grid).
    workers : sequence of int
        Worker counts to compare (default 1 and 2).
    paper : path, optional
        The paper sweep (default ``runs/komori2022.yaml``); ``paper_cases = 0`` skips it.
    paper_cases : int
        Cases of it to time.
    out : Path, optional
        Folder for the runs (default: a temporary folder, removed afterwards).

    Returns
    -------
    dict
        ``quick`` (per worker count: wall s, cases/hour, mean s per case), ``speedup``
        (cases/hour of the largest over the smallest worker count), ``paper`` (mean s per
        case, cases run, projected hours of the whole sweep with ``max(workers)``
        workers, and core-hours), ``machine`` (cores, load averages before and after:
        other work on the machine skews the timings).
    """
    quick_sweep = load_sweep(quick or resources.example("quick"))
    ids = [c.id for c in _spread(quick_sweep.cases(), n_cases)]
    result: dict[str, Any] = {
        "machine": {"cores": default_jobs(), "host": socket.gethostname(),
                    "python": sys.version.split()[0], "load_before": _load()},
        "quick": {"sweep": quick_sweep.name, "cases": ids, "runs": []},
    }
    with _tmpdir(out) as base:
        for w in workers:
            r = _timed_local(quick_sweep, base / f"quick_w{w}", ids, w)
            log.info("bench: %d worker(s): %d cases in %.1f s = %.0f cases/h", w, r["cases"],
                     r["wall_s"], r["cases_per_hour"] or 0)
            result["quick"]["runs"].append(r)
        runs = result["quick"]["runs"]
        if len(runs) >= 2 and runs[0]["cases_per_hour"]:
            result["speedup"] = runs[-1]["cases_per_hour"] / runs[0]["cases_per_hour"]
            result["speedup_workers"] = [runs[0]["jobs"], runs[-1]["jobs"]]
        if paper_cases > 0:
            paper_sweep = load_sweep(paper or resources.example("komori2022"))
            all_cases = paper_sweep.cases()
            ordered = sorted(all_cases, key=lambda c: _cost_estimate(c.spec))
            pick = [c.id for c in _spread(ordered, paper_cases)]
            w = max(workers)
            r = _timed_local(paper_sweep, base / "paper", pick, w)
            n = len(all_cases)
            mean = r["mean_case_s"]
            result["paper"] = {
                "sweep": paper_sweep.name, "cases": pick, "total_cases": n, "workers": w,
                **{k: r[k] for k in ("wall_s", "mean_case_s", "failed", "case_s")},
                "projected_hours": n * mean / w / 3600.0 if mean else None,
                "core_hours": n * mean / 3600.0 if mean else None,
            }
    result["machine"]["load_after"] = _load()
    return result


def _load() -> list[float] | None:
    """1, 5 and 15 minute load averages (other work on the machine skews the timings)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None
