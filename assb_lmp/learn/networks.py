"""Network architectures of the CNN stage.

The default is the network published by Komori et al. (Front. Chem. Eng. 4:836282, 2022,
Table 2): a 224 x 224 x 1 input; five blocks of 3 x 3 convolution (ReLU, padding same) and
2 x 2 max-pooling with 32, 32, 32, 64, 64 filters; flatten (3136); two dense layers of 128
(ReLU); a linear output per target. With nine targets it has 493,449 parameters.

Every architecture is built from built-in Keras layers only, so that its saved file loads
in Keras ``safe_mode`` and passes the allow-list of :mod:`assb_lmp.learn.model`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assb_lmp.core.errors import ModelError
from assb_lmp.learn.backend import tf_keras
from assb_lmp.learn.images import IMAGE_SIZE
from assb_lmp.spec.targets import TARGETS

#: Filters of the five convolution blocks (Komori 2022, Table 2).
KOMORI_FILTERS = (32, 32, 32, 64, 64)
#: Parameters of the published network with nine targets.
KOMORI_PARAMS = 493_449


def _komori(keras: Any, image_size: int, n_outputs: int, batch_norm: bool) -> Any:
    layers = keras.layers
    inp = keras.Input((image_size, image_size, 1), name="input")
    x = inp
    for i, filters in enumerate(KOMORI_FILTERS, start=1):
        if batch_norm:
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                              name=f"block{i}_conv")(x)
            x = layers.BatchNormalization(name=f"block{i}_bn")(x)
            x = layers.Activation("relu", name=f"block{i}_relu")(x)
        else:
            x = layers.Conv2D(filters, 3, padding="same", activation="relu",
                              name=f"block{i}_conv")(x)
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="fc1")(x)
    x = layers.Dense(128, activation="relu", name="fc2")(x)
    out = layers.Dense(n_outputs, name="output")(x)
    name = "komori2022_bn" if batch_norm else "komori2022"
    return keras.Model(inp, out, name=name)


def _komori_plain(keras: Any, image_size: int, n_outputs: int) -> Any:
    return _komori(keras, image_size, n_outputs, False)


def _komori_bn(keras: Any, image_size: int, n_outputs: int) -> Any:
    return _komori(keras, image_size, n_outputs, True)


#: Architectures by name: (builder, name of the layer Grad-CAM reads).
ARCHITECTURES: dict[str, tuple[Callable[[Any, int, int], Any], str]] = {
    "komori2022": (_komori_plain, "block5_conv"),
    "komori2022-bn": (_komori_bn, "block5_relu"),
}


def gradcam_layer(architecture: str) -> str:
    """Name of the layer Grad-CAM explains for an architecture (the last convolution)."""
    return ARCHITECTURES.get(architecture, (None, "block5_conv"))[1]


def build_model(architecture: str = "komori2022", *, image_size: int = IMAGE_SIZE,
                n_outputs: int = len(TARGETS), seed: int | None = None) -> Any:
    """Build (not train) a network.

    Parameters
    ----------
    architecture : str, optional
        ``"komori2022"`` (the published network, default) or ``"komori2022-bn"`` (the same
        with batch normalisation after each convolution; an option, not the reference).
    image_size : int, optional
        Input side in pixels; a multiple of 32 (224 for the published network).
    n_outputs : int, optional
        Number of targets (9 by default).
    seed : int, optional
        Seed for the initial weights.

    Returns
    -------
    keras.Model
        Uncompiled functional model; layers are named as in Komori Table 2.
    """
    if architecture not in ARCHITECTURES:
        raise ModelError(f"unknown architecture {architecture!r}; choose from "
                         f"{', '.join(ARCHITECTURES)}")
    if image_size < 32 or image_size % 32:
        raise ModelError(f"image size must be a positive multiple of 32, got {image_size}")
    _, keras = tf_keras()
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    return ARCHITECTURES[architecture][0](keras, image_size, n_outputs)
