"""The cnn part of the benchmarks (assb_lmp.bench.cnn_speed), on a tiny dataset."""

from __future__ import annotations

import pytest

from assb_lmp import bench

pytestmark = pytest.mark.cnn
pytest.importorskip("tensorflow")


def test_bench_cnn_part(tiny, tmp_path):
    res = bench.cnn_speed(tmp_path, dataset=tiny, epochs=1, repeats=1)
    assert res["epochs"] == 1 and res["train_s"] > 0 and res["gradcam_ms"] > 0
    assert set(res["predict_images_per_s"]) == {32, 64}
    assert all(r > 0 for r in res["predict_images_per_s"].values())
    text = bench.table({"machine": bench.machine(), "cnn": res})
    assert "prediction batch 32" in text and "Grad-CAM" in text
