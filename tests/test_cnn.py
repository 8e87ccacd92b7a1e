"""CNN stage: architecture, training, save/load, prediction, Grad-CAM, input checks, CLI.

Fast: a small synthetic dataset of 64 x 64 images (the published 224 x 224 network is
built, not trained, to check its layer shapes and its 493,449 parameters).
"""

from __future__ import annotations

import argparse
import json
import logging
import zipfile

import numpy as np
import pytest
from PIL import Image

from assb_lmp.cli import learn as cli_cnn
from assb_lmp.core.errors import ModelError
from assb_lmp.learn import cnn
from assb_lmp.spec.targets import TARGETS
from assb_lmp.synthetic import make_synthetic_dataset

pytestmark = pytest.mark.cnn
pytest.importorskip("tensorflow")

SIZE = 64


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="assb_lmp")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_cnn.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    return make_synthetic_dataset(root / "dataset", 128, seed=0, size=SIZE, write_cases=True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """24 images and no case folders (so no stress-distribution figures)."""
    return make_synthetic_dataset(tmp_path_factory.mktemp("tiny") / "dataset", 24, seed=3,
                                  size=SIZE)


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    metrics = cnn.train(dataset, out, epochs=30, patience=10, batch_size=8, seed=1,
                        distribution_cases=2)
    return out, metrics


def test_published_architecture():
    model = cnn.build_model()
    assert model.count_params() == cnn.KOMORI_PARAMS == 493_449
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes["block1_conv"] == (224, 224, 32)
    assert shapes["block3_pool"] == (28, 28, 32)
    assert shapes["block5_conv"] == (14, 14, 64)
    assert shapes["block5_pool"] == (7, 7, 64)
    assert shapes["flatten"] == (3136,)
    assert shapes["fc1"] == shapes["fc2"] == (128,)
    assert shapes["output"] == (9,)
    assert model.get_layer("output").get_config()["activation"] == "linear"
    assert [model.get_layer(f"block{i}_conv").filters for i in range(1, 6)] == [32, 32, 32,
                                                                               64, 64]
    with pytest.raises(ModelError, match="unknown architecture"):
        cnn.build_model("vgg16")


def test_synthetic_labels_are_functions_of_the_image(dataset):
    d = np.load(dataset / "arrays.npz")
    assert d["images"].dtype == np.uint8 and d["images"].shape == (128, SIZE, SIZE)
    assert tuple(d["targets"]) == TARGETS
    assert set(np.unique(d["images"])) <= {0, 128, 255}
    por = (d["images"] == 0).mean(axis=(1, 2))
    am = (d["images"] == 128).mean(axis=(1, 2))
    np.testing.assert_allclose(d["labels"][:, TARGETS.index("porosity")], por, rtol=1e-12)
    np.testing.assert_allclose(d["labels"][:, TARGETS.index("am_area_fraction")], am,
                               rtol=1e-12)
    assert (dataset / "manifest.csv").read_text().startswith("case_id,image,split,")
    assert (dataset.parent / "syn0000" / "particles.csv").is_file()


def test_train_beats_mean_baseline_and_writes_outputs(trained, dataset):
    out, metrics = trained
    for name in ("model.keras", "model_info.json", "metrics.json", "history.csv",
                 "predictions.csv", "figures/loss.png", "figures/parity.png"):
        assert (out / name).is_file(), name
    for t in TARGETS:
        assert (out / "figures" / f"parity_{t}.png").is_file()
    assert len(list((out / "figures").glob("stress_distribution_*.png"))) == 2
    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved["targets"]) == set(TARGETS)
    assert {"r2", "mae"} <= set(saved["targets"]["reaction_area_um2"])
    assert saved["split_sizes"]["train"] + saved["split_sizes"]["val"] + \
        saved["split_sizes"]["test"] == 128
    assert saved["epochs"] >= saved["best_epoch"] >= 1 and saved["seconds"] > 0

    model = cnn.load_model(out)
    ds = cnn.load_dataset(dataset)
    va = ds.index("val")
    y = model.standardize(ds.labels[va])
    mse = np.mean((cnn.predict_standardized(model, ds.images[va]) - y) ** 2)
    baseline = np.mean(y**2)  # predicting the training mean of every target
    assert mse < 0.8 * baseline, (mse, baseline)
    assert saved["targets"]["am_area_fraction"]["r2"] > 0.3


