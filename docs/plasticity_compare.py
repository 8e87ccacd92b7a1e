"""Hertz against the elastic-plastic mdr contact on the same packings (docs/plasticity.md).

    python docs/plasticity_compare.py run  --out runs/plasticity_compare [--seeds 1 2 3]
    python docs/plasticity_compare.py pair            # force-overlap curves of one contact
    python docs/plasticity_compare.py figure --out runs/plasticity_compare

``run`` presses the structure of ``runs/press500_release25.yaml`` (one per seed) three times:
``hertz`` (the spec as it is), ``mdr`` (``contact.normal: mdr``, the LGPS card's yield
stress) and ``mdr_elastic`` (mdr with a yield stress of 1e6 MPa, i.e. never yielding: it
isolates what the one-model restriction of LAMMPS's mdr changes, since there the LCO
contacts carry the LGPS constants too). ``figure`` writes ``docs/figures/plasticity_compare.png``
and ``docs/plasticity_compare.json``; ``pair`` writes ``docs/figures/mdr_pair.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import yaml

from assb_lmp.analysis import dumps
from assb_lmp.build import deck
from assb_lmp.engines import lammps as engine
from assb_lmp.materials import cards as materials
from assb_lmp.materials import physics, resolve
from assb_lmp.pipeline import runner
from assb_lmp.spec import case as config

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "runs" / "press500_release25.yaml"
MODELS = {
    "hertz": {},
    "mdr": {"normal": "mdr"},
    "mdr_elastic": {"normal": "mdr", "mdr_yield_mpa": 1.0e6},
}
LABEL = {"hertz": "Hertz (LCO, LGPS)", "mdr": "mdr, Y = 630 MPa (all contacts LGPS)",
         "mdr_elastic": "mdr, no yield (all contacts LGPS)"}


def _spec(model: str, seed: int) -> config.CaseSpec:
    data = yaml.safe_load(SPEC.read_text())
    data["name"] = f"cmp_{model}_s{seed}"
    data["seed"] = seed
    data["contact"] = dict(MODELS[model])
    return resolve.parse_case(data, SPEC)


def run(out: Path, seeds: list[int]) -> None:
    for seed in seeds:
        for model in MODELS:
            case = out / f"{model}_s{seed}"
            if (case / "summary.json").is_file():
                continue
            t0 = time.perf_counter()
            runner.run_case(_spec(model, seed), case, analyze=True, figures=False)
            print(f"{case.name}: {time.perf_counter() - t0:.1f} s", flush=True)


def collect(out: Path) -> dict:
    rows = {}
    for case in sorted(out.iterdir()):
        if not (case / "summary.json").is_file():
            continue
        s = json.loads((case / "summary.json").read_text())
        st = {x["name"]: x for x in s["stages"]}
        lab = s["labels"]
        w0 = resolve.load_case(case / "spec.yaml").geometry.width_um
        rows[case.name] = {
            "model": case.name.rsplit("_s", 1)[0],
            "seed": s["seed"],
            "width_500_um": st["press"]["cell_um"][0],
            "width_25_um": st["release"]["cell_um"][0],
            "strain_500": 1 - st["press"]["cell_um"][0] / w0,
            "springback": st["release"]["cell_um"][0] / st["press"]["cell_um"][0] - 1,
            "porosity_25": lab["porosity"],
            "reaction_area_um2": lab["reaction_area_um2"],
            "reaction_area_hertz_um2": lab["info"]["reaction_area_hertz_um2"],
            "reaction_area_overlap_um2": lab["info"]["reaction_area_overlap_um2"],
            "se_coverage": lab["se_coverage"],
            "am_stress_mean_mpa": lab["am_stress_mean_mpa"],
            "se_stress_mean_mpa": lab["se_stress_mean_mpa"],
            "steps": sum(x["steps"] for x in s["stages"]),
            "lammps_s": s["timing"]["lammps_s"],
        }
    return rows


def summarise(rows: dict) -> dict:
    out = {}
    for model in MODELS:
        sel = [r for r in rows.values() if r["model"] == model]
        if not sel:
            continue
        out[model] = {k: {"mean": float(np.mean([r[k] for r in sel])),
                          "sd": float(np.std([r[k] for r in sel])), "n": len(sel)}
                      for k in sel[0] if k not in ("model", "seed")}
    return out


def figure(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = collect(out)
    summ = summarise(rows)
    (REPO / "docs" / "plasticity_compare.json").write_text(
        json.dumps({"cases": rows, "summary": summ}, indent=1) + "\n")
    colors = {"hertz": "C0", "mdr": "C3", "mdr_elastic": "C2"}
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.0))
    ax = axes[0]
    seed = min(r["seed"] for r in rows.values())
    for model in MODELS:
        case = out / f"{model}_s{seed}"
        if not case.is_dir():
            continue
        w0 = resolve.load_case(case / "spec.yaml").geometry.width_um
        for stage, ls in (("settle", ":"), ("press", "-"), ("release", "--")):
            ser = dumps.read_series(dumps.stage_paths(case, stage)["series"])
            ax.plot(1 - ser["width_um"] / w0, ser["p_move_mpa"], ls, color=colors[model],
                    label=LABEL[model] if stage == "press" else None)
    ax.set_xlabel("strain 1 − W/W0")
    ax.set_ylabel("pressure on the moving wall (MPa)")
    ax.set_title(f"press to 500 MPa, release to 25 MPa (seed {seed})")
    ax.legend(fontsize=7)
    for ax, key, title in ((axes[1], "porosity_25", "porosity of the image window at 25 MPa"),
                           (axes[2], None, "AM–SE reaction area at 25 MPa (µm²)")):
        names = [m for m in MODELS if m in summ]
        x = np.arange(len(names))
        if key:
            ax.bar(x, [summ[m][key]["mean"] for m in names],
                   yerr=[summ[m][key]["sd"] for m in names],
                   color=[colors[m] for m in names])
        else:
            for off, k, hatch, lab in ((-0.2, "reaction_area_hertz_um2", "", "Hertz radius"),
                                       (0.2, "reaction_area_overlap_um2", "//",
                                        "overlap radius")):
                ax.bar(x + off, [summ[m][k]["mean"] for m in names], width=0.4,
                       yerr=[summ[m][k]["sd"] for m in names], hatch=hatch,
                       color=[colors[m] for m in names], edgecolor="k", label=lab)
            ax.legend(fontsize=7)
        ax.set_xticks(x, names)
        n = summ[names[0]]["porosity_25"]["n"]
        ax.set_title(f"{title}\n(mean ± SD over {n} seeds)", fontsize=9)
    fig.tight_layout()
    path = REPO / "docs" / "figures" / "plasticity_compare.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(json.dumps(summ, indent=1))


def _curve(model: str, r: float, dmax: float, n: int = 60) -> np.ndarray:
    lmp = engine.open_lammps("none")
    try:
        lmp.commands_string(f"""
