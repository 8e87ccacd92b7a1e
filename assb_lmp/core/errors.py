"""The project's own exceptions. Library code raises these; only the CLI exits."""

from __future__ import annotations


class AssbError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class SpecError(AssbError, ValueError):
    """A specification (case, sweep, material card) is invalid.

    The message names the file, the key, the value and the allowed range.
    """


class PackingError(AssbError):
    """A packing cannot be generated with the requested parameters."""


class EngineError(AssbError):
    """LAMMPS failed while running a deck.

    Parameters
    ----------
    message : str
        What went wrong.
    deck : str, optional
        Path of the deck that was running.
    log_tail : str, optional
        The last lines of the LAMMPS log.
    """

    def __init__(self, message: str, deck: str | None = None, log_tail: str = "") -> None:
        self.deck = deck
        self.log_tail = log_tail
        text = message
        if deck:
            text += f"\n  deck: {deck}"
        if log_tail:
            text += "\n  last lines of the LAMMPS log:\n" + "\n".join(
                "    " + line for line in log_tail.rstrip().splitlines()
            )
        super().__init__(text)


class AnalysisError(AssbError):
    """Dumps or tables cannot be analysed (missing, truncated, from another case)."""


class ModelError(AssbError):
    """A CNN model folder or an input image is unusable."""
