"""Protocol comparison: means and scatters over the seeds that every protocol finished."""

from __future__ import annotations

import pytest

from assb_lmp.pipeline import protocols


def _rows(values, failed=()):
    return {"cases": [
        {"seed": s, "failed": "lost atoms"} if s in failed else
        {"seed": s, "labels": {"porosity": v}, "steps": {"settle": 100 * s}, "total_s": 1.0}
        for s, v in values.items()]}


def test_summary_pairs_the_seeds_both_protocols_finished():
    a = _rows({1: 1.0, 2: 2.0, 3: 3.0, 4: 9.0}, failed=(4,))
    b = _rows({1: 1.1, 2: 2.2, 3: 3.3, 4: 9.0})
    out = protocols.summarise({"a": a, "b": b})
    assert out["seeds"] == [1, 2, 3]
    assert out["failed"] == {"a": {4: "lost atoms"}, "b": {}}
    assert out["variants"]["a"]["labels"]["porosity"]["mean"] == pytest.approx(2.0)
    assert out["variants"]["a"]["labels"]["porosity"]["sd"] == pytest.approx(1.0)
    ch = out["relative_change"]["b"]["porosity"]
    assert ch["relative"] == pytest.approx(0.1)
    # paired differences 0.1, 0.2, 0.3: SD 0.1 over the reference mean 2.0
    assert ch["paired_sd_relative"] == pytest.approx(0.05)
