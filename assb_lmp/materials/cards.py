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
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from assb_lmp.core import resources
from assb_lmp.core.errors import SpecError
from assb_lmp.core.io import read_yaml
from assb_lmp.spec.validation import STRICT, validate_mapping

#: Folder of the built-in cards.
CARDS_DIR = resources.cards_dir()


class Sourced(BaseModel):
    """A value with the publication or reasoning it comes from."""

    model_config = STRICT
    value: float | None
    source: str = Field(min_length=3)


class EndMember(BaseModel):
    """Lattice of one end member of a lithiation range (Å, degrees)."""

    model_config = STRICT
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

    model_config = STRICT
    source: str = Field(min_length=3)
    host_formula: str
    lithiated: EndMember
    delithiated: EndMember


class Material(BaseModel):
    """One material card (validated)."""

    model_config = STRICT
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
    data = read_yaml(path, "material card")
    return validate_mapping(Material, data, path, "a material card")


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
