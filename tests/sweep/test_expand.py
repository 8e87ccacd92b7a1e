"""Expansion of sweeps into cases: the shipped sweeps, stable seeds, ids and spec hashes."""

from __future__ import annotations

import re
from typing import Literal

import pytest
import yaml

from assb_lmp.core import resources
from assb_lmp.core.errors import SpecError
from assb_lmp.learn import dataset
from assb_lmp.materials.cards import validate_mapping
from assb_lmp.spec.case import SAFE_NAME, CaseSpec
from assb_lmp.sweep import expand, load_sweep, parse_sweep  # expand: the module

from .tiny import TINY, load, tiny_with


def test_komori_sweep_is_the_paper_grid():
    s = load_sweep(resources.example("komori2022"))
    cases = s.cases()
    assert len(cases) == 500
    assert cases[0].id == "f0p53_w46_s00" and cases[-1].id == "f0p73_w55_s09"
    assert all(re.match(SAFE_NAME, c.id) for c in cases)
    assert len({c.id for c in cases}) == 500 and len({c.seed for c in cases}) == 500
    assert sorted({c.params["geometry.width_um"] for c in cases}) == list(range(46, 56))
    assert sorted({c.params["packing.am_area_fraction"] for c in cases}) == [
        0.53, 0.58, 0.63, 0.68, 0.73]
    c = cases[123]
    assert c.spec.name == c.id and c.spec.seed == c.seed
    assert c.spec.geometry.height_um == 40 and c.spec.reference_width_um == 40
    assert c.spec.materials.am == "LCO" and c.spec.materials.se == "LGPS"
    assert c.spec.geometry.width_um == c.params["geometry.width_um"]
    split = dataset.assign_split([c.seed for c in cases], s.spec.split.fractions)
    assert [split.count(k) for k in ("train", "val", "test")] == [320, 80, 100]
    assert load_sweep(resources.example("komori2022")).cases() == cases


def test_coldpress_sweep_is_500_cases_and_a_holdout_between_the_trained_values():
    s = load_sweep(resources.example("coldpress"))
    cases = s.cases()
    held = s.holdout()
    marks = [expand.is_held_out(c.params, held) for c in cases]
    split = dataset.assign_split([c.seed for c in cases], s.spec.split.fractions,
                                 s.spec.split.seed, marks)
    assert [split.count(k) for k in ("train", "val", "test", "holdout")] == [320, 80, 100, 44]
    trained = [c for c, m in zip(cases, marks, strict=True) if not m]
    p_key, f_key = "stages.1.pressure_mpa", "packing.am_area_fraction"
    p_train = sorted({c.params[p_key] for c in trained})
    f_train = sorted({c.params[f_key] for c in trained})
    assert p_train == [100, 200, 300, 400, 500] and f_train[0] == 0.5 and f_train[-1] == 0.75
    # every held-out value lies strictly between two trained ones
    for key, values in held.items():
        grid = p_train if key == p_key else f_train
        assert all(grid[0] < v < grid[-1] and v not in grid for v in values), key
    assert len({c.seed for c in cases}) == len(cases)
    c = cases[0].spec
    assert c.geometry.boundary == "periodic" and c.packing.se_packing == "random"
    assert c.control.final_hold == "undamped" and c.stages[-1].pressure_mpa == 25.0


def test_holdout_structures_sets_the_cases_per_held_out_point(tmp_path):
    data = tiny_with(structures=3, split={
        "train": 0.5, "val": 0.0, "test": 0.5, "holdout_structures": 1,
        "holdout": {"packing.am_area_fraction": [0.4]}})
    ids = [c.id for c in load(data, tmp_path).cases()]
    assert ids == ["f0p3_s00", "f0p3_s01", "f0p3_s02", "f0p4_s00"]
    with pytest.raises(SpecError, match="holdout_structures"):
        load(tiny_with(split={"holdout_structures": 0}), tmp_path)


def test_quick_sweep_is_about_40_small_cases():
    cases = load_sweep(resources.example("quick")).cases()
    assert 30 <= len(cases) <= 50
    assert all(c.spec.geometry.height_um <= 20 for c in cases)


def test_seeds_are_stable_when_an_axis_grows(tmp_path):
    a = {c.id: c.seed for c in load(TINY, tmp_path).cases()}
    more = tiny_with(axes={"packing.am_area_fraction": {"label": "f",
                                                        "values": [0.3, 0.35, 0.4]}})
    b = {c.id: c.seed for c in load(more, tmp_path).cases()}
    assert len(b) == 6 and all(b[k] == v for k, v in a.items())
    shared = {c.id: c.seed for c in load(tiny_with(seed_per="structure"), tmp_path).cases()}
    assert shared["f0p3_s01"] == shared["f0p4_s01"] != shared["f0p4_s00"]


