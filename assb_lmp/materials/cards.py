"""Material cards: one YAML file per material in ``potentials/``, every value sourced.

A card looks like::

    name: LCO
    formula: LiCoO2
    role: am                       # am | se | wall
    description: layered oxide cathode
    youngs_modulus_gpa: {value: 264.0, source: "Komori et al. 2022, Table 1"}
    poissons_ratio:     {value: 0.32,  source: "..."}
    density_g_cm3:      {value: 4.72,  source: "..."}
    friction:           {value: 0.3,   source: "..."}
    restitution:        {value: 0.5,   source: "..."}
    yield_stress_mpa:   {value: null,  source: "..."}     # optional
    lattice:                                              # optional (Vegard)
      source: "..."
      host_formula: CoO2
      lithiated:   {li_per_host: 1.0, a: 2.816, b: 2.816, c: 14.05,
                    alpha: 90, beta: 90, gamma: 120, hosts_per_cell: 3}
      delithiated: {li_per_host: 0.5, ...}

Units: modulus GPa, density g/cm³ (= pg/µm³), yield stress MPa, lattice Å and degrees.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assb_lmp.core import resources
from assb_lmp.core.errors import SpecError

#: Folder of the built-in cards.
CARDS_DIR = resources.cards_dir()

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Sourced(BaseModel):
    """A value with the publication or reasoning it comes from."""

    model_config = _STRICT
    value: float | None
    source: str = Field(min_length=3)


class EndMember(BaseModel):
    """Lattice of one end member of a lithiation range (Å, degrees)."""

    model_config = _STRICT
    li_per_host: float = Field(ge=0)
    a: float = Field(gt=0)
    b: float = Field(gt=0)
    c: float = Field(gt=0)
    alpha: float = Field(gt=0, lt=180)
    beta: float = Field(gt=0, lt=180)
    gamma: float = Field(gt=0, lt=180)
    hosts_per_cell: float = Field(gt=0)


class Lattice(BaseModel):
    """Lattice parameters of the lithiated and delithiated end members."""

    model_config = _STRICT
    source: str = Field(min_length=3)
    host_formula: str
    lithiated: EndMember
    delithiated: EndMember


class Material(BaseModel):
    """One material card (validated)."""

    model_config = _STRICT
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,31}$")
    formula: str
    role: Literal["am", "se", "wall"]
    description: str = ""
    youngs_modulus_gpa: Sourced
    poissons_ratio: Sourced
    density_g_cm3: Sourced
    friction: Sourced
    restitution: Sourced
    yield_stress_mpa: Sourced | None = None
    lattice: Lattice | None = None

    @field_validator("youngs_modulus_gpa", "density_g_cm3")
    @classmethod
    def _positive(cls, v: Sourced) -> Sourced:
        if v.value is None or not (v.value > 0 and math.isfinite(v.value)):
            raise ValueError(f"must be a positive number, got {v.value!r}")
        return v

    @field_validator("poissons_ratio")
    @classmethod
    def _poisson(cls, v: Sourced) -> Sourced:
        if v.value is None or not (-1.0 < v.value < 0.5):
            raise ValueError(f"Poisson's ratio must lie in (-1, 0.5), got {v.value!r}")
        return v

    @field_validator("friction")
    @classmethod
    def _friction(cls, v: Sourced) -> Sourced:
        if v.value is None or not (0.0 <= v.value <= 10.0):
            raise ValueError(f"friction coefficient must lie in [0, 10], got {v.value!r}")
        return v

    @field_validator("restitution")
    @classmethod
    def _restitution(cls, v: Sourced) -> Sourced:
        if v.value is None or not (0.0 < v.value <= 1.0):
            raise ValueError(f"restitution coefficient must lie in (0, 1], got {v.value!r}")
        return v

    # convenient plain values -------------------------------------------------
    @property
    def E_gpa(self) -> float:  # noqa: N802 - physics symbol
        """Young's modulus (GPa)."""
        return float(self.youngs_modulus_gpa.value)

    @property
    def nu(self) -> float:
        """Poisson's ratio (-)."""
        return float(self.poissons_ratio.value)

    @property
    def rho(self) -> float:
        """Density (g/cm³ = pg/µm³)."""
        return float(self.density_g_cm3.value)

    @property
    def mu(self) -> float:
        """Coulomb friction coefficient (-)."""
        return float(self.friction.value)

    @property
    def e_rest(self) -> float:
        """Coefficient of restitution (-)."""
        return float(self.restitution.value)

    @property
    def G_gpa(self) -> float:  # noqa: N802
        """Shear modulus G = E / (2 (1 + ν)) (GPa)."""
        return self.E_gpa / (2.0 * (1.0 + self.nu))

    @property
    def yield_mpa(self) -> float | None:
        """Yield stress (MPa) or None when the card has none."""
        if self.yield_stress_mpa is None or self.yield_stress_mpa.value is None:
            return None
        return float(self.yield_stress_mpa.value)


def effective_modulus_gpa(a: Material, b: Material) -> float:
    """Hertz effective modulus E* with 1/E* = (1-νa²)/Ea + (1-νb²)/Eb (GPa)."""
    return 1.0 / ((1.0 - a.nu**2) / a.E_gpa + (1.0 - b.nu**2) / b.E_gpa)


def effective_shear_gpa(a: Material, b: Material) -> float:
    """Mindlin effective shear modulus G* with 1/G* = (2-νa)/Ga + (2-νb)/Gb (GPa)."""
    return 1.0 / ((2.0 - a.nu) / a.G_gpa + (2.0 - b.nu) / b.G_gpa)


def card_dirs(user_dir: Path | None = None) -> list[Path]:
    """Folders searched for cards: the user's first, then the built-in one."""
    dirs = [Path(user_dir)] if user_dir else []
    return dirs + [CARDS_DIR]


def load_card(path: Path) -> Material:
    """Load and validate one card file.

    Raises
    ------
    SpecError
        Naming the file, the key, the value and the allowed range.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot read material card: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a material card must be a mapping")
    try:
        return Material.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(path, exc)) from None


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime: float) -> Material:
    return load_card(Path(path))


def available(user_dir: Path | None = None) -> dict[str, Path]:
    """Map of card name (file stem) to path; user cards shadow built-in ones."""
    found: dict[str, Path] = {}
    for d in reversed(card_dirs(user_dir)):
        if d.is_dir():
            for p in sorted(d.glob("*.yaml")):
                found[p.stem] = p
    return found


def get(name: str, user_dir: Path | None = None) -> Material:
    """Load the card called ``name`` (file stem, case-sensitive).

    Raises
    ------
    SpecError
        If no such card exists; the message lists the available names.
    """
    cards = available(user_dir)
    if name not in cards:
        raise SpecError(
            f"material card {name!r} not found; available: {', '.join(sorted(cards))}"
        )
    p = cards[name]
    return _load_cached(str(p), p.stat().st_mtime)


def validate_mapping(model: type[BaseModel], data: object, source: Path | str,
                     what: str) -> Any:
    """Validate ``data`` (a mapping) as ``model``; errors as :class:`SpecError` naming
    ``source``, the key, the value and the allowed range."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: {what} must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(source, exc)) from None


def format_validation_error(path: Path | str, exc: ValidationError) -> str:
    """Render a pydantic error as 'file: key = value: problem' lines."""
    lines = [f"{path}: invalid specification"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not allowed here)"
        if isinstance(value, dict | list):
            shown = ""
        else:
            shown = f" = {value!r}"
        lines.append(f"  {key}{shown}: {msg}")
    return "\n".join(lines)
