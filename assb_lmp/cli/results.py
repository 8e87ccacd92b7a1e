"""Sub-commands that read finished sweeps: ``trends`` (the physics of a pressure sweep) and
``compare`` (a trained model's predictions beside the DEM labels of new cases)."""

from __future__ import annotations

import argparse
from pathlib import Path

from assb_lmp.learn.compare import compare, format_table
from assb_lmp.learn.trends import trends


def cmd_trends(args: argparse.Namespace) -> int:
    """Handler of ``trends``."""
    out = args.out or Path(args.dir) / "trends"
    result = trends(args.dir, out, model_dir=args.model)
    for label in ("porosity", "reaction_area_um2", "se_coverage"):
        slopes = result[label]["partial_slopes"]
        shown = ", ".join(f"{k} {v['change_over_range_rel']:+.1%} (t {v['t']:+.1f})"
                          for k, v in slopes.items())
        print(f"{label:20s} change over each axis's range: {shown}")
    b = result["beyond_press_all"]["mean"], result["beyond_end_all"]["mean"]
    print(f"SE contacts beyond delta/R* = 0.1: {b[0]:.0%} at the press end, {b[1]:.0%} at the "
          f"end (mean over {result['cases']} cases)")
    print(f"wrote {out / 'trends.json'} and {out / 'trends.png'}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Handler of ``compare``."""
    result = compare(args.dir, model_dir=args.model, out_dir=args.out, threads=args.threads)
    print(f"model: {result['model']} (test R2: how far to trust each number)")
    print(format_table(result))
    print(f"wrote {result['parity']} and {result['gradcam']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``trends`` and ``compare``."""
    s = sub.add_parser("trends", help="porosity, reaction area and SE coverage against the "
                       "axes of a pressure sweep, with the validity report")
    s.add_argument("dir", type=Path, help="sweep folder")
    s.add_argument("--model", type=Path, default=None, metavar="DIR",
                   help="model trained on the sweep: add its SE coverage (test + holdout)")
    s.add_argument("--out", type=Path, default=None, help="default DIR/trends")
    s.set_defaults(func=cmd_trends)
    s = sub.add_parser("compare", help="predict a sweep's finished cases with a trained "
                       "model and print them beside the DEM labels")
    s.add_argument("dir", type=Path, help="sweep folder")
    s.add_argument("--model", type=Path, default=None, metavar="DIR",
                   help="model folder (default: the model shipped with assb_lmp)")
    s.add_argument("--out", type=Path, default=None, help="default DIR/compare")
    s.add_argument("--threads", type=int, default=None)
    s.set_defaults(func=cmd_compare)
