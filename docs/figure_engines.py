"""LAMMPS and LIGGGHTS on the same case: the figure and the numbers of docs/engines.md.

1. The paper-size Komori case (runs/komori2022_case.yaml: 14 LCO + 772 LGPS), settled by
   LAMMPS at 1 MPa, is restarted in both engines from that one packing, held, and pressed
   by width by 6 % with the toolkit's quasi-static controller; the damping law is the
   one both engines share (``damping: coeff_restitution``); once frictionless, once with
   the cards' friction 0.3. A third run of LAMMPS from the same packing with one particle
   moved by 1e-9 µm measures how far a perturbation of that size carries (the chaos floor
   of a frictional packing).
   With friction, LAMMPS runs twice: with its decks' tangential damping ratio 1 and with
   LIGGGHTS's 2 sqrt(G*/E*) (the same law in both engines).
2. The So et al. protocol (runs/press500_release25.yaml: settle 1 MPa, press 500 MPa,
   release 25 MPa) in both engines for five seeds (friction 0.3): the label means.

Run from the repository root (about 40 min on one core)::

    python docs/figure_engines.py /tmp/engines

writes docs/figures/engines_pressure_strain.png and docs/engines_compare.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from assb_lmp.analysis import mechanics  # noqa: E402
from assb_lmp.engines import liggghts_compare as lc  # noqa: E402
from assb_lmp.materials.resolve import load_case, parse_case  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The press of the comparison: to this fraction of the settled width (the paper's 40 um
#: would drive a packing settled frictionless, narrower, far past the Hertz range).
PRESS_FRACTION = 0.94
LABELS = ("am_stress_mean_mpa", "am_stress_sd_mpa", "se_stress_mean_mpa", "se_stress_sd_mpa",
          "reaction_area_um2", "se_coverage", "porosity", "am_area_fraction",
          "am_se_contacts_per_am")


def _case(path: Path, friction: float | None, seed: int | None = None):
    data = load_case(path).model_dump(mode="json")
    data["contact"].update(damping="coeff_restitution", friction=friction)
    if seed is not None:
        data["seed"] = seed
    return parse_case(data)


def _labels(case_dir: Path) -> dict:
    lab = mechanics.analyze_case(case_dir, figures=False)
    return {k: float(lab[k]) for k in LABELS}


def paper_press(out: Path, friction: float) -> dict:
    """Settle in LAMMPS, press by 6 % in both engines, and in LAMMPS again from a packing
    with one particle moved by 1e-9 um (with friction: LAMMPS with its own tangential
    damping ratio 1 and with LIGGGHTS's, 2 sqrt(G*/E*))."""
    spec = _case(ROOT / "runs" / "komori2022_case.yaml", friction)
    settle, structure, width = lc.settle_in_lammps(spec, out / "settle")
    restart = lc.restart_spec(settle, width, [
        {"kind": "hold"}, {"kind": "press", "mode": "width",
                           "final_width_um": PRESS_FRACTION * width}])
    moved = lc.structure_from_atoms(out / "settle" / "dumps" / "settle.atoms.dump", settle,
                                    width)
    moved.positions[len(moved.types) // 2, 0] += 1e-9
    matched = friction > 0
    runs = {"liggghts": lc.run_liggghts(restart, out / "liggghts", structure, timeout_s=5400),
            "lammps": lc.run_lammps(restart, out / "lammps", structure),
            "lammps_perturbed": lc.run_lammps(restart, out / "lammps_perturbed", moved,
                                              match_liggghts=matched)}
    if matched:
        runs["lammps_matched"] = lc.run_lammps(restart, out / "lammps_matched", structure,
                                               match_liggghts=True)
    ref = "lammps_matched" if matched else "lammps"
    series = {k: lc.read_series(out / k / "dumps" / "press.series.txt") for k in runs}
    floor = restart.control.pressure_floor_mpa
    return {
        "settled_width_um": width, "reference": ref,
        "engines": lc.compare_curves(series[ref], series["liggghts"], floor),
        "engines_lammps_own_damping": lc.compare_curves(series["lammps"], series["liggghts"],
                                                        floor),
        "chaos_floor": lc.compare_curves(series[ref], series["lammps_perturbed"], floor),
        "labels": {k: _labels(out / k) for k in runs},
        "steps": {k: r.stages["press"].steps for k, r in runs.items()},
        "loop_s": {k: r.engine_s for k, r in runs.items()},
        "series": {k: {c: v.tolist() for c, v in s.items()
                       if c in ("step", "width_um", "p_move_mpa")}
                   for k, s in series.items()},
    }


def protocol_seeds(out: Path, seeds=range(1, 6)) -> dict:
    """The 500 -> 25 MPa protocol (runs/press500_release25.yaml, friction 0.3, the same
    damping law in both engines) for several seeds: label means after the release."""
    rows: dict[str, list[list[float]]] = {"lammps": [], "liggghts": []}
    steps: dict[str, list[int]] = {"lammps": [], "liggghts": []}
    for seed in seeds:
        spec = _case(ROOT / "runs" / "press500_release25.yaml", 0.3, seed)
        for engine in ("lammps", "liggghts"):
            case = out / f"{engine}_{seed}"
            r = (lc.run_lammps(spec, case, match_liggghts=True) if engine == "lammps"
                 else lc.run_liggghts(spec, case, timeout_s=5400))
            rows[engine].append([_labels(case)[k] for k in LABELS])
            steps[engine].append(sum(t.steps for t in r.stages.values()))
    means = {e: np.mean(r, axis=0) for e, r in rows.items()}
    sds = {e: np.std(r, axis=0, ddof=1) for e, r in rows.items()}
    rel = np.abs(means["liggghts"] - means["lammps"]) / np.abs(means["lammps"])
    return {"seeds": list(seeds), "steps": steps,
            "mean": {e: dict(zip(LABELS, m.tolist(), strict=True)) for e, m in means.items()},
            "sd": {e: dict(zip(LABELS, m.tolist(), strict=True)) for e, m in sds.items()},
            "rel_diff_of_means": dict(zip(LABELS, rel.tolist(), strict=True))}


def _rel_by_step(a: dict, b: dict, floor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(width of a, |p_b - p_a| / p_a) at the steps both series sampled, p_a > floor."""
    sa, sb = np.array(a["step"]), np.array(b["step"])
    _, ia, ib = np.intersect1d(sa, sb, return_indices=True)
    pa, pb = np.array(a["p_move_mpa"])[ia], np.array(b["p_move_mpa"])[ib]
    use = pa > floor
    return np.array(a["width_um"])[ia][use], np.abs(pb[use] - pa[use]) / pa[use] + 1e-12


def figure(results: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for mu, style in (("0", "-"), ("0.3", "--")):
        r = results["paper"][mu]
        s, ref = r["series"], r["reference"]
        for engine, color in ((ref, "C0"), ("liggghts", "C3")):
            axes[0].plot(s[engine]["width_um"], s[engine]["p_move_mpa"], style, color=color,
                         lw=1.2, label=f"{engine}, friction {mu}")
        axes[1].semilogy(*_rel_by_step(s[ref], s["liggghts"]), style, color="k", lw=1,
                         label=f"LIGGGHTS vs {ref}, friction {mu}")
    s = results["paper"]["0.3"]["series"]
    axes[0].plot(s["lammps"]["width_um"], s["lammps"]["p_move_mpa"], ":", color="C0", lw=1,
                 label="lammps (own tangential damping), friction 0.3")
    axes[1].semilogy(*_rel_by_step(s["lammps"], s["liggghts"]), ":", color="k", lw=1,
                     label="LIGGGHTS vs lammps (own tangential damping), 0.3")
    axes[1].semilogy(*_rel_by_step(s["lammps_matched"], s["lammps_perturbed"]), "-",
                     color="C2", lw=1, label="LAMMPS vs LAMMPS, 1e-9 um moved, 0.3")
    axes[0].set(xlabel="width (um)", ylabel="pressure on the moving wall (MPa)",
                title="Komori case, restart from one packing")
    axes[0].invert_xaxis()
    axes[0].legend(fontsize=6)
    axes[1].axhline(0.005, color="grey", lw=0.8)
    axes[1].set(xlabel="width (um)", ylabel="relative difference at the same step",
                title="difference (grey: 0.5 %)")
    axes[1].invert_xaxis()
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)


def main(workdir: str) -> None:
    out = Path(workdir)
    results = {"paper": {}}
    for mu in (0.0, 0.3):
        results["paper"][f"{mu:g}"] = paper_press(out / f"paper_mu{mu:g}", mu)
        print(mu, results["paper"][f"{mu:g}"]["engines"], flush=True)
    results["protocol"] = protocol_seeds(out / "protocol")
    figure(results, ROOT / "docs" / "figures" / "engines_pressure_strain.png")
    slim = json.loads(json.dumps(results))
    for mu in slim["paper"].values():
        mu.pop("series")
    (ROOT / "docs" / "engines_compare.json").write_text(json.dumps(slim, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/assb_engines")
