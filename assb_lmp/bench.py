"""Benchmarks: speed of the examples, proof that the fast protocol is quasi-static,
engine efficiency against a plain granular reference deck, the same press timed in LAMMPS
and LIGGGHTS, sweep scaling, and the CNN's training time, prediction rate and Grad-CAM
time.

Everything here runs real LAMMPS and takes minutes; results go to ``bench.json`` and a
table. Nothing here is a test: figures are recorded in BENCHMARKS.md by hand, with the
machine and the date.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

from assb_lmp.core import resources
from assb_lmp.core.errors import AssbError, EngineError
from assb_lmp.engines import lammps as engine
from assb_lmp.engines import liggghts, liggghts_compare
from assb_lmp.learn.dataset import load_dataset
from assb_lmp.learn.gradcam import gradcam
from assb_lmp.learn.model import load_model
from assb_lmp.learn.predict import predict
from assb_lmp.learn.train import train
from assb_lmp.materials import resolve
from assb_lmp.pipeline import protocols, runner
from assb_lmp.spec import case as config
from assb_lmp.spec.targets import TARGETS
from assb_lmp.sweep.bench import bench_sweep
from assb_lmp.synthetic import make_synthetic_dataset

log = logging.getLogger(__name__)

EXAMPLES = ("komori2022_case", "press500_release25")
#: labels whose seed-averaged change must stay within 2 % (the rest: SDs within 5 %)
MEAN_LABELS = ("am_stress_mean_mpa", "se_stress_mean_mpa", "reaction_area_um2")
SD_LABELS = ("am_stress_sd_mpa", "se_stress_sd_mpa")


def machine() -> dict:
    """A short description of the machine the figures were taken on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "lammps": engine.lammps_version(), "liggghts": liggghts.liggghts_version(),
            "date": time.strftime("%Y-%m-%d"), "load": _load_average()}


def _load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the system has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _load(name: str) -> dict:
    import yaml

    return yaml.safe_load((resources.example(name)).read_text())


def run_example(name: str, out: Path, data: dict | None = None) -> dict:
    """Run one example end to end (analysis and figures included) and time it."""
    spec = resolve.parse_case(data or _load(name), name)
    t0 = time.perf_counter()
    summary = runner.run_case(spec, out / spec.name, analyze=True, figures=True)
    total = time.perf_counter() - t0
    lammps_s = summary["timing"]["lammps_s"]
    return {
        "case": spec.name,
        "total_s": total,
        "lammps_s": lammps_s,
        "analysis_s": summary["timing"].get("analysis_s"),
        "generate_s": summary["timing"]["generate_s"],
        "wall_to_lammps": total / lammps_s if lammps_s else None,
        "n_particles": summary["n_am"] + summary["n_se"],
        "timestep_us": summary["timestep_us"],
        "stages": [{k: s[k] for k in ("name", "steps", "wall_s", "pressure_mpa", "cell_um",
                                      "ke_to_elastic", "inertial_number_rate",
                                      "inertial_number_velocity", "converged")}
                   for s in summary["stages"]],
        "press_atom_steps_per_s": _press_throughput(summary),
        "labels": summary.get("labels", {}),
    }


def _press_throughput(summary: dict) -> float | None:
    n = summary["n_am"] + summary["n_se"]
    press = [s for s in summary["stages"] if s["kind"] == "press"]
    if not press or not press[0]["wall_s"]:
        return None
    return n * press[0]["steps"] / press[0]["wall_s"]


def slower(data: dict, factor: float = 4.0) -> dict:
    """The same case with every rate ``factor`` times slower (rate caps and servo)."""
    d = copy.deepcopy(data)
    c = d.setdefault("control", {})
    base = config.Control()
    c["inertial_number"] = c.get("inertial_number", base.inertial_number) / factor
    c["loose_strain_rate"] = c.get("loose_strain_rate", base.loose_strain_rate) / factor
    c["servo_transit_times"] = c.get("servo_transit_times", base.servo_transit_times) * factor
    c["max_steps_per_stage"] = max(c.get("max_steps_per_stage", base.max_steps_per_stage),
                                   4 * base.max_steps_per_stage)
    return d


