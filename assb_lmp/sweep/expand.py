"""A loaded sweep and its cases: ids, seeds, spec hashes, expansion of the grid.

:func:`load_sweep` reads a sweep YAML file (its base case inlined or read from a file next
to it) and :func:`expand` turns it into validated :class:`Case` objects with stable,
readable ids (``f0p63_w50_s03``: axis labels and values, ``.`` written ``p``, and the
structure index) and seeds that are a deterministic function of the sweep seed, the
structure index and (by default) the point's values, so that a case keeps its seed and its
result when the sweep is extended or run on another machine. An axis may set any key of the
case spec, a top-level one (such as ``engine``) included; the spec hash of a case covers
every resolved key.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.core.errors import SpecError
from assb_lmp.core.io import read_yaml
from assb_lmp.materials.cards import validate_mapping
from assb_lmp.materials.resolve import parse_case
from assb_lmp.spec.case import SAFE_NAME, CaseSpec
from assb_lmp.sweep.spec import (
    SweepSpec,
    crc,
    default_label,
    format_value,
    is_held_out,
    same_value,
)

_MAX_CASES = 1_000_000


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
    spec: CaseSpec

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
    return Case(cid, seed, structure, params, parse_case(spec, f"case {cid}"))


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

    def holdout(self) -> dict[str, list]:
        """``split.holdout`` checked against the axes, each value the axis's own.

        Raises
        ------
        SpecError
            A key that is not an axis, a value that is not one of the axis's values, or
            every value of an axis held out; naming the file, the key and what is allowed.
        """
        values = self.axis_values()
        out: dict[str, list] = {}
        for key, wanted in self.spec.split.holdout.items():
            where = f"{self.source}: split.holdout.{key}"
            if key not in values:
                raise SpecError(f"{where}: not an axis of the sweep (allowed: "
                                f"{sorted(values) or 'none: the sweep has no axes'})")
            chosen = []
            for v in wanted:
                match = [a for a in values[key] if same_value(a, v)]
                if not match:
                    raise SpecError(f"{where} = {v!r}: not one of the axis's values "
                                    f"(allowed: {values[key]})")
                if match[0] not in chosen:
                    chosen.append(match[0])
            if not chosen:
                raise SpecError(f"{where}: an empty list; give values of the axis "
                                f"(allowed: {values[key]}) or leave the key out")
            if len(chosen) == len(values[key]):
                raise SpecError(f"{where}: holds out every value of the axis {values[key]}, "
                                "so no case is left to train on; allowed: at most "
                                f"{len(values[key]) - 1} of them")
            out[key] = chosen
        return out

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


def spec_hash(spec: CaseSpec) -> str:
    """SHA-256 of a resolved case spec."""
    text = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def case_seed(sweep_seed: int, structure: int, params: dict[str, Any] | None) -> int:
    """Seed of a case: SeedSequence of the sweep seed, structure index and point values.

    ``params=None`` gives the seed of structure ``structure`` at every point.
    """
    entropy = [int(sweep_seed), int(structure)]
    if params is not None:
        entropy.append(crc(json.dumps(params, sort_keys=True)))
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
    total = math.prod(len(values[d[0]]) for d in dims) * max(
        spec.structures, spec.split.holdout_structures or 0)
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
    held = sweep.holdout()
    held_structures = spec.split.holdout_structures
    cases: list[Case] = []
    structures: dict[tuple[int, str], int] = {}  # (structure, seeded values) -> seed
    for combo in itertools.product(*(range(len(values[d[0]])) for d in dims)):
        chosen = {k: values[k][i] for d, i in zip(dims, combo, strict=True) for k in d}
        params = {k: chosen[k] for k in keys}
        stem = "_".join(f"{labels[k]}{texts[k][json.dumps(v)]}" for k, v in params.items())
        n_structures = spec.structures
        if held_structures is not None and is_held_out(params, held):
            n_structures = held_structures
        for s in range(n_structures):
            cid = f"{stem}_s{s:0{width}d}" if stem else f"s{s:0{width}d}"
            if not re.match(SAFE_NAME, cid):
                raise SpecError(f"{sweep.source}: case id {cid!r} is not a safe name "
                                f"({SAFE_NAME}; at most 64 characters); shorten the "
                                "axis labels or formats")
            seeded = {k: v for k, v in params.items() if spec.axes[k].in_seed}
            seed = case_seed(spec.seed, s, seeded if spec.seed_per == "case" else None)
            data = copy.deepcopy(sweep.base)
            where = f"{sweep.source}: case {cid}"
            if sweep.base_file is not None:
                where += f" (base {sweep.base_file})"
            for k, v in params.items():
                _set_dotted(data, k, v, str(sweep.source))
            data["name"] = cid
            data["seed"] = seed
            shown = ", ".join(f"{k} = {v!r}" for k, v in params.items())
            resolved = parse_case(data, f"{where} ({shown or 'base'})")
            cases.append(Case(cid, seed, s, params, resolved))
            structures[(s, json.dumps(seeded, sort_keys=True))] = seed
    if spec.seed_per == "case" and len(set(structures.values())) != len(structures):
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
    spec = validate_mapping(SweepSpec, data, source, "a sweep spec")
    base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
    if isinstance(spec.base, str):
        path = Path(spec.base)
        path = path if path.is_absolute() else base_dir / path
        try:
            base = read_yaml(path, "the base case")
        except SpecError as exc:
            raise SpecError(f"{source}: base = {spec.base!r}: {exc}") from None
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
    sweep.holdout()
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
    data = read_yaml(path, "a sweep spec")
    return parse_sweep(data, path, path.resolve().parent)


def default_out(sweep: Sweep) -> Path:
    """Default sweep folder: ``runs/<sweep name>/`` (relative to the working directory)."""
    return Path("runs") / sweep.name
