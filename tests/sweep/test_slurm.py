"""Slurm batch scripts: the resources asked for, the command run, inputs checked."""

from __future__ import annotations

import pytest

from assb_lmp.cli.main import main
from assb_lmp.core import resources
from assb_lmp.core.errors import SpecError
from assb_lmp.sweep import slurm_array_script, slurm_script


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


def test_slurm_array_script(tmp_path):
    text = slurm_array_script(resources.example("komori2022"), tmp_path / "k", array=8,
                              cpus_per_task=4, hours=2, partition="cpu")
    assert "#SBATCH --array=0-7" in text and "#SBATCH --cpus-per-task=4" in text
    assert "#SBATCH --ntasks=1" in text and "#SBATCH --time=2:00:00" in text
    assert '--shard "$SLURM_ARRAY_TASK_ID/8"' in text and "mpirun" not in text
    assert '--jobs "${SLURM_CPUS_PER_TASK:-4}"' in text and "slurm-%A_%a.out" in text
    assert "assb_lmp dataset" in text  # how to merge the shards afterwards
    with pytest.raises(SpecError, match="array = 0"):
        slurm_array_script("x.yaml", tmp_path, array=0)


def test_cli_writes_the_array_script_and_checks_shards(tmp_path, capsys):
    spec, out = resources.example("quick"), tmp_path / "q"
    assert main(["sweep", str(spec), "--out", str(out), "--slurm", "--array", "3"]) == 0
    text = (out / "sweep_array.slurm").read_text()
    assert "#SBATCH --array=0-2" in text and "python -m assb_lmp dataset" in \
        capsys.readouterr().out
    assert main(["sweep", str(spec), "--list", "--shard", "1/3"]) == 0
    listed = capsys.readouterr().out
    assert listed.strip().endswith("cases (shard 1/3 of 40)")
    with pytest.raises(SystemExit):
        main(["sweep", str(spec), "--shard", "3/3"])
    assert "0 <= i < N = 3" in capsys.readouterr().err
