"""Network architectures of the CNN stage.

The default is the network published by Komori et al. (Front. Chem. Eng. 4:836282, 2022,
Table 2): a 224 x 224 x 1 input; five blocks of 3 x 3 convolution (ReLU, padding same) and
2 x 2 max-pooling with 32, 32, 32, 64, 64 filters; flatten (3136); two dense layers of 128
(ReLU); a linear output per target. With nine targets it has 493,449 parameters.

Beside it, as options (the published network stays the default and the reference):
``komori2022-bn`` (the same with batch normalisation) and ``resnet``, a small residual
network (He et al. 2016): a 3 x 3 stem at full resolution and 2 x 2 max-pooling, four
residual stages of 32, 64, 128 and 128 filters that each halve the map (two 3 x 3
convolutions with batch normalisation, a 1 x 1 projection on the shortcut), global average
pooling, dense 128 (ReLU), a linear output per target. Averaging the last feature maps
instead of flattening them suits the targets, which are all averages or totals over the
window; with nine targets it has 639,785 parameters (2,176 of them the batch
normalisation statistics).

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


#: Filters of the four residual stages of ``resnet``.
RESNET_FILTERS = (32, 64, 128, 128)
#: Parameters of ``resnet`` with nine targets (any image size: the head pools globally).
RESNET_PARAMS = 639_785


def _residual_block(keras: Any, x: Any, filters: int, name: str) -> Any:
    """Two 3 x 3 convolutions (the first with stride 2) and a projected shortcut."""
    layers = keras.layers
    y = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False,
                      name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    shortcut = layers.Conv2D(filters, 1, strides=2, use_bias=False,
                             name=f"{name}_proj")(x)
    shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _resnet(keras: Any, image_size: int, n_outputs: int) -> Any:
    layers = keras.layers
    inp = keras.Input((image_size, image_size, 1), name="input")
    x = layers.Conv2D(32, 3, padding="same", use_bias=False, name="stem_conv")(inp)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    x = layers.MaxPooling2D(2, name="stem_pool")(x)
    for i, filters in enumerate(RESNET_FILTERS, start=1):
        x = _residual_block(keras, x, filters, f"stage{i}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(128, activation="relu", name="fc1")(x)
    out = layers.Dense(n_outputs, name="output")(x)
    return keras.Model(inp, out, name="resnet")


#: Architectures by name: (builder, name of the layer Grad-CAM reads).
ARCHITECTURES: dict[str, tuple[Callable[[Any, int, int], Any], str]] = {
    "komori2022": (_komori_plain, "block5_conv"),
    "komori2022-bn": (_komori_bn, "block5_relu"),
    "resnet": (_resnet, f"stage{len(RESNET_FILTERS)}_out"),
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
        ``"komori2022"`` (the published network, default), ``"komori2022-bn"`` (the same
        with batch normalisation after each convolution) or ``"resnet"`` (the small
        residual network above); the last two are options, not the reference.
    image_size : int, optional
        Input side in pixels; a multiple of 32 (224 for the published network).
    n_outputs : int, optional
        Number of targets (9 by default).
    seed : int, optional
        Seed for the initial weights.

    Returns
    -------
    keras.Model
        Uncompiled functional model; the published network's layers are named as in
        Komori Table 2.
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
