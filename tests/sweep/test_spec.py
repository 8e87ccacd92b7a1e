"""The sweep spec's validation: every error names the file, the key, the value, the range."""

from __future__ import annotations

import pytest

from assb_lmp.core.errors import SpecError
from assb_lmp.sweep.spec import RangeSpec, default_label, format_value, is_held_out

from .tiny import load, tiny_with


@pytest.mark.parametrize("change, words", [
    ({"colour": "red"}, ["sweep.yaml", "colour", "unknown key"]),
    ({"structures": 0}, ["sweep.yaml", "structures", "0", "greater than or equal to 1"]),
    ({"axes": {"packing.am_area_fractoin": [0.3]}},
     ["sweep.yaml", "case aaf0p3_s00", "am_area_fractoin", "unknown key"]),
    ({"axes": {"packing.am_area_fraction": {"label": "f", "values": [0.3, 0.95]}}},
     ["sweep.yaml", "f0p95_s00", "packing.am_area_fraction", "0.95", "less than or equal to 0.8"]),
    ({"axes": {"packing.am_area_fraction": {"values": [0.3], "range": {"start": 0.1,
                                                                       "stop": 0.2, "num": 2}}}},
     ["sweep.yaml", "exactly one of values, range or random"]),
    ({"axes": {"seed": [1, 2]}}, ["name and seed are set by the sweep"]),
    ({"axes": {"packing.am_area_fraction": {"label": "f", "values": [0.3000001, 0.3000002]}}},
     ["look alike in case ids", "format"]),
    ({"axes": {"geometry.width_um": {"values": [12], "zip": "packing.am_area_fraction"}}},
     ["zip", "not an earlier axis"]),
    ({"axes": {"packing.am_area_fraction": [0.3, 0.4],
               "geometry.width_um": {"values": [12], "zip": "packing.am_area_fraction"}}},
     ["1 values", "has 2", "exactly 2"]),
    ({"axes": {"stages.5.final_width_um": [10]}}, ["stages.5", "allowed range [0, 1]"]),
    ({"split": {"train": 0.5, "val": 0.1, "test": 0.1}}, ["split", "must be 1"]),
    ({"base": "nowhere.yaml"}, ["base = 'nowhere.yaml'", "cannot read"]),
    ({"split": {"holdout": {"geometry.width_um": [12]}}},
     ["sweep.yaml", "split.holdout.geometry.width_um", "not an axis",
      "allowed: ['packing.am_area_fraction']"]),
    ({"split": {"holdout": {"packing.am_area_fraction": [0.35]}}},
     ["sweep.yaml", "split.holdout.packing.am_area_fraction = 0.35",
      "not one of the axis's values", "allowed: [0.3, 0.4]"]),
    ({"split": {"holdout": {"packing.am_area_fraction": [0.3, 0.4]}}},
     ["split.holdout.packing.am_area_fraction", "every value", "at most 1"]),
    ({"split": {"holdout": {"packing.am_area_fraction": []}}},
     ["split.holdout.packing.am_area_fraction", "empty list", "allowed: [0.3, 0.4]"]),
    ({"split": {"holdout": {"packing.am_area_fraction": 0.4}}},
     ["sweep.yaml", "split.holdout.packing.am_area_fraction", "valid list"]),
])
def test_spec_errors_name_file_key_value_and_range(tmp_path, change, words):
    with pytest.raises(SpecError) as err:
        load(tiny_with(**change), tmp_path)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_ranges_labels_and_id_values():
    ranged = RangeSpec(start=46, stop=55, step=1).values()
    assert ranged == list(range(46, 56)) and isinstance(ranged[0], int)
    assert RangeSpec(start=0.1, stop=0.3, num=3).values() == [0.1, 0.2, 0.3]
    assert default_label("geometry.width_um") == "w"
    assert default_label("packing.am_area_fraction") == "aaf"
    assert format_value(0.63) == "0p63" and format_value(True) == "on"
    assert format_value("liggghts") == "liggghts"
    with pytest.raises(SpecError, match="cannot be part of a case id"):
        format_value("a b")


def test_holdout_values_are_the_axis_values(tmp_path):
    """A held-out value matches its axis value to 1e-9 and is recorded as the axis gives it;
    the cases with it are those of that grid point, every structure."""
    data = tiny_with(split={"test": 0.5, "val": 0.0, "train": 0.5,
                            "holdout": {"packing.am_area_fraction": [0.4000000000001]}})
    sweep = load(data, tmp_path)
    held = sweep.holdout()
    assert held == {"packing.am_area_fraction": [0.4]}
    assert [c.id for c in sweep.cases() if is_held_out(c.params, held)] == [
        "f0p4_s00", "f0p4_s01"]
    assert not is_held_out({"packing.am_area_fraction": True}, {"packing.am_area_fraction": [1]})
