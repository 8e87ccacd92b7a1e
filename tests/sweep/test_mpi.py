"""MPI sweeps: two ranks with one rank per case give a local run's dataset, bit for bit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assb_lmp.sweep.store import CASE_INFO

from .tiny import MPIRUN, TINY_IDS, env, same_dataset


@pytest.mark.skipif(not MPIRUN.exists(), reason="no mpirun beside the interpreter")
def test_mpi_two_ranks_give_the_same_dataset(tiny, tmp_path):
    spec, ref = tiny
    out = tmp_path / "mpi"
    proc = subprocess.run(
        [str(MPIRUN), "-np", "2", sys.executable, "-m", "assb_lmp", "sweep", str(spec),
         "--out", str(out), "--ranks-per-case", "1", "--no-progress"],
        capture_output=True, text=True, timeout=120, env=env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 done" in proc.stdout
    same_dataset(ref / "dataset", out / "dataset")
    workers = {json.loads((out / c / CASE_INFO).read_text())["worker"] for c in TINY_IDS}
    assert len(workers) == 2  # both ranks computed
