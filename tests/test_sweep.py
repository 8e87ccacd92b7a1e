"""Sweeps: spec validation and expansion, local and MPI runs, kill-and-resume, failures.

The LAMMPS tests run a tiny sweep (four 12 × 10 µm cells with 3 µm AM pressed from 12 to
10 µm, about 3 s each) locally, under ``mpirun -np 2``, and killed with SIGKILL and
resumed; every run must give the same dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from assb_lmp.core.errors import SpecError
from assb_lmp.learn import dataset
from assb_lmp.materials import resolve
from assb_lmp.spec import case as config
from assb_lmp.sweep import sweep as sw

REPO_DIR = Path(__file__).resolve().parents[1]

TINY = {
    "name": "tiny",
    "seed": 7,
    "base": {
        "geometry": {"width_um": 12, "height_um": 10},
        "packing": {"am_area_fraction": 0.4, "am_diameter_mean_um": 3.0,
                    "am_diameter_sd_um": 0.0},
        "stages": [{"kind": "settle", "pressure_mpa": 1.0},
                   {"kind": "press", "mode": "width", "final_width_um": 10.0}],
    },
    "axes": {"packing.am_area_fraction": {"label": "f", "values": [0.3, 0.4]}},
    "structures": 2,
}
MPIRUN = Path(sys.executable).parent / "mpirun"


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _sweep(data: dict, tmp_path: Path, name: str = "sweep.yaml") -> sw.Sweep:
    return sw.load_sweep(_write(tmp_path / name, data))


def _with(**changes) -> dict:
    data = json.loads(json.dumps(TINY))
    data.update(changes)
    return data


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _same_dataset(a: Path, b: Path) -> None:
    assert (a / "manifest.csv").read_text() == (b / "manifest.csv").read_text()
    with np.load(a / "arrays.npz") as x, np.load(b / "arrays.npz") as y:
        assert sorted(x.files) == sorted(y.files)
        for k in x.files:
            assert np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f"), k


# ----------------------------------------------------------------------------- specs


def test_komori_sweep_is_the_paper_grid():
    s = sw.load_sweep(REPO_DIR / "runs" / "komori2022.yaml")
    cases = s.cases()
    assert len(cases) == 500
    assert cases[0].id == "f0p53_w46_s00" and cases[-1].id == "f0p73_w55_s09"
    assert all(re.match(config.SAFE_NAME, c.id) for c in cases)
    assert len({c.id for c in cases}) == 500 and len({c.seed for c in cases}) == 500
    assert sorted({c.params["geometry.width_um"] for c in cases}) == list(range(46, 56))
    assert sorted({c.params["packing.am_area_fraction"] for c in cases}) == [
        0.53, 0.58, 0.63, 0.68, 0.73]
    c = cases[123]
    assert c.spec.name == c.id and c.spec.seed == c.seed
    assert c.spec.geometry.height_um == 40 and c.spec.reference_width_um == 40
    assert c.spec.materials.am == "LCO" and c.spec.materials.se == "LGPS"
    assert c.spec.geometry.width_um == c.params["geometry.width_um"]
    split = dataset.assign_split([c.seed for c in cases], s.spec.split.fractions)
    assert [split.count(k) for k in ("train", "val", "test")] == [320, 80, 100]
    assert sw.load_sweep(REPO_DIR / "runs" / "komori2022.yaml").cases() == cases


def test_quick_sweep_is_about_40_small_cases():
    cases = sw.load_sweep(REPO_DIR / "runs" / "quick.yaml").cases()
    assert 30 <= len(cases) <= 50
    assert all(c.spec.geometry.height_um <= 20 for c in cases)


def test_seeds_are_stable_when_an_axis_grows(tmp_path):
    a = {c.id: c.seed for c in _sweep(TINY, tmp_path).cases()}
    more = _with(axes={"packing.am_area_fraction": {"label": "f", "values": [0.3, 0.35, 0.4]}})
    b = {c.id: c.seed for c in _sweep(more, tmp_path).cases()}
    assert len(b) == 6 and all(b[k] == v for k, v in a.items())
    shared = {c.id: c.seed for c in _sweep(_with(seed_per="structure"), tmp_path).cases()}
    assert shared["f0p3_s01"] == shared["f0p4_s01"] != shared["f0p4_s00"]


def test_range_random_zip_and_list_index(tmp_path):
    data = _with(axes={
        "packing.am_area_fraction": {"label": "f", "range": {"start": 0.3, "stop": 0.4,
                                                             "step": 0.05}},
        "stages.1.final_width_um": {"label": "fw", "values": [10.0, 10.5, 11.0],
                                    "zip": "packing.am_area_fraction"},
        "control.inertial_number": {"label": "i", "random": {"low": 5e-4, "high": 2e-3,
                                                             "count": 2, "decimals": 6}},
    }, structures=1)
    cases = _sweep(data, tmp_path).cases()
    assert len(cases) == 6
    assert [c.params["packing.am_area_fraction"] for c in cases[::2]] == [0.3, 0.35, 0.4]
    widths = {(c.params["packing.am_area_fraction"], c.spec.stages[1].final_width_um)
              for c in cases}
    assert widths == {(0.3, 10.0), (0.35, 10.5), (0.4, 11.0)}
    draws = sorted({c.params["control.inertial_number"] for c in cases})
    assert len(draws) == 2 and all(5e-4 <= d <= 2e-3 for d in draws)
    assert draws == sorted({c.params["control.inertial_number"]
                            for c in _sweep(data, tmp_path).cases()})
    assert cases[0].id.startswith("f0p3_fw10_i")
    ranged = sw.RangeSpec(start=46, stop=55, step=1).values()
    assert ranged == list(range(46, 56)) and isinstance(ranged[0], int)


@pytest.mark.parametrize("change, words", [
    ({"colour": "red"}, ["sweep.yaml", "colour", "unknown key"]),
    ({"structures": 0}, ["sweep.yaml", "structures", "0", "greater than or equal to 1"]),
    ({"axes": {"packing.am_area_fractoin": [0.3]}},
     ["sweep.yaml", "case aaf0p3_s00", "am_area_fractoin", "unknown key"]),
    ({"axes": {"packing.am_area_fraction": {"label": "f", "values": [0.3, 0.95]}}},
     ["sweep.yaml", "f0p95_s00", "packing.am_area_fraction", "0.95", "less than or equal to 0.8"]),
    ({"axes": {"packing.am_area_fraction": {"values": [0.3], "range": {"start": 0.1,
                                                                       "stop": 0.2, "num": 2}}}},
     ["sweep.yaml", "exactly one of values, range or random"]),
    ({"axes": {"seed": [1, 2]}}, ["name and seed are set by the sweep"]),
    ({"axes": {"packing.am_area_fraction": {"label": "f", "values": [0.3000001, 0.3000002]}}},
     ["look alike in case ids", "format"]),
    ({"axes": {"geometry.width_um": {"values": [12], "zip": "packing.am_area_fraction"}}},
     ["zip", "not an earlier axis"]),
    ({"axes": {"packing.am_area_fraction": [0.3, 0.4],
               "geometry.width_um": {"values": [12], "zip": "packing.am_area_fraction"}}},
     ["1 values", "has 2", "exactly 2"]),
    ({"axes": {"stages.5.final_width_um": [10]}}, ["stages.5", "allowed range [0, 1]"]),
    ({"split": {"train": 0.5, "val": 0.1, "test": 0.1}}, ["split", "must be 1"]),
    ({"base": "nowhere.yaml"}, ["base = 'nowhere.yaml'", "cannot read"]),
])
def test_spec_errors_name_file_key_value_and_range(tmp_path, change, words):
    with pytest.raises(SpecError) as err:
        _sweep(_with(**change), tmp_path)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_base_from_file_and_resolved_copy(tmp_path):
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(TINY["base"]))
    s = _sweep(_with(base="case.yaml"), tmp_path)
    again = sw.parse_sweep(s.resolved(), "copy")
    assert [c.spec for c in again.cases()] == [c.spec for c in s.cases()]


def test_errors_in_a_base_file_name_it(tmp_path):
    base = dict(TINY["base"], geometry={"width_um": 12, "height_um": 10, "colour": "red"})
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(base))
    with pytest.raises(SpecError) as err:
        _sweep(_with(base="case.yaml"), tmp_path)
    text = str(err.value)
    assert "sweep.yaml: case f0p3_s00 (base " in text and "case.yaml" in text
    assert "geometry.colour" in text and "unknown key" in text


def test_slurm_script(tmp_path):
    text = sw.slurm_script(REPO_DIR / "runs" / "komori2022.yaml", tmp_path / "k", nodes=2,
                           tasks_per_node=64, ranks_per_case=1, hours=6, partition="cpu")
    assert "#SBATCH --nodes=2" in text and "#SBATCH --ntasks-per-node=64" in text
    assert "#SBATCH --time=6:00:00" in text and "#SBATCH --partition=cpu" in text
    assert "mpirun\" -np \"$SLURM_NTASKS\"" in text and "--ranks-per-case 1" in text
    with pytest.raises(SpecError, match="must divide"):
        sw.slurm_script("x.yaml", tmp_path, nodes=1, tasks_per_node=3, ranks_per_case=2)
    with pytest.raises(SpecError, match="partition"):
        sw.slurm_script("x.yaml", tmp_path, partition="a; rm -rf /")


def test_lock_and_changed_specs_are_refused(tmp_path):
    s = _sweep(TINY, tmp_path)
    plan = sw.prepare(s, tmp_path / "run")
    try:
        with pytest.raises(SpecError, match="another sweep is running"):
            sw.prepare(s, tmp_path / "run")
        assert sw.status(tmp_path / "run").running
    finally:
        plan.release()
    assert not sw.status(tmp_path / "run").running


def test_worker_death_is_recorded(tmp_path):
    s = _sweep(TINY, tmp_path)
    plan = sw.prepare(s, tmp_path / "run")
    plan.release()
    case = s.cases()[0]
    leftover = tmp_path / "run" / sw.TMP_DIR / f"{case.id}.999"
    leftover.mkdir()
    res = sw._outcome(tmp_path / "run", case, 999, -signal.SIGSEGV, 1.0)
    assert res.status == "failed" and "SIGSEGV" in res.reason
    st = sw.status(tmp_path / "run")
    assert st.failed[case.id]["error"] == "WorkerDied"
    assert (tmp_path / "run" / "failed" / case.id).is_dir()
    assert len(st.pending) == 3


# ----------------------------------------------------------------------------- LAMMPS


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny sweep run once locally with 2 workers: (spec path, sweep folder)."""
    base = tmp_path_factory.mktemp("tiny")
    spec = _write(base / "tiny.yaml", TINY)
    out = base / "ref"
    st = sw.run(spec, out, jobs=2, progress=False)
    assert st is not None and len(st.done) == 4, st.report()
    dataset.export(out)
    return spec, out