def quasistatic(out: Path, seeds: int = 5, factor: float = 4.0,
                case: str = "komori2022_case", width_um: float = 46.0) -> dict:
    """Rerun ``seeds`` structures of a case with all rates ``factor`` times slower.

    Returns
    -------
    dict
        Per seed the labels of both runs and the relative change; averaged over seeds,
        the relative change of each label's seed mean (the criterion) and the per-seed
        scatter (mean and max of the absolute per-seed changes).
    """
    base = _load(case)
    base["geometry"]["width_um"] = width_um
    rows, failed = [], []
    for i in range(seeds):
        data = copy.deepcopy(base)
        data["seed"] = 100 + i
        data["name"] = f"{case}_s{i}"
        try:
            fast = run_example(case, out / "fast", data)
            slow = run_example(case, out / "slow", slower(data, factor))
        except AssbError as exc:
            log.warning("seed %d failed: %s", data["seed"], str(exc).splitlines()[0])
            failed.append({"seed": data["seed"], "reason": str(exc).splitlines()[0]})
            continue
        rows.append({"seed": data["seed"], "fast": fast, "slow": slow})
        log.info("seed %d: fast %.1f s, slow %.1f s", data["seed"], fast["total_s"],
                 slow["total_s"])
    result = {"case": case, "factor": factor, "seeds": seeds, "width_um": width_um,
              "failed": failed,
              "labels": {}}
    if not rows:
        result["pass"] = False
        return result
    for name in TARGETS:
        f = np.array([r["fast"]["labels"][name] for r in rows], float)
        s = np.array([r["slow"]["labels"][name] for r in rows], float)
        per_seed = np.abs(f - s) / np.maximum(np.abs(s), 1e-12)
        result["labels"][name] = {
            "fast_mean": float(f.mean()), "slow_mean": float(s.mean()),
            "rel_change_of_mean": float(abs(f.mean() - s.mean()) / max(abs(s.mean()), 1e-12)),
            "per_seed_mean_abs_change": float(per_seed.mean()),
            "per_seed_max_abs_change": float(per_seed.max()),
        }
    result["pass"] = bool(
        all(result["labels"][n]["rel_change_of_mean"] <= 0.02 for n in MEAN_LABELS)
        and all(result["labels"][n]["rel_change_of_mean"] <= 0.05 for n in SD_LABELS))
    result["time_fast_s"] = [r["fast"]["total_s"] for r in rows]
    result["time_slow_s"] = [r["slow"]["total_s"] for r in rows]
    result["steps_fast"] = [sum(s["steps"] for s in r["fast"]["stages"]) for r in rows]
    result["steps_slow"] = [sum(s["steps"] for s in r["slow"]["stages"]) for r in rows]
    return result


CHUTE_DECK = """# Plain granular reference: a chute flow of {n} gran/hooke/history spheres
# (after the LAMMPS bench/in.chute set-up: Hooke spring-dashpot with history, gravity tilted
# down a rough bottom, periodic in x and y), written fresh for this benchmark.
units           lj
atom_style      sphere
boundary        p p fm
newton          off
comm_modify     vel yes
region          box block 0 {lx} 0 {ly} 0 {lz}
create_box      1 box
lattice         sc 1.0
region          fill block 0 {lx} 0 {ly} 0.5 {zfill}
create_atoms    1 region fill
set             type 1 diameter 1.0 density 1.9098593
velocity        all create 0.1 8728 loop geom
pair_style      gran/hooke/history 2000.0 NULL 50.0 NULL 0.5 0
pair_coeff      * *
neighbor        0.3 bin
neigh_modify    delay 0 every 1 check yes
timestep        0.0001
fix             integrate all nve/sphere
fix             gravity all gravity 1.0 chute 26.0
fix             bottom all wall/gran hooke/history 2000.0 NULL 50.0 NULL 0.5 0 zplane 0.0 NULL
thermo          1000
run             {warmup}
run             {steps}
"""


