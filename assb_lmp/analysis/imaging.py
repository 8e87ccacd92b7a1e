"""Cross-section images of a particle packing (the CNN input, Komori §2.2).

The image is a square window of the cell rendered at ``pixels × pixels`` (224 for the
CNN), 8-bit: AM 128 (gray), SE 255 (white), void 0 (black). Row 0 is the top of the
window (largest y), column 0 its left side (smallest x), so the picture looks like the
cell drawn with y up.

Every pixel is sampled at its centre. A pixel inside several discs (overlapping
particles) goes to the disc with the smallest *power* ``|x − c|² − r²``; the overlap
lens of two discs is thereby split on their radical line, the same plane on which
:mod:`assb_lmp.analysis.contacts` puts the contact point. Exact ties go to the particle listed
first. The result does not depend on drawing order, so it is deterministic.

Quasi-2D: the section is the plane of the centres and every particle is a disc of its
radius. 3D: a section plane ``z = plane_z_um`` cuts a sphere at height ``h = z − plane``
in a disc of radius ``√(r² − h²)`` (spheres with ``|h| ≥ r`` do not show).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

log = logging.getLogger(__name__)

#: Gray levels of the image.
VOID, AM_GRAY, SE_WHITE = 0, 128, 255
#: Phase code (LAMMPS type: 1 AM, 2 SE) → gray level.
PHASE_GRAY: dict[int, int] = {1: AM_GRAY, 2: SE_WHITE}


def section_discs(
    positions: np.ndarray, radii: np.ndarray, plane_z_um: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Discs that a section shows.

    Parameters
    ----------
    positions : numpy.ndarray, shape (n, 2) or (n, 3)
        Particle centres (µm).
    radii : numpy.ndarray, shape (n,)
        Particle radii (µm).
    plane_z_um : float or None
        None: quasi-2D, every particle is a disc of its radius at (x, y). Else the z of
        the section plane (µm): discs of radius ``√(r² − h²)``, ``h = z − plane_z_um``.

    Returns
    -------
    centres : numpy.ndarray, shape (m, 2)
        Disc centres (µm).
    r : numpy.ndarray, shape (m,)
        Disc radii (µm).
    index : numpy.ndarray of int, shape (m,)
        Index of each disc's particle in the input.
    """
    pos = np.asarray(positions, dtype=float)
    rad = np.asarray(radii, dtype=float)
    if pos.ndim != 2 or pos.shape[1] not in (2, 3) or rad.shape != (pos.shape[0],):
        raise ValueError("positions must be (n, 2) or (n, 3) and radii (n,)")
    if plane_z_um is None:
        return pos[:, :2], rad, np.arange(rad.size)
    if pos.shape[1] != 3:
        raise ValueError("a section plane needs 3D positions (n, 3)")
    h = pos[:, 2] - float(plane_z_um)
    cut = np.abs(h) < rad
    idx = np.nonzero(cut)[0]
    return pos[idx, :2], np.sqrt(rad[idx] ** 2 - h[idx] ** 2), idx


