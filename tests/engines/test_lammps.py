"""The LAMMPS engine: loading, version, log parsing, and errors with the deck and log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assb_lmp.core.errors import EngineError
from assb_lmp.engines import base, lammps

TINY = """units micro
atom_style sphere
region box block 0 1 0 1 0 1
create_box 1 box
print "=== assb_lmp stage one begin"
run 10
print "=== assb_lmp stage one end"
run 5
"""


def test_engine_loads_and_reports_its_version():
    eng = lammps.LammpsEngine()
    assert eng.name == "lammps" and eng.available()
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4} \(\d{8}\)", eng.version())
    lmp = lammps.open_lammps()
    try:
        for kind, style in lammps.REQUIRED_STYLES:
            assert lmp.has_style(kind, style), (kind, style)
    finally:
        lmp.close()


def test_deck_runs_from_its_folder_and_the_log_gives_stage_steps(tmp_path: Path):
    deck = tmp_path / "deck.lmp"
    deck.write_text(TINY + 'print "=== assb_lmp done"\n')
    result = lammps.run_deck(deck)
    assert result.engine == "lammps" and result.deck == deck.resolve()
    assert result.log == tmp_path / "log.lammps" and result.log.is_file()
    assert result.stages["one"].steps == 10  # the run after the stage end is not counted
    assert result.engine_s >= result.stages["one"].loop_s >= 0.0
    assert result.nprocs == 1


def test_parse_log_sums_loops_inside_each_stage(tmp_path: Path):
    log = tmp_path / "log.lammps"
    log.write_text("\n".join([
        "=== assb_lmp stage a begin",
        "Loop time of 1.5 on 1 procs for 100 steps with 3 atoms",
        "Loop time of 0.5 on 1 procs for 20 steps with 3 atoms",
        "=== assb_lmp stage a end",
        "Loop time of 2 on 1 procs for 7 steps with 3 atoms",
        "=== assb_lmp stage b begin",
        "Loop time of 0.25 on 1 procs for 0 steps with 3 atoms",
        "=== assb_lmp stage b end",
    ]) + "\n")
    stages, total = lammps.parse_log(log)
    assert (stages["a"].steps, stages["a"].loop_s) == (120, 2.0)
    assert (stages["b"].steps, stages["b"].loop_s) == (0, 0.25)
    assert total == pytest.approx(4.25)


def test_lammps_error_names_the_deck_and_shows_the_log_tail(tmp_path: Path):
    deck = tmp_path / "deck.lmp"
    deck.write_text(TINY + "pair_style no_such_style\n")
    with pytest.raises(EngineError) as err:
        lammps.LammpsEngine().run(deck)
    assert err.value.deck == str(deck.resolve())
    assert "no_such_style" in str(err.value) and "no_such_style" in err.value.log_tail


def test_a_deck_that_stops_early_is_an_error(tmp_path: Path):
    deck = tmp_path / "deck.lmp"
    deck.write_text(TINY)  # no "=== assb_lmp done"
    with pytest.raises(EngineError, match="did not reach its end"):
        lammps.run_deck(deck)


def test_log_tail_of_a_missing_log_is_empty(tmp_path: Path):
    assert base.log_tail(tmp_path / "absent.log") == ""
    (tmp_path / "x.log").write_text("\n".join(str(i) for i in range(100)))
    assert base.log_tail(tmp_path / "x.log", lines=3) == "97\n98\n99"
