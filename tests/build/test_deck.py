"""Rendered decks: golden files, user templates, standalone runs (lmp, mpirun), errors."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from assb_lmp.build import deck, render
from assb_lmp.core.errors import EngineError, SpecError
from assb_lmp.materials.resolve import load_case
from assb_lmp.pipeline import runner

TESTS = Path(__file__).parents[1]
sys.path.insert(0, str(TESTS))
import regen_goldens  # noqa: E402

SPECS = TESTS / "specs"
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(("spec_path", "name"), regen_goldens.CASES, ids=lambda v: str(v)[-30:])
def test_rendered_deck_matches_golden(spec_path, name):
    """A template change shows up here; regenerate with `make goldens` when intended."""
    golden = (TESTS / "golden" / name).read_text()
    assert regen_goldens.render(spec_path) == golden


def test_deck_is_readable_and_complete():
    text = deck.build(load_case(SPECS / "tiny_pressure.yaml")).text
    for needle in ("units           micro", "atom_style      sphere 1", "pair_style      granular",
                   "hertz/material", "damping tsuji", "tangential mindlin",
                   'stage "settle"', 'stage "press"', 'stage "release"',
                   "dumps/press.atoms.dump", "dumps/press.contacts.dump", "wall/gran/region"):
        assert needle in text, needle
    assert "shell" not in text.split("\n", 1)[1].replace("#", "")  # no shell command at all


def test_user_template_folder_overrides_builtin(tmp_path):
    (tmp_path / "system.lmp.j2").write_text(
        (deck.TEMPLATE_DIR / "system.lmp.j2").read_text() + "# user override marker\n")
    text = deck.build(load_case(SPECS / "tiny_pressure.yaml"), tmp_path).text
    assert "# user override marker" in text


def test_template_undefined_variable_fails_loudly(tmp_path):
    (tmp_path / "output.lmp.j2").write_text("{{ no_such_value }}\n")
    with pytest.raises(jinja2.UndefinedError):
        deck.build(load_case(SPECS / "tiny_pressure.yaml"), tmp_path)


@pytest.mark.parametrize("value", ["1; shell ls", True, float("nan"), float("inf")])
def test_number_filter_refuses_text_and_non_finite_numbers(value):
    with pytest.raises(SpecError):
        render.number(value)


@pytest.mark.parametrize(("value", "text"), [(264e6, "264000000"), (0.37, "0.37"),
                                              (1.5e-5, "1.5e-05"), (0, "0"), (-2.0, "-2")])
def test_number_filter_text(value, text):
    assert render.number(value) == text


def test_name_filter_refuses_command_characters():
    assert render.safe_name("press_1.5") == "press_1.5"
    for bad in ("a b", "x;shell", "q\"", "n\nm"):
        with pytest.raises(SpecError, match="refusing"):
            render.safe_name(bad)


def test_deck_context_is_typed_and_frozen():
    d = deck.build(load_case(SPECS / "tiny_pressure.yaml"))
    ctx = d.context
    assert isinstance(ctx, deck.DeckContext)
    assert [s.name for s in ctx.stages] == ["settle", "press", "release"]
    assert [s.control for s in ctx.stages] == ["pressure"] * 3
    assert ctx.stages[1].target_kpa == 100_000.0  # 100 MPa in kPa
    assert [p.types for p in ctx.pairs] == ["1 1", "2 2", "1 2", "3 3"]
    assert ctx.dt == d.dt_us
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.dt = 1.0  # type: ignore[misc]


def test_deck_builder_refuses_another_engines_case():
    spec = load_case(SPECS / "tiny_pressure.yaml").model_copy(update={"engine": "liggghts"})
    with pytest.raises(SpecError, match="LAMMPS decks only"):
        deck.build(spec)


def test_lammps_error_becomes_clear_message_and_no_summary(tmp_path):
    bad = tmp_path / "tpl"
    bad.mkdir()
    (bad / "output.lmp.j2").write_text("pair_style no_such_style\n")
    out = tmp_path / "case"
    with pytest.raises(EngineError) as err:
        runner.run_case(load_case(SPECS / "tiny_pressure.yaml"), out,
                        user_templates=bad, analyze=False)
    msg = str(err.value)
    assert "deck.lmp" in msg and "no_such_style" in msg
    assert not (out / "summary.json").exists()
    assert json.loads((out / "error.json").read_text())["status"] == "failed"


def _generate(tmp_path: Path, spec: str) -> Path:
    out = tmp_path / "case"
    deck.write_case(load_case(SPECS / spec), out)
    return out


@pytest.mark.slow
def test_generated_deck_runs_standalone_with_lmp(tmp_path):
    out = _generate(tmp_path, "tiny_width.yaml")
    lmp = shutil.which("lmp", path=str(BIN)) or "lmp"
    proc = subprocess.run([lmp, "-in", "deck.lmp"], cwd=out, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (out / "dumps" / "press.contacts.dump").exists()
    cell = json.loads((out / "dumps" / "press.cell.json").read_text())
    assert cell["xhi_um"] == pytest.approx(10.5, rel=2e-4)


@pytest.mark.slow
@pytest.mark.mpi
def test_run_under_mpirun_two_ranks(tmp_path):
    out = tmp_path / "case"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [str(BIN / "mpirun"), "-np", "2", sys.executable, "-m", "assb_lmp", "run",
         str(SPECS / "tiny_width.yaml"), "--out", str(out), "--no-analysis"],
        capture_output=True, text=True, timeout=300, env=env)
    # the head of stderr holds the error itself, its tail the LAMMPS log lines it quotes
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[:2500] + proc.stderr[-1000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["nprocs"] == 2 and summary["status"] == "complete"
    press = summary["stages"][-1]
    assert press["cell_um"][0] == pytest.approx(10.5, rel=2e-4)
