"""Model folders: save and load, clear errors, and no code runs from a model file."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from assb_lmp.core.errors import ModelError
from assb_lmp.learn.dataset import load_dataset
from assb_lmp.learn.model import CnnModel, load_model, save_model
from assb_lmp.learn.predict import predict
from assb_lmp.spec.targets import TARGETS

from .conftest import SIZE

pytestmark = pytest.mark.cnn
pytest.importorskip("tensorflow")


def test_save_load_identical_predictions(trained, dataset, tmp_path):
    out, _ = trained
    ds = load_dataset(dataset)
    first = load_model(out)
    p1 = predict(first, ds.images)
    save_model(first, tmp_path / "copy")
    p2 = predict(load_model(tmp_path / "copy"), ds.images)
    np.testing.assert_array_equal(p1, p2)
    # and equal to what train() wrote from the in-memory model (6 significant digits)
    rows = np.genfromtxt(out / "predictions.csv", delimiter=",", names=True, dtype=None,
                         encoding="utf-8")
    order = {c: i for i, c in enumerate(ds.case_ids)}
    idx = [order[c] for c in rows["case_id"]]
    np.testing.assert_allclose(rows["pred_porosity"], p1[idx, TARGETS.index("porosity")],
                               rtol=1e-5, atol=1e-9)


def test_bad_model_folders_give_clear_errors(trained, tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="not a model folder"):
        load_model(empty)
    good, _ = trained
    info = (good / "model_info.json").read_text()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_info.json").write_text(info)
    (broken / "model.keras").write_text("garbage")
    with pytest.raises(ModelError, match="not a Keras 3 model file"):
        load_model(broken)
    (broken / "model.keras").write_bytes((good / "model.keras").read_bytes())
    (broken / "model_info.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(broken)
    wrong = json.loads(info)
    wrong["targets"] = wrong["targets"][:3]
    wrong["label_mean"], wrong["label_std"] = wrong["label_mean"][:3], wrong["label_std"][:3]
    (broken / "model_info.json").write_text(json.dumps(wrong))
    with pytest.raises(ModelError, match="do not match"):
        load_model(broken)


def test_model_with_code_is_refused(trained, tmp_path):
    import keras

    good, _ = trained
    marker = tmp_path / "ran.txt"
    inp = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inp)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inp, keras.layers.Dense(9)(x))
    folder = tmp_path / "evil"
    save_model(CnnModel(model, json.loads((good / "model_info.json").read_text())),
                   folder)
    with pytest.raises(ModelError, match="Lambda"):
        load_model(folder)
    # a config naming a module outside keras is refused before Keras sees it
    with zipfile.ZipFile(good / "model.keras") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["module"] = "os"
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(folder / "model.keras", "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(ModelError, match="module 'os'"):
        load_model(folder)
    assert not marker.exists()
