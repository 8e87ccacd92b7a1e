"""Analyse every stage of a case folder and write its tables, labels, images and figures.

:func:`analyze_case` reads ``dumps/<stage>.*`` of every stage and writes, atomically
(staged in ``DIR/.analyze-*`` and renamed into place at the end),

* ``DIR/<stage>/particles.csv``, ``contacts.csv``, ``labels.json``, ``image.png`` for the
  final state of every stage, and the same four files at the top level for the last
  stage (3D: ``sections/<name>/{labels.json,image.png}`` beside them);
* ``DIR/figures/*.png`` (force chains, stress map, stress histograms, wall pressure
  against strain), see :mod:`assb_lmp.analysis.plots`, and ``DIR/<stage>/stress_map.png``;
* after an ``expand`` stage, the before/after report of
  :mod:`assb_lmp.analysis.expansion_report`.

Before anything is written every input is checked: every frame complete; the atom ids and
types against ``structure.data``; the timesteps of both dumps against ``cell.json``; the
stage name and depth in ``cell.json``; every contact's ids, separation vector and distance
against the atom positions and radii; and, when the atoms dump carries LAMMPS's per-atom pair
virial, the contact forces against it. A failure names the file and leaves the case folder
as it was.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from assb_lmp.analysis import expansion_report, imaging, plots
from assb_lmp.analysis.case_info import CaseInfo, load_case_info
from assb_lmp.analysis.dumps import read_series, stage_paths
from assb_lmp.analysis.result import StageResult
from assb_lmp.analysis.sections import section_slab
from assb_lmp.analysis.stage import analyze_stage
from assb_lmp.analysis.tables import contacts_table, labels_json, particles_table
from assb_lmp.analysis.window import CROP_UM, IMAGE_PX
from assb_lmp.analysis.xyz import stage_atoms, write_extxyz
from assb_lmp.build.expansion import linear_scale
from assb_lmp.materials import vegard
from assb_lmp.spec.targets import TARGETS

log = logging.getLogger(__name__)


class _Staging:
    """Collect output files in a temporary folder inside the case folder, then move them
    into place with ``os.replace`` only when everything has been produced (a multi-file
    commit: a failed analysis leaves nothing half-done)."""

    def __init__(self, case_dir: Path) -> None:
        self.case_dir = case_dir
        self.tmp = Path(tempfile.mkdtemp(prefix=".analyze-", dir=case_dir))
        self.files: list[str] = []

    def path(self, rel: str) -> Path:
        p = self.tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel not in self.files:
            self.files.append(rel)
        return p

    def write_text(self, rel: str, text: str) -> None:
        self.path(rel).write_text(text)

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.path(rel).write_bytes(data)

    def commit(self) -> None:
        for rel in self.files:
            dest = self.case_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp / rel, dest)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _png_bytes(image) -> bytes:
    buf = io.BytesIO()
    imaging.save_png(buf, image)
    return buf.getvalue()


def _requested_expansion(info: CaseInfo, stage: str) -> dict | None:
    """Requested strain of an expand stage from spec.yaml (Vegard: from the case's AM card)."""
    if info.spec is None:
        return None
    st = next((s for s in info.spec.stages if s.name == stage), None)
    if st is None or st.kind != "expand":
        return None
    if st.volume_strain is not None:
        e = float(st.volume_strain)
    else:
        v = st.vegard
        e = vegard.volume_strain(info.cards["am"], v.from_state_of_charge, v.state_of_charge,
                                 v.electrode)
    return {"volume_strain": e, "basis": st.basis,
            "linear_scale": linear_scale(e, st.basis), "boundary": st.boundary}


def _write_stage_extras(info: CaseInfo, results: list[StageResult], staging: _Staging,
                        figures: bool) -> None:
    """Per-stage stress maps (with figures) and the before/after report of every expand
    stage (:mod:`assb_lmp.analysis.expansion_report`)."""
    if figures:
        for r in results:
            plots.save_figure(plots.stage_stress_map(r), staging.path(f"{r.stage}/stress_map.png"))
    last_report = None
    for k, r in enumerate(results):
        requested = _requested_expansion(info, r.stage)
        if requested is None or k == 0:
            continue
        report = expansion_report.compare(results[k - 1], r, requested)
        text = json.dumps(report, indent=2, allow_nan=False, default=float) + "\n"
        staging.write_text(f"{r.stage}/expansion.json", text)
        last_report = text
        if figures:
            plots.save_figure(expansion_report.comparison_figure(results[k - 1], r, report),
                              staging.path(f"figures/expansion_{r.stage}.png"))
    if last_report is not None:
        staging.write_text("expansion.json", last_report)


def _write_tables(results: list[StageResult], staging: _Staging) -> None:
    """Tables, labels and images of every stage, and of the last stage at the top level."""
    outputs: list[tuple[str, StageResult]] = [(f"{r.stage}/", r) for r in results]
    outputs.append(("", results[-1]))
    for prefix, r in outputs:
        staging.write_text(prefix + "particles.csv", particles_table(r))
        staging.write_text(prefix + "contacts.csv", contacts_table(r))
        staging.write_text(prefix + "labels.json", labels_json(r.labels))
        staging.write_bytes(prefix + "image.png", _png_bytes(r.image))
        write_extxyz(staging.path(prefix + "frame.xyz"), stage_atoms(r),
                     comment=f"stage {r.stage}; stress convention {r.stress_convention}")
        for name, view in r.sections.items():
            staging.write_text(f"{prefix}sections/{name}/labels.json", labels_json(view.labels))
            staging.write_bytes(f"{prefix}sections/{name}/image.png", _png_bytes(view.image))


def _read_series(info: CaseInfo) -> dict:
    series = {}
    for s in info.stages:
        p = stage_paths(info.case_dir, s)["series"]
        if p.is_file():
            series[s] = read_series(p)
        else:
            log.warning("%s: missing; the pressure-strain figure leaves the stage out", p)
    return series


def _write_figures(info: CaseInfo, last: StageResult, staging: _Staging, figures: bool,
                   full_res_px: int | None) -> None:
    """``figures/`` of the last stage (3D: of its first section) and ``section.png``."""
    if figures:
        drawn = section_slab(next(iter(last.sections.values()))) if last.sections else last
        width0 = info.spec.geometry.width_um if info.spec is not None else None
        plots.write_case_figures(
            drawn, _read_series(info), lambda name: staging.path(f"figures/{name}"),
            stages=info.stages, width0_um=width0,
        )
    if full_res_px:
        view = next(iter(last.sections.values())) if last.sections else last
        img = imaging.render_section(*view.drawn(), view.window, pixels=int(full_res_px),
                                     plane_z_um=view.plane_w_um)
        staging.write_bytes("figures/section.png", _png_bytes(img))


def _write_outputs(info: CaseInfo, results: list[StageResult], figures: bool,
                   full_res_px: int | None) -> None:
    """Write every output into a staging folder and commit it (or discard it on error)."""
    staging = _Staging(info.case_dir)
    try:
        _write_tables(results, staging)
        _write_figures(info, results[-1], staging, figures, full_res_px)
        _write_stage_extras(info, results, staging, figures)
        staging.commit()
    except BaseException:
        staging.discard()
        raise


def _log_labels(case_dir: Path, last: StageResult) -> None:
    lab = last.labels
    log.info(
        "%s: stage %s: AM %.4g ± %.4g MPa, SE %.4g ± %.4g MPa, reaction area %.4g µm², "
        "coverage %.4g, porosity %.4g", case_dir, last.stage,
        *(lab[k] if lab[k] is not None else float("nan") for k in TARGETS[:7]),
    )


def analyze_case(
    case_dir: str | os.PathLike[str],
    *,
    figures: bool = True,
    coverage_factor: float = 1.0,
    crop_um: float = CROP_UM,
    coverage_surface: str = "sphere",
    label_supersample: int = 4,
    image_px: int = IMAGE_PX,
    full_res_px: int | None = None,
    section_z_um: float | None = None,
    sections: Sequence[tuple[str, float, str]] | None = None,
) -> dict:
    """Analyse every stage of a case from its dumps and write the tables, labels, images
    and figures.

    Parameters
    ----------
    case_dir : path-like
        The case folder (``spec.yaml``, ``materials.json``, ``structure.data``,
        ``dumps/``).
    figures : bool
        Also write ``figures/`` (of the last stage) and ``<stage>/stress_map.png``.
    coverage_factor : float
        Komori's ``f`` of eq. 17 (default 1).
    crop_um : float
        Crop of the window from each side of the cell (µm; default 2).
    coverage_surface : {"sphere", "lateral"}
        AM surface of the SE coverage, see :mod:`assb_lmp.analysis.labels`.
    label_supersample : int
        Porosity and AM area fraction are pixel fractions of a render this many times finer
        than the image (default 4).
    image_px : int
        Side of ``image.png`` in pixels (224).
    full_res_px : int or None
        Also write ``figures/section.png`` at this many pixels a side (for papers).
    section_z_um : float or None
        3D only: analyse the single plane z = ``section_z_um`` (µm) instead of the spec's
        section planes.
    sections : sequence of (axis, position_um, name), optional
        3D only: the section planes (default: the spec's ``section_planes``); each gets
        ``<stage>/sections/<name>/``; ``labels.json`` and ``image.png`` are the first's.

    Returns
    -------
    dict
        The labels of the last stage (as written to ``DIR/labels.json``).

    Raises
    ------
    AnalysisError
        When a file is missing, truncated or from another case (the checks are listed in
        the module docstring); the message names it and nothing is written.
    """
    case_dir = Path(case_dir)
    info = load_case_info(case_dir)
    results = [
        analyze_stage(
            info, s, coverage_factor=coverage_factor, crop_um=crop_um,
            coverage_surface=coverage_surface, label_supersample=label_supersample,
            image_px=image_px, section_z_um=section_z_um, sections=sections,
        )
        for s in info.stages
    ]
    _write_outputs(info, results, figures, full_res_px)
    _log_labels(case_dir, results[-1])
    return json.loads(labels_json(results[-1].labels))
