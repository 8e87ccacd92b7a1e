"""The project's one Jinja2 environment and the filters that put values into decks.

``StrictUndefined`` (a missing value fails loudly), ``trim_blocks``, ``lstrip_blocks``,
``keep_trailing_newline``, no autoescape; the ``g`` number filter and the ``safe_name``
string filter; a user template folder searched before the built-in one of the engine's
dialect. Only values that passed the case validation reach a template, and both filters
check them again, so nothing user-typed can become an engine command (LAMMPS has ``shell``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import jinja2
import numpy as np

from assb_lmp.core import resources
from assb_lmp.core.errors import SpecError

#: Built-in template folder (the LAMMPS dialect; other dialects are subfolders).
TEMPLATE_DIR = resources.templates_dir()
_SAFE = re.compile(r"^[A-Za-z0-9_\-\.]+$")


def number(value: float) -> str:
    """Number filter ``g``: the shortest round-trippable text of a finite number.

    Integral values print without a decimal point (``264000000``); everything else as
    Python's ``repr`` (``0.37``, ``1.5e-05``).

    Raises
    ------
    SpecError
        For anything but a finite int or float (text, booleans, NaN, infinities).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise SpecError(f"template number filter got a non-number: {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise SpecError(f"template number filter got a non-finite number: {value!r}")
    if v == int(v) and abs(v) < 1e15:
        return str(int(v)) if abs(v) >= 1 or v == 0 else repr(v)
    return repr(v)


def safe_name(value: str) -> str:
    """String filter ``safe_name``: letters, digits, ``_``, ``-`` and ``.`` only.

    Raises
    ------
    SpecError
        For any other character (spaces, ``;``, quotes, newlines ...).
    """
    if not _SAFE.match(str(value)):
        raise SpecError(f"refusing to put {value!r} into a deck (allowed: letters, digits, _-.)")
    return str(value)


def environment(user_dir: Path | None = None,
                builtin_dir: Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment: ``user_dir`` searched first, then the built-in templates.

    Parameters
    ----------
    user_dir : Path, optional
        The user's template folder (``--templates DIR``); any built-in block can be
        overridden by a file of the same name there.
    builtin_dir : Path, optional
        The built-in folder of the engine's dialect (default :data:`TEMPLATE_DIR`).
    """
    paths = ([str(user_dir)] if user_dir else []) + [str(builtin_dir or TEMPLATE_DIR)]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(paths),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["g"] = number
    env.filters["safe_name"] = safe_name
    return env
