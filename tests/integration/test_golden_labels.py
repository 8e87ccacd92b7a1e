"""The labels of the two shipped examples are golden: a refactor must leave them
identical to 1e-12 (the engine is deterministic on one rank; the analysis's numpy sums may
differ in their last bits between numpy builds, as they did between two machines). After an
intended change of the physics, regenerate them with ``python tests/regen_goldens.py
--labels`` and say in the commit why they changed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from regen_goldens import LABEL_CASES, run_labels  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("name", LABEL_CASES)
def test_example_labels_are_unchanged(name):
    golden = json.loads((HERE / "golden" / f"{name}.labels.json").read_text())
    labels = run_labels(name)
    assert labels.keys() == golden.keys()
    for key, value in golden.items():
        if isinstance(value, float):
            assert labels[key] == pytest.approx(value, rel=1e-12, abs=1e-300), key
        else:
            assert labels[key] == value, key
