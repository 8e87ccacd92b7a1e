"""Turn a mapping into a validated pydantic model, or a :class:`SpecError` that names the
source, every bad key, its value and the problem (the allowed range in pydantic's words)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from assb_lmp.core.errors import SpecError

#: A name that may reach a deck or a file name: letters, digits, ``_`` and ``-``.
SAFE_NAME = r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$"

#: Model configuration of every spec model: unknown keys refused, frozen, finite numbers.
STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def validate_mapping(model: type[BaseModel], data: object, source: Path | str,
                     what: str) -> Any:
    """Validate ``data`` (a mapping) as ``model``.

    Parameters
    ----------
    model : type of BaseModel
        The model (a case spec, a sweep spec, a material card).
    data : object
        What was parsed from the file; anything but a mapping is refused.
    source : Path or str
        The file (or a description of where ``data`` came from), for the message.
    what : str
        What ``data`` should be ("a case spec"), for the message.

    Raises
    ------
    SpecError
        Naming ``source``, the key, the value and the allowed range.
    """
    if not isinstance(data, dict):
        raise SpecError(f"{source}: {what} must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(source, exc)) from None


def format_validation_error(path: Path | str, exc: ValidationError) -> str:
    """Render a pydantic error as 'file: key = value: problem' lines."""
    lines = [f"{path}: invalid specification"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not allowed here)"
        if isinstance(value, dict | list):
            shown = ""
        else:
            shown = f" = {value!r}"
        lines.append(f"  {key}{shown}: {msg}")
    return "\n".join(lines)
