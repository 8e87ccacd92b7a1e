"""The train, predict and gradcam subcommands (assb_lmp.cli.learn)."""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import pytest
from PIL import Image

from assb_lmp.cli import learn as cli_learn
from assb_lmp.core.errors import ModelError
from assb_lmp.spec.targets import TARGETS

from .conftest import SIZE

pytestmark = pytest.mark.cnn
pytest.importorskip("tensorflow")


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="assb_lmp")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_learn.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


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
    with caplog.at_level(logging.INFO, logger="assb_lmp.learn"):
        assert _run_cli(["train", str(data), "--out", str(tmp_path / "m"), "--epochs", "1",
                         "--seed", "2"]) == 0
    assert "R2 test" in capsys.readouterr().out
    assert (tmp_path / "m" / "figures" / "parity.png").is_file()
    assert not list((tmp_path / "m" / "figures").glob("stress_distribution_*"))
    assert "stress distribution figures skipped" in caplog.text


def test_cli_predict_shows_test_r2_and_takes_model_option(trained, dataset, capsys):
    out, metrics = trained
    images = sorted((dataset / "images").glob("*.png"))[:5]
    assert _run_cli(["predict", str(images[0]), "--model", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "test R2" in lines[1]
    row = next(line for line in lines if line.startswith("porosity "))
    r2 = metrics["targets"]["porosity"]["r2"]
    assert row.split()[-1] == f"{r2:.3f}"  # the model's test R² beside the value
    assert _run_cli(["predict", *map(str, images), "--model", str(out)]) == 0  # rows
    lines = capsys.readouterr().out.splitlines()
    r2_row = next(line for line in lines if line.startswith("test R2"))
    assert f"{metrics['targets']['am_area_fraction']['r2']:.3f}" in r2_row.split()


def test_cli_uses_the_shipped_model_without_model_option(trained, dataset, tmp_path,
                                                         monkeypatch, capsys):
    from assb_lmp.learn import ship

    out, _ = trained
    image = sorted((dataset / "images").glob("*.png"))[0]
    monkeypatch.setattr(ship, "models_dir", lambda: tmp_path / "models")
    with pytest.raises(ModelError, match="no trained model ships"):
        _run_cli(["predict", str(image)])
    ship.ship_model(out, command="python -m assb_lmp train tests", allow_synthetic=True)
    assert _run_cli(["predict", str(image)]) == 0
    text = capsys.readouterr().out
    assert str(tmp_path / "models" / "default") in text and "se_coverage" in text
    assert _run_cli(["gradcam", str(image), "--out", str(tmp_path / "h.png")]) == 0
    assert "test R2" in capsys.readouterr().out and (tmp_path / "h.png").is_file()


def test_cli_ship_model_refuses_a_model_of_synthetic_labels(trained, tmp_path):
    out, _ = trained
    with pytest.raises(ModelError, match="synthetic dataset"):
        _run_cli(["ship-model", str(out), "--command", "python -m assb_lmp train x",
                  "--dest", str(tmp_path / "default")])
    assert not (tmp_path / "default").exists()


def test_cli_train_records_its_command(tiny, tmp_path):
    assert _run_cli(["train", str(tiny), "--out", str(tmp_path / "m"), "--epochs", "1",
                     "--no-plots", "--architecture", "resnet"]) == 0
    info = json.loads((tmp_path / "m" / "model_info.json").read_text())
    assert info["command"].startswith(f"python -m assb_lmp train {tiny} --out ")
    assert "--architecture resnet --epochs 1" in info["command"]
    assert info["dataset_synthetic"] is True and info["architecture"] == "resnet"
