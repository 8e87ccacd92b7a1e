"""Grad-CAM maps."""

from __future__ import annotations

import numpy as np
import pytest

from assb_lmp.core.errors import ModelError
from assb_lmp.learn.dataset import load_dataset
from assb_lmp.learn.gradcam import gradcam
from assb_lmp.learn.model import load_model
from assb_lmp.learn.predict import predict
from assb_lmp.spec.targets import TARGETS

from .conftest import SIZE

pytestmark = pytest.mark.cnn
pytest.importorskip("tensorflow")


def test_gradcam_map(trained, dataset):
    out, _ = trained
    model = load_model(out)
    ds = load_dataset(dataset)
    img = ds.images[ds.index("test")[0]]
    heat, value, _ = gradcam(model, img, "reaction_area_um2")
    assert heat.shape == (SIZE, SIZE)
    assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    assert heat.std() > 0.01  # not a constant map
    expected = predict(model, img)[0, TARGETS.index("reaction_area_um2")]
    assert value == pytest.approx(expected, rel=1e-4)
    heat2, _, _ = gradcam(model, img, "reaction_area_um2")  # cached tf.function
    np.testing.assert_allclose(heat, heat2)
    with pytest.raises(ModelError, match="unknown target"):
        gradcam(model, img, "nonsense")
