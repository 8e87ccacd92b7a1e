"""Architectures: the published network of Komori Table 2."""

from __future__ import annotations

import numpy as np
import pytest

from assb_lmp.core.errors import ModelError
from assb_lmp.learn.gradcam import gradcam
from assb_lmp.learn.model import SAFE_LAYERS, load_model
from assb_lmp.learn.networks import KOMORI_PARAMS, RESNET_PARAMS, build_model
from assb_lmp.learn.predict import predict
from assb_lmp.learn.train import train

from .conftest import SIZE

pytestmark = pytest.mark.cnn
pytest.importorskip("tensorflow")


def test_published_architecture():
    model = build_model()
    assert model.count_params() == KOMORI_PARAMS == 493_449
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
        build_model("vgg16")


def test_resnet_option_builds_trains_saves_loads_and_predicts(tiny, tmp_path):
    model = build_model("resnet")
    assert model.count_params() == RESNET_PARAMS == 639_785
    assert {layer.__class__.__name__ for layer in model.layers} <= SAFE_LAYERS
    assert tuple(model.get_layer("stage4_out").output.shape[1:]) == (7, 7, 128)
    assert tuple(model.output.shape[1:]) == (9,)
    metrics = train(tiny, tmp_path / "m", architecture="resnet", epochs=1, seed=4,
                    plots=False)
    assert metrics["architecture"] == "resnet" and metrics["parameters"] == RESNET_PARAMS
    cnn = load_model(tmp_path / "m")  # allow-list check and Keras safe_mode
    assert cnn.info["gradcam_layer"] == "stage4_out"
    images = np.load(tiny / "arrays.npz")["images"][:4]
    pred = predict(cnn, images)
    assert pred.shape == (4, 9) and np.isfinite(pred).all()
    heat, _, _ = gradcam(cnn, images[0], "porosity")
    assert heat.shape == (SIZE, SIZE) and np.isfinite(heat).all()

