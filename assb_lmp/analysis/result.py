"""The analysed state of one stage (:class:`StageResult`), shared by labels, sections,
tables, figures and the expansion report."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from assb_lmp.core.units import KPA_PER_MPA


@dataclass
class StageResult:
    """Analysis of the final state of one stage.

    Attributes
    ----------
    stage : str
        Stage name.
    cell : dict
        The stage's ``cell.json``.
    dimension : int
        2 or 3.
    depth_um : float
        Nominal depth t (quasi-2D) used for volumes (µm).
    window : tuple of float
        ``(x0, x1, y0, y1)`` of the image/label window (µm).
    ids, phase, radius, pos
        Particle ids, phase codes (1 AM, 2 SE), radii (µm), centres (n, 3) (µm).
    sigma_mpa : numpy.ndarray, shape (n, 3, 3)
        Love–Weber tensors (MPa, tension positive).
    stress_mpa : numpy.ndarray, shape (n,)
        ``p = −tr(σ)/d`` (MPa, compression positive).
    volume_um3 : numpy.ndarray
        ``V_p`` (µm³).
    n_contacts : numpy.ndarray of int
        Contacts per particle (pairs and walls).
    p_in : numpy.ndarray of bool
        Particle centre in the window.
    contacts : dict of str to numpy.ndarray
        ``i``, ``j`` (particle indices, ``j = −1`` for a wall), ``wall`` (name or ""),
        ``pair`` (AM-AM, AM-SE, SE-SE, AM-wall, SE-wall), ``fn`` (nN), ``ft`` (nN),
        ``overlap`` (µm), ``a`` (µm), ``area`` (µm²), ``point`` (m, 3) (µm), ``in``, and
        the atom-level ``r_star``, ``d_min`` (µm) and ``e_star`` (kPa) of
        :func:`assb_lmp.analysis.contacts.contact_table`.
    labels : dict
        The labels of the stage (see :func:`assb_lmp.analysis.labels.compute_labels`).
    """

    stage: str
    cell: dict
    dimension: int
    depth_um: float
    window: tuple[float, float, float, float]
    ids: np.ndarray
    phase: np.ndarray
    radius: np.ndarray
    pos: np.ndarray
    sigma_mpa: np.ndarray
    stress_mpa: np.ndarray
    volume_um3: np.ndarray
    n_contacts: np.ndarray
    p_in: np.ndarray
    contacts: dict[str, np.ndarray]
    labels: dict = field(default_factory=dict)
    image: np.ndarray | None = None
    periodic_lengths: tuple[float | None, float | None] = (None, None)
    boundary_moment: np.ndarray | None = None
    #: multisphere bodies (atoms dump with a ``mol`` column), see
    #: :mod:`assb_lmp.analysis.bodies`: body id per particle (0 for single spheres), atoms
    #: per particle, section area (µm²), section perimeter (µm), 3D surface (µm²); None
    #: without bodies
    mol: np.ndarray | None = None
    n_spheres: np.ndarray | None = None
    area_um2: np.ndarray | None = None
    perimeter_um: np.ndarray | None = None
    surface_um2: np.ndarray | None = None
    volume3d_um3: np.ndarray | None = None
    aspect_ratio: np.ndarray | None = None
    #: the atoms behind the particles (bodies only): ``pos`` (m, 3), ``radius``, ``phase``,
    #: ``particle`` (particle index of each atom), ``ids``
    atoms: dict[str, np.ndarray] | None = None
    #: 3D: per section name, the section's view
    #: (:func:`assb_lmp.analysis.sections.section_view`) with its labels and image;
    #: ``labels`` and ``image`` above are those of the first section.
    sections: dict[str, StageResult] = field(default_factory=dict)
    #: 3D section views: position of the plane along the view's third axis (µm).
    plane_w_um: float | None = None
    #: Contact radius of ``contacts["area"]``: "hertz" (from the force) or "overlap"
    #: (the spheres' intersection circle, used for the elastic-plastic mdr model).
    contact_radius: str = "hertz"
    #: The convention of ``sigma_mpa``, ``stress_mpa`` and ``volume_um3``
    #: (:mod:`assb_lmp.analysis.stress`): "per_depth" or "per_sphere" (3D: "per_sphere").
    stress_convention: str = "per_depth"
    #: ``p`` (MPa) of every particle in each available convention (quasi-2D: both).
    stress_by_convention: dict[str, np.ndarray] = field(default_factory=dict)
    #: Sphere volume (bodies: of the union of their spheres) and per-depth volume ``A t``
    #: of every particle (µm³; the latter None in 3D).
    sphere_volume_um3: np.ndarray | None = None
    depth_volume_um3: np.ndarray | None = None
    #: Quasi-2D: ``t_eff = Σ V^sphere / Σ A`` (µm), see
    #: :func:`assb_lmp.analysis.stress.effective_depth_um`.
    effective_depth_um: float | None = None
    #: The contact-law validity report of the stage (:mod:`assb_lmp.analysis.validity`).
    validity: dict | None = None

    def drawn(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, radii and phases of what a section shows, with the periodic images
        (shifted by ±L) of particles within one diameter of a periodic cell edge.
        Multisphere bodies are drawn as their sub-spheres."""
        if self.atoms is not None:
            pos, rad, ph = self.atoms["pos"], self.atoms["radius"], self.atoms["phase"]
        else:
            pos, rad, ph = self.pos, self.radius, self.phase
        for ax, length in enumerate(self.periodic_lengths):
            if not length:
                continue
            lo = float(self.cell["xlo_um" if ax == 0 else "ylo_um"])
            reach = 2.0 * float(rad.max()) if rad.size else 0.0
            near_lo = pos[:, ax] - lo < reach
            near_hi = lo + length - pos[:, ax] < reach
            shift = np.zeros(3)
            shift[ax] = length
            pos = np.vstack([pos, pos[near_lo] + shift, pos[near_hi] - shift])
            rad = np.concatenate([rad, rad[near_lo], rad[near_hi]])
            ph = np.concatenate([ph, ph[near_lo], ph[near_hi]])
        return pos, rad, ph

    def stress_volume_sum(self) -> np.ndarray:
        """``Σ_p σ_p V_p`` over all particles (nN·µm), tension positive, shape (3, 3)."""
        return np.einsum("pab,p->ab", self.sigma_mpa * KPA_PER_MPA, self.volume_um3)

    def cell_volume_um3(self) -> float:
        """Cell volume: ``Lx Ly t`` (quasi-2D) or ``Lx Ly Lz`` (3D), µm³."""
        c = self.cell
        area = (c["xhi_um"] - c["xlo_um"]) * (c["yhi_um"] - c["ylo_um"])
        if self.dimension == 2:
            return float(area * self.depth_um)
        return float(area * (c["zhi_um"] - c["zlo_um"]))
