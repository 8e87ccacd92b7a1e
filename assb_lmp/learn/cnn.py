"""CNN stage: train, evaluate, predict and explain (Grad-CAM) from cross-section images.

The default network is the one published by Komori et al. (Front. Chem. Eng. 4:836282,
2022, Table 2): a 224 x 224 x 1 input; five blocks of 3 x 3 convolution (ReLU, padding
same) and 2 x 2 max-pooling with 32, 32, 32, 64, 64 filters; flatten (3136); two dense
layers of 128 (ReLU); a linear output per target. With nine targets it has 493,449
parameters. Loss MSE, optimiser Adam, targets standardised with the training statistics.

A model folder holds

* ``model.keras``: the Keras model (outputs are standardised targets);
* ``model_info.json``: format tag, architecture, image size, target names and units, the
  training mean and SD of each target (to undo the standardisation), the image levels;
* ``metrics.json``, ``history.csv``, ``predictions.csv`` and ``figures/`` after training.

Models are loaded with Keras ``safe_mode`` after their configuration has been checked
against an allow-list of built-in layers, so a model file cannot run code.

TensorFlow is imported lazily, inside the functions that need it: ``import assb_lmp`` and
``import assb_lmp.cnn`` stay fast.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.core.errors import AnalysisError, ModelError
from assb_lmp.spec.targets import TARGET_INFO, TARGETS, r2_score

logger = logging.getLogger(__name__)

#: Side of the images the published network takes.
IMAGE_SIZE = 224
#: Gray levels of void, AM and SE in the dataset images.
LEVELS = (0, 128, 255)
#: Physical side (µm) of a dataset image: the 40 µm cell cropped 2 µm in from each side.
WINDOW_UM = 36.0
#: Files of a model folder.
MODEL_FILE = "model.keras"
INFO_FILE = "model_info.json"
METRICS_FILE = "metrics.json"
#: Format tag written into ``model_info.json``.
FORMAT = "assb_lmp.cnn/1"
#: Filters of the five convolution blocks (Komori 2022, Table 2).
KOMORI_FILTERS = (32, 32, 32, 64, 64)
#: Parameters of the published network with nine targets.
KOMORI_PARAMS = 493_449
#: Augmentations that leave scalar labels unchanged.
AUGMENTATIONS = ("d4", "flips", "none")

_UNITS = {name: unit for name, unit, _ in TARGET_INFO}
#: Layer classes a model file may contain (anything else is refused before loading).
_SAFE_LAYERS = frozenset({
    "Functional", "Model", "Sequential", "InputLayer", "Conv2D", "MaxPooling2D", "Flatten",
    "Dense", "BatchNormalization", "Activation", "ReLU", "Dropout", "GlobalAveragePooling2D",
    "Rescaling",
})


# --------------------------------------------------------------------------- TensorFlow


_TF_THREADS: int | None = None


def _tf(threads: int | None = None) -> tuple[Any, Any]:
    """Import TensorFlow and Keras lazily, quietly, with a fixed thread count.

    Parameters
    ----------
    threads : int, optional
        Intra-op threads. Honoured only before TensorFlow's runtime starts; later calls
        with another count log a warning and keep the first.

    Returns
    -------
    (module, module)
        ``tensorflow`` and ``keras``.
    """
    global _TF_THREADS
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        import keras
        import tensorflow as tf
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelError(
            "the CNN stage needs TensorFlow and Keras 3: pip install 'assb_lmp[cnn]'"
        ) from exc
    if keras.backend.backend() != "tensorflow":
        raise ModelError(f"Keras backend is {keras.backend.backend()!r}; set KERAS_BACKEND="
                         "tensorflow")
    want = threads if threads else (os.cpu_count() or 1)
    if _TF_THREADS is None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(want)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            _TF_THREADS = want
        except RuntimeError:
            _TF_THREADS = tf.config.threading.get_intra_op_parallelism_threads() or want
            logger.warning("TensorFlow already initialised; thread count left at %s",
                           _TF_THREADS)
    elif threads and threads != _TF_THREADS:
        logger.warning("TensorFlow runs with %d threads already; %d requested is ignored",
                       _TF_THREADS, threads)
    return tf, keras


def _seed_everything(seed: int, threads: int | None) -> None:
    """Seed Python, NumPy, TensorFlow and make TensorFlow ops deterministic."""
    tf, keras = _tf(threads)
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


# --------------------------------------------------------------------------- models


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


#: Architectures by name: (builder, name of the layer Grad-CAM reads).
ARCHITECTURES: dict[str, tuple[Callable[[Any, int, int], Any], str]] = {
    "komori2022": (lambda k, s, n: _komori(k, s, n, False), "block5_conv"),
    "komori2022-bn": (lambda k, s, n: _komori(k, s, n, True), "block5_relu"),
}


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
    _, keras = _tf()
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    return ARCHITECTURES[architecture][0](keras, image_size, n_outputs)


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
        return [self.info.get("units", {}).get(t, _UNITS.get(t, "")) for t in self.targets]

    def to_input(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, H, W) to the network input (N, H, W, 1)."""
        return _to_input(images, float(self.info.get("input_scale", INPUT_SCALE)),
                         float(self.info.get("input_offset", INPUT_OFFSET)))

    def destandardize(self, z: np.ndarray) -> np.ndarray:
        """Standardised outputs to physical units."""
        return z * np.asarray(self.info["label_std"]) + np.asarray(self.info["label_mean"])

    def standardize(self, y: np.ndarray) -> np.ndarray:
        """Physical labels to standardised ones."""
        return (y - np.asarray(self.info["label_mean"])) / np.asarray(self.info["label_std"])


