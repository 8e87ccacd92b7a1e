"""The ``sweep``, ``status``, ``dataset`` and ``label-noise`` subcommands.

Thin wiring of :mod:`assb_lmp.sweep` and :mod:`assb_lmp.learn`: argument parsing, calls,
printing. The main CLI registers them with ``register(subparsers)``; ``demo`` calls
:func:`cmd_sweep` with the quick sweep.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
from pathlib import Path

from assb_lmp import sweep as sw
from assb_lmp.cli.args import positive_float, positive_int
from assb_lmp.core.errors import AssbError
from assb_lmp.learn import dataset, noise
from assb_lmp.learn import train as cnn
from assb_lmp.sweep.claims import DEFAULT_CLAIM_TIMEOUT_S
from assb_lmp.sweep.plan import cost_estimate

log = logging.getLogger(__name__)

#: Exit status of ``sweep --strict`` when cases failed (they are recorded and listed).
EXIT_FAILED_CASES = 3



def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TRAIN,VAL,TEST numbers, got {text!r}") from None
    if len(parts) != 3 or min(parts) < 0 or sum(parts) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected three non-negative fractions TRAIN,VAL,TEST, got {text!r}")
    return parts  # type: ignore[return-value]


def _shard(text: str) -> sw.Shard:
    try:
        return sw.parse_shard(text)
    except AssbError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sweep``, ``status``, ``dataset`` and ``label-noise`` to a subparsers object."""
    _register_sweep(subparsers)
    _register_status_dataset(subparsers)
    _register_noise(subparsers)


def _register_sweep(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep", help="run (or resume) every case of a sweep spec, then export the dataset",
        description=(
            "Run every case of SWEEP.yaml into DIR/<case_id>/ (default DIR: runs/<sweep name>/), "
            "then write DIR/dataset/. Locally: --jobs worker processes. Under mpirun: groups of "
            "--ranks-per-case ranks, one case per group at a time. --shard i/N runs one part "
            "of the cases (job arrays; no dataset: merge with `dataset DIR` when all are "
            "done). Started again, it skips finished cases and redoes unfinished ones. Failed "
            "cases are recorded in DIR/failed/ and listed; the sweep goes on (with --strict "
            "the exit status is 3 when any case failed)."),
    )
    p.add_argument("spec", type=Path, metavar="SWEEP.yaml", help="sweep spec")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="sweep folder (default runs/<sweep name>)")
    p.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="N",
                   help="local worker processes (default: all cores)")
    p.add_argument("--ranks-per-case", type=positive_int, default=1, metavar="K",
                   help="MPI ranks per case (default 1; >1 uses LAMMPS domain decomposition)")
    p.add_argument("--mpi", action="store_true",
                   help="MPI mode even when no MPI launcher is detected")
    p.add_argument("--shard", type=_shard, default=None, metavar="i/N",
                   help="run only part i of N of the cases (0 <= i < N)")
    p.add_argument("--claim-timeout", type=positive_float, default=DEFAULT_CLAIM_TIMEOUT_S,
                   metavar="S", help="seconds after which a case claimed on another host "
                   f"without a heartbeat is taken over (default {DEFAULT_CLAIM_TIMEOUT_S:g})")
    p.add_argument("--retry-failed", action="store_true", help="run recorded failures again")
    p.add_argument("--only", default=None, metavar="ID,ID",
                   help="run only these case ids (comma-separated)")
    p.add_argument("--list", action="store_true", help="print the expanded cases and exit")
    p.add_argument("--no-dataset", action="store_true", help="do not export the dataset")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--strict", action="store_true",
                   help=f"exit with status {EXIT_FAILED_CASES} when any case failed")
    p.add_argument("--train", action="store_true",
                   help="train the CNN on the dataset afterwards (DIR/model)")
    g = p.add_argument_group("cluster batch script (--slurm writes DIR/sweep.slurm, or with "
                             "--array DIR/sweep_array.slurm; runs nothing)")
    g.add_argument("--slurm", action="store_true", help="write a Slurm batch script and exit")
    g.add_argument("--array", type=positive_int, default=None, metavar="N",
                   help="a job array of N tasks, task i running --shard i/N")
    g.add_argument("--cpus-per-task", type=positive_int, default=1, metavar="C",
                   help="--array: cores (and worker processes) per task (default 1)")
    g.add_argument("--nodes", type=positive_int, default=1, help="mpirun script: nodes")
    g.add_argument("--tasks-per-node", type=positive_int, default=32,
                   help="mpirun script: MPI ranks per node")
    g.add_argument("--hours", type=positive_float, default=24.0, help="time limit (h)")
    g.add_argument("--partition", default=None)
    g.add_argument("--account", default=None)
    p.set_defaults(func=cmd_sweep)


