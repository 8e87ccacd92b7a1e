"""The LIGGGHTS engine boundary: version, subprocess runs, errors, and the output contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assb_lmp.analysis import dumps
from assb_lmp.core.errors import EngineError, SpecError
from assb_lmp.engines import liggghts, liggghts_deck, liggghts_outputs
from assb_lmp.materials.resolve import load_case, parse_case
from assb_lmp.sweep import load_sweep

SPECS = Path(__file__).resolve().parents[1] / "specs"
REPO = Path(__file__).resolve().parents[2]
needs_binary = pytest.mark.skipif(liggghts.binary() is None, reason="needs the liggghts binary")


@needs_binary
def test_version():
    assert liggghts.liggghts_version() == "LIGGGHTS-PUBLIC 3.8.0"


def test_version_without_binary(monkeypatch):
    monkeypatch.setenv(liggghts.BINARY_ENV, "no-such-liggghts-binary")
    assert liggghts.liggghts_version() is None
    with pytest.raises(EngineError, match="cannot find the LIGGGHTS binary"):
        liggghts.check_installation()


def test_command_line():
    cmd = liggghts.command(Path("/x/deck.lmp"), nprocs=1, exe="liggghts")
    assert cmd == ["liggghts", "-in", "deck.lmp", "-log", "log.liggghts", "-nocite"]
    cmd = liggghts.command(Path("/x/deck.lmp"), nprocs=2, exe="liggghts")
    assert cmd[cmd.index("-np") + 1] == "2" and cmd[-6:] == [
        "liggghts", "-in", "deck.lmp", "-log", "log.liggghts", "-nocite"]


@needs_binary
def test_error_names_the_deck_and_quotes_the_log(tmp_path):
    deck = tmp_path / "deck.lmp"
    deck.write_text("units micro\nthis_is_not_a_command 1 2\n")
    with pytest.raises(EngineError) as err:
        liggghts.run_deck(deck, timeout_s=30)
    text = str(err.value)
    assert "LIGGGHTS failed: ERROR: Unknown command" in text
    assert str(deck) in text and "this_is_not_a_command" in text


@needs_binary
def test_deck_that_stops_early_is_an_error(tmp_path):
    deck = tmp_path / "deck.lmp"
    deck.write_text("units micro\nprint hello\n")
    with pytest.raises(EngineError, match="did not reach its end"):
        liggghts.run_deck(deck, timeout_s=30)


def test_thornton_ning_refuses_more_than_one_process(tmp_path):
    deck = tmp_path / "deck.lmp"
    deck.write_text("pair_style      gran model thornton_ning tangential history\n")
    with pytest.raises(SpecError, match="one process"):
        liggghts.run_deck(deck, nprocs=2)


def test_pairs_become_contract_contacts():
    """x1 - x2 minimum image, fn = F_n . d/|d| > 0 when repulsive, duplicates dropped."""
    box = np.array([[0.0, 10.0], [0.0, 10.0], [-0.5, 0.5]])
    # pair 1-2 across the periodic x boundary (x1 = 0.4, x2 = 9.6: d = +0.8), listed twice
    f = 100.0
    rows = np.array([
        [0.4, 5, 0, 9.6, 5, 0, 1, 2, 1, f, 0, 0, 0, 3.0, 0, 0.2],
        [9.6, 5, 0, 0.4, 5, 0, 2, 1, 1, -f, 0, 0, 0, -3.0, 0, 0.2],
        [2.0, 2, 0, 2.0, 2.9, 0, 3, 4, 0, 0, -50.0, 0, 1.0, 0, 0, 0.1],
    ])
    c = liggghts_outputs.contacts_from_pairs(rows, box, [True, True, False])
    assert c["id1"].tolist() == [1, 3] and c["id2"].tolist() == [2, 4]
    assert c["dx"][0] == pytest.approx(0.8) and c["dist"][0] == pytest.approx(0.8)
    assert c["fn"].tolist() == pytest.approx([f, 50.0])
    assert c["fty"][0] == 3.0 and c["ftx"][1] == 1.0
    assert c["dy"][1] == pytest.approx(-0.9)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny pressure case (settle, 100 MPa, release to 10 MPa) run by LIGGGHTS."""
    if liggghts.binary() is None:
        pytest.skip("needs the liggghts binary")
    spec = load_case(SPECS / "tiny_pressure.yaml").model_copy(update={"engine": "liggghts"})
    out = tmp_path_factory.mktemp("lig_tiny")
    liggghts_deck.write_case(spec, out)
    result = liggghts.run_deck(out / "deck.lmp", timeout_s=300)
    return spec, out, result


