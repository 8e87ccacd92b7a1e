"""Architectures: the published network of Komori Table 2."""

from __future__ import annotations

import pytest

from assb_lmp.core.errors import ModelError
from assb_lmp.learn.networks import KOMORI_PARAMS, build_model

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