def _register_status_dataset(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("status", help="done / failed (with reasons) / pending cases",
                              description="Status of a sweep folder.")
    p.add_argument("dir", type=Path, metavar="DIR", help="sweep folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--max-list", type=positive_int, default=20,
                   help="cases listed per category (default 20)")
    p.add_argument("--workers", type=positive_int, default=None, metavar="N",
                   help="workers for the projected time left (default: cases running now)")
    p.set_defaults(func=cmd_status)

    p = subparsers.add_parser(
        "dataset", help="export DIR/dataset (manifest.csv, arrays.npz, images/)",
        description="Collect a sweep folder's finished cases into DIR/dataset/.")
    p.add_argument("dir", type=Path, metavar="DIR", help="sweep folder")
    p.add_argument("--out", type=Path, default=None, help="dataset folder (default DIR/dataset)")
    p.add_argument("--split", type=_fractions, default=None, metavar="TRAIN,VAL,TEST",
                   help="split fractions (default: the sweep's, else 0.64,0.16,0.20)")
    p.add_argument("--split-seed", type=int, default=None)
    p.set_defaults(func=cmd_dataset)


def _register_noise(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "label-noise", help="how much of each target the sweep parameters fix, and how "
        "reproducible the labels are",
        description="Per target: the test R² of predicting a case by the mean of the train and "
        "validation cases at its sweep point (what the parameters alone explain) and the share "
        "of variance between sweep points. With --replicate, the R² between two runs of the "
        "same structures (e.g. a 3 % smaller time step): a ceiling for any image-based model.")
    p.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    p.add_argument("--replicate", type=Path, default=None, metavar="DATASET_DIR",
                   help="a dataset of the same case ids run again")
    p.add_argument("--out", type=Path, default=None, help="write the numbers as JSON")
    p.set_defaults(func=cmd_label_noise)


def cmd_label_noise(ns: argparse.Namespace) -> int:
    """Handler of ``label-noise``."""
    proto = noise.protocol_r2(ns.dataset)
    rep = noise.compare(ns.dataset, ns.replicate) if ns.replicate else None

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    head = f"{'target':<24} {'protocol R2':>11} {'between':>8}"
    if rep:
        head += f" {'replicate R2':>12} {'median |diff|':>13}"
    print(head)
    for t, m in proto.items():
        line = f"{t:<24} {f(m['protocol_r2']):>11} {f(m['between_share']):>8}"
        if rep:
            r = rep["targets"].get(t, {})
            med = r.get("median_rel_diff")
            line += f" {f(r.get('r2')):>12} {'-' if med is None else format(med, '.1%'):>13}"
        print(line)
    first = next(iter(proto.values()))
    print(f"{first['points']} sweep points, {first['test_rows']} test cases"
          + (f"; replicate: {rep['n']} shared cases" + (
                 "" if rep["image_diff"] is None
                 else f", {rep['image_diff']:.2%} of pixels differ") if rep else ""))
    if ns.out:
        ns.out.write_text(json.dumps({"protocol": proto, "replicate": rep}, indent=2) + "\n")
        print(f"-> {ns.out}")
    return 0


def _train(out: Path, settings: dict, sweep_name: str) -> None:
    """Train the CNN on ``out/dataset`` into ``out/model`` when the CNN stage is usable."""
    if importlib.util.find_spec("tensorflow") is None:
        print("training skipped: TensorFlow is not installed (pip install 'assb_lmp[cnn]')")
        return
    metrics = cnn.train(out / "dataset", out / "model", **settings)
    s = metrics.get("split_sizes", {})
    held = s.get("holdout", 0) > 0
    print(f"trained the {metrics.get('architecture')} network on {s.get('train')} images of "
          f"sweep {sweep_name} ({_split_counts(s)}): "
          f"{metrics.get('epochs')} epochs, {metrics.get('seconds', 0):.0f} s -> "
          f"{out / 'model'}")
    for name, m in metrics.get("targets", {}).items():
        line = f"  {name:<24} R2 test {_r2(m.get('r2'))}"
        if held:
            line += f"  R2 holdout {_r2(m.get('holdout_r2'))}"
        print(line)


def _list(sweep: sw.Sweep, shard: sw.Shard | None) -> int:
    cases = sweep.cases()
    if shard is not None:
        cases = shard.select(cases, lambda c: cost_estimate(c.spec))
    for c in cases:
        print(c.id, c.seed, json.dumps(c.params))
    print(f"{len(cases)} cases" + (f" (shard {shard} of {len(sweep.cases())})" if shard else ""))
    return 0


def _write_slurm(ns: argparse.Namespace, sweep: sw.Sweep, out: Path) -> int:
    common = dict(hours=getattr(ns, "hours", 24.0), partition=getattr(ns, "partition", None),
                  account=getattr(ns, "account", None), job_name=f"assb-{sweep.name}")
    array = getattr(ns, "array", None)
    if array:
        text = sw.slurm_array_script(
            ns.spec, out, array=array, cpus_per_task=getattr(ns, "cpus_per_task", 1),
            claim_timeout_s=getattr(ns, "claim_timeout", DEFAULT_CLAIM_TIMEOUT_S), **common)
        name = "sweep_array.slurm"
    else:
        text = sw.slurm_script(
            ns.spec, out, nodes=getattr(ns, "nodes", 1),
            tasks_per_node=getattr(ns, "tasks_per_node", 32),
            ranks_per_case=ns.ranks_per_case or 1, **common)
        name = "sweep.slurm"
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(text)
    path.chmod(0o755)
    print(f"wrote {path} ({len(sweep.cases())} cases); submit it with: sbatch {path}")
    if array:
        print(f"when every task has ended: python -m assb_lmp dataset {out}")
    return 0


def _export(ns: argparse.Namespace, sweep: sw.Sweep, out: Path, st: sw.SweepStatus) -> None:
    if not sweep.spec.analyze:
        print("analysis is off in this sweep (analyze: false): no dataset")
    elif getattr(ns, "shard", None) is not None:
        print(f"shard {ns.shard}: no dataset; when every shard has ended: "
              f"python -m assb_lmp dataset {out}")
    elif not getattr(ns, "no_dataset", False) and st.done:
        info = dataset.export(out)
        print(f"dataset: {info['n']} cases ({_split_counts(info['split'])}) -> {info['path']}")
        if getattr(ns, "train", False):
            _train(out, dict(sweep.spec.train), sweep.name)


def _r2(v: float | None) -> str:
    return "-" if v is None else format(v, ".3f")


def _split_counts(sp: dict[str, int]) -> str:
    """``train 30, val 8, test 10`` and, when there are any, the holdout / excluded counts."""
    names = ["train", "val", "test"] + [k for k in ("holdout", "excluded") if sp.get(k)]
    return ", ".join(f"{k} {sp.get(k, 0)}" for k in names)


def cmd_sweep(ns: argparse.Namespace) -> int:
    """Handler of ``sweep`` (and of ``demo``): run, export the dataset, optionally train.

    ``ns`` needs ``spec``, ``out``, ``jobs``, ``ranks_per_case``, ``slurm``, ``train``;
    the other options default when absent.
    """
    sweep = sw.load_sweep(ns.spec)
    out = Path(ns.out) if ns.out else sw.default_out(sweep)
    shard = getattr(ns, "shard", None)
    if getattr(ns, "list", False):
        return _list(sweep, shard)
    if getattr(ns, "slurm", False) or getattr(ns, "array", None):
        return _write_slurm(ns, sweep, out)
    only = getattr(ns, "only", None)
    st = sw.run(
        sweep, out, jobs=ns.jobs, ranks_per_case=ns.ranks_per_case or 1,
        mpi=True if getattr(ns, "mpi", False) else None,
        retry_failed=getattr(ns, "retry_failed", False),
        progress=not getattr(ns, "no_progress", False),
        only=only.split(",") if only else None, shard=shard,
        claim_timeout_s=getattr(ns, "claim_timeout", DEFAULT_CLAIM_TIMEOUT_S))
    if st is None:  # an MPI rank other than 0
        return 0
    print(st.report())
    rate = 3600.0 * st.ran / st.seconds if st.seconds > 0 and st.ran else 0.0
    print(f"ran {st.ran} case(s) in {st.seconds:.1f} s ({rate:.0f} cases/h) -> {out}")
    _export(ns, sweep, out, st)
    if st.failed:
        print(f"{len(st.failed)} case(s) failed; their folders and reasons are in "
              f"{out / 'failed'} (python -m assb_lmp status {out})")
        if getattr(ns, "strict", False):
            return EXIT_FAILED_CASES
    return 0


def cmd_status(ns: argparse.Namespace) -> int:
    """Handler of ``status``."""
    st = sw.status(ns.dir, workers=ns.workers)
    if ns.json:
        print(json.dumps(st.as_dict(), indent=2))
    else:
        print(st.report(max_list=ns.max_list))
    return 0


def cmd_dataset(ns: argparse.Namespace) -> int:
    """Handler of ``dataset``."""
    info = dataset.export(ns.dir, ns.out, fractions=ns.split, split_seed=ns.split_seed)
    print(f"dataset: {info['n']} cases ({_split_counts(info['split'])}) -> {info['path']}")
    if info["skipped"]:
        print(f"skipped {len(info['skipped'])}: " + ", ".join(
            f"{k} ({v})" for k, v in list(info["skipped"].items())[:5]))
    if info["pending"]:
        print(f"{info['pending']} case(s) not finished yet")
    return 0