def settle_speed(out: Path, seeds: int = 10, case: str = "komori2022_case") -> dict:
    """The fast settle (geometric collapse + controller every 5) against the protocol as
    given, over ``seeds`` paired structures of the example ``case``, all cores, checked
    against :data:`assb_lmp.pipeline.protocols.SETTLE_TARGETS`
    (:func:`assb_lmp.pipeline.protocols.settle_targets`). Case folders are reused."""
    spec = resolve.parse_case(_load(case), case)
    report = protocols.compare(spec, range(1, seeds + 1), protocols.COMPARISONS["fast_settle"],
                               out, jobs=os.cpu_count() or 1)
    return {"case": case, **protocols.settle_targets(report)}


def engine_reference(n_target: int = 32000, steps: int = 2000, warmup: int = 200) -> dict:
    """Throughput (atom-steps/s) of a plain granular chute deck, in this process."""
    side = int(round((n_target / 10) ** 0.5))
    lx = ly = side
    layers = max(1, int(round(n_target / (lx * ly))))
    deck = CHUTE_DECK.format(n=lx * ly * layers, lx=lx, ly=ly, lz=layers * 3 + 10,
                             zfill=layers + 0.5, warmup=warmup, steps=steps)
    lmp = engine.open_lammps("none")
    try:
        lmp.commands_string(deck.rsplit("run", 1)[0])
        natoms = int(lmp.get_natoms())
        t0 = time.perf_counter()
        lmp.command(f"run {steps}")
        dt = time.perf_counter() - t0
    finally:
        lmp.close()
    return {"natoms": natoms, "steps": steps, "seconds": dt,
            "atom_steps_per_s": natoms * steps / dt}


def engines_speed(out: Path, spec: config.CaseSpec | None = None,
                  case: str = "press500_release25", strain: float = 0.06,
                  timeout_s: float = 3600.0) -> dict:
    """The same press timed in LAMMPS and LIGGGHTS on one core.

    ``spec`` (default: the example ``case``) is settled in LAMMPS at 1 MPa; both engines
    then hold and press that one packing by width by ``strain`` (a fraction of the settled
    width), each on one process (:func:`assb_lmp.engines.liggghts_compare.time_restart_press`).

    Returns
    -------
    dict
        Per engine (``lammps``, ``liggghts``): ``atoms``, ``steps``, ``loop_s``, ``wall_s``
        (s) and ``atom_steps_per_s``; ``ratio`` (LIGGGHTS over LAMMPS atom-steps/s),
        ``case``, ``strain``, ``width_um``, ``final_width_um`` (µm), ``settle_s`` (s).
        Without a usable LIGGGHTS: only ``skipped`` (the reason).
    """
    try:
        liggghts.check_installation()
    except EngineError as exc:
        return {"skipped": str(exc)}
    spec = spec or resolve.parse_case(_load(case), case)
    res = liggghts_compare.time_restart_press(spec, Path(out), strain=strain,
                                              timeout_s=timeout_s)
    res.update(case=spec.name, strain=strain)
    return res


