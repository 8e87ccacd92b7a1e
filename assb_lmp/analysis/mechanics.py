"""Particle stresses, contact areas and the labels of a case, from its stage dumps.

Everything here is computed from the files of the case folder (``ARCHITECTURE.md``)
without rerunning LAMMPS: :func:`~assb_lmp.analysis.case.analyze_case` reads
``dumps/<stage>.*`` of every stage and writes, atomically (temporary files renamed at the end),

* ``DIR/<stage>/particles.csv``, ``contacts.csv``, ``labels.json``, ``image.png`` for the
  final state of every stage, and the same four files at the top level for the last
  stage;
* ``DIR/figures/*.png`` (force chains, stress map, stress histograms, wall pressure
  against strain), see :mod:`assb_lmp.analysis.plots`.

Definitions (``DESIGN.md``, "Units and definitions")
----------------------------------------------------

Dumps are in LAMMPS ``units micro``: µm, nN, kPa (= nN/µm²). Outputs are in named units;
stresses in MPa (kPa / 1000).

Contact point of a pair ``i``–``j`` with centre distance ``dist``: on the centre line at
``l_i = (dist² + R_i² − R_j²) / (2 dist)`` from ``i`` (the radical plane, which is also
the plane the image uses to split overlapping discs). Wall contact: the centre projected
onto the wall plane (wall positions from ``<stage>.cell.json``); overlap ``R − distance``.

Particle stress (Love–Weber): ``σ_p = (1/V_p) Σ_c f_c ⊗ r_pc`` with ``f_c`` the force on
``p`` at contact ``c`` (pair: ``fn n + ft``, ``n`` the unit vector from the other particle
to ``p``; wall: the dumped wall force) and ``r_pc`` from the centre of ``p`` to the contact
point. The tensor is tension-positive; the reported stress is the mean compressive normal
stress ``p = −tr(σ_p)/d`` (MPa, compression positive). 3D: ``d = 3`` and
``V_p = 4/3 π r³``, one convention. Quasi-2D (``dimension: 2``): ``d = 2`` and two
conventions, both reported (docs/stress.md): ``per_depth`` (``V_p = π r² t``, ``t`` the
nominal depth; the default of the targets) and ``per_sphere`` (``V_p = 4/3 π r³``); they
differ by ``4r/(3t)``. ``particles.csv`` holds the symmetric part of ``σ_p``.

Validity of the contact law (:mod:`~assb_lmp.analysis.validity`): per pair type the
distribution of ``δ/R*`` and ``δ/d``, the fraction beyond the Hertz range and the peak
contact pressure against the SE yield stress, in ``labels.json["validity"]``.

Contact radius (Hertz, Komori eq. 15): ``a = (3 P R* / (4 E*))^(1/3)`` with ``P`` the
dumped normal force (clipped at 0), ``R* = R_i R_j / (R_i + R_j)`` (wall: ``R* = R_i``),
``1/E* = (1 − ν_i²)/E_i + (1 − ν_j²)/E_j`` from the material cards (wall: particle card
against the wall card). Contact area ``π a²`` (eq. 16). For a purely elastic Hertz contact
at rest ``a² = R* δ``.

Window and labels
-----------------

The window is the cell of ``<stage>.cell.json`` cropped ``crop_um`` (2 µm) in from each
side; when the crop is not square, the central square of side ``min(Lx, Ly) − 2 crop``.
The image shows exactly this window, and every label is taken over it; the definitions
of the nine labels (window membership, stress statistics and Gaussian fits, reaction
area, coverage and its surface convention, porosity, AM fraction, contacts per AM) are
in :mod:`assb_lmp.analysis.labels`.

Contact radius of the elastic-plastic ``mdr`` decks: the circle in which the two spheres
intersect (:func:`~assb_lmp.analysis.hertz.overlap_contact_radius`; a plastic contact is
flattened, and the Hertz formula from the force would underestimate it); both definitions
are reported in ``info``.

Multisphere AM bodies (atoms dump with a ``mol`` column, :mod:`assb_lmp.analysis.bodies`): a body
is one particle. Its centre is the centre of mass of its spheres, its Love–Weber stress
sums the contacts of all its spheres with branch vectors from that centre, its volume is
the union section area × t (quasi-2D), its coverage surface the surface of the union of
its spheres (``lateral``: union perimeter × t); contacts and images stay per sphere. At
static equilibrium the stress balance is unchanged (the net force on every body is zero).
After an ``expand`` stage the before/after report of :mod:`assb_lmp.analysis.expansion_report` is
written as well.

``labels.json`` holds the nine targets (:data:`assb_lmp.spec.targets.TARGETS`, null where
undefined, e.g. no AM in the window), the four Gaussian-fit values and an ``info`` object
(stage, window, counts, options, and the stress balance of
:func:`~assb_lmp.analysis.stress.stress_balance`).

Where the code lives
--------------------

This module is the public entry point of the analysis stage; it only re-exports. The work
is done by

* :mod:`~assb_lmp.analysis.case_info` (spec, cards, stage order of a case folder),
* :mod:`~assb_lmp.analysis.contacts` (the contact table: pairs and walls),
  :mod:`~assb_lmp.analysis.hertz` (``E*``, contact radii),
* :mod:`~assb_lmp.analysis.stress` (Love–Weber, the two quasi-2D conventions, the stress
  balance), :mod:`~assb_lmp.analysis.validity` (the Hertz validity report),
* :mod:`~assb_lmp.analysis.window`, :mod:`~assb_lmp.analysis.labels` (targets, fits,
  coverage), :mod:`~assb_lmp.analysis.sections` (3D section planes),
* :mod:`~assb_lmp.analysis.stage` (one stage), :mod:`~assb_lmp.analysis.tables` (CSV and
  JSON text), :mod:`~assb_lmp.analysis.case` (every stage, staging folder, figures),
* :mod:`~assb_lmp.analysis.bodies`, :mod:`~assb_lmp.analysis.expansion_report`,
  :mod:`~assb_lmp.analysis.imaging`, :mod:`~assb_lmp.analysis.plots`.
"""