def test_local_sweep_writes_complete_cases(tiny):
    spec, out = tiny
    st = sw.status(out)
    assert (st.total, len(st.done), st.failed, st.pending) == (4, 4, {}, [])
    for cid in st.done:
        for f in ("summary.json", "labels.json", "image.png", "spec.yaml", sw.CASE_INFO):
            assert (out / cid / f).is_file(), (cid, f)
        assert resolve.load_case(out / cid / "spec.yaml").name == cid
    assert not any((out / sw.TMP_DIR).iterdir())
    info = json.loads((out / sw.CASES_FILE).read_text())
    assert [c["id"] for c in info["cases"]] == ["f0p3_s00", "f0p3_s01", "f0p4_s00", "f0p4_s01"]
    with np.load(out / "dataset" / "arrays.npz") as a:
        assert a["images"].shape == (4, 224, 224) and np.isfinite(a["labels"][:, 2]).all()


def test_resume_of_a_finished_sweep_runs_nothing(tiny, capsys):
    spec, out = tiny
    from assb_lmp.cli.main import main

    mtime = (out / "f0p3_s00" / "summary.json").stat().st_mtime_ns
    t0 = time.perf_counter()
    assert main(["sweep", str(spec), "--out", str(out), "--no-progress", "--no-dataset"]) == 0
    assert time.perf_counter() - t0 < 20
    assert "4 done" in capsys.readouterr().out
    assert (out / "f0p3_s00" / "summary.json").stat().st_mtime_ns == mtime
    assert main(["status", str(out)]) == 0
    assert "4 cases: 4 done, 0 failed, 0 pending" in capsys.readouterr().out