def test_run_writes_the_contract(tiny_run):
    spec, out, result = tiny_run
    assert set(result.stages) == {"settle", "press", "release"}
    assert all(t.steps > 0 for t in result.stages.values())
    for stage in result.stages:
        paths = dumps.stage_paths(out, stage)
        atoms = dumps.read_last_frame(paths["atoms"])
        atoms.require(list(dumps.ATOM_COLUMNS) + ["virial_xx", "virial_yy", "virial_xy"]
                      + [f"wall_{w}_f{a}" for w in dumps.WALLS for a in "xyz"])
        assert np.all(np.diff(atoms["id"]) > 0)
        cont = dumps.read_last_frame(paths["contacts"])
        assert cont.columns == dumps.CONTACT_COLUMNS and cont.n > 0
        r = dict(zip(atoms["id"].tolist(), atoms["radius"].tolist(), strict=True))
        overlap = np.array([r[i] + r[j] for i, j in zip(cont["id1"], cont["id2"],
                                                        strict=True)]) - cont["dist"]
        assert overlap.min() >= 0 and np.all(cont["fn"] > -1e-6 * cont["fn"].max())
        cell = dumps.read_cell(paths["cell"])
        assert cell["converged"] == 1
        series = dumps.read_series(paths["series"])
        assert tuple(series) == dumps.SERIES_COLUMNS
    press = dumps.read_cell(dumps.stage_paths(out, "press")["cell"])
    assert press["p_xhi_mpa"] == pytest.approx(100.0, rel=spec.control.servo_tolerance * 2)
    assert not list((out / "dumps").glob("*.liggghts"))


def test_wall_forces_balance_the_wall_pressure(tiny_run):
    """The per-atom wall forces of the dump sum to the cell file's wall pressures."""
    spec, out, _ = tiny_run
    paths = dumps.stage_paths(out, "press")
    atoms, cell = dumps.read_last_frame(paths["atoms"]), dumps.read_cell(paths["cell"])
    h, t = spec.geometry.height_um, spec.depth_um
    p_xhi = -atoms["wall_xhi_fx"].sum() / (h * t) / 1000.0
    assert p_xhi == pytest.approx(cell["p_xhi_mpa"], rel=1e-6)
    p_ylo = atoms["wall_ylo_fy"].sum() / ((cell["xhi_um"] - cell["xlo_um"]) * t) / 1000.0
    assert p_ylo == pytest.approx(cell["p_ylo_mpa"], rel=1e-6)


def test_analysis_reads_a_liggghts_case(tiny_run):
    """mechanics runs unchanged; the Love-Weber stresses balance the wall pressures."""
    from assb_lmp.analysis import mechanics

    _, out, _ = tiny_run
    labels = mechanics.analyze_case(out, figures=False)
    balance = labels["info"]["stress_balance"]["wall_forces"]
    assert balance["xx"] == pytest.approx(1.0, abs=0.05)
    assert balance["yy"] == pytest.approx(1.0, abs=0.05)
    assert (out / "image.png").is_file()
    json.dumps(labels)


@pytest.mark.slow
@needs_binary
def test_mpirun_two_processes_gives_the_same_state(tmp_path):
    """The same deck under mpirun -np 2 ends where the serial run ends (a short settle;
    slow on a loaded machine: every stage-end check is a run, with its collectives)."""
    data = load_case(SPECS / "tiny_pressure.yaml").model_dump(mode="json")
    data["stages"] = [{"kind": "settle", "pressure_mpa": 1.0}]
    data["engine"] = "liggghts"
    spec = parse_case(data)
    cells = []
    for n in (1, 2):
        out = tmp_path / f"np{n}"
        liggghts_deck.write_case(spec, out)
        liggghts.run_deck(out / "deck.lmp", nprocs=n, timeout_s=600)
        cells.append(dumps.read_cell(dumps.stage_paths(out, "settle")["cell"]))
    assert cells[0]["step"] == cells[1]["step"]
    assert cells[1]["xhi_um"] == pytest.approx(cells[0]["xhi_um"], rel=1e-9)
    assert cells[1]["p_xhi_mpa"] == pytest.approx(cells[0]["p_xhi_mpa"], rel=1e-6)


