"""Status of a sweep folder: cost per case, projected time left, cases outside the contact
law's validity; the same per-case columns in the dataset manifest."""

from __future__ import annotations

import json
import shutil

import pytest

from assb_lmp.cli.main import main
from assb_lmp.learn import dataset
from assb_lmp.spec.targets import TARGETS
from assb_lmp.sweep import status
from assb_lmp.sweep.store import METRIC_COLUMNS, case_metrics

from .tiny import TINY_IDS, manifest


@pytest.fixture
def copied(tiny, tmp_path):
    """A copy of the tiny sweep's folder with validity flags set on two cases, removed from the
    third (a case analysed before the report existed), one case gone."""
    _, ref = tiny
    out = tmp_path / "copy"
    shutil.copytree(ref, out, ignore=shutil.ignore_patterns("dataset"))
    for cid, inside in (("f0p3_s00", False), ("f0p3_s01", True)):
        path = out / cid / "labels.json"
        labels = json.loads(path.read_text())
        labels["validity"] = {"inside": inside}
        path.write_text(json.dumps(labels))
    path = out / "f0p4_s00" / "labels.json"
    labels = json.loads(path.read_text())
    labels.pop("validity", None)
    path.write_text(json.dumps(labels))
    shutil.rmtree(out / "f0p4_s01")
    return out


def test_status_projects_the_time_left_and_counts_cases_outside(copied, capsys):
    st = status(copied, workers=2)
    assert st.pending == ["f0p4_s01"] and st.outside == ["f0p3_s00"]
    mean = sum(case_metrics(copied / c)["seconds"] for c in st.done) / 3
    assert st.mean_case_s() == pytest.approx(mean)
    assert st.projected_s() == pytest.approx(1 * mean / 2)
    assert status(copied).workers == 1  # nothing running: one worker assumed
    assert main(["status", str(copied), "--workers", "2"]) == 0
    text = capsys.readouterr().out
    assert "projected time left" in text and "/ 2 worker(s)" in text
    assert "outside the contact law's validity: 1 of 2 done cases (f0p3_s00)" in text
    assert "engine steps" in text and "peak memory" in text
    assert main(["status", str(copied), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outside_contact_law"] == ["f0p3_s00"] and data["projected_s"] > 0


def test_manifest_has_cost_and_validity_columns(copied):
    dataset.export(copied)
    rows = manifest(copied / "dataset", drop=())
    assert [r["case_id"] for r in rows] == TINY_IDS[:3]
    header = list(rows[0])
    after = header.index(TARGETS[-1]) + 1
    assert header[after:after + 4] == list(METRIC_COLUMNS)
    assert [r["inside_contact_law"] for r in rows] == ["False", "True", ""]
    for r in rows:
        assert int(r["steps"]) > 0 and float(r["lammps_s"]) > 0 and float(r["peak_rss_mib"]) > 0
