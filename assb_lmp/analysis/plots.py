"""Figures of a pressed case, as a paper would show them (matplotlib, PNG).

* :func:`force_chain_figure` — particles drawn to scale, a line between the centres of
  every two particles in contact, its width proportional to the normal force (Komori et
  al. 2022, Fig. 3B); wall contacts are drawn to the wall.
* :func:`stress_map_figure` — every particle coloured by its Love–Weber mean compressive
  stress.
* :func:`stress_histogram_figure` — the stress distribution of each phase with its
  Gaussian fit (Komori Fig. 4B).
* :func:`pressure_strain_figure` — wall pressures against the cell strain across all
  stages (press, hold, release ...), from ``dumps/<stage>.series.txt``.

The functions take plain arrays and return a :class:`matplotlib.figure.Figure` built
without pyplot (no global state, safe in worker processes); :func:`save_figure` writes
it. :func:`write_case_figures` draws all four for one analysed stage.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Face colours of the phases (AM gray, SE white as in the image; void is the background).
AM_COLOR = "#8a8a8a"
SE_COLOR = "#f4f4f4"
VOID_COLOR = "#1a1a1a"
#: Force-chain colour (Komori Fig. 3B draws them green).
CHAIN_COLOR = "#1fa83a"
#: Default resolution of the figures (dots per inch).
DPI = 150


def _figure(size: tuple[float, float], **adjust: float) -> Any:
    """A pyplot-free figure with fixed margins (constrained layout costs ~0.15 s a figure)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    margins = {"left": 0.11, "right": 0.97, "bottom": 0.10, "top": 0.93}
    margins.update(adjust)
    fig.subplots_adjust(**margins)
    return fig


def _cell_axes(ax: Any, cell: Mapping[str, float], window: Sequence[float] | None) -> None:
    from matplotlib.patches import Rectangle

    xlo, xhi, ylo, yhi = (float(cell[k]) for k in ("xlo_um", "xhi_um", "ylo_um", "yhi_um"))
    pad = 0.02 * max(xhi - xlo, yhi - ylo)
    ax.set_xlim(xlo - pad, xhi + pad)
    ax.set_ylim(ylo - pad, yhi + pad)
    ax.set_aspect("equal")
    ax.add_patch(Rectangle((xlo, ylo), xhi - xlo, yhi - ylo, fill=False, lw=1.2,
                           ec="k", zorder=5))
    if window is not None:
        x0, x1, y0, y1 = window
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=0.9, ls="--",
                               ec="tab:red", zorder=5, label="image window"))
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")


def _rgba(mask: np.ndarray, yes: str, no: str) -> np.ndarray:
    """Per-item RGBA array: colour ``yes`` where ``mask``, else ``no``."""
    from matplotlib.colors import to_rgba_array

    both = to_rgba_array([no, yes])
    return both[np.asarray(mask, dtype=np.int64)]


def _discs(ax: Any, xy: np.ndarray, radius: np.ndarray, **kw: Any) -> Any:
    from matplotlib.collections import EllipseCollection

    coll = EllipseCollection(
        2 * radius, 2 * radius, np.zeros_like(radius), units="xy", offsets=xy,
        offset_transform=ax.transData, **kw,
    )
    ax.add_collection(coll)
    return coll


