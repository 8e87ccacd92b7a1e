"""The labels of the two shipped examples are golden: a refactor must leave them
identical to the last digit (the engine is deterministic on one rank). After an intended
change of the physics, regenerate them with ``python tests/regen_goldens.py --labels`` and
say in the commit why they changed."""

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
    assert run_labels(name) == golden