def test_range_random_zip_and_list_index(tmp_path):
    data = tiny_with(axes={
        "packing.am_area_fraction": {"label": "f", "range": {"start": 0.3, "stop": 0.4,
                                                             "step": 0.05}},
        "stages.1.final_width_um": {"label": "fw", "values": [10.0, 10.5, 11.0],
                                    "zip": "packing.am_area_fraction"},
        "control.inertial_number": {"label": "i", "random": {"low": 5e-4, "high": 2e-3,
                                                             "count": 2, "decimals": 6}},
    }, structures=1)
    cases = load(data, tmp_path).cases()
    assert len(cases) == 6
    assert [c.params["packing.am_area_fraction"] for c in cases[::2]] == [0.3, 0.35, 0.4]
    widths = {(c.params["packing.am_area_fraction"], c.spec.stages[1].final_width_um)
              for c in cases}
    assert widths == {(0.3, 10.0), (0.35, 10.5), (0.4, 11.0)}
    draws = sorted({c.params["control.inertial_number"] for c in cases})
    assert len(draws) == 2 and all(5e-4 <= d <= 2e-3 for d in draws)
    assert draws == sorted({c.params["control.inertial_number"]
                            for c in load(data, tmp_path).cases()})
    assert cases[0].id.startswith("f0p3_fw10_i")


def test_base_from_file_and_resolved_copy(tmp_path):
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(TINY["base"]))
    s = load(tiny_with(base="case.yaml"), tmp_path)
    again = parse_sweep(s.resolved(), "copy")
    assert [c.spec for c in again.cases()] == [c.spec for c in s.cases()]


def test_errors_in_a_base_file_name_it(tmp_path):
    base = dict(TINY["base"], geometry={"width_um": 12, "height_um": 10, "colour": "red"})
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(base))
    with pytest.raises(SpecError) as err:
        load(tiny_with(base="case.yaml"), tmp_path)
    text = str(err.value)
    assert "sweep.yaml: case f0p3_s00 (base " in text and "case.yaml" in text
    assert "geometry.colour" in text and "unknown key" in text


def test_replicate_sweep_reruns_the_paper_structures():
    main = {c.id: c for c in load_sweep(resources.example("komori2022")).cases()}
    rep = load_sweep(resources.example("komori2022_replicate")).cases()
    assert len(rep) == 50
    for c in rep:
        m = main[c.id]
        assert c.seed == m.seed
        assert c.spec.control.timestep_safety == pytest.approx(
            0.97 * m.spec.control.timestep_safety)
        assert c.spec.model_dump(exclude={"control"}) == m.spec.model_dump(exclude={"control"})


class _EngineCase(CaseSpec):
    """The case model with the coming top-level ``engine`` key (a stand-in until it exists)."""

    engine: Literal["lammps", "liggghts"] = "lammps"


def test_an_axis_sets_a_top_level_key_and_the_id_hash_and_seed_follow(tmp_path, monkeypatch):
    monkeypatch.setattr(expand, "parse_case", lambda data, source: validate_mapping(
        _EngineCase, data, source, "a case spec"))
    axes = {"packing.am_area_fraction": {"label": "f", "values": [0.3]},
            "engine": {"values": ["lammps", "liggghts"]}}
    cases = load(tiny_with(axes=axes), tmp_path).cases()
    assert [c.id for c in cases] == ["f0p3_elammps_s00", "f0p3_elammps_s01",
                                     "f0p3_eliggghts_s00", "f0p3_eliggghts_s01"]
    assert [c.spec.engine for c in cases] == ["lammps"] * 2 + ["liggghts"] * 2
    assert len({c.spec_hash for c in cases}) == 4  # the hash covers the top-level key
    assert len({c.seed for c in cases}) == 4  # by default the engine enters the seed
    axes["engine"]["in_seed"] = False  # the same structures in both engines
    shared = load(tiny_with(axes=axes), tmp_path).cases()
    assert [c.seed for c in shared[:2]] == [c.seed for c in shared[2:]]
    assert shared[0].seed != shared[1].seed
    assert len({c.spec_hash for c in shared}) == 4
    split = dataset.assign_split([c.seed for c in shared])
    assert split[:2] == split[2:]  # one structure never lands in two splits
    with pytest.raises(SpecError, match="name and seed are set by the sweep"):
        load(tiny_with(axes={"name": ["a", "b"]}), tmp_path)
