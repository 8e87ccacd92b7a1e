"""The case model's own validation (no card read): every bad value is named with its
source, key and allowed range; numbers must be finite."""

from __future__ import annotations

import copy
import math

import pytest
import yaml

from assb_lmp.core.errors import SpecError
from assb_lmp.spec import case
from assb_lmp.spec.shapes import MAX_SPHERES, max_spheres, min_spheres

GOOD = {
    "name": "ok",
    "geometry": {"width_um": 50, "height_um": 40},
    "packing": {"am_area_fraction": 0.63},
    "stages": [{"kind": "settle"}, {"kind": "press", "mode": "width", "final_width_um": 40}],
}


def _with(path: str, value) -> dict:
    data = copy.deepcopy(GOOD)
    node = data
    keys = path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    return data


def test_good_spec_has_its_defaults():
    spec = case.validate_case(GOOD, "good.yaml")
    assert spec.engine == "lammps"
    assert spec.materials.am == "LCO" and spec.materials.se == "LGPS"
    assert spec.depth_um == 1.0
    assert spec.reference_width_um == 40  # the final width of the width-mode press


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("packing.colour", "red", ["packing.colour", "unknown key"]),
        ("packing.am_area_fraction", 1.2, ["packing.am_area_fraction", "1.2", "0.8"]),
        ("geometry.width_um", -5, ["geometry.width_um", "-5", "greater than 0"]),
        ("name", "x; shell rm -rf /", ["name", "pattern"]),
        ("materials.se", "LGPS\nshell ls", ["materials.se", "pattern"]),
        ("contact.damping", "magic", ["contact.damping", "magic"]),
        ("engine", "gromacs", ["engine", "gromacs", "'lammps' or 'liggghts'"]),
        ("geometry.height_um", math.inf, ["geometry.height_um", "finite number"]),
        ("contact.friction", math.nan, ["contact.friction", "finite number"]),
    ],
)
def test_bad_values_name_source_key_value_and_range(path, value, words):
    with pytest.raises(SpecError) as err:
        case.validate_case(_with(path, value), "bad.yaml")
    msg = str(err.value)
    assert "bad.yaml" in msg
    for w in words:
        assert w in msg, (w, msg)


@pytest.mark.parametrize("value", [math.inf, math.nan, 1e9, -3.0])
def test_non_finite_or_absurd_reference_width_is_refused_as_such(value):
    """Not reported as an impossible AM fraction: the message names the reference width."""
    with pytest.raises(SpecError) as err:
        case.validate_case(_with("packing.reference_width_um", value), "bad.yaml")
    msg = str(err.value)
    assert "packing.reference_width_um" in msg
    assert "am_area_fraction" not in msg


@pytest.mark.parametrize("value", [64.0, 5.0])
def test_reference_width_must_be_a_compressed_cell_of_the_case(value):
    """Its AM (0.63 of it) must fit into the initial 50 µm cell filled to at most 0.80
    (so at most 63.49 µm), and it must hold one AM particle (9 µm)."""
    with pytest.raises(SpecError) as err:
        case.validate_case(_with("packing.reference_width_um", value), "bad.yaml")
    msg = str(err.value)
    assert "packing.reference_width_um" in msg and "allowed range [9, 63.49] µm" in msg


@pytest.mark.parametrize("value", [44.0, 50.0, 60.0])
def test_reference_width_inside_the_range_is_kept(value):
    """Also wider than the initial cell: the same AM started from a thinner cell."""
    spec = case.validate_case(_with("packing.reference_width_um", value))
    assert spec.reference_width_um == value


def test_final_width_larger_than_initial_is_rejected():
    data = _with("stages", [{"kind": "press", "mode": "width", "final_width_um": 60}])
    with pytest.raises(SpecError, match="final_width_um = 60"):
        case.validate_case(data)


def test_press_mode_fields_are_checked():
    with pytest.raises(SpecError, match="pressure_mpa"):
        case.validate_case(_with("stages", [{"kind": "press", "mode": "pressure"}]))


def test_not_a_mapping():
    with pytest.raises(SpecError, match="a case spec must be a mapping, got list"):
        case.validate_case([1, 2], "x.yaml")


def test_spec_round_trips_through_its_yaml():
    spec = case.validate_case(GOOD)
    again = case.validate_case(yaml.safe_load(case.dump_case(spec)))
    assert again == spec
    assert "engine: lammps" in case.dump_case(spec)


@pytest.mark.parametrize("name", ["dumps", "figures"])
def test_stage_names_that_collide_with_case_folders_are_rejected(name):
    with pytest.raises(SpecError, match="reserved"):
        case.validate_case(_with("stages", [{"kind": "settle", "name": name}]))


def test_ellipse_sphere_counts_use_the_shape_limits():
    """The spec refuses sphere counts outside [min_spheres(hi), max_spheres(lo)]."""
    lo, hi = 1.5, 2.0
    shape = {"kind": "ellipse", "aspect_ratio": [lo, hi]}
    for n, ok in ((max_spheres(lo), True), (max_spheres(lo) + 1, False),
                  (min_spheres(hi), True), (min_spheres(hi) - 1, False)):
        data = _with("packing.am_shape", dict(shape, spheres=n))
        if ok:
            assert case.validate_case(data).packing.am_shape.spheres == n
        else:
            with pytest.raises(SpecError, match="spheres"):
                case.validate_case(data)
    assert max_spheres(10.0) == MAX_SPHERES