def save_model(cnn: CnnModel, model_dir: str | Path) -> Path:
    """Write ``model.keras`` and ``model_info.json`` into ``model_dir``."""
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Keras 3.15 converts variables with np.array(copy=False) semantics (NumPy 2 warns)
        warnings.filterwarnings("ignore", message="__array__ implementation",
                                category=DeprecationWarning)
        cnn.keras_model.save(out / MODEL_FILE)
    (out / INFO_FILE).write_text(json.dumps(cnn.info, indent=2) + "\n")
    cnn.path = out
    return out


def _check_keras_archive(path: Path) -> None:
    """Refuse a ``.keras`` file whose configuration names anything but built-in layers."""
    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ModelError(f"{path} is not a Keras 3 model file (.keras archive): {exc}") from exc

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            module = node.get("module")
            if isinstance(module, str) and not module.startswith("keras"):
                raise ModelError(f"{path}: refusing to load a model that names module "
                                 f"{module!r} (only built-in Keras layers are loaded)")
            cls = node.get("class_name")
            if (isinstance(cls, str) and "config" in node and module
                    and module.startswith("keras.layers") and cls not in _SAFE_LAYERS):
                raise ModelError(f"{path}: refusing to load layer class {cls!r} "
                                 f"(allowed: {', '.join(sorted(_SAFE_LAYERS))})")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)


