"""Grad-CAM: where in the image the network looks for a target (Selvaraju et al. 2017;
Komori Fig. 4C). The overlay figure is :func:`assb_lmp.learn.figures.save_gradcam_figure`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assb_lmp.core.errors import ModelError
from assb_lmp.learn.backend import tf_keras
from assb_lmp.learn.model import CnnModel
from assb_lmp.learn.networks import gradcam_layer


def _gradcam_fn(cnn: CnnModel, layer: str) -> Any:
    """A traced Grad-CAM (cached per layer on the model)."""
    if layer not in cnn._cam:
        tf, keras = tf_keras()
        model = cnn.keras_model
        try:
            conv = model.get_layer(layer)
        except ValueError as exc:
            raise ModelError(f"model has no layer {layer!r}") from exc
        grad_model = keras.Model(model.inputs, [conv.output, model.outputs[0]])
        size = cnn.image_size

        @tf.function(input_signature=[tf.TensorSpec((None, size, size, 1), tf.float32),
                                      tf.TensorSpec((), tf.int32)])
        def cam(x: Any, idx: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                fmap, pred = grad_model(x, training=False)
                y = tf.gather(pred, idx, axis=1)
            grads = tape.gradient(y, fmap)
            weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
            heat = tf.reduce_sum(weights * fmap, axis=-1, keepdims=True)
            heat = tf.image.resize(heat, (size, size), method="bilinear")
            return heat[..., 0], pred

        cnn._cam[layer] = cam
    return cnn._cam[layer]


def gradcam(cnn: CnnModel, image: np.ndarray, target: str,
            layer: str | None = None) -> tuple[np.ndarray, float, list[str]]:
    """Grad-CAM heat map of one target on one image.

    The gradient of the (standardised) target with respect to the feature maps of the last
    convolution layer, averaged over space, weights those maps; their ReLU'd sum,
    upsampled bilinearly to the image size and scaled to [0, 1], is the map. The traced
    function is cached on the model, so calls after the first take milliseconds.

    Parameters
    ----------
    cnn : CnnModel
    image : ndarray of uint8, shape (H, W)
        A prepared image (see :func:`assb_lmp.learn.images.prepare_image`).
    target : str
        Target name.
    layer : str, optional
        Layer to explain (default: the last convolution block of the architecture).

    Returns
    -------
    (ndarray, float, list of str)
        Heat map (H, W) in [0, 1], the predicted target value (physical units), notes.
    """
    if target not in cnn.targets:
        raise ModelError(f"unknown target {target!r}; the model predicts "
                         f"{', '.join(cnn.targets)}")
    arch = cnn.info.get("architecture", "komori2022")
    layer = layer or cnn.info.get("gradcam_layer") or gradcam_layer(arch)
    img = np.asarray(image)
    if img.shape != (cnn.image_size, cnn.image_size):
        raise ModelError(f"image must be {cnn.image_size}x{cnn.image_size}, got {img.shape}")
    idx = cnn.targets.index(target)
    fn = _gradcam_fn(cnn, layer)
    heat, pred = fn(cnn.to_input(img[None]), np.int32(idx))
    heat = heat.numpy()[0].astype(np.float64)
    value = float(cnn.destandardize(pred.numpy().astype(np.float64))[0, idx])
    notes: list[str] = []
    pos = np.maximum(heat, 0.0)
    if pos.max() <= 0.0:
        notes.append("no region raises the target (all Grad-CAM weights negative); "
                     "showing |CAM| instead")
        pos = np.abs(heat)
    top = pos.max()
    return (pos / top if top > 0 else pos), value, notes