def _pixels(pixels: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(pixels, int | np.integer):
        nx = ny = int(pixels)
    else:
        nx, ny = (int(p) for p in pixels)
    if nx < 1 or ny < 1:
        raise ValueError(f"pixels must be positive, got {pixels!r}")
    return nx, ny


def render_owner(
    positions: np.ndarray,
    radii: np.ndarray,
    window: Sequence[float],
    *,
    pixels: int | tuple[int, int] = 224,
    plane_z_um: float | None = None,
) -> np.ndarray:
    """Which particle each pixel of the window shows (power-diagram rule).

    Parameters
    ----------
    positions : numpy.ndarray, shape (n, 2) or (n, 3)
        Particle centres (µm).
    radii : numpy.ndarray, shape (n,)
        Radii (µm).
    window : (x0, x1, y0, y1)
        The rendered window (µm).
    pixels : int or (nx, ny)
        Image size in pixels.
    plane_z_um : float or None
        Section plane for 3D (µm); None for quasi-2D.

    Returns
    -------
    numpy.ndarray of int64, shape (ny, nx)
        Particle index per pixel, −1 for void. Row 0 is the top (largest y).
    """
    nx, ny = _pixels(pixels)
    x0, x1, y0, y1 = (float(v) for v in window)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"empty window {window!r}")
    dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
    centres, rad, idx = section_discs(positions, radii, plane_z_um)
    power = np.zeros((ny, nx))  # inside a disc the power is negative
    owner = np.full((ny, nx), -1, dtype=np.int64)
    if rad.size == 0:
        return owner
    # pixel column c has centre x0 + (c + 0.5) dx; row r has y1 - (r + 0.5) dy
    c_lo = np.ceil((centres[:, 0] - rad - x0) / dx - 0.5).astype(np.int64)
    c_hi = np.floor((centres[:, 0] + rad - x0) / dx - 0.5).astype(np.int64) + 1
    r_lo = np.ceil((y1 - centres[:, 1] - rad) / dy - 0.5).astype(np.int64)
    r_hi = np.floor((y1 - centres[:, 1] + rad) / dy - 0.5).astype(np.int64) + 1
    np.clip(c_lo, 0, nx, out=c_lo)
    np.clip(c_hi, 0, nx, out=c_hi)
    np.clip(r_lo, 0, ny, out=r_lo)
    np.clip(r_hi, 0, ny, out=r_hi)
    visible = np.nonzero((c_hi > c_lo) & (r_hi > r_lo))[0]
    xc = x0 + (np.arange(nx) + 0.5) * dx
    yc = y1 - (np.arange(ny) + 0.5) * dy
    # Process in order of decreasing power minimum is unnecessary: the strict '<' update
    # keeps the smallest power whatever the order; ties keep the first (lowest index).
    for k in visible.tolist():
        cl, ch, rl, rh = c_lo[k], c_hi[k], r_lo[k], r_hi[k]
        ddx = xc[cl:ch] - centres[k, 0]
        ddy = yc[rl:rh] - centres[k, 1]
        pw = ddy[:, None] ** 2 + (ddx[None, :] ** 2 - rad[k] ** 2)
        sub = power[rl:rh, cl:ch]
        better = pw < sub
        sub[better] = pw[better]
        owner[rl:rh, cl:ch][better] = idx[k]
    return owner


def render_section(positions: np.ndarray, radii: np.ndarray, phases: np.ndarray,
                   window: Sequence[float], *, pixels: int | tuple[int, int] = 224,
                   plane_z_um: float | None = None) -> np.ndarray:
    """Render the cross-section image of a packing.

    Parameters
    ----------
    phases : numpy.ndarray, shape (n,)
        Phase per particle: 1 or ``"AM"`` (gray 128), 2 or ``"SE"`` (white 255).
    positions, radii, window, pixels, plane_z_um
        As for :func:`render_owner` (µm; pixels 224 for the CNN, larger for figures).

    Returns
    -------
    numpy.ndarray of uint8, shape (ny, nx)
        AM 128, SE 255, void 0.
    """
    ph = np.asarray(phases)
    if ph.dtype.kind in "US":
        codes = np.where(ph == "AM", 1, np.where(ph == "SE", 2, 0))
    else:
        codes = ph.astype(np.int64)
    if np.any((codes != 1) & (codes != 2)):
        raise ValueError("phases must be 1/'AM' or 2/'SE'")
    owner = render_owner(positions, radii, window, pixels=pixels, plane_z_um=plane_z_um)
    lut = np.where(codes == 1, AM_GRAY, SE_WHITE).astype(np.uint8)
    lut = np.append(lut, np.uint8(VOID))  # owner -1 → last entry
    return lut[owner]


def phase_fractions(image: np.ndarray) -> dict[str, float]:
    """Area fractions of AM (128), SE (255) and void (0) in an image."""
    img = np.asarray(image)
    return {
        "am": float(np.mean(img == AM_GRAY)),
        "se": float(np.mean(img == SE_WHITE)),
        "void": float(np.mean(img == VOID)),
    }


def save_png(target: str | os.PathLike[str] | BinaryIO, image: np.ndarray) -> None:
    """Write an 8-bit grayscale PNG (``target`` a path or a binary file object).

    Raises
    ------
    ValueError
        If ``image`` is not a 2-D uint8 array.
    """
    from PIL import Image

    img = np.asarray(image)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 image, got {img.dtype} {img.shape}")
    Image.fromarray(img).save(target, format="PNG")


def load_png(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a grayscale PNG as a 2-D uint8 array."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8)
