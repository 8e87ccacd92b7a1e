"""The Hertz validity report: closed-form numbers on a hand-built contact table, the same
report in summary.json and labels.json of a real run (recomputed from contacts.csv), and the
one warning line of ``run`` when most SE contacts are outside the range."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assb_lmp.analysis.contacts import PAIR_TYPES
from assb_lmp.analysis.validity import (
    HERTZ_BOUND,
    peak_pressure_mpa,
    se_yield_mpa,
    validity_report,
    warning_line,
)
from assb_lmp.core.units import KPA_PER_GPA

SPECS = Path(__file__).parents[1] / "specs"
E_SE = 15.0 * KPA_PER_GPA  # E* of the hand-built table (kPa)


def _table() -> dict[str, np.ndarray]:
    """Three SE-SE contacts (R* = 0.25 µm, d = 1 µm) with δ/R* = 0.01, 0.02, 0.2; one
    AM-SE (R* = 0.4, d = 1) with δ/R* = 0.05; an SE-wall (R* = 0.5, d = 1) with δ = 0.02 µm;
    an SE-wall whose overlap is −0.001 µm (counts as 0); one AM-AM (R* = 1.5, d = 6) with
    δ/R* = 0.15."""
    pair = ["SE-SE", "SE-SE", "SE-SE", "AM-SE", "SE-wall", "SE-wall", "AM-AM"]
    r_star = np.array([0.25, 0.25, 0.25, 0.4, 0.5, 0.5, 1.5])
    ratio = np.array([0.01, 0.02, 0.2, 0.05, 0.04, -0.002, 0.15])
    return {"pair": np.array(pair), "overlap": ratio * r_star, "r_star": r_star,
            "d_min": np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 6.0]),
            "e_star": np.full(7, E_SE)}


def test_report_in_closed_form():
    v = validity_report(_table(), se_yield_mpa=500.0)
    assert v["hertz_bound_delta_over_rstar"] == HERTZ_BOUND == 0.1
    assert list(v["pairs"]) == list(PAIR_TYPES)
    se = v["pairs"]["SE-SE"]
    assert se["n"] == 3
    # median of (0.01, 0.02, 0.2); p95 interpolates between the 2nd and 3rd: 0.02 + 0.9 · 0.18
    assert se["delta_over_rstar"] == pytest.approx({"median": 0.02, "p95": 0.182, "max": 0.2})
    # δ/d = (δ/R*) R*/d = ratio / 4
    assert se["delta_over_d"] == pytest.approx({"median": 0.005, "p95": 0.0455, "max": 0.05})
    assert se["fraction_beyond_hertz"] == pytest.approx(1 / 3)
    # p0 = (2 E*/π) √(δ/R*) = (2 · 15 GPa / π) √0.2 = 4270.5 MPa
    p0 = 2 * 15000.0 / math.pi * math.sqrt(0.2)
    assert se["p0_max_mpa"] == pytest.approx(p0, rel=1e-12)
    wall = v["pairs"]["SE-wall"]
    assert wall["n"] == 2 and wall["delta_over_rstar"]["median"] == pytest.approx(0.02)
    assert wall["delta_over_d"]["max"] == pytest.approx(0.02)
    assert v["pairs"]["AM-AM"]["fraction_beyond_hertz"] == 1.0  # not an SE contact
    empty = v["pairs"]["AM-wall"]
    assert empty["n"] == 0 and empty["delta_over_rstar"]["max"] is None
    assert empty["fraction_beyond_hertz"] is None and empty["p0_max_mpa"] is None
    # SE contacts: 3 SE-SE, 1 AM-SE, 2 SE-wall; one beyond 0.1 → 1/6 > 0.1: not inside
    assert v["n_se_contacts"] == 6
    assert v["se_fraction_beyond_hertz"] == pytest.approx(1 / 6)
    assert v["inside"] is False
    assert v["se_yield_mpa"] == 500.0
    assert v["p0_max_over_se_yield"] == pytest.approx(p0 / 500.0, rel=1e-12)
    # without the 0.2 contact only 0 of 5 SE contacts are beyond: inside
    t = {k: np.delete(a, 2) for k, a in _table().items()}
    v2 = validity_report(t, se_yield_mpa=None)
    assert v2["inside"] is True and v2["se_fraction_beyond_hertz"] == 0.0
    assert v2["p0_max_over_se_yield"] is None


def test_peak_pressure_is_2aE_over_pi_rstar():
    r_star, delta, e = 0.3, 0.006, 2.0e7  # µm, µm, kPa
    a = math.sqrt(r_star * delta)
    assert peak_pressure_mpa(np.array([delta / r_star]), np.array([e]))[0] == pytest.approx(
        2 * a * e / (math.pi * r_star) / 1000.0, rel=1e-12)
    assert peak_pressure_mpa(np.array([-0.1]), np.array([e]))[0] == 0.0
    assert se_yield_mpa(630.0) == 630.0
    assert se_yield_mpa(630.0, "mdr", 200.0) == 200.0
    assert se_yield_mpa(None, "hertz", 200.0) is None


def test_warning_line_only_when_most_se_contacts_are_outside():
    def stage(name, f):
        return {"name": name, "validity": {"hertz_bound_delta_over_rstar": 0.1,
                                           "se_fraction_beyond_hertz": f}}
    assert warning_line([stage("press", 0.5), stage("release", None)]) is None
    line = warning_line([stage("press", 0.62), stage("release", 0.2), stage("hold", 0.9)])
    assert "\n" not in line and "δ/R* > 0.1" in line
    assert "press 62 %" in line and "hold 90 %" in line and "release" not in line


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_of_a_real_case_from_its_tables(pressed_case):
    summary = json.loads((pressed_case / "summary.json").read_text())
    labels = json.loads((pressed_case / "labels.json").read_text())
    stage = summary["stages"][-1]
    assert stage["validity"] == labels["validity"]  # the same contact table
    assert summary["labels"]["validity"] == labels["validity"]
    v = labels["validity"]
    assert isinstance(v["inside"], bool)
    # recompute δ/R* and δ/d per pair type from contacts.csv and the atom radii
    radius = {int(r["id"]): float(r["radius_um"]) for r in _rows(pressed_case / "particles.csv")}
    ratios: dict[str, list[tuple[float, float]]] = {}
    for r in _rows(pressed_case / "contacts.csv"):
        r1 = radius[int(r["id1"])]
        r2 = radius[int(r["id2"])] if r["id2"] else None
        rs = r1 if r2 is None else r1 * r2 / (r1 + r2)
        d = 2 * r1 if r2 is None else 2 * min(r1, r2)
        ov = max(float(r["overlap_um"]), 0.0)
        ratios.setdefault(r["pair"], []).append((ov / rs, ov / d))
    assert sum(p["n"] for p in v["pairs"].values()) == sum(map(len, ratios.values()))
    for pair, vals in ratios.items():
        a = np.array(vals)
        rep = v["pairs"][pair]
        assert rep["n"] == len(a)
        assert rep["delta_over_rstar"]["median"] == pytest.approx(np.median(a[:, 0]), rel=1e-6)
        assert rep["delta_over_rstar"]["max"] == pytest.approx(a[:, 0].max(), rel=1e-6)
        assert rep["delta_over_d"]["p95"] == pytest.approx(np.percentile(a[:, 1], 95), rel=1e-6)
        assert rep["fraction_beyond_hertz"] == pytest.approx(np.mean(a[:, 0] > 0.1))
    se = np.concatenate([np.array(ratios[p])[:, 0] for p in ("AM-SE", "SE-SE", "SE-wall")
                         if p in ratios])
    assert v["se_fraction_beyond_hertz"] == pytest.approx(np.mean(se > 0.1))
    assert v["inside"] == (np.mean(se > 0.1) <= 0.1)
    assert v["se_yield_mpa"] == 630.0  # the LGPS card


def test_run_warns_once_when_most_se_contacts_are_outside(tmp_path):
    """tiny_width (pressed to a fixed width, 2D solid fraction near 1) drives more than half
    of its SE contacts beyond δ/R* = 0.1: ``run`` says so in exactly one line."""
    out = tmp_path / "w"
    proc = subprocess.run(
        [sys.executable, "-m", "assb_lmp", "run", str(SPECS / "tiny_width.yaml"), "--out",
         str(out), "--no-figures"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "outside the Hertz range" in ln]
    assert len(lines) == 1 and lines[0].startswith("WARNING")
    labels = json.loads((out / "labels.json").read_text())
    assert labels["validity"]["inside"] is False
    assert labels["validity"]["se_fraction_beyond_hertz"] > 0.5
