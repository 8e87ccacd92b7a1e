"""``python -m assb_lmp bench``: speed, quasi-static proof, engine efficiency, both engines on
one press, scaling, CNN."""

from __future__ import annotations

import argparse
from pathlib import Path

from assb_lmp import bench
from assb_lmp.cli.args import positive_int

PARTS = bench.PARTS


def cmd_bench(args: argparse.Namespace) -> int:
    parts = tuple(args.only) if args.only else PARTS
    res = bench.run(args.out, parts=parts, seeds=args.seeds, qs_case=args.qs_case,
                    qs_width_um=args.qs_width, cnn_dataset=args.cnn_dataset,
                    engines_case=args.engines_case, engines_strain=args.engines_strain,
                    settle_seeds=args.settle_seeds)
    print(bench.table(res))
    print(f"\nwrote {args.out}/bench.json")
    return 0


def register(sub) -> None:
    """Add the ``bench`` subcommand."""
    s = sub.add_parser("bench", help="benchmarks (minutes): speed, quasi-static check, scaling")
    s.add_argument("--out", type=Path, default=Path("runs/bench"))
    s.add_argument("--only", nargs="+", choices=PARTS, default=None)
    s.add_argument("--seeds", type=int, default=5, help="structures in the quasi-static check")
    s.add_argument("--qs-case", default="press500_release25",
                   help="example (runs/<name>.yaml) of the quasi-static check")
    s.add_argument("--qs-width", type=float, default=50.0, help="its initial width (µm)")
    s.add_argument("--engines-case", default="press500_release25",
                   help="example of the engines part (the same press in LAMMPS and LIGGGHTS)")
    s.add_argument("--engines-strain", type=float, default=0.06,
                   help="engines part: width strain of the press (fraction)")
    s.add_argument("--settle-seeds", type=positive_int, default=10,
                   help="paired structures of the settle part (fast settle against as given)")
    s.add_argument("--cnn-dataset", type=Path, default=None,
                   help="dataset folder for the cnn part (default: 500 synthetic images)")
    s.set_defaults(func=cmd_bench)