def test_save_load_identical_predictions(trained, dataset, tmp_path):
    out, _ = trained
    ds = cnn.load_dataset(dataset)
    first = cnn.load_model(out)
    p1 = cnn.predict(first, ds.images)
    cnn.save_model(first, tmp_path / "copy")
    p2 = cnn.predict(cnn.load_model(tmp_path / "copy"), ds.images)
    np.testing.assert_array_equal(p1, p2)
    # and equal to what train() wrote from the in-memory model (6 significant digits)
    rows = np.genfromtxt(out / "predictions.csv", delimiter=",", names=True, dtype=None,
                         encoding="utf-8")
    order = {c: i for i, c in enumerate(ds.case_ids)}
    idx = [order[c] for c in rows["case_id"]]
    np.testing.assert_allclose(rows["pred_porosity"], p1[idx, TARGETS.index("porosity")],
                               rtol=1e-5, atol=1e-9)


def test_gradcam_map(trained, dataset):
    out, _ = trained
    model = cnn.load_model(out)
    ds = cnn.load_dataset(dataset)
    img = ds.images[ds.index("test")[0]]
    heat, value, _ = cnn.gradcam(model, img, "reaction_area_um2")
    assert heat.shape == (SIZE, SIZE)
    assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    assert heat.std() > 0.01  # not a constant map
    expected = cnn.predict(model, img)[0, TARGETS.index("reaction_area_um2")]
    assert value == pytest.approx(expected, rel=1e-4)
    heat2, _, _ = cnn.gradcam(model, img, "reaction_area_um2")  # cached tf.function
    np.testing.assert_allclose(heat, heat2)
    with pytest.raises(ModelError, match="unknown target"):
        cnn.gradcam(model, img, "nonsense")


def test_same_seed_same_weights(tiny, tmp_path):
    for name in ("a", "b"):
        cnn.train(tiny, tmp_path / name, epochs=2, seed=5, plots=False)
    wa = cnn._snapshot(cnn.load_model(tmp_path / "a").keras_model)
    wb = cnn._snapshot(cnn.load_model(tmp_path / "b").keras_model)
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))


def test_train_fraction_and_weight_decay(tiny, tmp_path):
    full = cnn.train(tiny, tmp_path / "full", epochs=1, seed=5, plots=False)
    half = cnn.train(tiny, tmp_path / "half", epochs=1, seed=5, plots=False,
                     train_fraction=0.5, weight_decay=0.1)
    n = full["split_sizes"]["train"]
    assert half["split_sizes"]["train"] == round(0.5 * n)
    assert half["split_sizes"]["val"] == full["split_sizes"]["val"]
    assert half["config"]["weight_decay"] == 0.1
    wf = cnn._snapshot(cnn.load_model(tmp_path / "full").keras_model)
    wh = cnn._snapshot(cnn.load_model(tmp_path / "half").keras_model)
    assert not all(np.array_equal(x, y) for x, y in zip(wf, wh, strict=True))
    with pytest.raises(ModelError, match="train_fraction must be in"):
        cnn.train(tiny, tmp_path / "x", epochs=1, train_fraction=0.0)
    with pytest.raises(ModelError, match="weight_decay must be in"):
        cnn.train(tiny, tmp_path / "x", epochs=1, weight_decay=-1.0)