def load_model(model_dir: str | Path, *, threads: int | None = None) -> CnnModel:
    """Load a model folder written by :func:`train` (safely: no code runs from it).

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
    try:
        info = json.loads(ifile.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{ifile} is not valid JSON: {exc}") from exc
    need = ("format", "architecture", "image_size", "targets", "label_mean", "label_std")
    if not isinstance(info, dict) or any(k not in info for k in need):
        raise ModelError(f"{ifile} lacks keys {[k for k in need if k not in info]}"
                         if isinstance(info, dict) else f"{ifile} is not a JSON object")
    if info["format"] != FORMAT:
        raise ModelError(f"{ifile}: format {info['format']!r}, expected {FORMAT!r}")
    n_t = len(info["targets"])
    if n_t == 0 or len(info["label_mean"]) != n_t or len(info["label_std"]) != n_t:
        raise ModelError(f"{ifile}: targets, label_mean and label_std differ in length")
    _check_keras_archive(kfile)
    tf, keras = _tf(threads)
    try:
        model = keras.saving.load_model(kfile, compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many types for a broken file
        raise ModelError(f"cannot load {kfile}: {type(exc).__name__}: {exc}") from exc
    size = int(info["image_size"])
    in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    if in_shape[1:] != (size, size, 1) or out_shape[1:] != (n_t,):
        raise ModelError(f"{kfile}: input {in_shape} / output {out_shape} do not match "
                         f"{INFO_FILE} (image {size}, {n_t} targets)")
    return CnnModel(model, info, folder)


# --------------------------------------------------------------------------- data


@dataclass
class Dataset:
    """A dataset folder in memory (see ARCHITECTURE.md, "Dataset").

    Attributes
    ----------
    images : ndarray of uint8, shape (N, H, W)
    labels : ndarray of float64, shape (N, T)
    targets : tuple of str
    case_ids : ndarray of str, shape (N,)
    split : ndarray of str, shape (N,), values train/val/test
    path : Path
    """

    images: np.ndarray
    labels: np.ndarray
    targets: tuple[str, ...]
    case_ids: np.ndarray
    split: np.ndarray
    path: Path

    def index(self, name: str) -> np.ndarray:
        """Row indices of one split."""
        return np.flatnonzero(self.split == name)


def load_dataset(dataset_dir: str | Path) -> Dataset:
    """Read ``DATASET_DIR/arrays.npz`` and check it against the dataset contract.

    Rows whose labels are not finite are dropped with a warning.

    Raises
    ------
    ModelError
        Missing file, wrong shapes or dtypes, unknown split names.
    """
    folder = Path(dataset_dir)
    npz = folder / "arrays.npz"
    if not npz.is_file():
        raise ModelError(f"{folder} is not a dataset folder: {npz.name} is missing")
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("images", "labels", "targets", "case_ids", "split")}
    except KeyError as exc:
        raise ModelError(f"{npz}: missing array {exc}") from exc
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read {npz}: {exc}") from exc
    images, labels = arrays["images"], np.asarray(arrays["labels"], dtype=np.float64)
    targets = tuple(str(t) for t in arrays["targets"])
    n = len(images)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ModelError(f"{npz}: images must be uint8 (N, H, H), got {images.dtype} "
                         f"{images.shape}")
    if labels.shape != (n, len(targets)):
        raise ModelError(f"{npz}: labels {labels.shape} do not match {n} images and "
                         f"{len(targets)} targets")
    if len(arrays["case_ids"]) != n or len(arrays["split"]) != n:
        raise ModelError(f"{npz}: case_ids/split lengths differ from {n} images")
    split = np.asarray(arrays["split"]).astype(str)
    bad = sorted(set(split) - {"train", "val", "test"})
    if bad:
        raise ModelError(f"{npz}: unknown split names {bad} (train/val/test)")
    if targets != TARGETS:
        logger.warning("dataset targets %s differ from the default nine; training on them",
                       list(targets))
    if images.shape[1] != IMAGE_SIZE:
        logger.warning("dataset images are %d px, not the contract's %d",
                       images.shape[1], IMAGE_SIZE)
    finite = np.isfinite(labels).all(axis=1)
    if not finite.all():
        logger.warning("dropping %d rows with non-finite labels: %s", int((~finite).sum()),
                       list(np.asarray(arrays["case_ids"])[~finite][:10]))
    return Dataset(images[finite], labels[finite], targets,
                   np.asarray(arrays["case_ids"]).astype(str)[finite], split[finite], folder)


#: Network input = gray value * INPUT_SCALE + INPUT_OFFSET: void -1, AM ~0, SE +1. A
#: zero-centred input trains faster and more reliably than [0, 1] (measured here).
INPUT_SCALE, INPUT_OFFSET = 1.0 / 127.5, -1.0


def _to_input(images: np.ndarray, scale: float = INPUT_SCALE,
              offset: float = INPUT_OFFSET) -> np.ndarray:
    """uint8 (N, H, W) images to the float32 (N, H, W, 1) network input in [-1, 1]."""
    return (images.astype(np.float32) * np.float32(scale) + np.float32(offset))[..., None]


def _augment(batch: np.ndarray, rng: np.random.Generator, mode: str) -> np.ndarray:
    """Random label-preserving symmetry per image: flips and (``d4``) 90° rotations."""
    if mode == "none":
        return batch
    out = np.empty_like(batch)
    for i, img in enumerate(batch):
        k = int(rng.integers(4)) if mode == "d4" else 2 * int(rng.integers(2))
        img = np.rot90(img, k)
        if rng.integers(2):
            img = img[:, ::-1]
        out[i] = img
    return out


# --------------------------------------------------------------------------- metrics


def _num(x: float) -> float | None:
    """JSON-friendly float (None for NaN/inf)."""
    return float(x) if math.isfinite(float(x)) else None


def evaluate(cnn: CnnModel, images: np.ndarray, labels: np.ndarray) -> dict[str, dict]:
    """R², MAE and RMSE per target on labelled images.

    Parameters
    ----------
    cnn : CnnModel
    images : ndarray of uint8, shape (N, H, W)
    labels : ndarray, shape (N, T), physical units, targets in ``cnn.targets`` order

    Returns
    -------
    dict
        ``{target: {"r2", "mae", "rmse", "unit"}}`` (None where undefined, e.g. N < 2).
    """
    if len(images) == 0:
        return {t: {"r2": None, "mae": None, "rmse": None, "unit": u}
                for t, u in zip(cnn.targets, cnn.units(), strict=True)}
    pred = predict(cnn, images)
    r2 = r2_score(labels, pred)
    mae = np.abs(pred - labels).mean(axis=0)
    rmse = np.sqrt(((pred - labels) ** 2).mean(axis=0))
    return {t: {"r2": _num(r2[j]), "mae": _num(mae[j]), "rmse": _num(rmse[j]), "unit": u}
            for j, (t, u) in enumerate(zip(cnn.targets, cnn.units(), strict=True))}


# --------------------------------------------------------------------------- prediction


def _inference_fn(cnn: CnnModel) -> Any:
    """A traced forward pass (cached on the model)."""
    if cnn._infer is None:
        tf, _ = _tf()
        model = cnn.keras_model
        size = cnn.image_size

        @tf.function(input_signature=[tf.TensorSpec((None, size, size, 1), tf.float32)])
        def infer(x: Any) -> Any:
            return model(x, training=False)

        cnn._infer = infer
    return cnn._infer


def predict_standardized(cnn: CnnModel, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Network outputs (standardised targets) for uint8 images (N, H, W)."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    size = cnn.image_size
    if images.ndim != 3 or images.shape[1:] != (size, size):
        raise ModelError(f"images must be (N, {size}, {size}), got {images.shape}; "
                         "use prepare_image() for other sizes")
    infer = _inference_fn(cnn)
    out = np.zeros((len(images), len(cnn.targets)), dtype=np.float64)
    for s in range(0, len(images), batch_size):
        out[s:s + batch_size] = infer(cnn.to_input(images[s:s + batch_size])).numpy()
    return out


def predict(cnn: CnnModel, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Predicted targets in physical units.

    Parameters
    ----------
    cnn : CnnModel
    images : ndarray of uint8, shape (N, H, W) or (H, W)
        Three-level images (void 0, AM 128, SE 255) of the model's size.
    batch_size : int, optional

    Returns
    -------
    ndarray, shape (N, T)
    """
    return cnn.destandardize(predict_standardized(cnn, images, batch_size))


