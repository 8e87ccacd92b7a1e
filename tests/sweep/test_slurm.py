"""Slurm batch scripts: the resources asked for, the command run, inputs checked."""

from __future__ import annotations

import pytest

from assb_lmp.core import resources
from assb_lmp.core.errors import SpecError
from assb_lmp.sweep import slurm_script


def test_slurm_script(tmp_path):
    text = slurm_script(resources.example("komori2022"), tmp_path / "k", nodes=2,
                        tasks_per_node=64, ranks_per_case=1, hours=6, partition="cpu")
    assert "#SBATCH --nodes=2" in text and "#SBATCH --ntasks-per-node=64" in text
    assert "#SBATCH --time=6:00:00" in text and "#SBATCH --partition=cpu" in text
    assert "mpirun\" -np \"$SLURM_NTASKS\"" in text and "--ranks-per-case 1" in text
    with pytest.raises(SpecError, match="must divide"):
        slurm_script("x.yaml", tmp_path, nodes=1, tasks_per_node=3, ranks_per_case=2)
    with pytest.raises(SpecError, match="partition"):
        slurm_script("x.yaml", tmp_path, partition="a; rm -rf /")