def force_chain_figure(
    pos: np.ndarray,
    radius: np.ndarray,
    phase: np.ndarray,
    segments: np.ndarray,
    normal_force_nn: np.ndarray,
    *,
    cell: Mapping[str, float],
    window: Sequence[float] | None = None,
    max_linewidth: float = 3.0,
    title: str | None = None,
) -> Any:
    """Particles and force chains (Komori Fig. 3B).

    Parameters
    ----------
    pos : numpy.ndarray, shape (n, 2 or 3)
        Centres (µm).
    radius : numpy.ndarray, shape (n,)
        Radii (µm).
    phase : numpy.ndarray, shape (n,)
        1 AM, 2 SE.
    segments : numpy.ndarray, shape (m, 2, 2)
        Line ends (µm): centre to centre for pairs, centre to contact point for walls.
    normal_force_nn : numpy.ndarray, shape (m,)
        Normal force of each contact (nN); the line width is ``max_linewidth`` × fn /
        max(fn) points (contacts with fn ≤ 0 are not drawn).
    cell : mapping
        ``xlo_um`` ... ``yhi_um`` of the cell.
    window : (x0, x1, y0, y1), optional
        Image window drawn dashed.
    max_linewidth : float
        Width of the line of the largest force (points).
    title : str, optional
        Axes title.
    """
    from matplotlib.collections import LineCollection

    fig = _figure((6.4, 5.6))
    ax = fig.add_subplot()
    ax.set_facecolor("white")
    xy = np.asarray(pos, dtype=float)[:, :2]
    ph = np.asarray(phase)
    colors = _rgba(ph == 1, AM_COLOR, SE_COLOR)
    _discs(ax, xy, np.asarray(radius, dtype=float), facecolors=colors, edgecolors="0.35",
           linewidths=0.25, zorder=1)
    fn = np.asarray(normal_force_nn, dtype=float)
    on = fn > 0
    if on.any():
        widths = max_linewidth * fn[on] / fn[on].max()
        ax.add_collection(LineCollection(np.asarray(segments)[on], linewidths=widths,
                                         colors=CHAIN_COLOR, capstyle="round", zorder=3))
        fmax = float(fn[on].max())
        ax.plot([], [], color=CHAIN_COLOR, lw=max_linewidth,
                label=f"normal force {fmax:.3g} nN")
    _cell_axes(ax, cell, window)
    ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
    ax.set_title(title or "Force chains (line width ∝ normal force)", fontsize=10)
    return fig


def stress_map_figure(
    pos: np.ndarray,
    radius: np.ndarray,
    phase: np.ndarray,
    stress_mpa: np.ndarray,
    *,
    cell: Mapping[str, float],
    window: Sequence[float] | None = None,
    clip_percentile: float = 99.0,
    cmap: str = "inferno",
    title: str | None = None,
    outline: bool = True,
) -> Any:
    """Particles coloured by their mean compressive stress (MPa).

    The colour scale runs from 0 to the ``clip_percentile`` percentile of the stresses
    (higher values saturate); AM particles are outlined in black, SE in gray
    (``outline=False``: AM not outlined, for multisphere bodies drawn as their spheres).
    """
    from matplotlib.colors import Normalize

    fig = _figure((6.8, 5.6), right=0.84)
    ax = fig.add_subplot()
    ax.set_facecolor(VOID_COLOR)
    s = np.asarray(stress_mpa, dtype=float)
    hi = float(np.percentile(s, clip_percentile)) if s.size else 1.0
    lo = min(0.0, float(s.min())) if s.size else 0.0
    if not hi > lo:
        hi = lo + 1.0
    ph = np.asarray(phase)
    coll = _discs(ax, np.asarray(pos, dtype=float)[:, :2], np.asarray(radius, dtype=float),
                  cmap=cmap, norm=Normalize(lo, hi),
                  edgecolors=_rgba(ph == 1, "k", "0.5"),
                  linewidths=np.where(ph == 1, 0.8 if outline else 0.0, 0.1), zorder=1)
    coll.set_array(s)
    cax = fig.add_axes((0.86, 0.18, 0.025, 0.66))
    fig.colorbar(coll, cax=cax, label="mean compressive stress p (MPa)", extend="max")
    _cell_axes(ax, cell, window)
    ax.set_title(title or "Particle stress (Love–Weber, p = −tr σ / d)", fontsize=10)
    return fig


