"""Regenerate the golden decks in tests/golden/ (run after an intended template change),
and with ``--labels`` the golden labels of the two examples (after an intended change of
the physics; each runs LAMMPS for about 20-30 s).

    python tests/regen_goldens.py [--labels]      (or: make goldens)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from assb_lmp.build import deck
from assb_lmp.materials.resolve import load_case
from assb_lmp.pipeline.runner import run_case
from assb_lmp.spec.targets import TARGETS

HERE = Path(__file__).parent
REPO = HERE.parent
#: (spec file, golden name)
CASES = [
    (REPO / "runs" / "komori2022_case.yaml", "komori2022_case.lmp"),
    (REPO / "runs" / "press500_release25.yaml", "press500_release25.lmp"),
    (HERE / "specs" / "tiny_periodic.yaml", "tiny_periodic.lmp"),
    (REPO / "runs" / "so2021_expansion.yaml", "so2021_expansion.lmp"),
]


#: Examples whose labels are golden: the labels of a run must equal these exactly.
LABEL_CASES = ["komori2022_case", "press500_release25"]


def run_labels(name: str) -> dict:
    """The nine targets of a fresh run of ``runs/<name>.yaml`` (no figures)."""
    with tempfile.TemporaryDirectory() as tmp:
        run_case(load_case(REPO / "runs" / f"{name}.yaml"), Path(tmp) / name, figures=False)
        labels = json.loads((Path(tmp) / name / "labels.json").read_text())
    return {t: labels[t] for t in TARGETS}


def render(spec_path: Path) -> str:
    """The deck text of a spec file."""
    return deck.build(load_case(spec_path)).text


def main() -> None:
    """Write every golden file."""
    (HERE / "golden").mkdir(exist_ok=True)
    for spec_path, name in CASES:
        (HERE / "golden" / name).write_text(render(spec_path))
        print(f"wrote tests/golden/{name}")
    if "--labels" in sys.argv[1:]:
        for name in LABEL_CASES:
            path = HERE / "golden" / f"{name}.labels.json"
            path.write_text(json.dumps(run_labels(name), indent=2) + "\n")
            print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
