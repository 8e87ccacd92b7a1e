"""The single-case sub-commands: ``materials``, ``examples``, ``generate``, ``run``, ``demo``,
``version``. Each handler only parses, calls the pipeline and prints."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from assb_lmp import __version__, engines
from assb_lmp.cli import results as cli_results
from assb_lmp.cli import sweep as cli_sweep
from assb_lmp.core import resources
from assb_lmp.core.errors import SpecError
from assb_lmp.engines import base as engine
from assb_lmp.materials import cards as materials
from assb_lmp.materials.resolve import load_case
from assb_lmp.pipeline import runner
from assb_lmp.sweep import default_out, load_sweep


def cmd_materials(args: argparse.Namespace) -> int:
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


def cmd_generate(args: argparse.Namespace) -> int:
    spec = load_case(args.spec)
    d = engines.get(spec.engine).write(spec, args.out, args.templates)
    print(f"wrote {args.out}/deck.lmp ({d.structure.n_am} AM + {d.structure.n_se} SE, "
          f"dt = {d.dt_us:.3g} us); run it with: cd {args.out} && lmp -in deck.lmp")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    spec = load_case(args.spec)
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
        warning = runner.validity_warning(summary)
        if warning:
            print(warning, file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Handler of ``demo``: new cases of the reference protocol, predicted by the shipped
    model beside their DEM labels (``--quick``: the quick sweep and a training instead)."""
    if args.quick:
        ns = argparse.Namespace(spec=str(resources.example("quick")), out=args.out, jobs=None,
                                ranks_per_case=1, slurm=False, train=True)
        return cli_sweep.cmd_sweep(ns)
    sweep = load_sweep(resources.example("coldpress_demo"))
    out = Path(args.out) if args.out else default_out(sweep)
    ns = argparse.Namespace(spec=str(resources.example("coldpress_demo")), out=out,
                            jobs=None, ranks_per_case=1, slurm=False, train=False)
    rc = cli_sweep.cmd_sweep(ns)
    if rc:
        return rc
    return cli_results.cmd_compare(argparse.Namespace(dir=out, model=args.model, out=None,
                                                      threads=None))


def cmd_examples(args: argparse.Namespace) -> int:
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


def cmd_version(args: argparse.Namespace) -> int:
    print(f"assb_lmp {__version__}")
    for name in engines.names():
        eng = engines.get(name)
        print(f"  {name}: {eng.version() if eng.available() else 'not available'}")
    for name, why in engines.PLANNED.items():
        print(f"  {name}: {why}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the single-case sub-commands."""
    s = sub.add_parser("materials", help="list the material cards")
    s.add_argument("--cards", type=Path, default=None, help="extra card folder (searched first)")
    s.set_defaults(func=cmd_materials)

    s = sub.add_parser("generate", help="write deck.lmp, structure.data, spec.yaml (no run)")
    s.add_argument("spec", type=Path)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--templates", type=Path, default=None, help="user template folder")
    s.set_defaults(func=cmd_generate)

    s = sub.add_parser("run", help="run one case end to end (works under mpirun)")
    s.add_argument("spec", type=Path)
    s.add_argument("--out", type=Path, default=None, help="case folder (default runs/<name>)")
    s.add_argument("--templates", type=Path, default=None, help="user template folder")
    s.add_argument("--no-analysis", action="store_true", help="skip tables, labels, image")
    s.add_argument("--no-figures", action="store_true", help="skip the figures")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("demo", help="new cases of the reference cold press, predicted by the "
                       "shipped CNN beside their DEM labels")
    s.add_argument("--out", type=Path, default=None, help="default runs/coldpress_demo")
    s.add_argument("--model", type=Path, default=None, metavar="DIR",
                   help="model folder (default: the model shipped with assb_lmp)")
    s.add_argument("--quick", action="store_true",
                   help="instead: the 40-case quick sweep and a CNN trained on it")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("examples", help="list the shipped example specs, or copy them here")
    s.add_argument("names", nargs="*", help="examples to copy (default all)")
    s.add_argument("--copy", type=Path, default=None, metavar="DIR", help="copy into DIR")
    s.add_argument("--force", action="store_true", help="overwrite existing files")
    s.set_defaults(func=cmd_examples)

    s = sub.add_parser("version", help="print the toolkit and engine versions")
    s.set_defaults(func=cmd_version)

