"""The Python API: the few calls a notebook needs, the same ones the CLI makes.

Everything here is re-exported at the top level (``import assb_lmp as al;
al.load_case(...)``)::

    spec = al.load_case("first_case.yaml")           # validated case spec
    al.write_case(spec, "out/fc")                    # deck + data file only
    summary = al.run_case(spec, "out/fc")            # run + analyse; summary.json as a dict
    labels = al.analyze_case("out/fc")               # analyse again; labels.json as a dict

    sweep = al.load_sweep("quick.yaml")
    status = al.run_sweep(sweep, "out/quick", jobs=2)
    info = al.export_dataset("out/quick")            # manifest.csv + arrays.npz
    metrics = al.train("out/quick/dataset", "out/quick/model")

Units are the toolkit's everywhere: µm, MPa, nN in names ending ``_um``, ``_mpa``, ``_nn``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assb_lmp import engines
from assb_lmp.analysis.case import analyze_case
from assb_lmp.engines.base import WrittenCase
from assb_lmp.learn.dataset import export as export_dataset
from assb_lmp.learn.train import train
from assb_lmp.materials.resolve import load_case, parse_case
from assb_lmp.pipeline.runner import run_case
from assb_lmp.spec.case import CaseSpec
from assb_lmp.sweep import Sweep, SweepStatus, load_sweep
from assb_lmp.sweep import run as _run_sweep

__all__ = [
    "CaseSpec", "Sweep", "SweepStatus", "analyze_case", "export_dataset", "load_case",
    "load_sweep", "parse_case", "run_case", "run_sweep", "train", "write_case",
]


def write_case(spec: CaseSpec, out_dir: str | Path,
               user_templates: str | Path | None = None) -> WrittenCase:
    """Write a case's deck, data file and resolved spec into ``out_dir`` without running it.

    The case's own engine (``spec.engine``) renders the deck; the folder then runs by hand
    (``lmp -in deck.lmp`` or ``liggghts -in deck.lmp`` from inside it).

    Parameters
    ----------
    spec : CaseSpec
        From :func:`load_case` or :func:`parse_case`.
    out_dir : str or Path
        Case folder (created).
    user_templates : str or Path, optional
        Folder of templates searched before the built-in ones.
    """
    templates = Path(user_templates) if user_templates is not None else None
    return engines.get(spec.engine).write(spec, Path(out_dir), templates)


def run_sweep(sweep: Sweep | str | Path, out: str | Path | None = None, *,
              jobs: int | None = None, progress: bool = False,
              **options: Any) -> SweepStatus | None:
    """Run (or resume) a sweep on this machine; returns its status (None on MPI ranks > 0).

    Parameters
    ----------
    sweep : Sweep or path
        From :func:`load_sweep`, or a sweep spec file.
    out : str or Path, optional
        Sweep folder (default ``runs/<sweep name>`` in the working directory).
    jobs : int, optional
        Worker processes (default: one per core).
    progress : bool
        Show a progress bar (off by default in notebooks).
    **options
        Passed to :func:`assb_lmp.sweep.run` (``retry_failed``, ``only``, ...).
    """
    return _run_sweep(sweep, Path(out) if out is not None else None, jobs=jobs,
                      progress=progress, **options)
