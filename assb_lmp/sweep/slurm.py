"""Slurm batch scripts that run (or resume) a sweep on a cluster.

Two kinds: :func:`slurm_script`, one job that runs the sweep under ``mpirun`` on rank groups,
and :func:`slurm_array_script`, a job array whose task ``i`` runs shard ``i/N`` of the sweep
with local worker processes (``--shard``; :mod:`assb_lmp.sweep.shard`). Either can simply
be submitted again to resume.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from assb_lmp.core.errors import SpecError
from assb_lmp.sweep.claims import DEFAULT_CLAIM_TIMEOUT_S
from assb_lmp.sweep.shard import MAX_SHARDS

_MINUTES_PER_HOUR = 60
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _check(hours: float, **names: str | None) -> None:
    if not 0 < hours <= 10_000:
        raise SpecError(f"hours = {hours!r}: allowed range (0, 10000]")
    for name, value in names.items():
        if value is not None and not _NAME.match(value):
            raise SpecError(f"{name} = {value!r}: letters, digits, '_', '.', '-' only")


def _header(out: Path, job_name: str | None, hours: float, partition: str | None,
            account: str | None, log_name: str) -> list[str]:
    minutes = int(round(hours * _MINUTES_PER_HOUR))
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name or 'assb-' + out.name}",
        f"#SBATCH --time={minutes // _MINUTES_PER_HOUR:d}:"
        f"{minutes % _MINUTES_PER_HOUR:02d}:00",
        f"#SBATCH --output={out}/{log_name}",
    ]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if account:
        lines.append(f"#SBATCH --account={account}")
    return lines


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
    _check(hours, partition=partition, account=account, job_name=job_name)
    out = Path(out).resolve()
    lines = _header(out, job_name, hours, partition, account, "slurm-%j.out")
    lines[2:2] = [f"#SBATCH --nodes={nodes}", f"#SBATCH --ntasks-per-node={tasks_per_node}",
                  "#SBATCH --cpus-per-task=1"]
    lines += [
        "",
        f"# assb_lmp sweep into {out}: {nodes * tasks_per_node} MPI ranks in groups of "
        f"{ranks_per_case} rank(s) per case.",
        "# Submitting this script again resumes the sweep: finished cases are skipped,",
        "# unfinished ones are redone, failed ones are listed by `python -m assb_lmp status`.",
        "set -euo pipefail",
        f"cd {shlex.quote(str(Path.cwd().resolve()))}",
        "export OMP_NUM_THREADS=1",
        f"BIN={shlex.quote(str(Path(sys.executable).parent))}",
        f'"$BIN/mpirun" -np "$SLURM_NTASKS" "$BIN/python" -m assb_lmp sweep '
        f"{shlex.quote(str(Path(sweep_path).resolve()))} \\",
        f"    --out {shlex.quote(str(out))} --ranks-per-case {ranks_per_case} --no-progress",
        "",
    ]
    return "\n".join(lines)


def slurm_array_script(sweep_path: str | Path, out: str | Path, *, array: int,
                       cpus_per_task: int = 1, hours: float = 24.0,
                       partition: str | None = None, account: str | None = None,
                       job_name: str | None = None,
                       claim_timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S) -> str:
    """A Slurm job-array script: task ``i`` of ``array`` runs shard ``i/array`` of a sweep.

    Every task is one Slurm task with ``cpus_per_task`` cores and as many local worker
    processes. The tasks share the sweep folder (per-case claims keep them apart); when
    all have ended, ``python -m assb_lmp dataset DIR`` merges their cases into one dataset
    (the script's comments show a dependent job that does it).
    """
    if not 1 <= int(array) <= MAX_SHARDS:
        raise SpecError(f"array = {array!r}: the number of array tasks; allowed range "
                        f"1 <= N <= {MAX_SHARDS}")
    if int(cpus_per_task) < 1:
        raise SpecError(f"cpus_per_task = {cpus_per_task!r}: must be at least 1")
    _check(hours, partition=partition, account=account, job_name=job_name)
    out = Path(out).resolve()
    q_out = shlex.quote(str(out))
    py = shlex.quote(str(Path(sys.executable)))
    lines = _header(out, job_name, hours, partition, account, "slurm-%A_%a.out")
    lines[2:2] = [f"#SBATCH --array=0-{array - 1}", "#SBATCH --ntasks=1",
                  f"#SBATCH --cpus-per-task={cpus_per_task}"]
    lines += [
        "",
        f"# assb_lmp sweep into {out} as a job array of {array} task(s): task i runs",
        f"# shard i/{array} of the cases with {cpus_per_task} worker process(es).",
        "# Submitting this script again resumes: finished cases are skipped, unfinished ones",
        "# redone. Merge the shards into one dataset when every task has ended, e.g.:",
        f"#   jid=$(sbatch --parsable {shlex.quote(str(out / 'sweep_array.slurm'))})",
        f"#   sbatch --dependency=afterany:$jid --wrap '{py} -m assb_lmp dataset {q_out}'",
        "set -euo pipefail",
        f"cd {shlex.quote(str(Path.cwd().resolve()))}",
        "export OMP_NUM_THREADS=1",
        f"{py} -m assb_lmp sweep {shlex.quote(str(Path(sweep_path).resolve()))} \\",
        f'    --out {q_out} --shard "$SLURM_ARRAY_TASK_ID/{array}" \\',
        f'    --jobs "${{SLURM_CPUS_PER_TASK:-{cpus_per_task}}}" '
        f"--claim-timeout {claim_timeout_s:g} --no-progress",
        "",
    ]
    return "\n".join(lines)
