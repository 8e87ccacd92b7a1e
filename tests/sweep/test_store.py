"""The sweep folder: runners share it; finished cases with other specs, other sweeps refused."""

from __future__ import annotations

import pytest

from assb_lmp.core.errors import SpecError
from assb_lmp.sweep import prepare, status
from assb_lmp.sweep.store import TMP_DIR, case_metrics

from .tiny import TINY, load, tiny_with


def test_two_runners_share_a_folder_but_never_a_case(tmp_path):
    s = load(TINY, tmp_path)
    first, second = prepare(s, tmp_path / "run"), prepare(s, tmp_path / "run")
    case = s.cases()[0]
    leftover = tmp_path / "run" / TMP_DIR / f"{case.id}.999"
    try:
        assert first.claim(case) is not None
        leftover.mkdir()  # as if the first runner's worker were writing its folder
        assert second.claim(case) is None and second.elsewhere == [case.id]
        assert leftover.is_dir()  # a resume beside a live runner clears nothing it holds
        prepare(s, tmp_path / "run").release()
        assert leftover.is_dir()
        st = status(tmp_path / "run")
        assert st.running and st.in_progress == [case.id]
    finally:
        first.release()
        second.release()
    assert not status(tmp_path / "run").running
    third = prepare(s, tmp_path / "run")
    try:  # the claim is free again; taking it clears the dead holder's leftovers
        assert third.claim(case) is not None and not leftover.exists()
    finally:
        third.release()


def test_a_folder_of_another_sweep_is_refused(tmp_path):
    prepare(load(TINY, tmp_path), tmp_path / "run").release()
    with pytest.raises(SpecError, match="holds sweep 'tiny', not 'other'"):
        prepare(load(tiny_with(name="other"), tmp_path), tmp_path / "run")


def test_changed_base_is_refused_in_a_finished_folder(tiny, tmp_path):
    _, out = tiny
    changed = tiny_with(base={**TINY["base"], "control": {"inertial_number": 5e-4}})
    with pytest.raises(SpecError, match="other specs"):
        prepare(load(changed, tmp_path), out)


def test_done_records_hold_steps_lammps_seconds_and_memory(tiny):
    _, out = tiny
    for cid in status(out).done:
        m = case_metrics(out / cid)
        assert isinstance(m["steps"], int) and m["steps"] > 0
        assert 0 < m["lammps_s"] <= m["seconds"]
        assert 50 < m["peak_rss_mib"] < 4096  # a Python process with LAMMPS loaded
        assert m["inside_contact_law"] in (None, True, False)
