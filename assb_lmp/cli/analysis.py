"""The ``analyze DIR`` subcommand: tables, labels, image and figures from a case's dumps.

The main CLI registers it with ``register(subparsers)`` and calls
``args.func(args)``; the handler is thin and leaves error reporting (``AnalysisError``
naming the bad file) to the main CLI.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from assb_lmp.analysis.case import analyze_case
from assb_lmp.cli.args import non_negative_float, pixels, positive_float
from assb_lmp.spec.targets import TARGET_INFO

log = logging.getLogger(__name__)



def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``analyze`` subcommand to a subparsers object; returns its parser."""
    p = subparsers.add_parser(
        "analyze",
        help="particle stresses, contact areas, labels, image and figures from the dumps",
        description=(
            "Recompute DIR/particles.csv, contacts.csv, labels.json, image.png (and the "
            "same per stage in DIR/<stage>/) and DIR/figures/ from DIR/dumps alone, "
            "without rerunning LAMMPS. Nothing is written unless every file checks out."
        ),
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="case folder (with dumps/)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument(
        "--coverage-factor", type=positive_float, default=1.0, metavar="F",
        help="correction factor f of the SE coverage (Komori eq. 17; default 1)",
    )
    p.add_argument(
        "--coverage-surface", choices=("sphere", "lateral"), default="sphere",
        help="AM surface of the coverage: sphere 4πr² (default) or quasi-2D lateral 2πrt",
    )
    p.add_argument(
        "--crop-um", type=non_negative_float, default=2.0, metavar="UM",
        help="crop of the image window from each side of the cell (µm; default 2)",
    )
    p.add_argument(
        "--full-res", type=pixels, default=None, metavar="PX",
        help="also write figures/section.png with PX pixels a side",
    )
    p.set_defaults(func=cmd_analyze)
    return p


def cmd_analyze(args: argparse.Namespace) -> int:
    """Handler of ``analyze``: :func:`~assb_lmp.analysis.mechanics.analyze_case`, then labels."""
    labels = analyze_case(
        args.dir,
        figures=not args.no_figures,
        coverage_factor=args.coverage_factor,
        coverage_surface=args.coverage_surface,
        crop_um=args.crop_um,
        full_res_px=args.full_res,
    )
    print(f"{args.dir}: stage {labels['info']['stage']}, window "
          f"{labels['info']['window_um']} µm")
    for name, unit, _ in TARGET_INFO:
        value = labels[name]
        shown = "undefined" if value is None else f"{value:.6g}"
        print(f"  {name:24s} {shown:>12s} {unit}")
    print(f"  written: particles.csv contacts.csv labels.json image.png"
          f"{'' if args.no_figures else ' figures/'} (and per stage)")
    return 0