def cnn_speed(out: Path, dataset: Path | None = None, n: int = 500, epochs: int = 60,
              repeats: int = 3) -> dict:
    """Training time, prediction rate and Grad-CAM time of the published network.

    Trains with the default settings (and figures) on ``dataset`` or, without one, on a
    synthetic dataset of ``n`` images split 320 / 80 / 100 for n = 500
    (:func:`assb_lmp.synthetic.make_synthetic_dataset`, seed 0); then predicts every image
    of the dataset ``repeats`` times at batch sizes 32 and 64, and times Grad-CAM.

    Returns
    -------
    dict
        ``train_s`` (training loop, s), ``train_total_s`` (with evaluation and figures),
        ``epochs``, ``split_sizes``, ``predict_images_per_s`` {batch: rate},
        ``gradcam_ms``, ``dataset``.
    """
    out = Path(out)
    if dataset is None:
        dataset = make_synthetic_dataset(out / "dataset", n, seed=0)
    t0 = time.perf_counter()
    metrics = train(dataset, out / "model", epochs=epochs)
    total = time.perf_counter() - t0
    model = load_model(out / "model")
    images = load_dataset(dataset).images
    predict(model, images[:64])  # trace once
    rates = {}
    for bs in (32, 64):
        t = time.perf_counter()
        for _ in range(repeats):
            predict(model, images, batch_size=bs)
        rates[bs] = repeats * len(images) / (time.perf_counter() - t)
    gradcam(model, images[0], "reaction_area_um2")  # trace once
    t = time.perf_counter()
    for img in images[:20]:
        gradcam(model, img, "reaction_area_um2")
    cam_ms = 1000.0 * (time.perf_counter() - t) / min(20, len(images))
    return {"dataset": str(dataset), "train_s": metrics["seconds"], "train_total_s": total,
            "epochs": metrics["epochs"], "split_sizes": metrics["split_sizes"],
            "predict_images_per_s": rates, "gradcam_ms": cam_ms,
            "mean_test_r2": float(np.nanmean([m["r2"] if m["r2"] is not None else np.nan
                                              for m in metrics["targets"].values()]))}


PARTS = ("examples", "engine", "engines", "quasistatic", "settle", "sweep", "cnn")


