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

A sweep holds ``DIR/.lock`` (an ``flock``, released by the kernel when the process dies)
while it runs, so two sweeps never share a folder and a restarted sweep may clear the
leftovers of a killed one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from assb_lmp.core.errors import AssbError, SpecError
from assb_lmp.core.io import atomic_write_json, atomic_write_text, read_json
from assb_lmp.spec.case import load_case
from assb_lmp.sweep.expand import Case, Sweep

SWEEP_FILE = "sweep.yaml"
CASES_FILE = "cases.json"
FAILED_DIR = "failed"
TMP_DIR = ".tmp"
LOCK_FILE = ".lock"
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


class SweepLock:
    """An exclusive ``flock`` on ``DIR/.lock``; the kernel drops it when the process dies."""

    def __init__(self, sweep_dir: Path) -> None:
        self.path = Path(sweep_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> SweepLock:
        """Take the lock.

        Raises
        ------
        SpecError
            If another live process holds it.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            holder = ""
            with contextlib.suppress(OSError):
                holder = self.path.read_text().strip()
            raise SpecError(f"{self.path.parent}: another sweep is running in this folder "
                            f"({holder or 'unknown process'}); wait for it or use another "
                            "--out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SweepLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(sweep_dir: Path) -> bool:
    """Whether a live process holds ``DIR/.lock``."""
    path = Path(sweep_dir) / LOCK_FILE
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


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
                   cpu_s: float | None = None) -> None:
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


def write_description(out: Path, sweep: Sweep) -> None:
    """Write ``DIR/sweep.yaml`` (the resolved sweep) and ``DIR/cases.json`` (its cases)."""
    header = f"# resolved sweep spec, copied from {sweep.source} by assb_lmp\n"
    atomic_write_text(out / SWEEP_FILE, header + yaml.safe_dump(
        sweep.resolved(), sort_keys=False, default_flow_style=None))
    atomic_write_json(out / CASES_FILE, {
        "sweep": sweep.name,
        "source": str(sweep.source),
        "seed": sweep.spec.seed,
        "seed_per": sweep.spec.seed_per,
        "structures": sweep.spec.structures,
        "axes": {k: {"label": lab, "values": v} for (k, v), lab in
                 zip(sweep.axis_values().items(), sweep.labels().values(), strict=True)},
        "split": sweep.spec.split.model_dump(),
        "cases": [c.record() for c in sweep.cases()],
    })


def folder_sweep_name(out: Path) -> str | None:
    """The name of the sweep recorded in ``DIR/cases.json`` (None when unreadable)."""
    try:
        info = read_json(Path(out) / CASES_FILE, "the case list")
    except SpecError:
        return None
    return info.get("sweep") if isinstance(info, dict) else None
