"""Every shipped example (runs/*.yaml) loads: a case spec named after its file, or a sweep."""

from __future__ import annotations

from pathlib import Path

import pytest

from assb_lmp.core.io import read_yaml
from assb_lmp.materials.resolve import load_case
from assb_lmp.sweep import load_sweep

RUNS = Path(__file__).resolve().parents[2] / "runs"


@pytest.mark.parametrize("path", sorted(RUNS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_example_loads(path):
    if "base" in read_yaml(path):
        assert load_sweep(path).cases()
    else:
        assert load_case(path).name == path.stem
