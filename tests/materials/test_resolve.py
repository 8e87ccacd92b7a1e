"""Resolving a case against its cards: load_case / parse_case refuse every broken
cross-reference with the file, the key and the allowed values."""

from __future__ import annotations

import copy

import pytest
import yaml

from assb_lmp.core.errors import SpecError
from assb_lmp.materials import cards, physics, resolve

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


def _with(path: str, value) -> dict:
    data = copy.deepcopy(GOOD)
    node = data
    keys = path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    return data


def test_good_spec_loads_and_runs_at_a_stable_time_step(tmp_path):
    spec = resolve.load_case(_write(tmp_path, GOOD))
    found = resolve.case_cards(spec)
    assert {k: c.name for k, c in found.items()} == {"am": "LCO", "se": "LGPS", "wall": "steel"}
    dt = physics.timestep_us(spec, found)
    assert 0.9e-4 < dt < 1.3e-4  # 0.15 x Rayleigh time of 1 µm LGPS


@pytest.mark.parametrize("role", ["am", "se", "wall"])
def test_missing_card_names_its_key_and_the_available_cards(tmp_path, role):
    p = _write(tmp_path, _with(f"materials.{role}", "NoSuchCard"))
    with pytest.raises(SpecError) as err:
        resolve.load_case(p)
    msg = str(err.value)
    assert str(p) in msg
    assert f"materials.{role}: card 'NoSuchCard' not found; available: " in msg
    for name in cards.available():
        assert name in msg


def test_time_step_above_the_stability_limit(tmp_path):
    p = _write(tmp_path, _with("control.timestep_us", 5e-4))
    with pytest.raises(SpecError) as err:
        resolve.load_case(p)
    msg = str(err.value)
    for w in (str(p), "control.timestep_us", "stability limit", "allowed range"):
        assert w in msg, (w, msg)


def test_plastic_contact_needs_a_yield_stress(tmp_path):
    """LCO has no yield stress; as the SE of an mdr case it is refused, unless the spec
    gives contact.mdr_yield_mpa."""
    data = _with("materials.se", "LCO")
    data["contact"] = {"normal": "mdr"}
    with pytest.raises(SpecError, match="yield_stress_mpa"):
        resolve.parse_case(data, "mdr.yaml")
    data["contact"]["mdr_yield_mpa"] = 500.0
    assert resolve.parse_case(data).contact.mdr_yield_mpa == 500.0


def test_vegard_expansion_needs_lattice_data():
    data = _with("stages", GOOD["stages"] + [
        {"kind": "expand", "vegard": {"state_of_charge": 0.5}, "pressure_mpa": 25}])
    data["materials"] = {"am": "NCM811"}
    assert resolve.parse_case(data).stages[-1].kind == "expand"
    data["materials"] = {"am": "LPS75"}  # an SE card: no lattice block
    with pytest.raises(SpecError, match=r"stages\.2 \(expand\): .*no lattice data"):
        resolve.parse_case(data, "x.yaml")


def test_not_yaml_and_not_mapping(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("a: [1, 2\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        resolve.load_case(p)
    p.write_text("- 1\n- 2\n")
    with pytest.raises(SpecError, match="mapping"):
        resolve.load_case(p)
    with pytest.raises(SpecError, match="cannot read"):
        resolve.load_case(tmp_path / "absent.yaml")


def test_user_card_folder_is_searched_first(tmp_path):
    data = yaml.safe_load((cards.CARDS_DIR / "LGPS.yaml").read_text())
    data["youngs_modulus_gpa"]["value"] = 30.0
    (tmp_path / "LGPS.yaml").write_text(yaml.safe_dump(data))
    spec = resolve.parse_case(GOOD)
    assert resolve.case_cards(spec)["se"].E_gpa == 26.7
    assert resolve.case_cards(spec, tmp_path)["se"].E_gpa == 30.0
