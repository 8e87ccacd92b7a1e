"""``trends`` and ``compare`` on a real tiny pressure sweep (LAMMPS, 4 cases, 2 workers).

trends: one row per finished case with the validity report at the press end and the end;
compare: a trained model's predictions of the cases' images beside their DEM labels.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from assb_lmp import sweep
from assb_lmp.cli.main import main
from assb_lmp.learn import trends
from assb_lmp.materials.resolve import load_case

SPECS = Path(__file__).resolve().parents[1] / "specs"


@pytest.fixture(scope="module")
def pressure_sweep(tmp_path_factory):
    """2 pressures x 2 AM fractions of the tiny periodic case, one structure each."""
    base = load_case(SPECS / "tiny_periodic.yaml").model_dump(mode="json", exclude_none=True)
    base.pop("name")
    base.pop("seed")
    base["control"] |= {"controller_every": 5}
    data = {"name": "tiny_pressure_sweep", "seed": 3, "base": base, "structures": 1,
            "axes": {"stages.1.pressure_mpa": {"label": "p", "values": [50, 100]},
                     "packing.am_area_fraction": {"label": "f", "values": [0.3, 0.35]}}}
    root = tmp_path_factory.mktemp("pressure_sweep")
    spec = root / "sweep.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    st = sweep.run(spec, root / "out", jobs=2, progress=False)
    assert st is not None and len(st.done) == 4, st.report()
    return root / "out"


def test_case_table_and_trends(pressure_sweep, tmp_path):
    rows = trends.case_table(pressure_sweep)
    assert sorted((r["pressure_mpa"], r["fraction"]) for r in rows) == [
        (50, 0.3), (50, 0.35), (100, 0.3), (100, 0.35)]
    for r in rows:
        labels = json.loads((pressure_sweep / r["case_id"] / "labels.json").read_text())
        assert r["porosity"] == labels["porosity"] and 0 < r["porosity"] < 1
        # released to 10 MPa, the contacts are less deep than at the press end
        assert r["beyond_end"] <= r["beyond_press"]
        assert 2.0 <= r["am_diameter_um"] <= 4.0
    # predictions of two cases, as a model folder trained on the sweep would hold them
    model = tmp_path / "model"
    model.mkdir()
    with (model / "predictions.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case_id", "split", "se_coverage", "pred_se_coverage"])
        w.writerow([rows[0]["case_id"], "test", rows[0]["se_coverage"], 0.5])
        w.writerow([rows[1]["case_id"], "train", rows[1]["se_coverage"], 0.9])
    result = trends.trends(pressure_sweep, tmp_path / "t", model_dir=model)
    assert result["cases"] == 4 and (tmp_path / "t" / "trends.png").stat().st_size > 0
    assert result["se_coverage_cnn"]["cases"] == 1  # train rows are not shown
    (cell,) = [c for by in result["se_coverage_cnn"]["cnn"].values() for c in by.values()]
    assert cell["mean"] == 0.5
    slopes = result["porosity"]["partial_slopes"]
    assert set(slopes) == {"am_diameter_um", "fraction", "pressure_mpa"}
    assert all(np.isfinite(v["slope"]) for v in slopes.values())


def test_partial_slopes_recover_a_known_linear_law():
    rng = np.random.default_rng(0)
    rows = [{"am_diameter_um": d, "fraction": f, "pressure_mpa": p,
             "y": 2.0 - 0.5 * d + 3.0 * f + 0.01 * p + rng.normal(0, 0.01)}
            for d, f, p in rng.uniform([5, 0.5, 100], [7, 0.75, 500], (200, 3))]
    s = trends.partial_slopes(rows, "y")
    assert s["am_diameter_um"]["slope"] == pytest.approx(-0.5, abs=0.01)
    assert s["fraction"]["slope"] == pytest.approx(3.0, abs=0.05)
    assert s["pressure_mpa"]["slope"] == pytest.approx(0.01, abs=1e-4)
    assert s["am_diameter_um"]["se"] < 0.01


@pytest.mark.cnn
def test_compare_predicts_the_cases_beside_their_labels(pressure_sweep, trained, tmp_path,
                                                        capsys):
    pytest.importorskip("tensorflow")
    from assb_lmp.learn.compare import compare
    from assb_lmp.learn.model import load_model
    from assb_lmp.learn.predict import predict_files

    folder, metrics = trained
    result = compare(pressure_sweep, folder, tmp_path / "c")
    assert len(result["cases"]) == 4
    cnn = load_model(folder)
    by_file = predict_files(cnn, [pressure_sweep / c["id"] / "image.png"
                                  for c in result["cases"]])
    for c, p in zip(result["cases"], by_file, strict=True):
        labels = json.loads((pressure_sweep / c["id"] / "labels.json").read_text())
        assert c["dem"] == {t: labels[t] for t in cnn.targets}
        assert c["cnn"] == pytest.approx(p["predictions"], rel=1e-5)
    assert result["test_r2"]["porosity"] == metrics["targets"]["porosity"]["r2"]
    assert (tmp_path / "c" / "parity.png").stat().st_size > 0
    assert (tmp_path / "c" / "gradcam.png").stat().st_size > 0
    assert main(["compare", str(pressure_sweep), "--model", str(folder),
                 "--out", str(tmp_path / "cli")]) == 0
    text = capsys.readouterr().out
    assert all(c["id"] in text for c in result["cases"]) and "test R2" in text
