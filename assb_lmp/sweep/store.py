"""The sweep folder on disk: its description files, case folders, failures and lock.

Layout of a sweep folder ``DIR`` (default ``runs/<sweep name>/``):

``DIR/sweep.yaml``
    the resolved sweep spec (base case inlined), loadable again;
``DIR/cases.json``
    the expanded case list (id, seed, structure index, axis values, spec hash);
``DIR/<case_id>/``
    a complete case folder (ARCHITECTURE.md); it appears only when the case is complete:
    each case runs in ``DIR/.tmp/<case_id>.<pid>/`` and is moved into place with one
    ``os.replace`` when it has finished (:func:`commit_case`);
``DIR/failed/<case_id>.json`` and ``DIR/failed/<case_id>/``
    why a case failed, and its folder (deck, LAMMPS log, ``error.json``);
``DIR/dataset/``
    written by :func:`assb_lmp.learn.dataset.export`.

``DIR/.claims/<case_id>.json``
    who runs a case now (:mod:`assb_lmp.sweep.claims`); several runners (the shards of a
    job array, a resume beside them) share a folder, each running only what it claimed.

Every case folder also holds ``sweep_case.json``: the case's id, seed, values, wall and
CPU seconds, LAMMPS steps and seconds and the peak memory of its worker
(:func:`case_metrics` reads them back with the validity flag of its labels).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from assb_lmp.core.errors import AssbError, SpecError
from assb_lmp.core.io import atomic_write_json, atomic_write_text, read_json
from assb_lmp.materials.resolve import load_case
from assb_lmp.sweep.expand import Case, Sweep

SWEEP_FILE = "sweep.yaml"
CASES_FILE = "cases.json"
FAILED_DIR = "failed"
TMP_DIR = ".tmp"
CASE_INFO = "sweep_case.json"
SUMMARY = "summary.json"


def first_line(text: str) -> str:
    """The first line of a (possibly multi-line) message."""
    return text.strip().splitlines()[0] if text.strip() else ""


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the system allows."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def is_done(sweep_dir: Path, case_id: str) -> bool:
    """A case is done when its folder (moved into place only when complete) has a summary."""
    return (Path(sweep_dir) / case_id / SUMMARY).is_file()


def read_failure(sweep_dir: Path, case_id: str) -> dict | None:
    """The failure record of a case, or None."""
    path = Path(sweep_dir) / FAILED_DIR / f"{case_id}.json"
    try:
        return read_json(path, "a failure record")
    except SpecError:
        return None


def done_spec_matches(sweep_dir: Path, case: Case) -> bool:
    """Whether a finished case folder was run with the case's (resolved) spec."""
    try:
        old = load_case(Path(sweep_dir) / case.id / "spec.yaml")
    except AssbError:
        return False
    return old == case.spec


def record_failure(sweep_dir: Path, case: Case, reason: str, error: str,
                   seconds: float, tmp: Path | None = None, detail: str = "",
                   cpu_s: float | None = None, peak_rss_mib: float | None = None) -> None:
    """Move a failed case's folder to ``failed/<id>/`` and write ``failed/<id>.json``."""
    fdir = Path(sweep_dir) / FAILED_DIR
    fdir.mkdir(exist_ok=True)
    dest = fdir / case.id
    if tmp is not None and tmp.exists():
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    stage = None
    with contextlib.suppress(AssbError, AttributeError):
        stage = read_json(dest / "error.json", "an error record").get("stage")
    atomic_write_json(fdir / f"{case.id}.json", {
        "case_id": case.id,
        "status": "failed",
        "error": error,
        "summary": first_line(reason),
        "reason": reason,
        "stage": stage,
        "detail": detail,
        "seconds": round(seconds, 3),
        "cpu_s": None if cpu_s is None else round(cpu_s, 3),
        "peak_rss_mib": peak_rss_mib,
        "seed": case.seed,
        "params": case.params,
        "spec_hash": case.spec_hash,
        "folder": f"{FAILED_DIR}/{case.id}" if dest.exists() else None,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    })