def read_image(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Read a PNG or TIFF (or any image Pillow reads) into a 2-D array.

    Returns
    -------
    (ndarray, list of str)
        The pixel array (first frame, grayscale) and notes on what was done.

    Raises
    ------
    ModelError
        The file is missing or not an image.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    notes: list[str] = []
    if not p.is_file():
        raise ModelError(f"{p}: no such image file")
    try:
        with Image.open(p) as im:
            fmt = im.format
            if getattr(im, "n_frames", 1) > 1:
                notes.append(f"{im.n_frames} frames; used the first")
                im.seek(0)
            if im.mode == "P":
                used = np.unique(np.asarray(im))
                pal = np.asarray(im.getpalette() or [], dtype=int).reshape(-1, 3)
                colours = pal[used[used < len(pal)]]
                if len(colours) and not (colours == colours[:, :1]).all():
                    notes.append("palette image with colours: used the palette indices as "
                                 "gray values (a label image)")
                    im = Image.fromarray(np.asarray(im))
            if im.mode in ("RGB", "RGBA", "P", "LA", "CMYK", "YCbCr", "1", "HSV", "LAB"):
                if im.mode != "1":
                    notes.append(f"converted {im.mode} to grayscale")
                im = im.convert("L")
            arr = np.array(im)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        arr = None
        if p.suffix.lower() in (".tif", ".tiff"):
            try:
                import tifffile

                arr = np.asarray(tifffile.imread(p))
                fmt = "TIFF"
            except Exception:  # noqa: BLE001 - fall through to the clear error below
                arr = None
        if arr is None:
            raise ModelError(f"{p} is not an image Pillow can read (PNG or TIFF expected): "
                             f"{exc}") from exc
    if fmt not in ("PNG", "TIFF"):
        notes.append(f"read a {fmt} file (PNG or TIFF are expected; lossy formats blur "
                     "phase boundaries)")
    arr = np.squeeze(arr)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        notes.append("converted color channels to grayscale (mean of RGB)")
        arr = arr[..., :3].astype(np.float64).mean(axis=-1)
    elif arr.ndim == 3:
        notes.append(f"3-D stack {arr.shape}; used the first slice")
        arr = arr[0]
    if arr.ndim != 2 or min(arr.shape) < 2:
        raise ModelError(f"{p}: expected a 2-D image, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ModelError(f"{p}: unsupported pixel type {arr.dtype}")
    return arr, notes


def _classes(arr: np.ndarray, levels: Sequence[float] | None, notes: list[str]) -> np.ndarray:
    """Map a 2-D array to classes 0 (void), 1 (AM), 2 (SE)."""
    a = arr.astype(np.float64)
    if not np.isfinite(a).all():
        notes.append("non-finite pixels set to the minimum (void)")
        a[~np.isfinite(a)] = np.nanmin(a[np.isfinite(a)]) if np.isfinite(a).any() else 0.0
    if levels is not None:
        lv = np.asarray(levels, dtype=np.float64)
        notes.append(f"mapped to the nearest of the given levels void/AM/SE = "
                     f"{'/'.join(f'{v:g}' for v in lv)}")
        return np.abs(a[..., None] - lv).argmin(axis=-1).astype(np.uint8)
    values = np.unique(a)
    if set(values.tolist()) <= set(LEVELS):
        return np.searchsorted(LEVELS, a).astype(np.uint8)
    if len(values) == 3:
        notes.append(f"three gray values {values.tolist()} mapped in order to void/AM/SE "
                     "(pass levels to change)")
        return np.searchsorted(values, a).astype(np.uint8)
    if len(values) <= 2:
        lo, hi = float(values.min()), float(values.max())
        scaled = (a - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(a)
        notes.append(f"only {len(values)} gray value(s) {values.tolist()}: mapped to the "
                     "nearest of void/AM/SE after scaling to 0-255 (pass levels to change)")
        return np.abs(scaled[..., None] - np.asarray(LEVELS)).argmin(axis=-1).astype(np.uint8)
    from skimage.filters import threshold_multiotsu

    thresholds = threshold_multiotsu(a, classes=3)
    notes.append(f"{len(values)} gray values quantized to three levels by multi-Otsu "
                 f"thresholds {', '.join(f'{t:.4g}' for t in thresholds)} "
                 "(darkest void, middle AM, brightest SE)")
    return np.digitize(a, thresholds).astype(np.uint8)


def prepare_image(
    image: str | Path | np.ndarray,
    *,
    image_size: int = IMAGE_SIZE,
    levels: Sequence[float] | None = None,
    pixel_um: float | None = None,
    window_um: float = WINDOW_UM,
) -> tuple[np.ndarray, list[str]]:
    """Turn an image file or array into a three-level network input.

    Steps, each reported in the notes when it changes something: read (first frame,
    grayscale); quantize to void/AM/SE (dataset levels kept; three gray values mapped in
    order; more values split by multi-Otsu thresholds; explicit ``levels`` mapped to the
    nearest); with ``pixel_um``, crop the central ``window_um`` square; crop a
    non-square image to its central square; resize to ``image_size`` by area fractions of
    each phase (each output pixel takes the phase that covers most of it).

    Parameters
    ----------
    image : str, Path or ndarray
        PNG/TIFF path, or a 2-D array.
    image_size : int, optional
        Output side (the model's input size).
    levels : sequence of 3 floats, optional
        Input gray values of void, AM and SE (e.g. a segmented slice labelled 0, 1, 2 in
        another order: ``levels=(0, 2, 1)``).
    pixel_um : float, optional
        Pixel size of the input (µm); enables the physical crop.
    window_um : float, optional
        Physical side of the training images (36 µm for the paper's data).

    Returns
    -------
    (ndarray of uint8, list of str)
        The (image_size, image_size) image with values 0/128/255, and the notes.
    """
    if isinstance(image, (str, Path)):
        arr, notes = read_image(image)
    else:
        arr, notes = np.asarray(image), []
        if arr.ndim != 2:
            raise ModelError(f"expected a 2-D image array, got shape {arr.shape}")
    if levels is not None and len(levels) != 3:
        raise ModelError(f"levels must be three gray values (void, AM, SE), got {levels}")
    cls = _classes(arr, levels, notes)
    if pixel_um is not None:
        if pixel_um <= 0:
            raise ModelError(f"pixel size must be positive, got {pixel_um}")
        side = int(round(window_um / pixel_um))
        h, w = cls.shape
        if side <= min(h, w):
            y0, x0 = (h - side) // 2, (w - side) // 2
            cls = cls[y0:y0 + side, x0:x0 + side]
            notes.append(f"cropped the central {window_um:g} µm = {side} px square "
                         f"(pixel {pixel_um:g} µm)")
        else:
            notes.append(f"image ({h}x{w} px = {h * pixel_um:.3g}x{w * pixel_um:.3g} µm) is "
                         f"smaller than the {window_um:g} µm training window; used it whole")
    h, w = cls.shape
    if h != w:
        s = min(h, w)
        y0, x0 = (h - s) // 2, (w - s) // 2
        cls = cls[y0:y0 + s, x0:x0 + s]
        notes.append(f"cropped {h}x{w} to the central {s}x{s} square")
    if cls.shape[0] != image_size:
        from PIL import Image

        src = cls.shape[0]
        fractions = []
        for c in range(3):
            mask = Image.fromarray((cls == c).astype(np.float32), mode="F")
            method = Image.Resampling.BOX if src > image_size else Image.Resampling.BILINEAR
            fractions.append(np.asarray(mask.resize((image_size, image_size), method)))
        cls = np.stack(fractions, axis=-1).argmax(axis=-1).astype(np.uint8)
        notes.append(f"resized {src}x{src} to {image_size}x{image_size} (phase with the "
                     "largest area per pixel)")
    out = np.asarray(LEVELS, dtype=np.uint8)[cls]
    if len(np.unique(out)) == 1:
        notes.append("the image holds a single phase; the prediction is an extrapolation")
    return out, notes


def predict_files(
    cnn: CnnModel,
    paths: Sequence[str | Path],
    *,
    levels: Sequence[float] | None = None,
    pixel_um: float | None = None,
    batch_size: int = 64,
) -> list[dict[str, Any]]:
    """Prepare and predict a list of image files.

    Returns
    -------
    list of dict
        Per image: ``image`` (path), ``notes`` (preprocessing messages), ``predictions``
        (``{target: value}`` in physical units).
    """
    window = float(cnn.info.get("window_um", WINDOW_UM))
    prepared, notes = [], []
    for p in paths:
        img, n = prepare_image(p, image_size=cnn.image_size, levels=levels,
                               pixel_um=pixel_um, window_um=window)
        for msg in n:
            logger.info("%s: %s", p, msg)
        prepared.append(img)
        notes.append(n)
    if not prepared:
        return []
    pred = predict(cnn, np.stack(prepared), batch_size=batch_size)
    return [{"image": str(p), "notes": n,
             "predictions": {t: float(v) for t, v in zip(cnn.targets, row, strict=True)}}
            for p, n, row in zip(paths, notes, pred, strict=True)]


# --------------------------------------------------------------------------- Grad-CAM


def _gradcam_fn(cnn: CnnModel, layer: str) -> Any:
    """A traced Grad-CAM (cached per layer on the model)."""
    if layer not in cnn._cam:
        tf, keras = _tf()
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
    """Grad-CAM heat map of one target on one image (Selvaraju et al. 2017; Komori Fig. 4C).

    The gradient of the (standardised) target with respect to the feature maps of the last
    convolution layer, averaged over space, weights those maps; their ReLU'd sum,
    upsampled bilinearly to the image size and scaled to [0, 1], is the map. The traced
    function is cached on the model, so calls after the first take milliseconds.

    Parameters
    ----------
    cnn : CnnModel
    image : ndarray of uint8, shape (H, W)
        A prepared image (see :func:`prepare_image`).
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
    layer = layer or cnn.info.get("gradcam_layer") or ARCHITECTURES.get(
        arch, (None, "block5_conv"))[1]
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


def save_gradcam_figure(image: np.ndarray, heat: np.ndarray, path: str | Path,
                        title: str = "", alpha: float = 0.45) -> Path:
    """Write the heat map overlaid on the image (jet colour map) as PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=100)
    ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    im = ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="Grad-CAM (normalised)")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (defaults: the published network, tuned for 320 + 80 images).

    On 2 free CPU cores an epoch of 320 images of 224 x 224 takes about 2.8 s, so the
    default cap of 60 epochs keeps a run under about 3 minutes; early stopping usually ends
    it sooner. ``max_seconds`` bounds the wall time on a busy machine (the weights then
    depend on the machine's speed, so it is off by default).

    Attributes
    ----------
    architecture : str
        Key of :data:`ARCHITECTURES`.
    epochs : int
        Maximum number of epochs.
    batch_size : int
    learning_rate : float
        Initial Adam learning rate.
    weight_decay : float
        Decoupled weight decay (AdamW) per unit learning rate; 0 (default) is plain Adam as
        published.
    lr_factor, lr_patience, min_learning_rate
        Reduce-on-plateau: multiply the rate by ``lr_factor`` after ``lr_patience`` epochs
        without progress (see ``min_delta``), down to ``min_learning_rate``.
    patience : int
        Early stopping: stop after this many epochs without progress; the weights of the
        best epoch are restored.
    min_delta : float
        Progress (for early stopping and the plateau schedule) is a validation loss lower
        than the last progress by more than this fraction (1 %); any lower loss still
        becomes the best weights.
    augment : str
        ``d4`` (flips and 90° rotations), ``flips`` (flips only) or ``none``.
    seed : int
        Seed of weights, shuffling and augmentation.
    threads : int or None
        TensorFlow intra-op threads (None: all cores). Same seed, threads and machine give
        the same weights.
    max_seconds : float or None
        Stop (keeping the best weights) when training has run this long.
    val_fraction : float
        Fraction of the train split held out for validation when the dataset has no
        ``val`` rows.
    train_fraction : float
        Train on a random subset of this fraction of the train rows (1: all), drawn with
        ``seed``; for learning curves (does more data help?).
    distribution_cases : int
        Number of test cases drawn in the stress-distribution figures (Fig. 4B).
    plots : bool
        Write figures.
    """

    architecture: str = "komori2022"
    epochs: int = 60
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    lr_factor: float = 0.5
    lr_patience: int = 6
    min_learning_rate: float = 1e-5
    patience: int = 15
    min_delta: float = 0.01
    augment: str = "d4"
    seed: int = 0
    threads: int | None = None
    max_seconds: float | None = None
    val_fraction: float = 0.2
    train_fraction: float = 1.0
    distribution_cases: int = 3
    plots: bool = True


def train(dataset_dir: str | Path, out_dir: str | Path, config: TrainConfig | None = None,
          **overrides: Any) -> dict[str, Any]:
    """Train a network on a dataset folder and write a model folder.

    Trains on the ``train`` split with per-epoch validation on ``val`` (reduce-on-plateau
    learning rate, early stopping restoring the best weights) and label-preserving
    augmentation; evaluates on ``test``; writes ``model.keras``, ``model_info.json``,
    ``metrics.json``, ``history.csv``, ``predictions.csv`` and figures (parity per target,
    loss curves, predicted vs DEM stress distributions).

    Parameters
    ----------
    dataset_dir : str or Path
        Dataset folder (``arrays.npz``; see ARCHITECTURE.md).
    out_dir : str or Path
        Model folder to write.
    config : TrainConfig, optional
    **overrides
        Fields of :class:`TrainConfig` to change (e.g. ``epochs=5``).

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    cfg = config or TrainConfig()
    if overrides:
        unknown = set(overrides) - set(TrainConfig.__dataclass_fields__)
        if unknown:
            raise ModelError(f"unknown training settings {sorted(unknown)}")
        cfg = TrainConfig(**{**asdict(cfg), **overrides})
    if cfg.augment not in AUGMENTATIONS:
        raise ModelError(f"augment must be one of {AUGMENTATIONS}, got {cfg.augment!r}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ModelError("epochs and batch_size must be at least 1")
    if not 0.0 < cfg.train_fraction <= 1.0:
        raise ModelError(f"train_fraction must be in (0, 1], got {cfg.train_fraction}")
    if not 0.0 <= cfg.weight_decay < 1.0:
        raise ModelError(f"weight_decay must be in [0, 1), got {cfg.weight_decay}")
    t_start = time.perf_counter()
    ds = load_dataset(dataset_dir)
    tr, va, te = ds.index("train"), ds.index("val"), ds.index("test")
    if len(tr) == 0:
        raise ModelError(f"{ds.path}: the train split is empty")
    if len(va) == 0:
        rng = np.random.default_rng([cfg.seed, 7])
        perm = rng.permutation(tr)
        n_val = max(1, int(round(cfg.val_fraction * len(tr))))
        if len(tr) - n_val < 1:
            raise ModelError(f"{ds.path}: too few train rows to hold out a validation set")
        va, tr = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        logger.warning("no val split: holding out %d of the train rows for validation",
                       n_val)

    if cfg.train_fraction < 1.0:
        keep = max(2, int(round(cfg.train_fraction * len(tr))))
        tr = np.sort(np.random.default_rng([cfg.seed, 11]).permutation(tr)[:keep])
        logger.info("training on a random %d of the train rows (train_fraction %g)",
                    len(tr), cfg.train_fraction)

    tf, keras = _tf(cfg.threads)
    _seed_everything(cfg.seed, cfg.threads)
    mean = ds.labels[tr].mean(axis=0)
    std = ds.labels[tr].std(axis=0)
    std = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    model = build_model(cfg.architecture, image_size=ds.images.shape[1],
                        n_outputs=len(ds.targets))
    info = {
        "format": FORMAT,
        "architecture": cfg.architecture,
        "gradcam_layer": ARCHITECTURES[cfg.architecture][1],
        "image_size": int(ds.images.shape[1]),
        "levels": {"void": LEVELS[0], "am": LEVELS[1], "se": LEVELS[2]},
        "input_scale": INPUT_SCALE,
        "input_offset": INPUT_OFFSET,
        "window_um": WINDOW_UM,
        "targets": list(ds.targets),
        "units": {t: _UNITS.get(t, "") for t in ds.targets},
        "label_mean": mean.tolist(),
        "label_std": std.tolist(),
        "dataset": str(Path(dataset_dir).resolve()),
        "train_config": asdict(cfg),
        "parameters": int(model.count_params()),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }
    cnn = CnnModel(model, info)

    x_tr, y_tr = ds.images[tr], cnn.standardize(ds.labels[tr]).astype(np.float32)
    x_va, y_va = ds.images[va], cnn.standardize(ds.labels[va])
    if cfg.weight_decay > 0:
        optimizer = keras.optimizers.AdamW(learning_rate=cfg.learning_rate,
                                           weight_decay=cfg.weight_decay)
    else:
        optimizer = keras.optimizers.Adam(learning_rate=cfg.learning_rate)
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def train_step(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss

    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_weights = math.inf, 0, _snapshot(model)
    patience_ref = math.inf  # the last validation loss that counted as progress
    wait = lr_wait = 0
    lr = cfg.learning_rate
    stop_reason = "max_epochs"
    t_train = time.perf_counter()
    logger.info("training %s (%d parameters) on %d images, validating on %d, testing on %d",
                cfg.architecture, info["parameters"], len(tr), len(va), len(te))
    for epoch in range(1, cfg.epochs + 1):
        t_ep = time.perf_counter()
        rng = np.random.default_rng([cfg.seed, epoch])
        perm = rng.permutation(len(tr))
        losses = []
        for s in range(0, len(perm), cfg.batch_size):
            idx = perm[s:s + cfg.batch_size]
            xb = cnn.to_input(_augment(x_tr[idx], rng, cfg.augment))
            losses.append(float(train_step(xb, y_tr[idx])))
        val_loss = float(np.mean((predict_standardized(cnn, x_va) - y_va) ** 2))
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_loss": val_loss,
                        "learning_rate": lr, "seconds": time.perf_counter() - t_ep})
        improved = val_loss < best_loss
        if improved:
            best_epoch, best_weights = epoch, _snapshot(model)
        if val_loss < patience_ref * (1.0 - cfg.min_delta):
            patience_ref = val_loss
            wait = lr_wait = 0
        else:
            wait += 1
            lr_wait += 1
        best_loss = min(best_loss, val_loss)
        logger.info("epoch %3d  loss %.4f  val_loss %.4f%s  lr %.2g  %.1f s", epoch,
                    history[-1]["loss"], val_loss, " *" if improved else "  ", lr,
                    history[-1]["seconds"])
        if wait >= cfg.patience:
            stop_reason = "early_stopping"
            break
        if cfg.max_seconds is not None and time.perf_counter() - t_train > cfg.max_seconds:
            stop_reason = "time_limit"
            logger.warning("stopping at the time limit (%.0f s) after epoch %d",
                           cfg.max_seconds, epoch)
            break
        if lr_wait >= cfg.lr_patience and lr > cfg.min_learning_rate:
            lr = max(lr * cfg.lr_factor, cfg.min_learning_rate)
            optimizer.learning_rate = lr
            lr_wait = 0
    train_seconds = time.perf_counter() - t_train
    model.set_weights(best_weights)
    logger.info("restored the weights of epoch %d (val_loss %.4f); %s after %.1f s",
                best_epoch, best_loss, stop_reason, train_seconds)

    out = Path(out_dir)
    save_model(cnn, out)
    test_metrics = evaluate(cnn, ds.images[te], ds.labels[te])
    val_metrics = evaluate(cnn, x_va, ds.labels[va])
    baseline = r2_score(ds.labels[te], np.broadcast_to(mean, ds.labels[te].shape)) \
        if len(te) else np.full(len(ds.targets), np.nan)
    protocol = _protocol_r2(dataset_dir)
    metrics: dict[str, Any] = {
        "targets": {t: {**test_metrics[t],
                        "val_r2": val_metrics[t]["r2"], "val_mae": val_metrics[t]["mae"],
                        "baseline_r2": _num(baseline[j]),
                        "protocol_r2": protocol.get(t, {}).get("protocol_r2")}
                    for j, t in enumerate(ds.targets)},
        "split_sizes": {"train": int(len(tr)), "val": int(len(va)), "test": int(len(te))},
        "epochs": len(history),
        "best_epoch": best_epoch,
        "best_val_loss": best_loss,
        "stop_reason": stop_reason,
        "seconds": train_seconds,
        "seconds_total": None,
        "architecture": cfg.architecture,
        "parameters": info["parameters"],
        "seed": cfg.seed,
        "threads": _TF_THREADS,
        "config": asdict(cfg),
        "dataset": info["dataset"],
    }
    rows = np.concatenate([tr, va, te])
    pred = predict(cnn, ds.images[rows])
    _write_history(out / "history.csv", history)
    _write_predictions(out / "predictions.csv", cnn, ds, rows, pred)
    metrics["seconds_total"] = time.perf_counter() - t_start
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    if cfg.plots:
        figures = out / "figures"
        figures.mkdir(exist_ok=True)
        p_te = pred[len(tr) + len(va):]
        _plot_parity(figures, cnn, ds.labels[te], p_te, metrics["targets"])
        _plot_loss(figures / "loss.png", history, best_epoch)
        _plot_distributions(figures, cnn, ds, te, p_te, cfg.distribution_cases)
        metrics["seconds_total"] = time.perf_counter() - t_start
        (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _protocol_r2(dataset_dir: str | Path) -> dict[str, dict]:
    """Test R² of the sweep-point means (see ``dataset.protocol_r2``); {} without params."""
    from assb_lmp.learn import dataset

    try:
        return dataset.protocol_r2(dataset_dir)
    except AnalysisError:
        return {}


def _snapshot(model: Any) -> list[np.ndarray]:
    """Copies of all weights (``get_weights`` without its NumPy 2 deprecation warning)."""
    return [np.array(v.value.numpy(), copy=True) for v in model.weights]


def _write_history(path: Path, history: list[dict[str, float]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["epoch", "loss", "val_loss", "learning_rate",
                                           "seconds"])
        w.writeheader()
        w.writerows(history)


def _write_predictions(path: Path, cnn: CnnModel, ds: Dataset, rows: np.ndarray,
                       pred: np.ndarray) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case_id", "split", *ds.targets, *(f"pred_{t}" for t in ds.targets)])
        for i, r in enumerate(rows):
            w.writerow([ds.case_ids[r], ds.split[r], *(f"{v:.6g}" for v in ds.labels[r]),
                        *(f"{v:.6g}" for v in pred[i])])


# --------------------------------------------------------------------------- figures


def _pyplot() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _parity_axes(ax: Any, y: np.ndarray, p: np.ndarray, name: str, unit: str,
                 r2: float | None) -> None:
    lo = float(min(y.min(), p.min())) if len(y) else 0.0
    hi = float(max(y.max(), p.max())) if len(y) else 1.0
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
    ax.scatter(y, p, s=10, alpha=0.7, edgecolors="none")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    u = f" ({unit})" if unit and unit != "-" else ""
    ax.set_xlabel(f"DEM{u}", fontsize=8)
    ax.set_ylabel(f"CNN{u}", fontsize=8)
    ax.set_title(f"{name}\nR² = {r2:.3f}" if r2 is not None else name, fontsize=8)
    ax.tick_params(labelsize=7)


def _plot_parity(folder: Path, cnn: CnnModel, y: np.ndarray, p: np.ndarray,
                 metrics: dict[str, dict]) -> None:
    """Parity plots of the test split: one file per target and a grid (Komori Fig. 4A)."""
    if len(y) == 0:
        logger.info("no test rows: parity plots skipped")
        return
    plt = _pyplot()
    units = cnn.units()
    n = len(cnn.targets)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    grid, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for j, t in enumerate(cnn.targets):
        _parity_axes(axes.flat[j], y[:, j], p[:, j], t, units[j], metrics[t]["r2"])
        fig, ax = plt.subplots(figsize=(3.6, 3.6))
        fig.subplots_adjust(left=0.2, right=0.95, bottom=0.15, top=0.85)
        _parity_axes(ax, y[:, j], p[:, j], t, units[j], metrics[t]["r2"])
        fig.savefig(folder / f"parity_{t}.png", dpi=110)
        plt.close(fig)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    grid.subplots_adjust(left=0.08, right=0.98, bottom=0.07, top=0.93, wspace=0.45,
                         hspace=0.6)
    grid.savefig(folder / "parity.png", dpi=110)
    plt.close(grid)


def _plot_loss(path: Path, history: list[dict[str, float]], best_epoch: int) -> None:
    plt = _pyplot()
    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    ax.plot(ep, [h["loss"] for h in history], label="train (augmented)")
    ax.plot(ep, [h["val_loss"] for h in history], label="validation")
    ax.axvline(best_epoch, color="k", ls=":", lw=0.8, label=f"best (epoch {best_epoch})")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (standardised targets)")
    ax2 = ax.twinx()
    ax2.plot(ep, [h["learning_rate"] for h in history], color="gray", lw=0.8, ls="--",
             label="learning rate (right)")
    ax2.set_yscale("log")
    ax2.set_ylabel("learning rate", color="gray")
    handles = ax.get_legend_handles_labels()
    extra = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _read_stresses(path: Path) -> dict[str, np.ndarray] | None:
    """Per-phase particle stresses (MPa) from a case's ``particles.csv``."""
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"phase", "stress_mpa"} <= set(reader.fieldnames):
                logger.info("%s lacks phase/stress_mpa columns", path)
                return None
            out: dict[str, list[float]] = {"AM": [], "SE": []}
            for row in reader:
                ph = str(row["phase"]).strip().upper()
                try:
                    v = float(row["stress_mpa"])
                except (TypeError, ValueError):
                    continue
                if ph in out and math.isfinite(v):
                    out[ph].append(v)
    except OSError as exc:
        logger.info("cannot read %s: %s", path, exc)
        return None
    return {k: np.asarray(v) for k, v in out.items()}


def _plot_distributions(folder: Path, cnn: CnnModel, ds: Dataset, te: np.ndarray,
                        pred: np.ndarray, n_cases: int) -> None:
    """Predicted (Gaussian of mean/SD) vs DEM stress histograms (Komori Fig. 4B)."""
    if n_cases <= 0 or len(te) == 0:
        return
    pairs = [(ph, f"{ph.lower()}_stress_mean_mpa", f"{ph.lower()}_stress_sd_mpa")
             for ph in ("AM", "SE")]
    pairs = [p for p in pairs if p[1] in cnn.targets and p[2] in cnn.targets]
    if not pairs:
        logger.info("stress distribution figures skipped: no stress mean/SD targets")
        return
    sweep = ds.path.resolve().parent
    # cases spread over the range: evenly spaced ranks of the last phase's stress mean first,
    # then the rest in rank order (for cases without particle tables)
    rank = np.argsort(ds.labels[te, ds.targets.index(pairs[-1][1])], kind="stable")
    first = rank[np.unique(np.linspace(0, len(te) - 1, min(n_cases, len(te))).round().astype(int))]
    chosen = set(first.tolist())
    order = list(first) + [k for k in rank if k not in chosen]
    done = 0
    plt = _pyplot()
    for k in order:
        row = te[k]
        if done >= n_cases:
            break
        case = str(ds.case_ids[row])
        stresses = _read_stresses(sweep / case / "particles.csv") \
            if (sweep / case / "particles.csv").is_file() else None
        if stresses is None:
            continue
        fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 3.4), squeeze=False)
        for ax, (ph, m_name, s_name) in zip(axes.flat, pairs, strict=True):
            data = stresses.get(ph, np.zeros(0))
            mu = pred[k, cnn.targets.index(m_name)]
            sd = abs(pred[k, cnn.targets.index(s_name)])
            if len(data):
                ax.hist(data, bins=max(5, min(40, len(data) // 4)), density=True,
                        color="lightblue", edgecolor="white", label=f"DEM (n={len(data)})")
            lo = min(data.min() if len(data) else mu - 4 * sd, mu - 4 * sd)
            hi = max(data.max() if len(data) else mu + 4 * sd, mu + 4 * sd)
            if sd > 0:
                x = np.linspace(lo, hi, 300)
                ax.plot(x, np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi)),
                        "r-", label=f"CNN N({mu:.3g}, {sd:.3g}²)")
            ax.set_xlabel(f"{ph} particle stress (MPa)")
            ax.set_ylabel("probability density")
            ax.set_title(f"{case}: {ph}", fontsize=9)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(folder / f"stress_distribution_{case}.png", dpi=110)
        plt.close(fig)
        done += 1
    if done == 0:
        logger.info("stress distribution figures skipped: no %s/<case_id>/particles.csv "
                    "for the test cases", sweep)
