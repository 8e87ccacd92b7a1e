"""The engine registry and the seam the pipeline uses: a case names its engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from assb_lmp import engines
from assb_lmp.build import deck
from assb_lmp.core.errors import SpecError
from assb_lmp.engines.base import Engine
from assb_lmp.engines.lammps import LammpsEngine
from assb_lmp.engines.liggghts import LiggghtsEngine
from assb_lmp.materials.resolve import load_case

SPECS = Path(__file__).parents[1] / "specs"


def test_lammps_is_registered_and_implements_the_interface():
    eng = engines.get("lammps")
    assert isinstance(eng, LammpsEngine) and isinstance(eng, Engine)
    assert engines.names() == ["lammps", "liggghts"]
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


def test_liggghts_is_registered_and_implements_the_interface():
    eng = engines.get("liggghts")
    assert isinstance(eng, LiggghtsEngine) and isinstance(eng, Engine)
    assert eng.templates_dir().name == "liggghts"
    spec = load_case(SPECS / "tiny_pressure.yaml").model_copy(update={"engine": "liggghts"})
    text = eng.render(spec)
    assert "LIGGGHTS deck" in text and "pair_style      gran model hertz" in text
    assert "property/global youngsModulus peratomtype" in text


def test_a_planned_engine_fails_before_anything_is_written(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(engines.PLANNED, "planned", "engine 'planned' is not available yet")
    with pytest.raises(SpecError, match="engine 'planned' is not available yet"):
        engines.get("planned")


def test_unknown_engine_lists_the_available_ones():
    with pytest.raises(SpecError, match="no such engine; available: lammps, liggghts"):
        engines.get("gromacs")
