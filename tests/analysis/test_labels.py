"""Window rules, the Gaussian fit of a stress histogram, and the labels of a synthetic case."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from assb_lmp.analysis.case import analyze_case
from assb_lmp.analysis.labels import gaussian_fit
from assb_lmp.analysis.window import window_from_cell
from assb_lmp.core.errors import AnalysisError
from assb_lmp.spec.targets import TARGETS

from ._helpers import cell_json


def test_window_rules():
    assert window_from_cell(cell_json("s", 0, w=40, h=40)) == (2, 38, 2, 38)
    x0, x1, y0, y1 = window_from_cell(cell_json("s", 0, w=46, h=40))
    assert (x1 - x0, y1 - y0) == (36, 36) and x0 == 5 and y0 == 2
    with pytest.raises(AnalysisError, match="too small"):
        window_from_cell(cell_json("s", 0, w=3, h=40))


def test_gaussian_fit_recovers_parameters():
    v = np.random.default_rng(0).normal(120.0, 15.0, 2000)
    m, s = gaussian_fit(v)
    assert m == pytest.approx(120.0, abs=1.5) and s == pytest.approx(15.0, rel=0.08)
    assert gaussian_fit(np.array([])) == (None, None)
    assert gaussian_fit(np.array([3.0, 3.0])) == (3.0, 0.0)


def test_synthetic_case_layout_and_labels(synthetic, tmp_path):
    case = tmp_path / "c"
    shutil.copytree(synthetic, case)
    labels = analyze_case(case, figures=False)
    assert set(TARGETS) <= set(labels)
    for key in ("am_stress_fit_mean_mpa", "se_stress_fit_sd_mpa"):
        assert key in labels
    assert labels["info"]["stage"] == "release"
    for stage in ("press", "release"):
        assert (case / stage / "contacts.csv").is_file()
    assert not (case / "figures").exists()
    head = (case / "contacts.csv").read_text().splitlines()[0].split(",")
    assert head[:9] == ["id1", "id2", "wall", "pair", "normal_force_nN",
                        "tangential_force_nN", "overlap_um", "contact_radius_um",
                        "contact_area_um2"]
    rows = [r.split(",") for r in (case / "contacts.csv").read_text().splitlines()[1:]]
    walls = [r for r in rows if r[3].endswith("-wall")]
    assert walls and all(r[1] == "" for r in walls)
    head = (case / "particles.csv").read_text().splitlines()[0].split(",")
    assert head[:7] == ["id", "phase", "radius_um", "x_um", "y_um", "z_um", "stress_mpa"]
    # the coverage is the reaction area over the AM sphere surface, times f
    lab2 = analyze_case(case, figures=False, coverage_factor=2.5)
    s_am = lab2["info"]["am_surface_um2"]
    assert lab2["se_coverage"] == pytest.approx(2.5 * lab2["reaction_area_um2"] / s_am)
    lat = analyze_case(case, figures=False, coverage_surface="lateral")
    assert lat["se_coverage"] / labels["se_coverage"] == pytest.approx(
        s_am / lat["info"]["am_surface_um2"])


