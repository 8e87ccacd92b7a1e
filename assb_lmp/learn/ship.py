"""Models that ship with the package: where they live, how one is put there, how it is found.

A shipped model is data, not output. It lives in the package-data folder
``assb_lmp.models`` (the top-level ``models/`` of the source tree): ``models/<name>/``
with ``model.keras``, ``model_info.json``, ``metrics.json`` and ``provenance.json`` (the
exact command that trained it, where it came from, file sizes and SHA-256 sums).
``models/default/`` is the model that ``predict`` and ``gradcam`` use without ``--model``.

:func:`ship_model` is the only way in: it loads the folder safely (the allow-list and
Keras ``safe_mode`` of :mod:`assb_lmp.learn.model`), requires the test metrics and the
command, refuses a model trained on synthetic labels, checks the size (under 8 MiB), and
swaps the new folder in atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from assb_lmp.core.errors import ModelError
from assb_lmp.core.io import atomic_write_json, read_json
from assb_lmp.learn.model import INFO_FILE, METRICS_FILE, MODEL_FILE, load_model

logger = logging.getLogger(__name__)

#: Package that holds the shipped models.
MODELS_PACKAGE = "assb_lmp.models"
#: Name of the model used when none is given.
DEFAULT_MODEL = "default"
#: Files copied into a shipped model folder (``history.csv`` too when present).
SHIPPED_FILES = (MODEL_FILE, INFO_FILE, METRICS_FILE)
OPTIONAL_FILES = ("history.csv",)
PROVENANCE_FILE = "provenance.json"
#: Largest total size of a shipped model folder (bytes: 8 MiB).
MAX_BYTES = 8 * 2**20
_MIB = float(2**20)


def models_dir() -> Path:
    """The package-data folder of the shipped models.

    Raises
    ------
    ModelError
        The installation lacks it (an editable install made before it existed needs
        ``pip install -e .`` again).
    """
    try:
        return Path(str(resources.files(MODELS_PACKAGE)))
    except ModuleNotFoundError as exc:
        raise ModelError(f"this installation has no {MODELS_PACKAGE} package data folder; "
                         "reinstall assb_lmp (pip install -e . for a checkout)") from exc


def shipped_model_dir(name: str = DEFAULT_MODEL) -> Path:
    """Folder of a shipped model (it may not exist)."""
    return models_dir() / name


def is_model_folder(folder: Path) -> bool:
    """True when ``folder`` holds a model file and its info."""
    return (folder / MODEL_FILE).is_file() and (folder / INFO_FILE).is_file()


def resolve_model_dir(model_dir: str | Path | None) -> Path:
    """The model folder to use: the given one, else the shipped default.

    Raises
    ------
    ModelError
        No folder given and no model ships with this installation.
    """
    if model_dir is not None:
        return Path(model_dir)
    folder = shipped_model_dir()
    if not is_model_folder(folder):
        raise ModelError(
            "no trained model ships with this installation yet; pass --model DIR with a "
            "folder written by `python -m assb_lmp train DATASET_DIR --out DIR`")
    return folder


def model_r2(model_dir: str | Path) -> dict[str, float | None]:
    """Test R² per target from a model folder's ``metrics.json`` ({} when it has none)."""
    path = Path(model_dir) / METRICS_FILE
    if not path.is_file():
        return {}
    metrics = read_json(path, "model metrics", ModelError)
    return {t: m.get("r2") for t, m in metrics.get("targets", {}).items()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_source(source: Path, command: str | None, allow_synthetic: bool
                  ) -> tuple[dict, str]:
    """Load the model safely, check metrics and provenance; (metrics, command)."""
    model = load_model(source)  # the allow-list check and safe_mode, shapes against info
    mfile = source / METRICS_FILE
    if not mfile.is_file():
        raise ModelError(f"{source}: no {METRICS_FILE}; a shipped model must carry its "
                         "test metrics")
    metrics = read_json(mfile, "model metrics", ModelError)
    missing = [t for t in model.targets if t not in metrics.get("targets", {})]
    if missing:
        raise ModelError(f"{mfile}: no test metrics for {missing}")
    command = command or model.info.get("command")
    if not command:
        raise ModelError(f"{source}: {INFO_FILE} does not record the command that trained "
                         "it; give it (--command 'python -m assb_lmp train ...')")
    if model.info.get("dataset_synthetic") and not allow_synthetic:
        raise ModelError(f"{source} was trained on a synthetic dataset (labels that are not "
                         "physics); it must not ship as a model for users")
    return metrics, command


def ship_model(model_dir: str | Path, dest: str | Path | None = None, *,
               command: str | None = None, allow_synthetic: bool = False,
               max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Copy a trained model folder into the package data (``models/default/`` by default).

    Parameters
    ----------
    model_dir : str or Path
        A model folder written by ``python -m assb_lmp train``.
    dest : str or Path, optional
        The folder to write (default :func:`shipped_model_dir`); replaced as a whole.
    command : str, optional
        The command that trained the model, when ``model_info.json`` does not record it.
    allow_synthetic : bool, optional
        Ship a model trained on synthetic labels (for tests of this machinery only).
    max_bytes : int, optional
        Largest total size of the shipped files in bytes (8 MiB).

    Returns
    -------
    dict
        The content of ``provenance.json`` (with ``path``, the folder written).

    Raises
    ------
    ModelError
        Not a loadable model folder, no metrics or command, synthetic, or too large.
    """
    source = Path(model_dir).resolve()
    metrics, command = _check_source(source, command, allow_synthetic)
    names = [*SHIPPED_FILES, *(n for n in OPTIONAL_FILES if (source / n).is_file())]
    sizes = {n: (source / n).stat().st_size for n in names}
    if sum(sizes.values()) > max_bytes:
        raise ModelError(f"{source}: {sum(sizes.values()) / _MIB:.2f} MiB of model files "
                         f"({', '.join(f'{n} {s / _MIB:.2f} MiB' for n, s in sizes.items())}) "
                         f"exceed the {max_bytes / _MIB:.2f} MiB a shipped model may take")
    out = Path(dest) if dest is not None else shipped_model_dir()
    provenance = {
        "command": command,
        "source": str(source),
        "shipped_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "architecture": metrics.get("architecture"),
        "parameters": metrics.get("parameters"),
        "split_sizes": metrics.get("split_sizes"),
        "files": {n: {"bytes": sizes[n], "sha256": _sha256(source / n)} for n in names},
    }
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for n in names:
            shutil.copyfile(source / n, tmp / n)
        atomic_write_json(tmp / PROVENANCE_FILE, provenance)
        old = out.with_name(f".{out.name}.{os.getpid()}.old")
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("shipped %s (%.2f MiB) to %s", source, sum(sizes.values()) / _MIB, out)
    return {**provenance, "path": str(out)}
