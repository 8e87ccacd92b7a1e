"""Command-line interface: ``python -m assb_lmp <command>``. Thin: it only wires stages."""

from __future__ import annotations

import argparse
import logging
import sys

from assb_lmp.cli import analysis as cli_analysis
from assb_lmp.cli import bench as cli_bench
from assb_lmp.cli import case as cli_case
from assb_lmp.cli import learn as cli_learn
from assb_lmp.cli import results as cli_results
from assb_lmp.cli import shapes as cli_shapes
from assb_lmp.cli import sweep as cli_sweep
from assb_lmp.core.errors import AssbError

log = logging.getLogger("assb_lmp")


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("assb_lmp")
    root.handlers[:] = [handler]
    root.setLevel(level)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = argparse.ArgumentParser(prog="python -m assb_lmp", description=__doc__)
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = p.add_subparsers(dest="command", required=True)
    for module in (cli_case, cli_analysis, cli_sweep, cli_learn, cli_results, cli_bench,
                   cli_shapes):
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except AssbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

