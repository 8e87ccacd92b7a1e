"""Before/after report of an expand stage (So et al. 2021, the SE stress field of Fig. 2).

For every ``expand`` stage of a case, :func:`assb_lmp.analysis.case.analyze_case` compares the
analysed state at the end of the stage with the state at the end of the stage before it
(e.g. ``release`` at the 25 MPa stack pressure) and writes

* ``DIR/<stage>/expansion.json`` (and ``DIR/expansion.json`` for the last expand stage):
  the requested strain; the measured AM volume change over the whole cell (3D volume:
  spheres, or the union of each body's spheres; and the quasi-2D section area); the
  aspect ratios of multisphere bodies before and after; the SE and AM stress statistics
  in the image window (mean, SD, Gaussian fit) before, after and their change; the
  reaction area, SE coverage and AM–SE contacts per AM particle before, after and their
  change; wall pressures and cell width before and after;
* ``DIR/figures/expansion_<stage>.png``: the SE stress field before and after side by side
  on one colour scale, and the change of every SE particle's stress (the SE particles are
  the same atoms in both states).

Stresses are Love–Weber mean compressive stresses (MPa, compression positive), see
:mod:`assb_lmp.analysis.stress`. This module only reads analysed stages; it imports nothing
that runs LAMMPS.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from assb_lmp.analysis import plots
from assb_lmp.analysis.contacts import AM, SE

#: Labels compared before/after (name → unit).
COMPARED = {
    "se_stress_mean_mpa": "MPa", "se_stress_sd_mpa": "MPa",
    "se_stress_fit_mean_mpa": "MPa", "se_stress_fit_sd_mpa": "MPa",
    "am_stress_mean_mpa": "MPa", "am_stress_sd_mpa": "MPa",
    "reaction_area_um2": "µm²", "se_coverage": "-", "am_se_contacts_per_am": "-",
    "porosity": "-", "am_area_fraction": "-",
}


def am_volume_um3(res: Any) -> float:
    """3D volume of all AM particles of a stage (µm³): spheres, or body unions."""
    am = res.phase == AM
    if getattr(res, "volume3d_um3", None) is not None:
        return float(res.volume3d_um3[am].sum())
    return float((4.0 / 3.0 * math.pi * res.radius[am] ** 3).sum())


def am_section_um2(res: Any) -> float:
    """Section area of all AM particles of a stage (µm²)."""
    am = res.phase == AM
    if getattr(res, "area_um2", None) is not None:
        return float(res.area_um2[am].sum())
    return float((math.pi * res.radius[am] ** 2).sum())


def _change(before: float | None, after: float | None) -> dict:
    out = {"before": before, "after": after, "change": None, "relative_change": None}
    if before is not None and after is not None:
        out["change"] = after - before
        if before != 0:
            out["relative_change"] = after / before - 1.0
    return out


def compare(before: Any, after: Any, requested: dict | None = None) -> dict:
    """Compare two analysed stages (:class:`assb_lmp.analysis.result.StageResult`).

    Parameters
    ----------
    before, after : StageResult
        The stage before the expansion and the expand stage.
    requested : dict, optional
        ``volume_strain``, ``basis``, ``linear_scale`` of the stage (written as given).

    Returns
    -------
    dict
        See the module docstring.
    """
    v0, v1 = am_volume_um3(before), am_volume_um3(after)
    a0, a1 = am_section_um2(before), am_section_um2(after)
    am = {
        "volume_um3": _change(v0, v1),
        "section_area_um2": _change(a0, a1),
        "volume_strain_measured": v1 / v0 - 1.0 if v0 > 0 else None,
        "section_area_strain_measured": a1 / a0 - 1.0 if a0 > 0 else None,
        "n_particles": int(np.count_nonzero(after.phase == AM)),
    }
    if getattr(after, "aspect_ratio", None) is not None and before.aspect_ratio is not None:
        sel0 = before.phase == AM
        sel1 = after.phase == AM
        if np.array_equal(before.ids[sel0], after.ids[sel1]):
            ar0, ar1 = before.aspect_ratio[sel0], after.aspect_ratio[sel1]
            am["aspect_ratio_mean"] = _change(float(ar0.mean()), float(ar1.mean()))
            am["aspect_ratio_max_relative_change"] = float(np.max(np.abs(ar1 / ar0 - 1.0)))
    if requested and requested.get("volume_strain") is not None and am[
            "volume_strain_measured"] is not None:
        am["volume_strain_error"] = am["volume_strain_measured"] - requested["volume_strain"]
        if requested.get("basis") == "area":
            am["volume_strain_error"] = (am["section_area_strain_measured"]
                                         - requested["volume_strain"])
    labels = {k: _change(before.labels.get(k), after.labels.get(k)) for k in COMPARED}
    pressures = {
        which: {k[2:-4]: float(v) for k, v in res.cell.items()
                if k.startswith("p_") and k.endswith("_mpa")}
        for which, res in (("before", before), ("after", after))
    }
    width = _change(float(before.cell["xhi_um"] - before.cell["xlo_um"]),
                    float(after.cell["xhi_um"] - after.cell["xlo_um"]))
    se_field = se_stress_change(before, after)
    return {
        "stage": after.stage,
        "reference_stage": before.stage,
        "requested": requested or {},
        "am": am,
        "labels": labels,
        "units": COMPARED,
        "wall_pressure_mpa": pressures,
        "cell_width_um": width,
        "se_stress_change_mpa": {
            "mean": float(np.mean(se_field)) if se_field.size else None,
            "sd": float(np.std(se_field)) if se_field.size else None,
            "n_particles": int(se_field.size),
            "note": "after − before of every SE particle in the window after the expansion",
        },
    }


def se_stress_change(before: Any, after: Any) -> np.ndarray:
    """Stress change (MPa) of every SE particle (same id in both states) whose centre is in
    the window after the expansion."""
    se1 = (after.phase == SE) & after.p_in
    idx0 = {int(i): k for k, i in enumerate(before.ids.tolist())}
    k0 = np.array([idx0.get(int(i), -1) for i in after.ids[se1].tolist()], dtype=np.int64)
    ok = k0 >= 0
    return after.stress_mpa[se1][ok] - before.stress_mpa[k0[ok]]


def comparison_figure(before: Any, after: Any, report: dict | None = None,
                      clip_percentile: float = 99.0) -> Any:
    """SE stress field before and after the expansion side by side (one colour scale),
    and the change of each SE particle's stress; AM particles drawn gray."""
    from matplotlib.colors import Normalize, TwoSlopeNorm
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15.0, 5.2))
    fig.subplots_adjust(left=0.05, right=0.95, bottom=0.11, top=0.86, wspace=0.35)
    axes = fig.subplots(1, 3)
    s_all = np.concatenate([r.stress_mpa[r.phase == SE] for r in (before, after)])
    hi = float(np.percentile(s_all, clip_percentile)) if s_all.size else 1.0
    norm = Normalize(0.0, hi if hi > 0 else 1.0)
    for ax, res in zip(axes[:2], (before, after), strict=True):
        pos, rad, ph, part = plots.drawn_particles(res)
        ax.set_facecolor(plots.VOID_COLOR)
        am = ph == AM
        plots._discs(ax, pos[am, :2], rad[am], facecolors=plots.AM_COLOR, edgecolors="none",
                     zorder=1)
        se = ~am
        coll = plots._discs(ax, pos[se, :2], rad[se], cmap="inferno", norm=norm,
                            edgecolors="0.5", linewidths=0.1, zorder=2)
        coll.set_array(res.stress_mpa[part[se]])
        plots._cell_axes(ax, res.cell, res.window)
        lab = res.labels
        ax.set_title(f"{res.stage}: SE {_fmt(lab.get('se_stress_mean_mpa'))} ± "
                     f"{_fmt(lab.get('se_stress_sd_mpa'))} MPa, reaction area "
                     f"{_fmt(lab.get('reaction_area_um2'))} µm²", fontsize=9)
    fig.colorbar(coll, ax=axes[:2].tolist(), fraction=0.025, pad=0.02, extend="max",
                 label="SE mean compressive stress p (MPa)")
    # change per SE particle, drawn at its position after the expansion
    ax = axes[2]
    pos, rad, ph, part = plots.drawn_particles(after)
    ax.set_facecolor(plots.VOID_COLOR)
    am = ph == AM
    plots._discs(ax, pos[am, :2], rad[am], facecolors=plots.AM_COLOR, edgecolors="none",
                 zorder=1)
    idx0 = {int(i): k for k, i in enumerate(before.ids.tolist())}
    se = ~am
    p_se = part[se]
    k0 = np.array([idx0.get(int(i), -1) for i in after.ids[p_se].tolist()], dtype=np.int64)
    delta = np.where(k0 >= 0, after.stress_mpa[p_se] - before.stress_mpa[np.clip(k0, 0, None)],
                     0.0)
    lim = float(np.percentile(np.abs(delta), clip_percentile)) if delta.size else 1.0
    lim = lim if lim > 0 else 1.0
    coll = plots._discs(ax, pos[se, :2], rad[se], cmap="RdBu_r",
                        norm=TwoSlopeNorm(0.0, -lim, lim), edgecolors="0.5",
                        linewidths=0.1, zorder=2)
    coll.set_array(delta)
    plots._cell_axes(ax, after.cell, after.window)
    ax.set_title("change of each SE particle's stress (after − before)", fontsize=9)
    fig.colorbar(coll, ax=ax, fraction=0.046, pad=0.02, extend="both", label="Δp (MPa)")
    title = f"SE stress field before ({before.stage}) and after ({after.stage}) the expansion"
    if report:
        am_r = report["am"]
        if am_r.get("volume_strain_measured") is not None:
            title += f"; AM volume {100 * am_r['volume_strain_measured']:+.2f} %"
        pb = report["wall_pressure_mpa"]["before"].get("xhi")
        pa = report["wall_pressure_mpa"]["after"].get("xhi")
        if pb is not None and pa is not None:
            title += f", moving-wall pressure {pb:.3g} → {pa:.3g} MPa"
    fig.suptitle(title, fontsize=11)
    return fig


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"
