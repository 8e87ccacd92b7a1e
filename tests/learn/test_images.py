"""Images: reading PNG/TIFF, quantizing to three phases, cropping and resizing (no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from assb_lmp.core.errors import ModelError
from assb_lmp.learn.images import prepare_image


def test_prepare_image_keeps_a_dataset_image(tmp_path):
    rng = np.random.default_rng(0)
    img = np.array([0, 128, 255], dtype=np.uint8)[rng.integers(0, 3, (224, 224))]
    Image.fromarray(img).save(tmp_path / "a.png")
    out, notes = prepare_image(tmp_path / "a.png")
    np.testing.assert_array_equal(out, img)
    assert notes == []


def test_prepare_image_crops_resizes_quantizes(tmp_path):
    # a 300 x 450 RGB image of three colours: grayscale, crop, resize
    rgb = np.zeros((300, 450, 3), dtype=np.uint8)
    rgb[:, 150:300] = (120, 120, 120)
    rgb[:, 300:] = (250, 250, 250)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    out, notes = prepare_image(tmp_path / "rgb.png")
    text = " | ".join(notes)
    assert out.shape == (224, 224) and out.dtype == np.uint8
    assert set(np.unique(out)) <= {0, 128, 255}
    assert "grayscale" in text and "cropped 300x450" in text and "resized 300x300" in text
    # a segmented 16-bit TIFF labelled 0/1/2 maps in order to void/AM/SE
    lab = np.zeros((224, 224), dtype=np.uint16)
    lab[:, 80:150], lab[:, 150:] = 1, 2
    Image.fromarray(lab).save(tmp_path / "seg.tif")
    out, notes = prepare_image(tmp_path / "seg.tif")
    assert out[0, 0] == 0 and out[0, 100] == 128 and out[0, 200] == 255
    assert any("three gray values" in n for n in notes)
    # a colour-palette label image: the palette indices are the labels
    pal = Image.fromarray(lab.astype(np.uint8), mode="P")
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    pal.save(tmp_path / "pal.png")
    out, notes = prepare_image(tmp_path / "pal.png")
    assert out[0, 0] == 0 and out[0, 100] == 128 and out[0, 200] == 255
    assert any("palette indices" in n for n in notes)
    # explicit levels: here 2 is AM and 1 is SE
    out, _ = prepare_image(tmp_path / "seg.tif", levels=(0, 2, 1))
    assert out[0, 100] == 255 and out[0, 200] == 128
    # a noisy grayscale slice: multi-Otsu into three phases
    rng = np.random.default_rng(1)
    gray = np.clip(np.where(lab == 0, 20, np.where(lab == 1, 110, 220))
                   + rng.normal(0, 8, lab.shape), 0, 255).astype(np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.tif")
    out, notes = prepare_image(tmp_path / "gray.tif")
    assert any("multi-Otsu" in n for n in notes)
    assert (out == np.array([0, 128, 255], np.uint8)[lab]).mean() > 0.99
    # pixel size: crop the central 36 µm window of a 0.1 µm-pixel image (360 px)
    big = np.full((500, 500), 255, dtype=np.uint8)
    out, notes = prepare_image(big, pixel_um=0.1)
    assert any("360 px" in n for n in notes) and out.shape == (224, 224)


def test_bad_images_give_clear_errors(tmp_path):
    (tmp_path / "notes.png").write_text("this is not an image\n")
    with pytest.raises(ModelError, match="not an image"):
        prepare_image(tmp_path / "notes.png")
    with pytest.raises(ModelError, match="no such image"):
        prepare_image(tmp_path / "missing.tif")
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(ModelError, match="not an image"):
        prepare_image(tmp_path / "empty.tif")
    with pytest.raises(ModelError, match="levels"):
        prepare_image(np.zeros((8, 8)), levels=(0, 1))