def test_changed_base_is_refused_in_a_finished_folder(tiny, tmp_path):
    _, out = tiny
    changed = _with(base={**TINY["base"], "control": {"inertial_number": 5e-4}})
    with pytest.raises(SpecError, match="other specs"):
        sw.prepare(_sweep(changed, tmp_path), out)


@pytest.mark.skipif(not MPIRUN.exists(), reason="no mpirun beside the interpreter")
def test_mpi_two_ranks_give_the_same_dataset(tiny, tmp_path):
    spec, ref = tiny
    out = tmp_path / "mpi"
    proc = subprocess.run(
        [str(MPIRUN), "-np", "2", sys.executable, "-m", "assb_lmp", "sweep", str(spec),
         "--out", str(out), "--ranks-per-case", "1", "--no-progress"],
        capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 done" in proc.stdout
    _same_dataset(ref / "dataset", out / "dataset")
    workers = {json.loads((out / c / sw.CASE_INFO).read_text())["worker"]
               for c in ("f0p3_s00", "f0p3_s01", "f0p4_s00", "f0p4_s01")}
    assert len(workers) == 2  # both ranks computed


def _cwd_under(folder: Path) -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if str(folder) in os.readlink(p / "cwd"):
                    pids.append(int(p.name))
            except OSError:
                continue
    return pids


def test_sigkill_mid_sweep_then_resume_loses_nothing(tiny, tmp_path):
    spec, ref = tiny
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "assb_lmp", "sweep", str(spec), "--out", str(out), "-j", "2",
         "--no-progress", "--no-dataset"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if list(out.glob("*/summary.json")):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10
    while _cwd_under(out) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _cwd_under(out), "workers outlived the killed sweep"
    st = sw.status(out)
    assert 1 <= len(st.done) < 4 and not st.failed and not st.running
    finished = {c: (out / c / "summary.json").stat().st_mtime_ns for c in st.done}
    st = sw.run(spec, out, jobs=2, progress=False)
    assert len(st.done) == 4 and st.ran == 4 - len(finished)
    for c, mtime in finished.items():
        assert (out / c / "summary.json").stat().st_mtime_ns == mtime
    assert not any((out / sw.TMP_DIR).iterdir())
    dataset.export(out)
    _same_dataset(ref / "dataset", out / "dataset")


def test_a_failing_case_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    from assb_lmp.cli import sweep as cli_sweep
    from assb_lmp.cli.main import main

    data = _with(axes={"control.max_steps_per_stage": {"label": "m", "values": [100, 1000000]}},
                 structures=1)
    data["base"]["packing"]["am_area_fraction"] = 0.3
    spec = _write(tmp_path / "fail.yaml", data)
    out = tmp_path / "fail"
    ns = argparse.Namespace(spec=str(spec), out=out, jobs=2, ranks_per_case=1, slurm=False,
                            train=False)
    assert cli_sweep.run_sweep(ns) == 0  # the demo's namespace: failures listed, not fatal
    text = capsys.readouterr().out
    assert "1 done, 1 failed" in text and "m100_s00: EngineError" in text
    rec = json.loads((out / "failed" / "m100_s00.json").read_text())
    assert rec["error"] == "EngineError" and "did not reach their target" in rec["reason"]
    assert (out / "failed" / "m100_s00" / "log.lammps").is_file()
    assert (out / "m1000000_s00" / "summary.json").is_file()
    with np.load(out / "dataset" / "arrays.npz") as a:
        assert list(a["case_ids"]) == ["m1000000_s00"]
    assert main(["status", str(out)]) == 0
    assert "m100_s00: EngineError: stage(s)" in capsys.readouterr().out
    assert main(["sweep", str(spec), "--out", str(out), "--strict", "--no-progress"]) == \
        cli_sweep.EXIT_FAILED_CASES
    # resumed: the failure is skipped; --retry-failed runs it again (and it fails again)
    st = sw.run(spec, out, jobs=1, progress=False)
    assert st.ran == 0 and list(st.failed) == ["m100_s00"]
    st = sw.run(spec, out, jobs=1, progress=False, retry_failed=True)
    assert st.ran == 1 and list(st.failed) == ["m100_s00"]
    shutil.rmtree(out)


def test_replicate_sweep_reruns_the_paper_structures():
    main = {c.id: c for c in sw.load_sweep(REPO_DIR / "runs" / "komori2022.yaml").cases()}
    rep = sw.load_sweep(REPO_DIR / "runs" / "komori2022_replicate.yaml").cases()
    assert len(rep) == 50
    for c in rep:
        m = main[c.id]
        assert c.seed == m.seed
        assert c.spec.control.timestep_safety == pytest.approx(
            0.97 * m.spec.control.timestep_safety)
        assert c.spec.model_dump(exclude={"control"}) == m.spec.model_dump(exclude={"control"})
