"""``make demo`` (= ``python -m assb_lmp demo``): six new cases of the reference protocol run
for real and are predicted by the shipped model beside their DEM labels."""

from __future__ import annotations

import json

import pytest

from assb_lmp.cli.main import main
from assb_lmp.core import resources
from assb_lmp.sweep import load_sweep

pytestmark = [pytest.mark.slow, pytest.mark.cnn]


def test_demo_prints_predicted_against_dem_for_new_cases(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    demo = load_sweep(resources.example("coldpress_demo")).cases()
    reference = load_sweep(resources.example("coldpress"))
    trained = {c.seed for c in reference.cases()}
    assert len(demo) == 6 and not {c.seed for c in demo} & trained  # new structures
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    text = capsys.readouterr().out
    for c in demo:
        assert c.id in text
    assert "DEM" in text and "CNN" in text and "test R2" in text
    result = json.loads((tmp_path / "demo" / "compare" / "compare.json").read_text())
    assert len(result["cases"]) == 6 and result["model"].endswith("default")
    for c in result["cases"]:
        labels = json.loads((tmp_path / "demo" / c["id"] / "labels.json").read_text())
        assert c["dem"]["reaction_area_um2"] == labels["reaction_area_um2"]
    assert (tmp_path / "demo" / "compare" / "parity.png").stat().st_size > 0
    assert (tmp_path / "demo" / "compare" / "gradcam.png").stat().st_size > 0