def _gauss(x: np.ndarray, mu: float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


def stress_histogram_figure(
    stresses: Mapping[str, np.ndarray],
    fits: Mapping[str, tuple[float | None, float | None]],
    *,
    title: str | None = None,
) -> Any:
    """Stress histograms per phase with the Gaussian fit (Komori Fig. 4B).

    Parameters
    ----------
    stresses : mapping
        Phase name (``"AM"``, ``"SE"``) → stresses of its particles in the window (MPa).
    fits : mapping
        Phase name → (mean, SD) of the Gaussian fit (MPa).
    """
    names = list(stresses)
    fig = _figure((4.0 * max(len(names), 1), 3.4), left=0.09, bottom=0.14, top=0.88,
                  right=0.98, wspace=0.3)
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=False):
        v = np.asarray(stresses[name], dtype=float)
        ax.set_xlabel(f"{name} particle stress p (MPa)")
        ax.set_ylabel("probability density (1/MPa)")
        if v.size == 0:
            ax.text(0.5, 0.5, f"no {name} in the window", ha="center", transform=ax.transAxes)
            continue
        bins = np.histogram_bin_edges(v, bins="auto")
        if bins.size > 81:
            bins = np.histogram_bin_edges(v, bins=80)
        ax.hist(v, bins=bins, density=True, color="#8fd3f0" if name == "SE" else "#b5b5b5",
                edgecolor="white", linewidth=0.4, label=f"DEM (n = {v.size})")
        mu, sd = fits.get(name, (None, None))
        if mu is not None and sd:
            x = np.linspace(bins[0], bins[-1], 300)
            ax.plot(x, _gauss(x, mu, sd), color="tab:red", lw=1.6,
                    label=f"Gaussian fit\n{mu:.3g} ± {sd:.3g} MPa")
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(title or "Stress distribution per phase", fontsize=10)
    return fig


def pressure_strain_figure(
    series: Mapping[str, Mapping[str, np.ndarray]],
    stages: Sequence[str] | None = None,
    *,
    width0_um: float | None = None,
    title: str | None = None,
) -> Any:
    """Wall pressure against cell strain ``ε = 1 − W/W0`` across all stages.

    Parameters
    ----------
    series : mapping
        Stage name → columns of its ``series.txt`` (``width_um``, ``p_move_mpa``,
        ``p_fix_mpa`` ...).
    stages : sequence of str, optional
        Stage order (default: the mapping's order).
    width0_um : float, optional
        Initial width W0 (µm); default the first width of the first stage.
    """
    from matplotlib import colormaps

    order = [s for s in (stages or list(series)) if s in series]
    fig = _figure((6.0, 4.2), left=0.12, bottom=0.12)
    ax = fig.add_subplot()
    if not order:
        ax.text(0.5, 0.5, "no series", ha="center", transform=ax.transAxes)
        return fig
    if width0_um is None:
        first = next((series[s]["width_um"] for s in order if series[s]["width_um"].size),
                     np.array([1.0]))
        width0_um = float(first[0])
    cmap = colormaps["tab10"]
    for k, s in enumerate(order):
        tab = series[s]
        if "width_um" not in tab or tab["width_um"].size == 0:
            continue
        eps = 1.0 - tab["width_um"] / width0_um
        color = cmap(k % 10)
        if "p_move_mpa" in tab:
            ax.plot(eps, tab["p_move_mpa"], color=color, lw=1.4, label=f"{s}: moving wall")
        if "p_fix_mpa" in tab:
            ax.plot(eps, tab["p_fix_mpa"], color=color, lw=1.0, ls="--",
                    label=f"{s}: opposite wall")
    ax.set_xlabel("cell strain 1 − W/W₀ (−)")
    ax.set_ylabel("wall pressure (MPa)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(order) > 2 else 1)
    ax.set_title(title or "Wall pressure across press and release", fontsize=10)
    return fig


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int = DPI) -> Path:
    """Write a figure as PNG and release it; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png", pil_kwargs={"compress_level": 1})
    fig.clf()
    return path


def contact_segments(res: Any) -> tuple[np.ndarray, np.ndarray]:
    """Line segments (m, 2, 2) and normal forces of the contacts of an analysed stage
    (:class:`assb_lmp.analysis.result.StageResult`): centre–centre for pairs, centre–contact
    point for walls. A pair across a periodic boundary is drawn from the first particle
    to the nearest periodic image of the second, not across the cell."""
    c = res.contacts
    xy = res.pos[:, :2]
    a = xy[c["i"]]
    b = np.where((c["j"] >= 0)[:, None], xy[np.clip(c["j"], 0, None)], c["point"][:, :2])
    d = b - a
    for ax, length in enumerate(getattr(res, "periodic_lengths", (None, None))[:2]):
        if length:
            d[:, ax] -= length * np.round(d[:, ax] / length)
    return np.stack([a, a + d], axis=1), c["fn"]


def drawn_particles(res: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Discs to draw for an analysed stage: centres, radii, phases and the particle index
    of each disc. Multisphere bodies (``res.atoms`` set) are drawn as their spheres."""
    atoms = getattr(res, "atoms", None)
    if atoms is None:
        return res.pos, res.radius, res.phase, np.arange(res.radius.size)
    return atoms["pos"], atoms["radius"], atoms["phase"], atoms["particle"]


