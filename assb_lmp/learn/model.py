"""A trained network with what is needed to use it, and its folder on disk.

A model folder holds

* ``model.keras``: the Keras model (outputs are standardised targets);
* ``model_info.json``: format tag, architecture, image size, target names and units, the
  training mean and SD of each target (to undo the standardisation), the image levels;
* ``metrics.json``, ``history.csv``, ``predictions.csv`` and ``figures/`` after training.

Models are loaded with Keras ``safe_mode`` after their configuration has been checked
against an allow-list of built-in layers, so a model file cannot run code.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.core.errors import ModelError
from assb_lmp.core.io import atomic_write_json, read_json
from assb_lmp.learn.backend import tf_keras
from assb_lmp.learn.images import INPUT_OFFSET, INPUT_SCALE, to_input
from assb_lmp.spec.targets import TARGET_INFO

#: Files of a model folder.
MODEL_FILE = "model.keras"
INFO_FILE = "model_info.json"
METRICS_FILE = "metrics.json"
#: Format tag written into ``model_info.json``.
FORMAT = "assb_lmp.cnn/1"

#: Unit of each default target.
UNITS = {name: unit for name, unit, _ in TARGET_INFO}
#: Layer classes a model file may contain (anything else is refused before loading).
SAFE_LAYERS = frozenset({
    "Functional", "Model", "Sequential", "InputLayer", "Conv2D", "MaxPooling2D", "Flatten",
    "Dense", "BatchNormalization", "Activation", "ReLU", "Dropout", "GlobalAveragePooling2D",
    "Rescaling", "Add",
})
_INFO_KEYS = ("format", "architecture", "image_size", "targets", "label_mean", "label_std")


@dataclass
class CnnModel:
    """A trained network with what is needed to use it.

    Attributes
    ----------
    keras_model : keras.Model
        The network; its outputs are standardised targets.
    info : dict
        Content of ``model_info.json`` (targets, label mean/SD, image size, ...).
    path : Path or None
        Folder it was loaded from or saved to.
    """

    keras_model: Any
    info: dict
    path: Path | None = None
    _infer: Any = field(default=None, repr=False)
    _cam: dict = field(default_factory=dict, repr=False)

    @property
    def targets(self) -> tuple[str, ...]:
        """Target names in output order."""
        return tuple(self.info["targets"])

    @property
    def image_size(self) -> int:
        """Input side in pixels."""
        return int(self.info["image_size"])

    def units(self) -> list[str]:
        """Unit of each target."""
        return [self.info.get("units", {}).get(t, UNITS.get(t, "")) for t in self.targets]

    def to_input(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, H, W) to the network input (N, H, W, 1)."""
        return to_input(images, float(self.info.get("input_scale", INPUT_SCALE)),
                        float(self.info.get("input_offset", INPUT_OFFSET)))

    def destandardize(self, z: np.ndarray) -> np.ndarray:
        """Standardised outputs to physical units."""
        return z * np.asarray(self.info["label_std"]) + np.asarray(self.info["label_mean"])

    def standardize(self, y: np.ndarray) -> np.ndarray:
        """Physical labels to standardised ones."""
        return (y - np.asarray(self.info["label_mean"])) / np.asarray(self.info["label_std"])


def snapshot(model: Any) -> list[np.ndarray]:
    """Copies of all weights (``get_weights`` without its NumPy 2 deprecation warning)."""
    return [np.array(v.value.numpy(), copy=True) for v in model.weights]


def save_model(cnn: CnnModel, model_dir: str | Path) -> Path:
    """Write ``model.keras`` and ``model_info.json`` into ``model_dir``."""
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Keras 3.15 converts variables with np.array(copy=False) semantics (NumPy 2 warns)
        warnings.filterwarnings("ignore", message="__array__ implementation",
                                category=DeprecationWarning)
        cnn.keras_model.save(out / MODEL_FILE)
    atomic_write_json(out / INFO_FILE, cnn.info)
    cnn.path = out
    return out


def _check_node(path: Path, node: Any) -> None:
    """Refuse a configuration node that names a non-Keras module or a layer off the list."""
    if isinstance(node, dict):
        module = node.get("module")
        if isinstance(module, str) and not module.startswith("keras"):
            raise ModelError(f"{path}: refusing to load a model that names module "
                             f"{module!r} (only built-in Keras layers are loaded)")
        cls = node.get("class_name")
        if (isinstance(cls, str) and "config" in node and module
                and module.startswith("keras.layers") and cls not in SAFE_LAYERS):
            raise ModelError(f"{path}: refusing to load layer class {cls!r} "
                             f"(allowed: {', '.join(sorted(SAFE_LAYERS))})")
        for value in node.values():
            _check_node(path, value)
    elif isinstance(node, list):
        for value in node:
            _check_node(path, value)


def check_keras_archive(path: Path) -> None:
    """Refuse a ``.keras`` file whose configuration names anything but built-in layers.

    Raises
    ------
    ModelError
        Not a Keras 3 archive, or a module or layer class outside the allow-list.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ModelError(f"{path} is not a Keras 3 model file (.keras archive): {exc}") from exc
    _check_node(path, config)


def read_info(ifile: Path) -> dict:
    """Read and check ``model_info.json``.

    Raises
    ------
    ModelError
        Not JSON, keys missing, another format, or lengths that disagree.
    """
    info = read_json(ifile, "model info", ModelError)
    if not isinstance(info, dict):
        raise ModelError(f"{ifile} is not a JSON object")
    if any(k not in info for k in _INFO_KEYS):
        raise ModelError(f"{ifile} lacks keys {[k for k in _INFO_KEYS if k not in info]}")
    if info["format"] != FORMAT:
        raise ModelError(f"{ifile}: format {info['format']!r}, expected {FORMAT!r}")
    n_t = len(info["targets"])
    if n_t == 0 or len(info["label_mean"]) != n_t or len(info["label_std"]) != n_t:
        raise ModelError(f"{ifile}: targets, label_mean and label_std differ in length")
    return info


def load_model(model_dir: str | Path, *, threads: int | None = None) -> CnnModel:
    """Load a model folder written by training (safely: no code runs from it).

    Parameters
    ----------
    model_dir : str or Path
        Folder with ``model.keras`` and ``model_info.json``.
    threads : int, optional
        TensorFlow intra-op threads (default: all cores).

    Returns
    -------
    CnnModel

    Raises
    ------
    ModelError
        The folder, either file, or their agreement is not as expected.
    """
    folder = Path(model_dir)
    if not folder.is_dir():
        raise ModelError(f"model folder {folder} does not exist or is not a folder")
    kfile, ifile = folder / MODEL_FILE, folder / INFO_FILE
    missing = [p.name for p in (kfile, ifile) if not p.is_file()]
    if missing:
        raise ModelError(f"{folder} is not a model folder: missing {', '.join(missing)} "
                         "(write one with `python -m assb_lmp train DATASET --out DIR`)")
    info = read_info(ifile)
    check_keras_archive(kfile)
    _, keras = tf_keras(threads)
    try:
        model = keras.saving.load_model(kfile, compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many types for a broken file
        raise ModelError(f"cannot load {kfile}: {type(exc).__name__}: {exc}") from exc
    size, n_t = int(info["image_size"]), len(info["targets"])
    in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    if in_shape[1:] != (size, size, 1) or out_shape[1:] != (n_t,):
        raise ModelError(f"{kfile}: input {in_shape} / output {out_shape} do not match "
                         f"{INFO_FILE} (image {size}, {n_t} targets)")
    return CnnModel(model, info, folder)