units micro
dimension 3
atom_style sphere 1
atom_modify map array
newton off
comm_modify vel yes
boundary f f f
region box block -5 5 -5 5 -5 5
create_box 2 box
timestep 1e-6
create_atoms 2 single 0 0 0
create_atoms 2 single {2 * r} 0 0
set atom * diameter {2 * r} density 1.99
pair_style granular
pair_coeff * * {model}
group one id 1
group two id 2
variable dx equal 0
fix hold one move linear 0 0 0
fix push two move variable v_dx NULL NULL NULL NULL NULL
run 0
""")
        path = list(np.linspace(0, dmax, n)[1:]) + list(np.linspace(dmax, 0, n)[1:])
        pts = []
        for d in path:
            lmp.command(f"variable dx equal {-d}")
            lmp.command("run 100 post no")
            pts.append((d, float(lmp.numpy.extract_atom("f")[1][0])))
        return np.array(pts)
    finally:
        lmp.close()


def pair() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    se = materials.get("LGPS")
    spec = _spec("mdr", 1)
    r = 0.5
    e_star = physics.effective_modulus_gpa(se, se) * 1e6
    y = se.yield_mpa * 1e3
    mdr = _curve(deck.mdr_model(spec, se), r, 0.15)
    hz = _curve(deck.pair_model(_spec("hertz", 1), se), r, 0.15)
    d = np.linspace(0, 0.15, 200)
    r_star = 0.5 * r
    f_el = 4 / 3 * e_star * math.sqrt(r_star) * d**1.5
    # Thornton-style plastic branch: mean pressure p_y on a flattened contact a^2 = 2 R* d
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.plot(hz[:, 0], hz[:, 1] / 1e3, color="C0", label="LAMMPS hertz/material (LGPS)")
    ax.plot(mdr[:, 0], mdr[:, 1] / 1e3, color="C3", label=f"LAMMPS mdr, Y = {se.yield_mpa:g} MPa")
    ax.plot(d, f_el / 1e3, ":", color="k", lw=1, label="F_elastic = 4/3 E* √R* δ^1.5")
    for k, ls in ((3.0, "-."), (1.6, "--")):
        ax.plot(d, k * y * math.pi * 2 * r_star * d / 1e3, ls, color="gray", lw=1,
                label=f"F_plastic = {k:g} Y π (2R*δ)")
    ax.set_xlabel("overlap δ (µm), two 1 µm LGPS spheres")
    ax.set_ylabel("normal force (µN)")
    ax.set_ylim(0, 1.1 * hz[:, 1].max() / 1e3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = REPO / "docs" / "figures" / "mdr_pair.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    load = mdr[: len(mdr) // 2 + 1]
    hi = load[:, 0] > 0.1
    slope = np.polyfit(load[hi, 0], load[hi, 1], 1)[0]
    unload = mdr[len(mdr) // 2:]
    resid = unload[unload[:, 1] <= 0, 0].max() if np.any(unload[:, 1] <= 0) else 0.0
    onset = load[np.argmax(load[:, 1] < 0.98 * 4 / 3 * e_star * math.sqrt(r_star)
                           * load[:, 0] ** 1.5), 0]
    print(json.dumps({"plastic_slope_over_Y_pi_2Rstar": slope / (y * math.pi * 2 * r_star),
                      "residual_overlap_um_after_0p15": resid,
                      "force_at_0p15_mdr_over_hertz": float(load[-1, 1] / hz[len(hz) // 2, 1]),
                      "overlap_where_mdr_leaves_hertz_um": float(onset)}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("what", choices=["run", "figure", "pair"])
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "plasticity_compare")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    a = ap.parse_args()
    if a.what == "run":
        run(a.out, a.seeds)
    elif a.what == "figure":
        figure(a.out)
    else:
        pair()


if __name__ == "__main__":
    main()
