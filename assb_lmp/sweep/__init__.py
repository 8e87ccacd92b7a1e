"""Sweeps: many cases from one YAML file, run locally or on MPI, resumable, nothing lost.

The public names (``from assb_lmp.sweep import run, load_sweep, status``):

* :func:`load_sweep` / :func:`parse_sweep` → :class:`Sweep`, whose :meth:`Sweep.cases`
  are the expanded :class:`Case` objects (:mod:`.spec` models the file, :mod:`.expand`
  makes ids, seeds and hashes);
* :func:`run` runs or resumes a sweep (:mod:`.local` worker processes, :mod:`.mpi` rank
  groups) after :func:`prepare` (:mod:`.plan`) has listed what is left; the folder layout
  is :mod:`.store`'s;
* several runners share a folder through per-case claims (:mod:`.claims`); ``--shard i/N``
  (:class:`Shard`, :mod:`.shard`) runs one deterministic part of a sweep;
* :func:`status` reads a folder (:mod:`.report`); :func:`slurm_script` and
  :func:`slurm_array_script` write batch scripts (:mod:`.slurm`); :func:`bench_sweep`
  times sweeps (:mod:`.bench`).
"""

from assb_lmp.sweep.bench import bench_sweep
from assb_lmp.sweep.expand import Case, Sweep, default_out, load_sweep, parse_sweep
from assb_lmp.sweep.launch import run
from assb_lmp.sweep.plan import Plan, prepare
from assb_lmp.sweep.report import SweepStatus, status
from assb_lmp.sweep.shard import Shard, parse_shard
from assb_lmp.sweep.slurm import slurm_array_script, slurm_script
from assb_lmp.sweep.spec import SweepSpec

__all__ = [
    "Case", "Plan", "Shard", "Sweep", "SweepSpec", "SweepStatus", "bench_sweep", "default_out",
    "load_sweep", "parse_shard", "parse_sweep", "prepare", "run",
    "slurm_array_script", "slurm_script", "status",
]