def test_bench_cnn_part(tiny, tmp_path):
    from assb_lmp import bench

    res = bench.cnn_speed(tmp_path, dataset=tiny, epochs=1, repeats=1)
    assert res["epochs"] == 1 and res["train_s"] > 0 and res["gradcam_ms"] > 0
    assert set(res["predict_images_per_s"]) == {32, 64}
    assert all(r > 0 for r in res["predict_images_per_s"].values())
    text = bench.table({"machine": bench.machine(), "cnn": res})
    assert "prediction batch 32" in text and "Grad-CAM" in text


# --------------------------------------------------------------------------- images


def test_prepare_image_keeps_a_dataset_image(tmp_path):
    rng = np.random.default_rng(0)
    img = np.array([0, 128, 255], dtype=np.uint8)[rng.integers(0, 3, (224, 224))]
    Image.fromarray(img).save(tmp_path / "a.png")
    out, notes = cnn.prepare_image(tmp_path / "a.png")
    np.testing.assert_array_equal(out, img)
    assert notes == []


def test_prepare_image_crops_resizes_quantizes(tmp_path):
    # a 300 x 450 RGB image of three colours: grayscale, crop, resize
    rgb = np.zeros((300, 450, 3), dtype=np.uint8)
    rgb[:, 150:300] = (120, 120, 120)
    rgb[:, 300:] = (250, 250, 250)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    out, notes = cnn.prepare_image(tmp_path / "rgb.png")
    text = " | ".join(notes)
    assert out.shape == (224, 224) and out.dtype == np.uint8
    assert set(np.unique(out)) <= {0, 128, 255}
    assert "grayscale" in text and "cropped 300x450" in text and "resized 300x300" in text
    # a segmented 16-bit TIFF labelled 0/1/2 maps in order to void/AM/SE
    lab = np.zeros((224, 224), dtype=np.uint16)
    lab[:, 80:150], lab[:, 150:] = 1, 2
    Image.fromarray(lab).save(tmp_path / "seg.tif")
    out, notes = cnn.prepare_image(tmp_path / "seg.tif")
    assert out[0, 0] == 0 and out[0, 100] == 128 and out[0, 200] == 255
    assert any("three gray values" in n for n in notes)
    # a colour-palette label image: the palette indices are the labels
    pal = Image.fromarray(lab.astype(np.uint8), mode="P")
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    pal.save(tmp_path / "pal.png")
    out, notes = cnn.prepare_image(tmp_path / "pal.png")
    assert out[0, 0] == 0 and out[0, 100] == 128 and out[0, 200] == 255
    assert any("palette indices" in n for n in notes)
    # explicit levels: here 2 is AM and 1 is SE
    out, _ = cnn.prepare_image(tmp_path / "seg.tif", levels=(0, 2, 1))
    assert out[0, 100] == 255 and out[0, 200] == 128
    # a noisy grayscale slice: multi-Otsu into three phases
    rng = np.random.default_rng(1)
    gray = np.clip(np.where(lab == 0, 20, np.where(lab == 1, 110, 220))
                   + rng.normal(0, 8, lab.shape), 0, 255).astype(np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.tif")
    out, notes = cnn.prepare_image(tmp_path / "gray.tif")
    assert any("multi-Otsu" in n for n in notes)
    assert (out == np.array([0, 128, 255], np.uint8)[lab]).mean() > 0.99
    # pixel size: crop the central 36 µm window of a 0.1 µm-pixel image (360 px)
    big = np.full((500, 500), 255, dtype=np.uint8)
    out, notes = cnn.prepare_image(big, pixel_um=0.1)
    assert any("360 px" in n for n in notes) and out.shape == (224, 224)


def test_bad_images_give_clear_errors(tmp_path):
    (tmp_path / "notes.png").write_text("this is not an image\n")
    with pytest.raises(ModelError, match="not an image"):
        cnn.prepare_image(tmp_path / "notes.png")
    with pytest.raises(ModelError, match="no such image"):
        cnn.prepare_image(tmp_path / "missing.tif")
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(ModelError, match="not an image"):
        cnn.prepare_image(tmp_path / "empty.tif")
    with pytest.raises(ModelError, match="levels"):
        cnn.prepare_image(np.zeros((8, 8)), levels=(0, 1))


# --------------------------------------------------------------------------- model folders


def test_bad_model_folders_give_clear_errors(trained, tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        cnn.load_model(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="not a model folder"):
        cnn.load_model(empty)
    good, _ = trained
    info = (good / "model_info.json").read_text()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_info.json").write_text(info)
    (broken / "model.keras").write_text("garbage")
    with pytest.raises(ModelError, match="not a Keras 3 model file"):
        cnn.load_model(broken)
    (broken / "model.keras").write_bytes((good / "model.keras").read_bytes())
    (broken / "model_info.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        cnn.load_model(broken)
    wrong = json.loads(info)
    wrong["targets"] = wrong["targets"][:3]
    wrong["label_mean"], wrong["label_std"] = wrong["label_mean"][:3], wrong["label_std"][:3]
    (broken / "model_info.json").write_text(json.dumps(wrong))
    with pytest.raises(ModelError, match="do not match"):
        cnn.load_model(broken)


def test_model_with_code_is_refused(trained, tmp_path):
    import keras

    good, _ = trained
    marker = tmp_path / "ran.txt"
    inp = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inp)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inp, keras.layers.Dense(9)(x))
    folder = tmp_path / "evil"
    cnn.save_model(cnn.CnnModel(model, json.loads((good / "model_info.json").read_text())),
                   folder)
    with pytest.raises(ModelError, match="Lambda"):
        cnn.load_model(folder)
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
        cnn.load_model(folder)
    assert not marker.exists()


# --------------------------------------------------------------------------- CLI


def test_cli_predict_and_gradcam(trained, dataset, tmp_path, capsys):
    out, _ = trained
    images = sorted((dataset / "images").glob("*.png"))[:3]
    big = tmp_path / "big.tif"
    Image.fromarray(np.kron(np.asarray(Image.open(images[0])), np.ones((3, 3), np.uint8))
                    ).save(big)
    assert _run_cli(["predict", str(out), *map(str, images), str(big)]) == 0
    captured = capsys.readouterr()
    for t in TARGETS:
        assert t in captured.out
    assert "big.tif" in captured.out and "resized 192x192 to 64x64" in captured.err

    assert _run_cli(["predict", str(out), str(images[0]), "--out", str(tmp_path / "p.json")]) == 0
    payload = json.loads((tmp_path / "p.json").read_text())
    assert set(payload["images"][0]["predictions"]) == set(TARGETS)
    assert _run_cli(["predict", str(out), str(images[0]), "--out", str(tmp_path / "p.csv")]) == 0
    header = (tmp_path / "p.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "image" and "se_coverage" in header

    heat_png = tmp_path / "heat.png"
    assert _run_cli(["gradcam", str(out), str(images[0]), "--target", "reaction_area_um2",
                     "--out", str(heat_png), "--npy", str(tmp_path / "heat.npy")]) == 0
    assert heat_png.is_file() and np.load(tmp_path / "heat.npy").shape == (SIZE, SIZE)
    assert "ms" in capsys.readouterr().out

    (tmp_path / "bad.png").write_text("no")
    with pytest.raises(ModelError, match="not an image"):
        _run_cli(["predict", str(out), str(tmp_path / "bad.png")])
    with pytest.raises(ModelError, match="not a model folder"):
        _run_cli(["predict", str(tmp_path), str(images[0])])


def test_cli_train_without_case_folders(tiny, tmp_path, caplog, capsys):
    data = tiny
    with caplog.at_level(logging.INFO, logger="assb_lmp.learn.cnn"):
        assert _run_cli(["train", str(data), "--out", str(tmp_path / "m"), "--epochs", "1",
                         "--seed", "2"]) == 0
    assert "R2 test" in capsys.readouterr().out
    assert (tmp_path / "m" / "figures" / "parity.png").is_file()
    assert not list((tmp_path / "m" / "figures").glob("stress_distribution_*"))
    assert "stress distribution figures skipped" in caplog.text