def stage_stress_map(res: Any, **kw: Any) -> Any:
    """The stress map of an analysed stage (bodies drawn as their spheres)."""
    pos, rad, ph, part = drawn_particles(res)
    kw.setdefault("title", f"Particle stress, stage {res.stage}")
    return stress_map_figure(pos, rad, ph, res.stress_mpa[part], cell=res.cell,
                             window=res.window, outline=getattr(res, "atoms", None) is None,
                             **kw)


def write_case_figures(
    res: Any,
    series: Mapping[str, Mapping[str, np.ndarray]],
    path_for: Callable[[str], Path],
    *,
    stages: Sequence[str] | None = None,
    width0_um: float | None = None,
    dpi: int = DPI,
) -> list[Path]:
    """Draw the four figures of an analysed stage.

    Parameters
    ----------
    res : StageResult
        From :func:`assb_lmp.analysis.stage.analyze_stage`.
    series : mapping
        Stage name → series columns (for the pressure–strain figure).
    path_for : callable
        Maps a file name (``"force_chains.png"``) to the path to write.
    stages : sequence of str, optional
        Stage order.
    width0_um : float, optional
        Initial cell width W0 (µm).
    dpi : int
        Resolution.

    Returns
    -------
    list of Path
        The files written: ``force_chains.png``, ``stress_map.png``,
        ``stress_histograms.png``, ``pressure_strain.png``.
    """
    out = []
    seg, fn = contact_segments(res)
    tag = f"stage {res.stage}"
    pos, rad, ph, part = drawn_particles(res)
    out.append(save_figure(force_chain_figure(
        pos, rad, ph, seg, fn, cell=res.cell, window=res.window,
        title=f"Force chains, {tag} (line width ∝ normal force)"),
        path_for("force_chains.png"), dpi=dpi))
    out.append(save_figure(stage_stress_map(res), path_for("stress_map.png"), dpi=dpi))
    lab = res.labels
    stresses = {name: res.stress_mpa[res.p_in & (res.phase == code)]
                for name, code in (("AM", 1), ("SE", 2))}
    fits = {"AM": (lab.get("am_stress_fit_mean_mpa"), lab.get("am_stress_fit_sd_mpa")),
            "SE": (lab.get("se_stress_fit_mean_mpa"), lab.get("se_stress_fit_sd_mpa"))}
    out.append(save_figure(stress_histogram_figure(
        stresses, fits, title=f"Stress distribution in the image window, {tag}"),
        path_for("stress_histograms.png"), dpi=dpi))
    out.append(save_figure(pressure_strain_figure(series, stages, width0_um=width0_um),
                           path_for("pressure_strain.png"), dpi=dpi))
    return out
