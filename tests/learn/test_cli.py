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