def commit_case(tmp: Path, final: Path) -> None:
    """Move a finished case folder into place with one rename (a finished one is kept)."""
    if final.exists():
        if (final / SUMMARY).is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            return
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def read_cases(sweep_dir: Path) -> dict[str, Any]:
    """``DIR/cases.json``.

    Raises
    ------
    SpecError
        When the folder is no sweep folder.
    """
    path = Path(sweep_dir) / CASES_FILE
    if not path.is_file():
        raise SpecError(f"{sweep_dir} is not a sweep folder: {CASES_FILE} is missing")
    return read_json(path, "the case list")


def _write_if_changed(path: Path, text: str) -> None:
    """Atomic write, skipped when the file already holds ``text`` (runners share folders)."""
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return
    atomic_write_text(path, text)


def write_description(out: Path, sweep: Sweep) -> None:
    """Write ``DIR/sweep.yaml`` (the resolved sweep) and ``DIR/cases.json`` (its cases)."""
    header = f"# resolved sweep spec, copied from {sweep.source} by assb_lmp\n"
    _write_if_changed(out / SWEEP_FILE, header + yaml.safe_dump(
        sweep.resolved(), sort_keys=False, default_flow_style=None))
    _write_if_changed(out / CASES_FILE, json.dumps({
        "sweep": sweep.name,
        "source": str(sweep.source),
        "seed": sweep.spec.seed,
        "seed_per": sweep.spec.seed_per,
        "structures": sweep.spec.structures,
        "axes": {k: {"label": lab, "values": v} for (k, v), lab in
                 zip(sweep.axis_values().items(), sweep.labels().values(), strict=True)},
        "split": {**sweep.spec.split.model_dump(), "holdout": sweep.holdout()},
        "cases": [c.record() for c in sweep.cases()],
    }, indent=2, default=float) + "\n")


def own_tmp(sweep_dir: Path, case_id: str) -> Path:
    """The temporary folder in which this process runs a case: ``DIR/.tmp/<id>.<pid>``."""
    return Path(sweep_dir) / TMP_DIR / f"{case_id}.{os.getpid()}"


def clear_leftovers(out: Path, case_id: str) -> None:
    """Remove what an earlier, dead runner of a case left in ``DIR/.tmp/``.

    Called only by the runner that holds the case's claim.
    """
    for tmp in (Path(out) / TMP_DIR).glob(f"{case_id}.*"):
        shutil.rmtree(tmp, ignore_errors=True)


def folder_sweep_name(out: Path) -> str | None:
    """The name of the sweep recorded in ``DIR/cases.json`` (None when unreadable)."""
    try:
        info = read_json(Path(out) / CASES_FILE, "the case list")
    except SpecError:
        return None
    return info.get("sweep") if isinstance(info, dict) else None


#: Per-case columns of the dataset manifest, after the targets (:func:`case_metrics`).
METRIC_COLUMNS = ("steps", "lammps_s", "peak_rss_mib", "inside_contact_law")


def case_metrics(case_dir: Path) -> dict[str, Any]:
    """Cost and validity of a finished case, for the manifest and the status.

    Returns
    -------
    dict
        ``steps`` (LAMMPS steps over all stages), ``lammps_s`` (seconds in LAMMPS),
        ``peak_rss_mib`` (peak resident memory of the worker, MiB), ``seconds`` (wall
        seconds of the case) from ``sweep_case.json``, and ``inside_contact_law``
        (``labels.json["validity"]["inside"]``); None for what a folder does not record.
    """
    case_dir = Path(case_dir)
    out: dict[str, Any] = {k: None for k in (*METRIC_COLUMNS, "seconds")}
    with contextlib.suppress(AssbError):
        info = read_json(case_dir / CASE_INFO, "a case record")
        if isinstance(info, dict):
            for k in ("steps", "lammps_s", "peak_rss_mib", "seconds"):
                out[k] = info.get(k)
    with contextlib.suppress(AssbError):
        labels = read_json(case_dir / "labels.json", "labels")
        validity = labels.get("validity") if isinstance(labels, dict) else None
        if isinstance(validity, dict) and isinstance(validity.get("inside"), bool):
            out["inside_contact_law"] = validity["inside"]
    return out
