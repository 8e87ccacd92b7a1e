"""The labels of a stage state (the CNN targets), the Gaussian fits and the SE coverage.

Every label is taken over the image window (:mod:`assb_lmp.analysis.window`):

* a particle counts when its centre lies in the window; a contact when its contact point
  does;
* ``am/se_stress_mean_mpa``, ``am/se_stress_sd_mpa``: mean and population SD (ddof = 0)
  of ``p`` over the particles of the phase in the window (rattlers included, at 0);
* ``*_stress_fit_mean_mpa``, ``*_stress_fit_sd_mpa``: least-squares fit of a Gaussian
  density to the stress histogram of the phase (Komori Fig. 4B), see :func:`gaussian_fit`;
* ``reaction_area_um2``: Σ π a² over AM–SE contacts whose contact point is in the window;
* ``se_coverage``: ``reaction_area_um2 / S_AM × f`` (Komori eq. 17), ``S_AM`` the total
  surface of the AM particles in the window, ``f`` the correction factor (default 1).
  ``S_AM`` is the sphere surface ``4π r²`` (option ``coverage_surface="sphere"``,
  default), also in the quasi-2D mode, for this reason: the quasi-2D bodies *are*
  spheres with coplanar centres; the forces and hence the contact areas ``π a²`` are
  those of sphere–sphere Hertz contacts and do not depend on the nominal depth ``t``,
  which is only a convention that turns forces into stresses. The surface that those
  contact areas are a part of is the sphere surface ``4π r²``. The alternative, the
  lateral surface ``2π r t`` of a slab of depth t (``coverage_surface="lateral"``), makes
  the coverage inversely proportional to a reporting convention (doubling t halves it).
  Either way a monolayer touches SE only along the AM's equator, so the coverage is far
  below that of a 3D electrode; that gap is what Komori's factor ``f`` absorbs (their
  §3.4 says the same);
* ``porosity`` and ``am_area_fraction``: pixel fractions of the window rendered with the
  same rule as the image (:func:`assb_lmp.analysis.imaging.render_owner`, overlaps split on
  the radical line) but ``label_supersample`` (4) times finer than the 224-px image, i.e.
  896 × 896 for the default. Measured on pressed packings of 1 µm SE, the porosity of the
  896-px render is within 0.05 % (relative) of its converged value, that of the 224-px
  image itself within about 0.7 %; on random discs the fractions match the analytic
  (clipped) disc areas to 0.03 % (tests/analysis/test_imaging.py). In a periodic cell the
  periodic images of particles near the edges are drawn too;
* ``am_se_contacts_per_am``: mean over the AM particles in the window of each one's
  number of AM–SE contacts (all of its contacts, wherever their contact point).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from assb_lmp import __version__
from assb_lmp.analysis import imaging
from assb_lmp.analysis.contacts import AM, SE
from assb_lmp.analysis.result import StageResult
from assb_lmp.analysis.stress import convention_info, stress_balance
from assb_lmp.analysis.window import IMAGE_PX
from assb_lmp.spec.targets import TARGETS

log = logging.getLogger(__name__)

#: The Gaussian-fit values written beside the targets.
FIT_KEYS: tuple[str, ...] = ("am_stress_fit_mean_mpa", "am_stress_fit_sd_mpa",
                             "se_stress_fit_mean_mpa", "se_stress_fit_sd_mpa")


def _fit_gaussian_density(
    x: np.ndarray, y: np.ndarray, mu0: float, sd0: float, max_iter: int = 100
) -> tuple[float, float] | None:
    """Levenberg–Marquardt least squares of ``y ≈ N(x; μ, σ)`` (a normalised Gaussian).

    Returns None when it does not converge.
    """
    c = 1.0 / math.sqrt(2.0 * math.pi)

    def resid_jac(m: float, s: float) -> tuple[np.ndarray, np.ndarray]:
        z = (x - m) / s
        g = c / s * np.exp(-0.5 * z * z)
        jac = np.column_stack([g * z / s, g * (z * z - 1.0) / s])
        return g - y, jac

    m, s = mu0, sd0
    r, jac = resid_jac(m, s)
    cost = float(r @ r)
    lam = 1e-3
    for _ in range(max_iter):
        a = jac.T @ jac
        grad = jac.T @ r
        step = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-300), -grad)
        m_new, s_new = m + step[0], s + step[1]
        if s_new <= 0:
            lam *= 10.0
            continue
        r_new, jac_new = resid_jac(m_new, s_new)
        cost_new = float(r_new @ r_new)
        if cost_new < cost:
            done = abs(step[0]) <= 1e-10 * (abs(m) + s) and abs(step[1]) <= 1e-10 * s
            m, s, r, jac, cost = m_new, s_new, r_new, jac_new, cost_new
            lam = max(lam / 10.0, 1e-12)
            if done:
                return m, s
        else:
            lam *= 10.0
            if lam > 1e12:
                return m, s
    return m, s


def gaussian_fit(values: np.ndarray) -> tuple[float | None, float | None]:
    """Fit a Gaussian density to the histogram of ``values`` (least squares).

    The histogram uses numpy's ``"auto"`` bins (at most 200), density normalised; a
    Levenberg–Marquardt fit of the normalised Gaussian ``N(x; μ, σ)`` to the bar heights
    starts from the sample mean and SD (Komori et al. 2022 describe the stress
    distributions by such a fit, Fig. 4B). With fewer than 5 values, a zero spread or a
    fit that fails the sample mean and population SD are returned.

    Returns
    -------
    (mean, sd) : tuple of float or None
        Same unit as ``values``; ``(None, None)`` when ``values`` is empty.
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return None, None
    mu0, sd0 = float(v.mean()), float(v.std())
    if v.size < 5 or not (sd0 > 1e-12 * max(abs(mu0), 1e-300)) or not math.isfinite(sd0):
        return mu0, sd0
    edges = np.histogram_bin_edges(v, bins="auto")
    if edges.size > 201:  # cap the bin count for heavy tails
        edges = np.histogram_bin_edges(v, bins=200)
    dens, edges = np.histogram(v, bins=edges, density=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    with np.errstate(all="ignore"):
        fit = _fit_gaussian_density(centres, dens, mu0, sd0)
    if fit is None or not all(math.isfinite(t) for t in fit) or fit[1] <= 0:
        return mu0, sd0
    return float(fit[0]), float(fit[1])


def _mean_sd(v: np.ndarray) -> tuple[float | None, float | None]:
    if v.size == 0:
        return None, None
    return float(v.mean()), float(v.std())


def stress_labels(stress_mpa: np.ndarray, am_in: np.ndarray, se_in: np.ndarray) -> dict:
    """Mean, SD and Gaussian fit of the particle stress ``p`` (MPa) of each phase over
    the particles in the window: ``am/se_stress_{mean,sd,fit_mean,fit_sd}_mpa``."""
    out: dict = {}
    for name, sel in (("am", am_in), ("se", se_in)):
        mean, sd = _mean_sd(stress_mpa[sel])
        fit = gaussian_fit(stress_mpa[sel])
        out.update({f"{name}_stress_mean_mpa": mean, f"{name}_stress_sd_mpa": sd,
                    f"{name}_stress_fit_mean_mpa": fit[0],
                    f"{name}_stress_fit_sd_mpa": fit[1]})
    return out


def am_surface_um2(res: StageResult, am_in: np.ndarray, coverage_surface: str) -> float:
    """Total surface of the AM particles in the window for the SE coverage (µm²)."""
    r_am = res.radius[am_in]
    if coverage_surface == "sphere":
        if res.surface_um2 is not None:  # multisphere bodies: surface of the union
            return float(res.surface_um2[am_in].sum())
        return float((4.0 * math.pi * r_am**2).sum())
    if res.dimension != 2:
        raise ValueError("coverage_surface='lateral' applies to the quasi-2D mode only")
    if res.perimeter_um is not None:  # multisphere bodies: perimeter of the union
        return float((res.perimeter_um[am_in] * res.depth_um).sum())
    return float((2.0 * math.pi * r_am * res.depth_um).sum())


def _check_options(coverage_factor: float, coverage_surface: str) -> None:
    if coverage_surface not in ("sphere", "lateral"):
        raise ValueError(f"coverage_surface must be 'sphere' or 'lateral', got "
                         f"{coverage_surface!r}")
    if not (coverage_factor > 0 and math.isfinite(coverage_factor)):
        raise ValueError(f"coverage_factor must be a positive number, got {coverage_factor!r}")


def _phase_fractions(res: StageResult, px: int, plane_z_um: float | None) -> tuple[float,
                                                                                     float]:
    """Porosity and AM area fraction of the window rendered at ``px`` pixels a side."""
    d_pos, d_rad, d_phase = res.drawn()
    owner = imaging.render_owner(d_pos, d_rad, res.window, pixels=px, plane_z_um=plane_z_um)
    ph = np.where(owner >= 0, d_phase[np.clip(owner, 0, None)], 0)
    return float(np.mean(ph == 0)), float(np.mean(ph == AM))


def _info(res: StageResult, am_in: np.ndarray, se_in: np.ndarray, amse_in: np.ndarray,
          s_surface: float) -> dict:
    """The ``info`` object of the labels: stage, window, counts, contact areas, balance."""
    c = res.contacts
    return {
        "stage": res.stage,
        "step": int(res.cell["step"]),
        "dimension": res.dimension,
        "depth_um": res.depth_um,
        "window_um": [float(v) for v in res.window],
        "n_am": int(am_in.sum()),
        "n_se": int(se_in.sum()),
        "n_particles_total": int(res.ids.size),
        **({"n_am_bodies_total": int(np.count_nonzero(res.mol > 0)),
            "n_atoms_total": int(res.atoms["ids"].size)} if res.mol is not None else {}),
        "n_contacts_total": int(c["fn"].size),
        "n_am_se_contacts_in_window": int(amse_in.sum()),
        "contact_radius": res.contact_radius,
        "reaction_area_hertz_um2": float(c.get("area_hertz", c["area"])[amse_in].sum()),
        "reaction_area_overlap_um2": float(c.get("area_overlap", c["area"])[amse_in].sum()),
        "am_surface_um2": s_surface,
    }


def _targets(res: StageResult, am_in: np.ndarray, se_in: np.ndarray, reaction: float,
             s_surface: float, coverage_factor: float) -> dict:
    """Stress statistics (the stage's convention), reaction area, coverage and AM–SE
    contacts per AM particle."""
    c = res.contacts
    amse = c["pair"] == "AM-SE"
    # AM-SE contacts per AM particle (index of the AM partner of every AM-SE contact)
    ci, cj = c["i"][amse], c["j"][amse]
    per_am = np.bincount(np.where(res.phase[ci] == AM, ci, cj), minlength=res.ids.size)
    return {
        **stress_labels(res.stress_mpa, am_in, se_in),
        "reaction_area_um2": reaction,
        "se_coverage": reaction / s_surface * coverage_factor if s_surface > 0 else None,
        "am_se_contacts_per_am": float(per_am[am_in].mean()) if am_in.any() else None,
    }


def compute_labels(
    res: StageResult,
    *,
    coverage_factor: float = 1.0,
    coverage_surface: str = "sphere",
    label_supersample: int = 4,
    image_px: int = IMAGE_PX,
    plane_z_um: float | None = None,
) -> dict:
    """The nine labels of a stage state, the Gaussian fits, and facts about them.

    Parameters
    ----------
    res : StageResult
        Particles and contacts (``labels`` and ``image`` need not be set).
    coverage_factor : float
        Komori's correction factor ``f`` of eq. 17 (default 1).
    coverage_surface : {"sphere", "lateral"}
        AM surface of the coverage: ``4π r²`` (default; see the module docstring for the
        reasoning) or the quasi-2D slab's lateral surface ``2π r t``.
    label_supersample : int
        Porosity and AM area fraction come from a render ``label_supersample`` times finer
        than the ``image_px`` image.
    image_px : int
        Pixels of the CNN image side.
    plane_z_um : float or None
        3D: the section plane of the image (µm); None in the quasi-2D mode.

    Returns
    -------
    dict
        The targets of :data:`assb_lmp.spec.targets.TARGETS` (None where undefined, e.g.
        no AM in the window), the Gaussian fits and ``info`` (stage, window, counts,
        options, the wall-stress balance).
    """
    _check_options(coverage_factor, coverage_surface)
    am_in = res.p_in & (res.phase == AM)
    se_in = res.p_in & (res.phase == SE)
    c = res.contacts
    amse = c["pair"] == "AM-SE"
    reaction = float(c["area"][amse & c["in"]].sum())
    s_surface = am_surface_um2(res, am_in, coverage_surface)
    px = int(image_px) * int(label_supersample)
    porosity, am_frac = _phase_fractions(res, px, plane_z_um)
    labels = _targets(res, am_in, se_in, reaction, s_surface, coverage_factor)
    labels.update(porosity=porosity, am_area_fraction=am_frac)
    labels = {k: labels[k] for k in (*TARGETS, *FIT_KEYS)}
    undefined = [k for k, v in labels.items() if v is None]
    if undefined:
        log.warning("stage %s: labels undefined (no particles of a phase in the window): %s",
                    res.stage, ", ".join(undefined))
    if res.dimension == 2:  # both conventions of the quasi-2D stresses
        for conv, p in res.stress_by_convention.items():
            labels.update({f"{k}_{conv}": v
                           for k, v in stress_labels(p, am_in, se_in).items()})
    info = _info(res, am_in, se_in, amse & c["in"], s_surface)
    info["stress_convention"] = convention_info(res)
    info.update({
        "coverage_factor": float(coverage_factor),
        "coverage_surface": coverage_surface,
        "image_px": int(image_px),
        "fraction_px": px,
        "section_z_um": plane_z_um,
        "stress_balance": stress_balance(res),
        "version": __version__,
    })
    labels["info"] = info
    if res.validity is not None:
        labels["validity"] = res.validity
    return labels
