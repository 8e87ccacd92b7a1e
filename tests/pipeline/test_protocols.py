"""Protocol comparison: means and scatters over the seeds that every protocol finished."""

from __future__ import annotations

from pathlib import Path

import pytest

from assb_lmp.materials.resolve import load_case, parse_case
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


def test_every_named_comparison_gives_valid_case_specs():
    base = load_case(Path(__file__).parents[2] / "runs" / "komori2022_case.yaml")
    data = base.model_dump(mode="json")
    for name, variants in protocols.COMPARISONS.items():
        specs = [parse_case(protocols._merge(data, over), name) for over in variants.values()]
        assert len({s.model_dump_json() for s in specs}) == len(specs), name
    held = [parse_case(protocols._merge(data, o)).control.final_hold
            for o in protocols.COMPARISONS["final_hold"].values()]
    assert held == ["damped", "undamped"]


@pytest.mark.slow
def test_cases_run_side_by_side_give_the_labels_of_one_at_a_time(tmp_path):
    """``jobs=2`` runs each case in its own process; the labels must be those of a serial
    run (the engine is deterministic for one seed)."""
    spec = load_case(Path(__file__).parents[1] / "specs" / "tiny_width.yaml")
    fast = {"packing": {"collapse": "geometric"}}
    pooled = protocols.run_variant(spec, fast, [5, 6], tmp_path / "pooled", jobs=2)
    serial = protocols.run_variant(spec, fast, [6], tmp_path / "serial", jobs=1)
    assert [r["seed"] for r in pooled["cases"]] == [5, 6]
    assert all("labels" in r for r in pooled["cases"]), pooled
    assert pooled["cases"][1]["labels"] == serial["cases"][0]["labels"]
    assert pooled["cases"][0]["labels"] != pooled["cases"][1]["labels"]


def _timed(values, steps, times):
    return {"cases": [{"seed": s, "labels": {"reaction_area_um2": v, "porosity": 0.1},
                       "steps": {"settle": n}, "total_s": t}
                      for (s, v), n, t in zip(values.items(), steps, times, strict=True)]}


def test_settle_targets_pass_and_fail_on_their_own_numbers():
    ref = _timed({1: 40.0, 2: 42.0, 3: 44.0}, [50_000, 60_000, 40_000], [30.0, 34.0, 32.0])
    fast = _timed({1: 40.2, 2: 42.1, 3: 44.3}, [6_000, 9_000, 90_000], [8.0, 9.0, 30.0])
    res = protocols.settle_targets(protocols.summarise({"as_given": ref,
                                                        "collapsed_every5": fast}))
    assert res["settle_steps"] == 9_000 and res["max_settle_steps"] == 90_000
    assert res["time_ratio"] == pytest.approx(9.0 / 32.0)
    assert res["labels"]["reaction_area_um2"]["relative"] == pytest.approx(0.6 / 126.0)
    assert res["pass"] == {"settle_steps": True, "time_ratio": True, "labels": True}
    lower = _timed({1: 37.0, 2: 39.0, 3: 41.0}, [6_000, 12_000, 11_000], [8.0, 20.0, 30.0])
    res = protocols.settle_targets(protocols.summarise({"as_given": ref,
                                                        "collapsed_every5": lower}))
    assert res["pass"] == {"settle_steps": False, "time_ratio": False, "labels": False}
    text = "\n".join(protocols.format_targets(res))
    assert "FAIL" in text and "reaction_area_um2" in text and "-7.14 %" in text
