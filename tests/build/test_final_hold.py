"""The undamped final hold (``control.final_hold: undamped``) with real LAMMPS: the last
stage holds again without the background viscous damping, and the end state it reaches is
the damped one (the drag vanishes at rest, so it must not bias the static state)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from assb_lmp.build import deck
from assb_lmp.materials.resolve import load_case, parse_case
from assb_lmp.pipeline import runner

SPECS = Path(__file__).resolve().parents[1] / "specs"


def _spec(final_hold: str, times: float = 20.0):
    data = load_case(SPECS / "tiny_pressure.yaml").model_dump(mode="json")
    data["control"] |= {"final_hold": final_hold, "undamped_hold_damping_times": times}
    return parse_case(data)


def test_only_the_last_stage_gets_an_undamped_hold_of_the_asked_length():
    built = deck.build(_spec("undamped", 20.0))
    text = built.text
    assert text.count("final hold without the background damping") == 1
    last = text.rindex('stage "release"')
    assert text.index("final hold without the background damping") > last
    ctx = built.context
    st = ctx.stages[-1]
    assert st.undamped_hold_steps == math.ceil(20.0 * st.damping_time_us / ctx.dt)
    assert all(s.undamped_hold_steps == 0 for s in ctx.stages[:-1])
    # after the hold's relax fix is removed, a plain run of that length follows
    tail = text[text.rindex("unfix           relax"):]
    assert re.search(rf"^run\s+{st.undamped_hold_steps}$", tail, re.M)
    assert "final hold" not in deck.build(_spec("damped")).text


def test_the_undamped_end_state_is_the_damped_one(tmp_path):
    ends = {}
    for hold in ("damped", "undamped"):
        summary = runner.run_case(_spec(hold), tmp_path / hold, analyze=False)
        ends[hold] = {s["name"]: s for s in summary["stages"]}["release"]
        assert ends[hold]["converged"], hold
    d, u = ends["damped"], ends["undamped"]
    assert u["steps"] > d["steps"] + _spec("undamped").control.min_hold_steps
    assert u["cell_um"][0] == pytest.approx(d["cell_um"][0], rel=2e-3)
    assert u["pressure_mpa"]["xhi"] == pytest.approx(10.0, rel=0.02)
