"""Models that ship with the package: the package-data folder, shipping, safe loading."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from assb_lmp.core.errors import ModelError
from assb_lmp.learn import ship
from assb_lmp.learn.dataset import load_dataset
from assb_lmp.learn.model import load_model
from assb_lmp.learn.predict import predict

pytestmark = pytest.mark.cnn
pytest.importorskip("tensorflow")


def test_package_data_folder_and_the_default_model():
    folder = ship.models_dir()
    assert (folder / "__init__.py").is_file()
    default = ship.shipped_model_dir()
    # a model ships (models/default, trained on runs/coldpress.yaml): safe to load, honest
    # about its origin, files as recorded, the default of predict and gradcam
    assert ship.is_model_folder(default), f"no model ships in {default}"
    assert ship.resolve_model_dir(None) == default
    model = load_model(default)
    prov = json.loads((default / ship.PROVENANCE_FILE).read_text())
    assert prov["command"].startswith("python -m assb_lmp train")
    assert not model.info.get("dataset_synthetic")
    assert sum(f["bytes"] for f in prov["files"].values()) < ship.MAX_BYTES
    for name, f in prov["files"].items():
        assert hashlib.sha256((default / name).read_bytes()).hexdigest() == f["sha256"]
    assert set(ship.model_r2(default)) == set(model.targets)
    metrics = json.loads((default / "metrics.json").read_text())
    assert metrics["split_sizes"]["train"] == 320 and metrics["split_sizes"]["test"] == 100
    assert "runs/coldpress/dataset" in prov["command"]


def test_ship_copies_checks_and_loads(trained, dataset, tmp_path):
    out, metrics = trained
    dest = tmp_path / "models" / "default"
    with pytest.raises(ModelError, match="synthetic dataset"):
        ship.ship_model(out, dest, command="python -m assb_lmp train x")
    assert not dest.exists()
    with pytest.raises(ModelError, match="exceed the"):
        ship.ship_model(out, dest, command="c", allow_synthetic=True, max_bytes=1000)
    info = ship.ship_model(out, dest, command="python -m assb_lmp train x",
                           allow_synthetic=True)
    assert info["path"] == str(dest) and info["command"] == "python -m assb_lmp train x"
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [*ship.SHIPPED_FILES, "history.csv", ship.PROVENANCE_FILE])
    assert not (dest / "predictions.csv").exists() and not (dest / "figures").exists()
    total = sum(f["bytes"] for f in info["files"].values())
    assert total < ship.MAX_BYTES
    images = load_dataset(dataset).images[:8]
    np.testing.assert_array_equal(predict(load_model(dest), images),
                                  predict(load_model(out), images))
    r2 = ship.model_r2(dest)
    assert r2["porosity"] == metrics["targets"]["porosity"]["r2"]
    # shipping again replaces the folder as a whole
    (dest / "stale.txt").write_text("x")
    ship.ship_model(out, dest, command="c2", allow_synthetic=True)
    assert not (dest / "stale.txt").exists()
    assert json.loads((dest / ship.PROVENANCE_FILE).read_text())["command"] == "c2"


def test_ship_needs_metrics_command_and_a_safe_model(trained, tmp_path):
    out, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with pytest.raises(ModelError, match="does not record the command"):
        ship.ship_model(copy, tmp_path / "d", allow_synthetic=True)
    (copy / "metrics.json").unlink()
    with pytest.raises(ModelError, match="no metrics.json"):
        ship.ship_model(copy, tmp_path / "d", command="c", allow_synthetic=True)
    (copy / "model.keras").write_text("not a model")
    with pytest.raises(ModelError, match="not a Keras 3 model file"):
        ship.ship_model(copy, tmp_path / "d", command="c", allow_synthetic=True)
    assert not (tmp_path / "d").exists()
