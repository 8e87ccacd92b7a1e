"""The sweep folder: its lock, and finished cases with other specs refused."""

from __future__ import annotations

import pytest

from assb_lmp.core.errors import SpecError
from assb_lmp.sweep import prepare, status

from .tiny import TINY, load, tiny_with


def test_lock_and_changed_specs_are_refused(tmp_path):
    s = load(TINY, tmp_path)
    plan = prepare(s, tmp_path / "run")
    try:
        with pytest.raises(SpecError, match="another sweep is running"):
            prepare(s, tmp_path / "run")
        assert status(tmp_path / "run").running
    finally:
        plan.release()
    assert not status(tmp_path / "run").running


def test_a_folder_of_another_sweep_is_refused(tmp_path):
    prepare(load(TINY, tmp_path), tmp_path / "run").release()
    with pytest.raises(SpecError, match="holds sweep 'tiny', not 'other'"):
        prepare(load(tiny_with(name="other"), tmp_path), tmp_path / "run")


def test_changed_base_is_refused_in_a_finished_folder(tiny, tmp_path):
    _, out = tiny
    changed = tiny_with(base={**TINY["base"], "control": {"inertial_number": 5e-4}})
    with pytest.raises(SpecError, match="other specs"):
        prepare(load(changed, tmp_path), out)
