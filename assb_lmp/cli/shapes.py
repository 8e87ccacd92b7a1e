"""The ``shapes`` subcommand: circularity of the multisphere AM particles against the
ellipse relation (scikit-image regionprops on the rendered sections).

    python -m assb_lmp shapes [SPEC] --out DIR

writes ``DIR/shapes.csv`` (one row per measured body), ``DIR/shapes.json`` (summary) and
``DIR/circularity.png``; the exit status is 1 when a body deviates from the ellipse
relation by more than ``--tolerance`` (default 3 %).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assb_lmp.analysis import plots
from assb_lmp.build import multisphere, packing
from assb_lmp.core.errors import SpecError
from assb_lmp.materials.resolve import load_case


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``shapes`` subcommand."""
    p = subparsers.add_parser(
        "shapes",
        help="circularity vs aspect ratio of the multisphere AM particles (validation)",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("spec", type=Path, nargs="?", default=None,
                   help="case spec whose packing's bodies are measured too (ellipse AM)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--aspect-ratios", type=float, nargs="+", default=None, metavar="AR",
                   help="aspect ratios of the default sweep")
    p.add_argument("--px", type=float, default=80.0,
                   help="pixels across each body's minor axis (default 80)")
    p.add_argument("--tolerance", type=float, default=0.03,
                   help="allowed relative deviation from the ellipse (default 0.03)")
    p.set_defaults(func=cmd_shapes)
    return p


def cmd_shapes(args: argparse.Namespace) -> int:
    """Handler of ``shapes``."""
    bodies = None
    if args.spec is not None:
        spec = load_case(args.spec)
        if spec.packing.am_shape.kind != "ellipse":
            raise SpecError(f"{args.spec}: packing.am_shape is not an ellipse; nothing to "
                            "measure in its packing")
        st = packing.generate(spec)
        bodies = []
        for rec in st.info["bodies"]:
            sel = st.mol == rec["mol"]
            bodies.append((st.positions[sel, :2], 0.5 * st.diameters[sel],
                           rec["aspect_ratio"]))
    ars = tuple(args.aspect_ratios) if args.aspect_ratios else multisphere.SWEEP_ASPECT_RATIOS
    for ar in ars:
        if ar < 1:
            raise SpecError(f"--aspect-ratios: {ar:g} < 1 is impossible (major / minor axis)")
    rows = multisphere.validation(bodies, ars, minor_axis_px=args.px)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cols = ["source", "aspect_ratio", "spheres", "aspect_ratio_measured", "circularity",
            "circularity_ellipse", "relative_error", "circularity_exact",
            "circularity_pixels"]
    lines = [",".join(cols)] + [",".join(str(r[c]) if isinstance(r[c], str) else f"{r[c]:.8g}"
                                         for c in cols) for r in rows]
    (out / "shapes.csv").write_text("\n".join(lines) + "\n")
    worst = max(abs(r["relative_error"]) for r in rows)
    ok = worst <= args.tolerance
    summary = {
        "n_bodies": len(rows),
        "max_abs_relative_error": worst,
        "mean_relative_error": sum(r["relative_error"] for r in rows) / len(rows),
        "tolerance": args.tolerance,
        "pass": ok,
        "minor_axis_px": args.px,
        "method": "skimage.measure.regionprops: 4π area / perimeter_crofton², aspect ratio "
                  "axis_major_length / axis_minor_length; ellipse relation at the nominal "
                  "aspect ratio (Ramanujan perimeter)",
    }
    (out / "shapes.json").write_text(json.dumps(summary, indent=2) + "\n")
    plots.save_figure(multisphere.validation_figure(rows, args.tolerance),
                      out / "circularity.png")
    print(f"{len(rows)} bodies: largest deviation of the circularity from the ellipse relation "
          f"{100 * worst:.2f} % (tolerance {100 * args.tolerance:g} %): "
          f"{'pass' if ok else 'FAIL'}")
    print(f"written: {out}/shapes.csv shapes.json circularity.png")
    return 0 if ok else 1
