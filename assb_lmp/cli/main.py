"""Command-line interface: ``python -m assb_lmp <command>``. Thin: it only wires stages."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from assb_lmp import __version__
from assb_lmp.cli import analysis as cli_analysis
from assb_lmp.cli import bench as cli_bench
from assb_lmp.cli import learn as cli_learn
from assb_lmp.cli import shapes as cli_shapes
from assb_lmp.cli import sweep as cli_sweep
from assb_lmp.core import resources
from assb_lmp.core.errors import AssbError, SpecError

log = logging.getLogger("assb_lmp")


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("assb_lmp")
    root.handlers[:] = [handler]
    root.setLevel(level)


def _materials(args: argparse.Namespace) -> int:
    from assb_lmp.materials import cards as materials

    rows = []
    for name, path in materials.available(args.cards).items():
        c = materials.load_card(path)
        y = c.yield_mpa
        rows.append((name, c.formula, c.role, f"{c.E_gpa:g}", f"{c.nu:g}", f"{c.rho:g}",
                     f"{c.mu:g}", f"{c.e_rest:g}", "-" if y is None else f"{y:g}",
                     "yes" if c.lattice else "-"))
    head = ("card", "formula", "role", "E GPa", "nu", "rho g/cm3", "friction", "restitution",
            "yield MPa", "lattice")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from assb_lmp.build import deck
    from assb_lmp.spec import case as config

    spec = config.load_case(args.spec)
    d = deck.write_case(spec, args.out, args.templates)
    print(f"wrote {args.out}/deck.lmp ({d.structure.n_am} AM + {d.structure.n_se} SE, "
          f"dt = {d.dt_us:.3g} us); run it with: cd {args.out} && lmp -in deck.lmp")
    return 0


def _run(args: argparse.Namespace) -> int:
    from assb_lmp.engines import lammps as engine
    from assb_lmp.pipeline import runner
    from assb_lmp.spec import case as config

    spec = config.load_case(args.spec)
    comm = engine.comm_world()
    if comm is not None and comm.Get_size() == 1:
        comm = None
    out = Path(args.out) if args.out else Path("runs") / spec.name
    summary = runner.run_case(spec, out, comm=comm, user_templates=args.templates,
                              analyze=not args.no_analysis, figures=not args.no_figures)
    if engine.comm_rank(comm) == 0:
        for s in summary["stages"]:
            p = ", ".join(f"{k} {v:.4g}" for k, v in s["pressure_mpa"].items())
            print(f"{s['name']:>10}: {s['steps']:>8} steps {s['wall_s']:7.2f} s  "
                  f"cell {' x '.join(f'{v:.3f}' for v in s['cell_um'])} um  P [MPa] {p}")
        print(f"total {summary['timing']['total_s']:.2f} s -> {out}/summary.json")
    return 0


def _demo(args: argparse.Namespace) -> int:
    ns = argparse.Namespace(spec=str(resources.example("quick")), out=args.out, jobs=None,
                            ranks_per_case=1, slurm=False, train=True)
    return cli_sweep.run_sweep(ns)


def _examples(args: argparse.Namespace) -> int:
    shipped = {p.stem: p for p in sorted(resources.examples_dir().glob("*.yaml"))}
    if not args.copy:
        for name, path in shipped.items():
            first = path.read_text().splitlines()[0].lstrip("# ").strip()
            print(f"{name:28s} {first}")
        print("copy them with: python -m assb_lmp examples --copy DIR [NAME ...]")
        return 0
    names = args.names or list(shipped)
    unknown = [n for n in names if n not in shipped]
    if unknown:
        raise SpecError(f"examples: {', '.join(map(repr, unknown))} not shipped; available: "
                        f"{', '.join(shipped)}")
    dest = Path(args.copy)
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        target = dest / f"{name}.yaml"
        if target.exists() and not args.force:
            print(f"kept {target} (exists; --force overwrites)")
            continue
        shutil.copyfile(shipped[name], target)
        print(f"wrote {target}")
    return 0


def _version(args: argparse.Namespace) -> int:
    from assb_lmp.engines import lammps as engine

    print(f"assb_lmp {__version__}, LAMMPS {engine.lammps_version()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = argparse.ArgumentParser(prog="python -m assb_lmp", description=__doc__)
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("materials", help="list the material cards")
    s.add_argument("--cards", type=Path, default=None, help="extra card folder (searched first)")
    s.set_defaults(func=_materials)

    s = sub.add_parser("generate", help="write deck.lmp, structure.data, spec.yaml (no run)")
    s.add_argument("spec", type=Path)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--templates", type=Path, default=None, help="user template folder")
    s.set_defaults(func=_generate)

    s = sub.add_parser("run", help="run one case end to end (works under mpirun)")
    s.add_argument("spec", type=Path)
    s.add_argument("--out", type=Path, default=None, help="case folder (default runs/<name>)")
    s.add_argument("--templates", type=Path, default=None, help="user template folder")
    s.add_argument("--no-analysis", action="store_true", help="skip tables, labels, image")
    s.add_argument("--no-figures", action="store_true", help="skip the figures")
    s.set_defaults(func=_run)

    s = sub.add_parser("demo", help="the main job on a small scale (quick sweep, or one case)")
    s.add_argument("--out", type=Path, default=None)
    s.set_defaults(func=_demo)

    s = sub.add_parser("examples", help="list the shipped example specs, or copy them here")
    s.add_argument("names", nargs="*", help="examples to copy (default all)")
    s.add_argument("--copy", type=Path, default=None, metavar="DIR", help="copy into DIR")
    s.add_argument("--force", action="store_true", help="overwrite existing files")
    s.set_defaults(func=_examples)

    s = sub.add_parser("version", help="print the toolkit and LAMMPS versions")
    s.set_defaults(func=_version)

    for module in (cli_analysis, cli_sweep, cli_learn, cli_bench, cli_shapes):
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

