"""The engines part of the benchmarks (assb_lmp.bench.engines_speed): the same press timed
in LAMMPS and LIGGGHTS, on the tiny case; and its report without LIGGGHTS."""

from __future__ import annotations

from pathlib import Path

import pytest

from assb_lmp import bench
from assb_lmp.engines import liggghts
from assb_lmp.materials.resolve import load_case

SPECS = Path(__file__).resolve().parents[1] / "specs"


def test_engines_part_is_skipped_without_liggghts(tmp_path, monkeypatch):
    monkeypatch.setenv(liggghts.BINARY_ENV, "no-such-liggghts-binary")
    res = bench.engines_speed(tmp_path, spec=load_case(SPECS / "tiny_pressure.yaml"))
    assert set(res) == {"skipped"} and "cannot find the LIGGGHTS binary" in res["skipped"]
    assert not any(tmp_path.iterdir())  # nothing was run
    text = bench.table({"machine": bench.machine(), "engines": res})
    assert "engines: skipped (cannot find the LIGGGHTS binary" in text


@pytest.mark.skipif(liggghts.binary() is None, reason="needs the liggghts binary")
def test_engines_part_times_the_same_press(tmp_path):
    spec = load_case(SPECS / "tiny_pressure.yaml")
    res = bench.engines_speed(tmp_path, spec=spec, strain=0.02, timeout_s=600)
    assert res["case"] == "tiny_pressure" and res["strain"] == 0.02
    assert res["final_width_um"] == pytest.approx(0.98 * res["width_um"])
    for engine in ("lammps", "liggghts"):
        r = res[engine]
        assert r["atoms"] == 82 and r["steps"] > 0 and r["loop_s"] > 0
        assert r["atom_steps_per_s"] == pytest.approx(r["atoms"] * r["steps"] / r["loop_s"])
        press = (tmp_path / engine / "dumps" / "press.cell.json")
        assert press.is_file()
    assert res["ratio"] == pytest.approx(
        res["liggghts"]["atom_steps_per_s"] / res["lammps"]["atom_steps_per_s"])
    text = bench.table({"machine": bench.machine(), "engines": res})
    assert "LIGGGHTS/LAMMPS atom-steps/s" in text and "tiny_pressure" in text
