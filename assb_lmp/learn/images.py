"""Images for the CNN: reading PNG/TIFF, segmenting gray levels into phases, resizing.

A dataset image is 224 x 224, 8-bit, with three gray levels: void 0, AM 128, SE 255
(ARCHITECTURE.md, "Dataset"). :func:`prepare_image` turns any other image (a segmented
tomography slice, an RGB rendering, a 16-bit label TIFF) into one, and says in its notes
what it changed; :func:`to_input` turns three-level images into the network input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.analysis.imaging import AM_GRAY, SE_WHITE, VOID
from assb_lmp.core.errors import ModelError

#: Side of the images the published network takes.
IMAGE_SIZE = 224
#: Gray levels of void, AM and SE in the dataset images.
LEVELS = (VOID, AM_GRAY, SE_WHITE)
#: Physical side (µm) of a dataset image: the 40 µm cell cropped 2 µm in from each side.
WINDOW_UM = 36.0
#: Network input = gray value * INPUT_SCALE + INPUT_OFFSET: void -1, AM ~0, SE +1. A
#: zero-centred input trains faster and more reliably than [0, 1] (measured here).
INPUT_SCALE, INPUT_OFFSET = 1.0 / 127.5, -1.0

_GRAY_MODES = ("RGB", "RGBA", "P", "LA", "CMYK", "YCbCr", "1", "HSV", "LAB")


def to_input(images: np.ndarray, scale: float = INPUT_SCALE,
             offset: float = INPUT_OFFSET) -> np.ndarray:
    """uint8 (N, H, W) images to the float32 (N, H, W, 1) network input in [-1, 1]."""
    return (images.astype(np.float32) * np.float32(scale) + np.float32(offset))[..., None]


# --------------------------------------------------------------------------- reading


def _pillow_gray(im: Any, notes: list[str]) -> Any:
    """A Pillow image (first frame) in a gray mode; palette label images keep indices."""
    from PIL import Image

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
    if im.mode in _GRAY_MODES:
        if im.mode != "1":
            notes.append(f"converted {im.mode} to grayscale")
        im = im.convert("L")
    return im


def _read_pixels(p: Path, notes: list[str]) -> tuple[np.ndarray, str | None]:
    """Pixel array and format of an image file (Pillow, then tifffile for TIFFs)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            fmt = im.format
            return np.array(_pillow_gray(im, notes)), fmt
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        if p.suffix.lower() in (".tif", ".tiff"):
            try:
                import tifffile

                return np.asarray(tifffile.imread(p)), "TIFF"
            except Exception:  # noqa: BLE001 - fall through to the clear error below
                pass
        raise ModelError(f"{p} is not an image Pillow can read (PNG or TIFF expected): "
                         f"{exc}") from exc


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
    p = Path(path)
    notes: list[str] = []
    if not p.is_file():
        raise ModelError(f"{p}: no such image file")
    arr, fmt = _read_pixels(p, notes)
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


# --------------------------------------------------------------------------- segmentation


def classify(arr: np.ndarray, levels: Sequence[float] | None, notes: list[str]) -> np.ndarray:
    """Map a 2-D array to phase classes 0 (void), 1 (AM), 2 (SE).

    Dataset levels are kept; explicit ``levels`` map to the nearest; three gray values map
    in order; one or two values are scaled to 0-255 first; more values are split by
    multi-Otsu thresholds. Each choice is appended to ``notes``.
    """
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


# --------------------------------------------------------------------------- geometry


def _crop_window(cls: np.ndarray, pixel_um: float, window_um: float,
                 notes: list[str]) -> np.ndarray:
    """The central ``window_um`` square of an image of ``pixel_um`` pixels (µm)."""
    if pixel_um <= 0:
        raise ModelError(f"pixel size must be positive, got {pixel_um}")
    side = int(round(window_um / pixel_um))
    h, w = cls.shape
    if side <= min(h, w):
        y0, x0 = (h - side) // 2, (w - side) // 2
        notes.append(f"cropped the central {window_um:g} µm = {side} px square "
                     f"(pixel {pixel_um:g} µm)")
        return cls[y0:y0 + side, x0:x0 + side]
    notes.append(f"image ({h}x{w} px = {h * pixel_um:.3g}x{w * pixel_um:.3g} µm) is "
                 f"smaller than the {window_um:g} µm training window; used it whole")
    return cls


def _crop_square(cls: np.ndarray, notes: list[str]) -> np.ndarray:
    """The central square of a non-square image."""
    h, w = cls.shape
    if h == w:
        return cls
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    notes.append(f"cropped {h}x{w} to the central {s}x{s} square")
    return cls[y0:y0 + s, x0:x0 + s]


def _resize_classes(cls: np.ndarray, image_size: int, notes: list[str]) -> np.ndarray:
    """Resize a square class map; each output pixel takes the phase covering most of it."""
    if cls.shape[0] == image_size:
        return cls
    from PIL import Image

    src = cls.shape[0]
    method = Image.Resampling.BOX if src > image_size else Image.Resampling.BILINEAR
    fractions = [np.asarray(Image.fromarray((cls == c).astype(np.float32), mode="F")
                            .resize((image_size, image_size), method)) for c in range(3)]
    notes.append(f"resized {src}x{src} to {image_size}x{image_size} (phase with the "
                 "largest area per pixel)")
    return np.stack(fractions, axis=-1).argmax(axis=-1).astype(np.uint8)


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
    grayscale); quantize to void/AM/SE (:func:`classify`); with ``pixel_um``, crop the
    central ``window_um`` square; crop a non-square image to its central square; resize
    to ``image_size`` by area fractions of each phase (each output pixel takes the phase
    that covers most of it).

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
    cls = classify(arr, levels, notes)
    if pixel_um is not None:
        cls = _crop_window(cls, pixel_um, window_um, notes)
    cls = _resize_classes(_crop_square(cls, notes), image_size, notes)
    out = np.asarray(LEVELS, dtype=np.uint8)[cls]
    if len(np.unique(out)) == 1:
        notes.append("the image holds a single phase; the prediction is an extrapolation")
    return out, notes