def run(out: Path, parts: tuple[str, ...] = PARTS,
        seeds: int = 5, qs_case: str = "press500_release25", qs_width_um: float = 50.0,
        cnn_dataset: Path | None = None, engines_case: str = "press500_release25",
        engines_strain: float = 0.06, settle_seeds: int = 10) -> dict:
    """Run the selected benchmark parts; write ``out/bench.json``; return the results."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    res: dict = {"machine": machine()}
    if "examples" in parts:
        res["examples"] = {name: run_example(name, out / "examples") for name in EXAMPLES}
    if "engine" in parts:
        res["engine_reference"] = engine_reference()
        ex = res.get("examples", {})
        if ex:
            ref = res["engine_reference"]["atom_steps_per_s"]
            res["press_vs_reference"] = {
                n: (e["press_atom_steps_per_s"] / ref if e["press_atom_steps_per_s"] else None)
                for n, e in ex.items()}
    if "engines" in parts:
        res["engines"] = engines_speed(out / "engines", case=engines_case,
                                       strain=engines_strain)
    if "quasistatic" in parts:
        res["quasistatic"] = quasistatic(out / "quasistatic", seeds=seeds, case=qs_case,
                                         width_um=qs_width_um)
    if "settle" in parts:
        res["settle"] = settle_speed(out / "settle", seeds=settle_seeds)
    if "sweep" in parts:
        res["sweep"] = bench_sweep(out=out / "sweep")
    if "cnn" in parts:
        try:
            res["cnn"] = cnn_speed(out / "cnn", dataset=cnn_dataset)
        except AssbError as exc:  # e.g. TensorFlow missing
            res["cnn"] = {"skipped": str(exc)}
    (out / "bench.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
    return res


def table(res: dict) -> str:
    """A plain-text table of the results."""
    m = res["machine"]
    load = " ".join(f"{x:g}" for x in m["load"]) if m.get("load") else "n/a"
    lines = [f"machine: {m['cpu']} ({m['cores']} cores), LAMMPS {m['lammps']}, "
             f"{m.get('liggghts') or 'no LIGGGHTS'}, {m['date']}, load average {load}"]
    for name, e in res.get("examples", {}).items():
        lines.append(f"\n{name}: {e['n_particles']} particles, dt {e['timestep_us']:.3g} us, "
                     f"total {e['total_s']:.1f} s (LAMMPS {e['lammps_s']:.1f} s, analysis "
                     f"{(e['analysis_s'] or 0):.2f} s, wall/LAMMPS {e['wall_to_lammps']:.3f})")
        for s in e["stages"]:
            p = ", ".join(f"{k} {v:.4g}" for k, v in s["pressure_mpa"].items())
            lines.append(f"  {s['name']:>8}: {s['steps']:>7} steps {s['wall_s']:6.2f} s  "
                         f"KE/elastic {s['ke_to_elastic']:.1e}  I {s['inertial_number_rate']:.1e}"
                         f"  P [MPa] {p}")
    if "engine_reference" in res:
        r = res["engine_reference"]
        lines.append(f"\nreference chute deck: {r['natoms']} atoms, "
                     f"{r['atom_steps_per_s'] / 1e6:.2f} M atom-steps/s")
        for n, ratio in res.get("press_vs_reference", {}).items():
            e = res["examples"][n]
            if ratio:
                lines.append(f"  {n} press stage: {e['press_atom_steps_per_s'] / 1e6:.2f} M "
                             f"atom-steps/s = {ratio:.2f} x reference")
    if "engines" in res:
        lines.extend(_engines_lines(res["engines"]))
    if "quasistatic" in res:
        q = res["quasistatic"]
        lines.append(f"\nquasi-static check ({q['case']}): {q['seeds']} seeds at "
                     f"{q['width_um']:g} um, rates "
                     f"{q['factor']:g}x slower -> {'PASS' if q['pass'] else 'FAIL'}"
                     f" ({len(q['failed'])} seeds failed)")
        lines.append(f"  {'label':<24}{'change of mean':>16}{'per-seed mean':>15}"
                     f"{'per-seed max':>14}")
        for n, v in q["labels"].items():
            lines.append(f"  {n:<24}{100 * v['rel_change_of_mean']:>15.2f}%"
                         f"{100 * v['per_seed_mean_abs_change']:>14.2f}%"
                         f"{100 * v['per_seed_max_abs_change']:>13.2f}%")
        lines.append(f"  time per case: fast {np.mean(q['time_fast_s']):.1f} s, "
                     f"slow {np.mean(q['time_slow_s']):.1f} s")
    if "settle" in res:
        lines.extend(protocols.format_targets(res["settle"]))
    if "sweep" in res:
        lines.append("\nsweep: " + json.dumps(res["sweep"], default=float))
    if "cnn" in res:
        c = res["cnn"]
        if "skipped" in c:
            lines.append(f"\ncnn: skipped ({c['skipped']})")
        else:
            sz = c["split_sizes"]
            rates = ", ".join(f"batch {b}: {r:.0f}" for b, r in c["predict_images_per_s"].items())
            lines.append(f"\ncnn ({c['dataset']}): training on {sz['train']} + {sz['val']} "
                         f"images {c['train_s']:.1f} s ({c['epochs']} epochs; "
                         f"{c['train_total_s']:.1f} s with evaluation and figures); "
                         f"prediction {rates} images/s; Grad-CAM {c['gradcam_ms']:.1f} ms; "
                         f"mean test R² {c['mean_test_r2']:.3f}")
    return "\n".join(lines)


def _engines_lines(e: dict) -> list[str]:
    """The table lines of the engines part."""
    if "skipped" in e:
        return [f"\nengines: skipped ({e['skipped'].splitlines()[0]})"]
    lines = [f"\nengines ({e['case']}, one core): settled by LAMMPS to {e['width_um']:.3f} um "
             f"({e['settle_s']:.1f} s), then hold + press by {100 * e['strain']:g} % to "
             f"{e['final_width_um']:.3f} um in each engine"]
    for name, label in (("lammps", "LAMMPS"), ("liggghts", "LIGGGHTS")):
        r = e[name]
        lines.append(f"  {label:<9}{r['atoms']:>6} atoms {r['steps']:>8} steps  loop "
                     f"{r['loop_s']:7.2f} s  wall {r['wall_s']:7.2f} s  "
                     f"{r['atom_steps_per_s']:.3g} atom-steps/s")
    lines.append(f"  LIGGGHTS/LAMMPS atom-steps/s: {e['ratio']:.3f}")
    return lines
