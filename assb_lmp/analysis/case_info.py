"""What the analysis needs to know about a case folder besides its dumps: the spec, the
material cards, the stage order and the atoms of ``structure.data``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assb_lmp.analysis.dumps import discover_stages, read_cell, stage_paths
from assb_lmp.analysis.validity import se_yield_mpa
from assb_lmp.core.errors import AnalysisError, AssbError
from assb_lmp.core.io import read_json, read_yaml
from assb_lmp.core.units import KPA_PER_GPA
from assb_lmp.materials import cards as materials
from assb_lmp.materials import physics
from assb_lmp.materials.resolve import case_cards
from assb_lmp.spec.case import CaseSpec

log = logging.getLogger(__name__)

#: Folder names in a case folder that a stage may not use for its outputs.
RESERVED_NAMES = frozenset({"dumps", "figures"})


@dataclass
class CaseInfo:
    """What analysis needs to know about a case besides its dumps.

    Attributes
    ----------
    case_dir : Path
        The case folder.
    dimension : int
        2 (quasi-2D) or 3; 0 when unknown (no spec: decided from the first atoms frame).
    cards : dict of str to Material
        Cards by role: ``am``, ``se``, ``wall``.
    stages : list of str
        Stage names in run order.
    spec : CaseSpec or None
        The spec of ``spec.yaml`` when present.
    structure : tuple of (ids, types) or None
        Atom ids and types of ``structure.data`` when present.
    depth_um : float or None
        Nominal depth t of the spec (µm), checked against every ``cell.json``.
    """

    case_dir: Path
    dimension: int
    cards: dict[str, materials.Material]
    stages: list[str]
    spec: CaseSpec | None = None
    structure: tuple[np.ndarray, np.ndarray] | None = None
    depth_um: float | None = None

    @property
    def normal(self) -> str:
        """The normal contact model of the case (``hertz`` without a spec)."""
        return self.spec.contact.normal if self.spec is not None else "hertz"

    @property
    def se_yield_mpa(self) -> float | None:
        """The SE yield stress of the validity report (MPa), see
        :func:`assb_lmp.analysis.validity.se_yield_mpa`."""
        mdr = self.spec.contact.mdr_yield_mpa if self.spec is not None else None
        return se_yield_mpa(self.cards["se"].yield_mpa, self.normal, mdr)

    def e_star_kpa(self, role_a: str, role_b: str) -> float:
        """Hertz ``E*`` between two roles (``am``, ``se``, ``wall``), in kPa."""
        return physics.effective_modulus_gpa(self.cards[role_a], self.cards[role_b]) * (
            KPA_PER_GPA
        )


def _load_spec(path: Path) -> CaseSpec:
    data = read_yaml(path, "the case spec", AnalysisError)
    try:
        return CaseSpec.model_validate(data)
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise AnalysisError(f"{path}: not a valid case spec:\n{exc}") from None


def _load_cards(case_dir: Path, spec: CaseSpec | None) -> dict[str, materials.Material]:
    path = case_dir / "materials.json"
    if path.is_file():
        raw = read_json(path, "the material cards", AnalysisError)
        if not isinstance(raw, dict):
            raise AnalysisError(f"{path}: expected an object with keys am, se, wall")
        cards = {}
        for role in ("am", "se", "wall"):
            if role not in raw:
                raise AnalysisError(f"{path}: no card for role {role!r}")
            try:
                cards[role] = materials.Material.model_validate(raw[role])
            except ValueError as exc:
                raise AnalysisError(f"{path}: card {role!r} is invalid:\n{exc}") from None
        return cards
    if spec is not None:
        try:
            return case_cards(spec)
        except AssbError as exc:
            raise AnalysisError(
                f"{case_dir}: no materials.json and the cards of spec.yaml cannot be "
                f"loaded: {exc}"
            ) from None
    raise AnalysisError(
        f"{case_dir}: neither materials.json nor spec.yaml: the elastic constants of the "
        "contacts are unknown"
    )


def _atoms_section(text: list[str], path: Path) -> tuple[int, int]:
    """(atom count of the header, first line of the ``Atoms`` section)."""
    n_atoms = None
    for k, line in enumerate(text):
        s = line.split("#")[0].strip()
        if s.endswith(" atoms") and n_atoms is None:
            try:
                n_atoms = int(s.split()[0])
            except ValueError:
                pass
        if s == "Atoms":
            if n_atoms is not None:
                return n_atoms, k + 1
            break
    raise AnalysisError(f"{path}: no atom count or no 'Atoms' section")


def read_data_atoms(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Atom ids and types from the ``Atoms`` section of a LAMMPS data file.

    Returns
    -------
    ids, types : numpy.ndarray of int
        Sorted by id.

    Raises
    ------
    AnalysisError
        If the file has no readable ``Atoms`` section.
    """
    path = Path(path)
    try:
        text = path.read_text().splitlines()
    except OSError as exc:
        raise AnalysisError(f"{path}: cannot read: {exc}") from None
    n_atoms, start = _atoms_section(text, path)
    rows: list[tuple[int, int]] = []
    for line in text[start:]:
        s = line.split("#")[0].strip()
        if not s:
            if rows and len(rows) >= n_atoms:
                break
            continue
        parts = s.split()
        if not parts[0].lstrip("-").isdigit():
            break
        rows.append((int(parts[0]), int(parts[1])))
        if len(rows) == n_atoms:
            break
    if len(rows) != n_atoms:
        raise AnalysisError(
            f"{path}: the header announces {n_atoms} atoms but the Atoms section has "
            f"{len(rows)}"
        )
    arr = np.array(rows, dtype=np.int64)
    order = np.argsort(arr[:, 0], kind="stable")
    return arr[order, 0], arr[order, 1]


