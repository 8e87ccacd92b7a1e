"""The engine registry and the seam the pipeline uses: a case names its engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from assb_lmp import engines
from assb_lmp.build import deck
from assb_lmp.core.errors import SpecError
from assb_lmp.engines.base import Engine
from assb_lmp.engines.lammps import LammpsEngine
from assb_lmp.materials.resolve import load_case
from assb_lmp.pipeline import runner

SPECS = Path(__file__).parents[1] / "specs"


def test_lammps_is_registered_and_implements_the_interface():
    eng = engines.get("lammps")
    assert isinstance(eng, LammpsEngine) and isinstance(eng, Engine)
    assert "lammps" in engines.names() and engines.names() == sorted(engines.ENGINES)
    assert eng.templates_dir() == deck.TEMPLATE_DIR
    spec = load_case(SPECS / "tiny_pressure.yaml")
    assert spec.engine == "lammps"
    assert eng.render(spec) == deck.build(spec).text


def test_write_gives_the_deck_path_structure_and_time_step(tmp_path: Path):
    spec = load_case(SPECS / "tiny_pressure.yaml")
    written = engines.get(spec.engine).write(spec, tmp_path)
    assert written.deck == tmp_path / "deck.lmp" and written.deck.read_text() == written.text
    assert written.structure.n_am > 0 and written.dt_us > 0
    for name in ("structure.data", "structure.json", "spec.yaml", "materials.json"):
        assert (tmp_path / name).is_file(), name


def test_every_registered_engine_implements_the_interface():
    for name in engines.names():
        eng = engines.get(name)
        assert isinstance(eng, Engine) and eng.name == name
        assert eng.templates_dir().is_dir(), name


def test_a_planned_engine_is_refused_before_anything_is_written(tmp_path: Path, monkeypatch):
    """An engine a spec may name but that is not registered (yet) stops the runner with a
    SpecError before a deck exists."""
    monkeypatch.setattr(engines, "ENGINES", {"lammps": engines.ENGINES["lammps"]})
    monkeypatch.setattr(engines, "PLANNED", {"liggghts": "engine 'liggghts' is not available yet"})
    with pytest.raises(SpecError,
                       match="engine 'liggghts' is not available yet; available: lammps$"):
        engines.get("liggghts")
    spec = load_case(SPECS / "tiny_pressure.yaml").model_copy(update={"engine": "liggghts"})
    with pytest.raises(SpecError, match="not available yet"):
        runner.run_case(spec, tmp_path / "case", analyze=False)
    assert not (tmp_path / "case" / "deck.lmp").exists()


def test_unknown_engine_lists_the_available_ones():
    with pytest.raises(SpecError, match="no such engine; available: lammps"):
        engines.get("gromacs")
