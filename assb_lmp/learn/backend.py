"""TensorFlow and Keras, imported lazily, quietly and with a fixed thread count.

TensorFlow takes seconds to import, so no module of the package imports it at module
level: the functions that need it call :func:`tf_keras`. ``import assb_lmp`` and the CLI's
``--help`` stay fast, and a machine without TensorFlow can use every other stage.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from assb_lmp.core.errors import ModelError

logger = logging.getLogger(__name__)

_TF_THREADS: int | None = None


def tf_keras(threads: int | None = None) -> tuple[Any, Any]:
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

    Raises
    ------
    ModelError
        TensorFlow or Keras 3 is not installed, or Keras runs another backend.
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


def threads_in_use() -> int | None:
    """Intra-op thread count TensorFlow was started with (None before the first use)."""
    return _TF_THREADS


def seed_everything(seed: int, threads: int | None) -> None:
    """Seed Python, NumPy, TensorFlow and make TensorFlow ops deterministic."""
    tf, keras = tf_keras(threads)
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()
