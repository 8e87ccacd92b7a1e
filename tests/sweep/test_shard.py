"""Shards of a sweep: a deterministic, disjoint, balanced partition; shards run at once
(one killed with SIGKILL and restarted) give the dataset of one local run."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from assb_lmp.core import resources
from assb_lmp.core.errors import SpecError
from assb_lmp.learn import dataset
from assb_lmp.sweep import Shard, load_sweep, parse_shard, status
from assb_lmp.sweep.claims import CLAIMS_DIR
from assb_lmp.sweep.plan import cost_estimate
from assb_lmp.sweep.shard import assign
from assb_lmp.sweep.store import TMP_DIR

from .tiny import TINY, TINY_IDS, env, load, same_dataset


def _cost(case):
    return cost_estimate(case.spec)


@pytest.mark.parametrize("text, words", [
    ("3/3", ["--shard", "i = 3", "0 <= i < N = 3", "0 ... 2"]),
    ("-1/4", ["--shard", "i = -1", "0 <= i < N = 4"]),
    ("0/0", ["--shard", "N = 0", "1 <= N"]),
    ("1", ["--shard", "'1'", "i/N"]),
    ("a/b", ["--shard", "i/N"]),
])
def test_bad_shards_name_the_field_and_the_range(text, words):
    with pytest.raises(SpecError) as err:
        parse_shard(text)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_shards_partition_the_paper_sweep_evenly():
    cases = load_sweep(resources.example("komori2022")).cases()
    parts = [Shard(i, 7).select(cases, _cost) for i in range(7)]
    ids = [c.id for p in parts for c in p]
    assert sorted(ids) == sorted(c.id for c in cases) and len(set(ids)) == len(ids)
    loads = [sum(_cost(c) for c in p) for p in parts]
    assert max(loads) / min(loads) < 1.01  # longest-first onto the least loaded
    again = load_sweep(resources.example("komori2022")).cases()
    assert assign(again, 7, _cost) == assign(cases, 7, _cost)  # the same in every task
    assert parse_shard(" 2 / 7 ") == Shard(2, 7) and str(Shard(2, 7)) == "2/7"


def _shard(spec, out, i, n):
    return subprocess.Popen(
        [sys.executable, "-m", "assb_lmp", "sweep", str(spec), "--out", str(out),
         "--shard", f"{i}/{n}", "-j", "1", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env())


def _ran(text: str) -> int:
    m = re.search(r"ran (\d+) case\(s\)", text)
    assert m, text
    return int(m.group(1))


def test_three_shards_one_killed_and_restarted_give_one_runs_dataset(tiny, tmp_path):
    spec, ref = tiny
    cases = load(TINY, tmp_path).cases()
    owner = assign(cases, 3, _cost)
    victim = max(range(3), key=owner.count)
    mine = [c.id for c, o in zip(cases, owner, strict=True) if o == victim]
    assert len(mine) == 2 and sorted(owner.count(i) for i in range(3)) == [1, 1, 2]
    out = tmp_path / "sharded"
    t0 = time.perf_counter()
    procs = {i: _shard(spec, out, i, 3) for i in range(3)}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and procs[victim].poll() is None:
            if any((out / c / "summary.json").is_file() for c in mine):
                break
            time.sleep(0.05)
        assert procs[victim].poll() is None, "the shard ended before it could be killed"
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait(10)
        before = [c for c in mine if (out / c / "summary.json").is_file()]
        assert len(before) == 1
        restarted = _shard(spec, out, victim, 3)
        texts = {i: p.communicate(timeout=120)[0] for i, p in procs.items() if i != victim}
        texts[victim] = restarted.communicate(timeout=120)[0]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    wall = time.perf_counter() - t0
    assert all("no dataset" in t for t in texts.values()), texts
    assert sum(_ran(t) for t in texts.values()) == 4 - len(before)  # no case twice
    assert _ran(texts[victim]) == 1  # the restart took over the killed shard's case
    st = status(out)
    assert sorted(st.done) == TINY_IDS and not st.failed and not st.running
    assert not any((out / TMP_DIR).iterdir()) and not any((out / CLAIMS_DIR).glob("*.json"))
    dataset.export(out)
    same_dataset(ref / "dataset", out / "dataset")
    print(f"3 shards + restart: {wall:.1f} s wall")
