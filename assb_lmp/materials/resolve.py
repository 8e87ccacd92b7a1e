"""Resolve a case against its material cards: the step between the case model and a run.

:func:`parse_case` / :func:`load_case` give a case that can run: its structure is valid
(:func:`assb_lmp.spec.case.validate_case`) and so are its cross-references to the cards:

* every card the case names exists (``materials.se: card 'X' not found; available: …``);
* the time step is below the stability limit of the case's smallest, stiffest particle;
* every expand stage has a volume strain the growth can follow (Vegard: the AM card has
  lattice data);
* an elastic-plastic (``mdr``) contact has a yield stress.

Every error names the source file, the key and the allowed values.
"""

from __future__ import annotations

from pathlib import Path

from assb_lmp.core.errors import SpecError
from assb_lmp.core.io import read_yaml
from assb_lmp.materials import cards as card_files
from assb_lmp.materials import physics
from assb_lmp.materials.cards import Material
from assb_lmp.spec.case import CaseSpec, validate_case
from assb_lmp.spec.stages import ExpandStage

#: The roles of the cards of a case, in the order of ``spec.materials``.
ROLES = ("am", "se", "wall")


def case_cards(spec: CaseSpec, user_dir: Path | None = None) -> dict[str, Material]:
    """The three material cards of a case, by role (``am``, ``se``, ``wall``).

    Parameters
    ----------
    spec : CaseSpec
        The case.
    user_dir : Path, optional
        A card folder searched before the built-in one.

    Raises
    ------
    SpecError
        ``materials.<role>: card 'X' not found; available: …`` for a missing card, or the
        card file's own error for a broken one.
    """
    found = card_files.available(user_dir)
    out = {}
    for role in ROLES:
        name = getattr(spec.materials, role)
        if name not in found:
            raise SpecError(f"materials.{role}: card {name!r} not found; available: "
                            f"{', '.join(sorted(found))}")
        out[role] = card_files.get(name, user_dir)
    return out


def check_plastic(spec: CaseSpec, se: Material) -> None:
    """An elastic-plastic contact needs the SE card's yield stress.

    Raises
    ------
    SpecError
        ``contact.normal: mdr`` with an SE card whose ``yield_stress_mpa`` is missing.
    """
    if spec.contact.normal != "mdr" or spec.contact.mdr_yield_mpa is not None:
        return
    if se.yield_mpa is None or not se.yield_mpa > 0:
        raise SpecError(
            f"contact.normal = 'mdr' (elastic-plastic) needs the yield stress of the SE card "
            f"{se.name!r}, but its yield_stress_mpa is {se.yield_mpa!r}; allowed: a positive "
            "value in MPa. Give the card a sourced yield_stress_mpa (a user card in the card "
            "folder shadows the built-in one), set contact.mdr_yield_mpa, or use "
            "contact.normal: hertz"
        )


def check_case(spec: CaseSpec) -> dict[str, Material]:
    """Check the cross-references of a structurally valid case; returns its cards.

    Raises
    ------
    SpecError
        For a missing card, a time step above the limit, an expand stage whose strain
        cannot be had, or a plastic contact without a yield stress.
    """
    cards = case_cards(spec)
    physics.timestep_us(spec, cards)
    for k, s in enumerate(spec.stages):
        if isinstance(s, ExpandStage):
            try:
                physics.expand_volume_strain(s, cards["am"])
            except SpecError as exc:
                raise SpecError(f"stages.{k} ({s.name}): {exc}") from None
    check_plastic(spec, cards["se"])
    return cards


def parse_case(data: object, source: str | Path = "<spec>") -> CaseSpec:
    """Validate a case mapping: its structure and its cross-references to the cards.

    Raises
    ------
    SpecError
        Naming the source, the key, the value and the allowed range.
    """
    spec = validate_case(data, source)
    try:
        check_case(spec)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None
    return spec


def load_case(path: str | Path) -> CaseSpec:
    """Load a case spec from a YAML file and validate it (:func:`parse_case`)."""
    path = Path(path)
    return parse_case(read_yaml(path, "a case spec"), path)
