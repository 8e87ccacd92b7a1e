"""The generated packing as one value: particle types, diameters, centres and the cell.

Lengths are in µm. Written to disk by :mod:`assb_lmp.build.datafile`; produced by
:func:`assb_lmp.build.packing.generate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Type ids in data files and decks.
TYPE_AM, TYPE_SE = 1, 2


@dataclass(frozen=True)
class Structure:
    """A generated packing.

    Attributes
    ----------
    types : ndarray of int, shape (n,)
        1 = AM, 2 = SE.
    diameters : ndarray, shape (n,)
        Particle diameters (µm).
    positions : ndarray, shape (n, 3)
        Centres (µm); z = 0 in the quasi-2D mode.
    width, height, depth : float
        Initial cell (µm); depth is the nominal layer depth in quasi-2D.
    periodic : bool
        Whether the cell is periodic in x and y.
    info : dict
        Facts for ``structure.json`` (drawn mean/SD, counts, densifying step).
    mol : ndarray of int, shape (n,), optional
        Body id of every atom when the AM particles are multisphere bodies (0 for SE).
    """

    types: np.ndarray
    diameters: np.ndarray
    positions: np.ndarray
    width: float
    height: float
    depth: float
    periodic: bool
    info: dict = field(default_factory=dict)
    mol: np.ndarray | None = None

    @property
    def n_am(self) -> int:
        """Number of AM particles (rigid bodies when the AM is multisphere)."""
        if self.mol is not None:
            return int(np.unique(self.mol[self.types == TYPE_AM]).size)
        return int(np.count_nonzero(self.types == TYPE_AM))

    @property
    def multisphere(self) -> bool:
        """Whether the AM particles are multisphere rigid bodies (``mol`` = body id)."""
        return self.mol is not None

    @property
    def n_se(self) -> int:
        """Number of SE particles."""
        return int(np.count_nonzero(self.types == TYPE_SE))