@needs_binary
def test_periodic_cell_reaches_its_target(tmp_path):
    """fix deform (variable style) with the controller: the settle stage of the periodic
    tiny case ends at 1 MPa with the contacts dumped across the periodic boundary."""
    data = load_case(SPECS / "tiny_periodic.yaml").model_dump(mode="json")
    data["stages"] = [{"kind": "settle", "pressure_mpa": 1.0}]
    data["engine"] = "liggghts"
    spec = parse_case(data)
    liggghts_deck.write_case(spec, tmp_path)
    liggghts.run_deck(tmp_path / "deck.lmp", timeout_s=600)
    paths = dumps.stage_paths(tmp_path, "settle")
    cell = dumps.read_cell(paths["cell"])
    assert cell["converged"] == 1
    assert cell["p_xx_mpa"] == pytest.approx(1.0, rel=2 * spec.control.servo_tolerance)
    cont = dumps.read_last_frame(paths["contacts"])
    atoms = dumps.read_last_frame(paths["atoms"])
    r = dict(zip(atoms["id"].tolist(), atoms["radius"].tolist(), strict=True))
    reach = np.array([r[i] + r[j] for i, j in zip(cont["id1"], cont["id2"], strict=True)])
    assert np.all(cont["dist"] <= reach)                  # minimum images: real contacts
    across = np.abs(atoms["x"][cont["id1"] - 1] - atoms["x"][cont["id2"] - 1]) > 0.5 * (
        cell["xhi_um"] - cell["xlo_um"])
    assert across.any()                                   # some pairs cross the boundary


@needs_binary
def test_quick_sweep_case_whose_servo_locked_now_settles(tmp_path):
    """f0p45_w19p5_s04 of runs/quick.yaml in LIGGGHTS: with a servo reading the instantaneous
    wall pressure its settle locked into a +/- rate-cap cycle (the moving wall's pressure
    flipping between -0.15 and 2.5 MPa at a width frozen near 16.581 um) and failed at the
    sweep's 300,000-step cap; through the 10-step average (as in the LAMMPS deck) it settled
    in 53,950 steps, converged."""
    case = next(c for c in load_sweep(REPO / "runs" / "quick.yaml").cases()
                if c.id == "f0p45_w19p5_s04")
    data = case.spec.model_dump(mode="json")
    data.update(engine="liggghts", stages=[{"kind": "settle", "pressure_mpa": 1.0}])
    spec = parse_case(data)
    liggghts_deck.write_case(spec, tmp_path)
    result = liggghts.run_deck(tmp_path / "deck.lmp", timeout_s=600)
    cell = dumps.read_cell(dumps.stage_paths(tmp_path, "settle")["cell"])
    assert cell["converged"] == 1 and result.stages["settle"].steps < 150_000
    assert cell["p_xhi_mpa"] == pytest.approx(1.0, rel=2 * spec.control.servo_tolerance)


@needs_binary
def test_undamped_final_hold_runs_after_the_damped_one(tmp_path):
    """control.final_hold: undamped in LIGGGHTS: the release ends converged, after the
    undamped hold of at least the asked number of steps beyond the damped one."""
    data = load_case(SPECS / "tiny_pressure.yaml").model_dump(mode="json")
    data["stages"] = [{"kind": "settle", "pressure_mpa": 1.0}]
    data["engine"] = "liggghts"
    ends = {}
    for hold in ("damped", "undamped"):
        data["control"]["final_hold"] = hold
        spec = parse_case(data)
        out = tmp_path / hold
        liggghts_deck.write_case(spec, out)
        text = (out / "deck.lmp").read_text()
        assert ("final hold without the background damping" in text) == (hold == "undamped")
        liggghts.run_deck(out / "deck.lmp", timeout_s=600)
        ends[hold] = dumps.read_cell(dumps.stage_paths(out, "settle")["cell"])
        assert ends[hold]["converged"] == 1, hold
    assert ends["undamped"]["step"] > ends["damped"]["step"]
    assert ends["undamped"]["p_xhi_mpa"] == pytest.approx(1.0, rel=0.02)
