"""Slurm batch scripts that run (or resume) a sweep on a cluster."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from assb_lmp.core.errors import SpecError


def slurm_script(sweep_path: str | Path, out: str | Path, *, nodes: int = 1,
                 tasks_per_node: int = 32, ranks_per_case: int = 1, hours: float = 24.0,
                 partition: str | None = None, account: str | None = None,
                 job_name: str | None = None) -> str:
    """A Slurm batch script that runs (or resumes) a sweep with ``mpirun``.

    The script uses this Python environment's ``mpirun`` (MPICH hydra, which reads the
    Slurm allocation) and ``python``; submitting it again resumes the sweep.
    """
    for name, value in (("nodes", nodes), ("tasks_per_node", tasks_per_node),
                        ("ranks_per_case", ranks_per_case)):
        if int(value) < 1:
            raise SpecError(f"{name} = {value!r}: must be at least 1")
    if (nodes * tasks_per_node) % ranks_per_case:
        raise SpecError(f"ranks_per_case = {ranks_per_case} must divide nodes × tasks_per_node "
                        f"= {nodes * tasks_per_node}")
    if not 0 < hours <= 10_000:
        raise SpecError(f"hours = {hours!r}: allowed range (0, 10000]")
    for name, value in (("partition", partition), ("account", account), ("job_name", job_name)):
        if value is not None and not re.match(r"^[A-Za-z0-9_.\-]+$", value):
            raise SpecError(f"{name} = {value!r}: letters, digits, '_', '.', '-' only")
    bindir = Path(sys.executable).parent
    minutes = int(round(hours * 60))
    out = Path(out).resolve()
    sweep_path = Path(sweep_path).resolve()
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name or 'assb-' + out.name}",
        f"#SBATCH --nodes={nodes}",
        f"#SBATCH --ntasks-per-node={tasks_per_node}",
        "#SBATCH --cpus-per-task=1",
        f"#SBATCH --time={minutes // 60:d}:{minutes % 60:02d}:00",
        f"#SBATCH --output={out}/slurm-%j.out",
    ]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if account:
        lines.append(f"#SBATCH --account={account}")
    lines += [
        "",
        f"# assb_lmp sweep into {out}: {nodes * tasks_per_node} MPI ranks in groups of "
        f"{ranks_per_case} rank(s) per case.",
        "# Submitting this script again resumes the sweep: finished cases are skipped,",
        "# unfinished ones are redone, failed ones are listed by `python -m assb_lmp status`.",
        "set -euo pipefail",
        f"cd {Path.cwd().resolve()}",
        "export OMP_NUM_THREADS=1",
        f"BIN={bindir}",
        f'"$BIN/mpirun" -np "$SLURM_NTASKS" "$BIN/python" -m assb_lmp sweep {sweep_path} \\',
        f"    --out {out} --ranks-per-case {ranks_per_case} --no-progress",
        "",
    ]
    return "\n".join(lines)
