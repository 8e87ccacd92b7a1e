"""The square image/label window of a cell (Komori §2.2).

The window is the cell of ``<stage>.cell.json`` cropped ``crop_um`` (2 µm) in from each side;
when the crop is not square, the central square of side ``min(Lx, Ly) − 2 crop``. The image
shows exactly this window, and every label is taken over it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from assb_lmp.core.errors import AnalysisError

#: Default crop of the image window from each side of the cell (µm), Komori §2.2.
CROP_UM = 2.0
#: Pixels of the CNN image.
IMAGE_PX = 224


def window_from_cell(cell: Mapping[str, float], crop_um: float = CROP_UM) -> tuple[
    float, float, float, float
]:
    """The square image/label window of a cell (µm): ``(x0, x1, y0, y1)``.

    The cell is cropped ``crop_um`` in from each side; if the crop is not square, the
    central square of side ``min(Lx, Ly) − 2 crop_um`` is taken.

    Raises
    ------
    AnalysisError
        If the crop leaves nothing.
    """
    xlo, xhi = float(cell["xlo_um"]), float(cell["xhi_um"])
    ylo, yhi = float(cell["ylo_um"]), float(cell["yhi_um"])
    side = min(xhi - xlo, yhi - ylo) - 2.0 * crop_um
    if not side > 0:
        raise AnalysisError(
            f"cell {xhi - xlo:.4g} × {yhi - ylo:.4g} µm is too small for a {crop_um} µm crop"
        )
    cx, cy = 0.5 * (xlo + xhi), 0.5 * (ylo + yhi)
    return (cx - 0.5 * side, cx + 0.5 * side, cy - 0.5 * side, cy + 0.5 * side)


def in_window(xy: np.ndarray, window: Sequence[float]) -> np.ndarray:
    """Boolean mask of points whose (x, y) lie in the window ``(x0, x1, y0, y1)``."""
    xy = np.asarray(xy, dtype=float)
    x0, x1, y0, y1 = window
    return (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
