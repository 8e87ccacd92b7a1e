"""Local sweeps with real LAMMPS: complete cases, resume, SIGKILL and resume, failures."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from assb_lmp import sweep
from assb_lmp.cli import sweep as cli_sweep
from assb_lmp.cli.main import main
from assb_lmp.learn import dataset
from assb_lmp.materials.resolve import load_case
from assb_lmp.sweep.local import outcome
from assb_lmp.sweep.store import CASE_INFO, CASES_FILE, TMP_DIR

from .tiny import TINY, TINY_IDS, env, load, same_dataset, tiny_with, write


def test_worker_death_is_recorded(tmp_path):
    s = load(TINY, tmp_path)
    sweep.prepare(s, tmp_path / "run").release()
    case = s.cases()[0]
    leftover = tmp_path / "run" / TMP_DIR / f"{case.id}.999"
    leftover.mkdir()
    res = outcome(tmp_path / "run", case, 999, -signal.SIGSEGV, 1.0)
    assert res.status == "failed" and "SIGSEGV" in res.reason
    st = sweep.status(tmp_path / "run")
    assert st.failed[case.id]["error"] == "WorkerDied"
    assert (tmp_path / "run" / "failed" / case.id).is_dir()
    assert len(st.pending) == 3


def test_local_sweep_writes_complete_cases(tiny):
    spec, out = tiny
    st = sweep.status(out)
    assert (st.total, len(st.done), st.failed, st.pending) == (4, 4, {}, [])
    for cid in st.done:
        for f in ("summary.json", "labels.json", "image.png", "spec.yaml", CASE_INFO):
            assert (out / cid / f).is_file(), (cid, f)
        assert load_case(out / cid / "spec.yaml").name == cid
    assert not any((out / TMP_DIR).iterdir())
    info = json.loads((out / CASES_FILE).read_text())
    assert [c["id"] for c in info["cases"]] == TINY_IDS
    with np.load(out / "dataset" / "arrays.npz") as a:
        assert a["images"].shape == (4, 224, 224) and np.isfinite(a["labels"][:, 2]).all()


def test_resume_of_a_finished_sweep_runs_nothing(tiny, capsys):
    spec, out = tiny
    mtime = (out / "f0p3_s00" / "summary.json").stat().st_mtime_ns
    t0 = time.perf_counter()
    assert main(["sweep", str(spec), "--out", str(out), "--no-progress", "--no-dataset"]) == 0
    assert time.perf_counter() - t0 < 20
    assert "4 done" in capsys.readouterr().out
    assert (out / "f0p3_s00" / "summary.json").stat().st_mtime_ns == mtime
    assert main(["status", str(out)]) == 0
    assert "4 cases: 4 done, 0 failed, 0 pending" in capsys.readouterr().out


def _environ_has(pid: str, mark: bytes) -> bool:
    try:
        return mark in (Path("/proc") / pid / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


def workers_of(mark: str) -> list[int]:
    """Live worker processes of a sweep started with ``ASSB_TEST_SWEEP=mark``.

    Workers are the marked processes whose parent (the fork server) is marked too; the
    fork server itself may outlive the killed sweep for a moment and is not counted.
    """
    tag = f"ASSB_TEST_SWEEP={mark}".encode()
    marked = {p.name for p in Path("/proc").iterdir()
              if p.name.isdigit() and _environ_has(p.name, tag)}
    out = []
    for pid in marked:
        try:
            stat = (Path("/proc") / pid / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and fields[1] in marked:
            out.append(int(pid))
    return out


def test_sigkill_mid_sweep_then_resume_loses_nothing(tiny, tmp_path):
    spec, ref = tiny
    out = tmp_path / "killed"
    mark = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "assb_lmp", "sweep", str(spec), "--out", str(out), "-j", "2",
         "--no-progress", "--no-dataset"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**env(), "ASSB_TEST_SWEEP": mark})
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
    while workers_of(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not workers_of(mark), "workers outlived the killed sweep by more than 10 s"
    st = sweep.status(out)
    assert 1 <= len(st.done) < 4 and not st.failed and not st.running
    finished = {c: (out / c / "summary.json").stat().st_mtime_ns for c in st.done}
    st = sweep.run(spec, out, jobs=2, progress=False)
    assert len(st.done) == 4 and st.ran == 4 - len(finished)
    for c, mtime in finished.items():
        assert (out / c / "summary.json").stat().st_mtime_ns == mtime
    assert not any((out / TMP_DIR).iterdir())
    dataset.export(out)
    same_dataset(ref / "dataset", out / "dataset")


def test_a_failing_case_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    data = tiny_with(axes={"control.max_steps_per_stage": {"label": "m",
                                                           "values": [100, 1000000]}},
                     structures=1)
    data["base"]["packing"]["am_area_fraction"] = 0.3
    spec = write(tmp_path / "fail.yaml", data)
    out = tmp_path / "fail"
    ns = argparse.Namespace(spec=str(spec), out=out, jobs=2, ranks_per_case=1, slurm=False,
                            train=False)
    assert cli_sweep.cmd_sweep(ns) == 0  # the demo's namespace: failures listed, not fatal
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
    st = sweep.run(spec, out, jobs=1, progress=False)
    assert st.ran == 0 and list(st.failed) == ["m100_s00"]
    st = sweep.run(spec, out, jobs=1, progress=False, retry_failed=True)
    assert st.ran == 1 and list(st.failed) == ["m100_s00"]
    shutil.rmtree(out)