def _stages_of_spec(spec: CaseSpec, found: list[str], dumps_dir: Path) -> list[str]:
    stages = [s.name for s in spec.stages]
    missing = [s for s in stages if s not in found]
    if missing:
        raise AnalysisError(
            f"{dumps_dir}: stage(s) {', '.join(missing)} of spec.yaml have no "
            f"{missing[0]}.atoms.dump (the run did not finish?)"
        )
    extra = sorted(set(found) - set(stages))
    if extra:
        log.warning("%s: dumps of stages not in spec.yaml ignored: %s", dumps_dir, extra)
    return stages


def load_case_info(case_dir: str | os.PathLike[str]) -> CaseInfo:
    """Collect spec, cards, stage order and structure ids of a case folder.

    Stage order: the order of ``spec.yaml`` when present (every stage of the spec must
    have its dumps), else the order of the ``step`` in each ``<stage>.cell.json``.

    Raises
    ------
    AnalysisError
        If the folder or its dumps are missing, or spec, cards or data file are unusable.
    """
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise AnalysisError(f"{case_dir}: no such case folder")
    dumps_dir = case_dir / "dumps"
    found = discover_stages(case_dir)
    if not found:
        raise AnalysisError(
            f"{dumps_dir}: no stage dumps (<stage>.atoms.dump) found; run the case first "
            "(python -m assb_lmp run ...)"
        )
    spec = _load_spec(case_dir / "spec.yaml") if (case_dir / "spec.yaml").is_file() else None
    cards = _load_cards(case_dir, spec)
    if spec is not None:
        stages = _stages_of_spec(spec, found, dumps_dir)
        dimension, depth = spec.geometry.dimension, spec.depth_um
    else:
        steps = {s: read_cell(stage_paths(case_dir, s)["cell"]).get("step", 0) for s in found}
        stages = sorted(found, key=lambda s: (steps[s], s))
        dimension, depth = 0, None  # decided from the first atoms frame
    for s in stages:
        if s in RESERVED_NAMES:
            raise AnalysisError(
                f"{case_dir}: a stage may not be called {s!r} (its output folder would "
                "clash with the case folder's own)"
            )
    data_path = case_dir / "structure.data"
    structure = read_data_atoms(data_path) if data_path.is_file() else None
    return CaseInfo(case_dir=case_dir, dimension=dimension, cards=cards, stages=stages,
                    spec=spec, structure=structure, depth_um=depth)
