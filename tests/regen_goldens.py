"""Regenerate the golden decks in tests/golden/ (run after an intended template change).

    python tests/regen_goldens.py      (or: make goldens)
"""

from __future__ import annotations

from pathlib import Path

from assb_lmp.build import deck
from assb_lmp.materials.resolve import load_case

HERE = Path(__file__).parent
REPO = HERE.parent
#: (spec file, golden name)
CASES = [
    (REPO / "runs" / "komori2022_case.yaml", "komori2022_case.lmp"),
    (REPO / "runs" / "press500_release25.yaml", "press500_release25.lmp"),
    (HERE / "specs" / "tiny_periodic.yaml", "tiny_periodic.lmp"),
    (REPO / "runs" / "so2021_expansion.yaml", "so2021_expansion.lmp"),
]


def render(spec_path: Path) -> str:
    """The deck text of a spec file."""
    return deck.build(load_case(spec_path)).text


def main() -> None:
    """Write every golden file."""
    (HERE / "golden").mkdir(exist_ok=True)
    for spec_path, name in CASES:
        (HERE / "golden" / name).write_text(render(spec_path))
        print(f"wrote tests/golden/{name}")


if __name__ == "__main__":
    main()
