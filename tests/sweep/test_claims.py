"""Per-case claims: one holder at a time, stale claims taken over, others' claims honoured."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from assb_lmp.sweep import claims
from assb_lmp.sweep.claims import ClaimSet, claim_path, live_claims, release, try_claim


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _fake_claim(folder, case_id, host, pid, age_s=0.0, text=None):
    path = claim_path(folder, case_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else json.dumps(
        {"case_id": case_id, "host": host, "pid": pid, "start": "", "token": "t0"}))
    when = time.time() - age_s
    os.utime(path, (when, when))
    return path


def test_one_holder_at_a_time(tmp_path):
    a = try_claim(tmp_path, "c1")
    assert a is not None and a.is_mine()
    assert try_claim(tmp_path, "c1") is None  # this (live) process holds it
    assert set(live_claims(tmp_path)) == {"c1"}
    release(a)
    assert not claim_path(tmp_path, "c1").exists() and live_claims(tmp_path) == {}
    b = try_claim(tmp_path, "c1")
    assert b is not None and b.token != a.token


def test_a_dead_holder_on_this_host_is_taken_over_at_once(tmp_path):
    _fake_claim(tmp_path, "c1", socket.gethostname(), _dead_pid())
    assert live_claims(tmp_path) == {}
    c = try_claim(tmp_path, "c1")
    assert c is not None and json.loads(c.path.read_text())["pid"] == os.getpid()


def test_another_hosts_claim_is_honoured_until_the_timeout(tmp_path):
    _fake_claim(tmp_path, "c1", "elsewhere.example", 1, age_s=100)
    assert try_claim(tmp_path, "c1", timeout_s=600) is None
    assert set(live_claims(tmp_path, 600)) == {"c1"}
    c = try_claim(tmp_path, "c1", timeout_s=60)  # no heartbeat for 100 s > 60 s
    assert c is not None and c.is_mine()


def test_a_claim_being_written_counts_while_fresh(tmp_path):
    _fake_claim(tmp_path, "c1", "", 0, text="")
    assert try_claim(tmp_path, "c1") is None
    _fake_claim(tmp_path, "c2", "", 0, age_s=3600, text="{trunc")
    assert try_claim(tmp_path, "c2") is not None


def test_release_keeps_a_claim_that_was_taken_over(tmp_path):
    mine = try_claim(tmp_path, "c1")
    _fake_claim(tmp_path, "c1", "elsewhere.example", 1)  # someone else's now
    assert not mine.is_mine()
    release(mine)
    assert claim_path(tmp_path, "c1").exists()


def test_held_claims_get_a_heartbeat(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "HEARTBEAT_S", 0.05)
    held = ClaimSet(tmp_path)
    c = held.claim("c1")
    old = time.time() - 1000
    os.utime(c.path, (old, old))
    deadline = time.monotonic() + 5
    while time.time() - c.path.stat().st_mtime > 100 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert time.time() - c.path.stat().st_mtime < 100
    held.release_all()
    assert not c.path.exists()
