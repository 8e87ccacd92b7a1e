"""Validation of case specs: every bad value is named with its file, key and range."""

from __future__ import annotations

import pytest
import yaml

from assb_lmp.core.errors import SpecError
from assb_lmp.spec import case as config

GOOD = {
    "name": "ok",
    "geometry": {"width_um": 50, "height_um": 40},
    "packing": {"am_area_fraction": 0.63},
    "stages": [{"kind": "settle"}, {"kind": "press", "mode": "width", "final_width_um": 40}],
}


def _write(tmp_path, data):
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _with(path: str, value):
    import copy

    data = copy.deepcopy(GOOD)
    node = data
    keys = path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    return data


def test_good_spec_loads_with_defaults(tmp_path):
    spec = config.load_case(_write(tmp_path, GOOD))
    assert spec.materials.am == "LCO" and spec.materials.se == "LGPS"
    assert spec.depth_um == 1.0
    assert spec.reference_width_um == 40
    dt = config.timestep_us(spec)
    assert 0.9e-4 < dt < 1.3e-4  # 0.15 x Rayleigh time of 1 µm LGPS


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("packing.colour", "red", ["packing.colour", "unknown key"]),
        ("packing.am_area_fraction", 1.2, ["packing.am_area_fraction", "1.2", "0.8"]),
        ("geometry.width_um", -5, ["geometry.width_um", "-5", "greater than 0"]),
        ("materials.am", "NoSuchCard", ["NoSuchCard", "available"]),
        ("name", "x; shell rm -rf /", ["name", "pattern"]),
        ("materials.se", "LGPS\nshell ls", ["materials.se", "pattern"]),
        ("control.timestep_us", 5e-4, ["timestep_us", "stability limit", "allowed range"]),
        ("contact.damping", "magic", ["contact.damping", "magic"]),
    ],
)
def test_bad_values_name_file_key_value_and_range(tmp_path, path, value, words):
    p = _write(tmp_path, _with(path, value))
    with pytest.raises(SpecError) as err:
        config.load_case(p)
    msg = str(err.value)
    assert str(p) in msg
    for w in words:
        assert w in msg, (w, msg)


def test_final_width_larger_than_initial_is_rejected(tmp_path):
    data = _with("stages", [{"kind": "press", "mode": "width", "final_width_um": 60}])
    with pytest.raises(SpecError, match="final_width_um = 60"):
        config.load_case(_write(tmp_path, data))


def test_press_mode_fields_are_checked(tmp_path):
    data = _with("stages", [{"kind": "press", "mode": "pressure"}])
    with pytest.raises(SpecError, match="pressure_mpa"):
        config.load_case(_write(tmp_path, data))


def test_not_yaml_and_not_mapping(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("a: [1, 2\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        config.load_case(p)
    p.write_text("- 1\n- 2\n")
    with pytest.raises(SpecError, match="mapping"):
        config.load_case(p)


def test_resolved_spec_round_trips(tmp_path):
    spec = config.load_case(_write(tmp_path, GOOD))
    again = config.parse_case(yaml.safe_load(config.dump_case(spec)))
    assert again == spec


@pytest.mark.parametrize("name", ["dumps", "figures"])
def test_stage_names_that_collide_with_case_folders_are_rejected(tmp_path, name):
    data = _with("stages", [{"kind": "settle", "name": name}])
    with pytest.raises(SpecError, match="reserved"):
        config.load_case(_write(tmp_path, data))