from __future__ import annotations

from assb_lmp.analysis.case import analyze_case
from assb_lmp.analysis.case_info import (
    RESERVED_NAMES,
    CaseInfo,
    load_case_info,
    read_data_atoms,
)
from assb_lmp.analysis.contacts import (
    AM,
    PHASE_OF_TYPE,
    SE,
    WALL_GEOMETRY,
    contact_points,
)
from assb_lmp.analysis.hertz import hertz_contact_radius, overlap_contact_radius
from assb_lmp.analysis.labels import compute_labels, gaussian_fit
from assb_lmp.analysis.result import StageResult
from assb_lmp.analysis.sections import SECTION_AXES, section_slab, section_view
from assb_lmp.analysis.stage import analyze_stage
from assb_lmp.analysis.stress import (
    CONVENTIONS,
    effective_depth_um,
    love_weber_stress,
    mean_compressive_stress,
    particle_volume,
    stress_balance,
)
from assb_lmp.analysis.tables import contacts_table, labels_json, particles_table
from assb_lmp.analysis.validity import HERTZ_BOUND, validity_report
from assb_lmp.analysis.window import CROP_UM, IMAGE_PX, in_window, window_from_cell
from assb_lmp.core.errors import AnalysisError

__all__ = [
    "AM", "CONVENTIONS", "CROP_UM", "HERTZ_BOUND", "IMAGE_PX", "PHASE_OF_TYPE",
    "RESERVED_NAMES", "SE", "SECTION_AXES", "WALL_GEOMETRY", "AnalysisError", "CaseInfo",
    "StageResult", "analyze_case", "analyze_stage", "compute_labels", "contact_points",
    "contacts_table", "effective_depth_um", "gaussian_fit", "hertz_contact_radius", "in_window",
    "labels_json", "load_case_info", "love_weber_stress", "mean_compressive_stress",
    "overlap_contact_radius", "particle_volume", "particles_table", "read_data_atoms",
    "section_slab", "section_view", "stress_balance", "validity_report", "window_from_cell",
]
