"""Shared fixtures: tiny real LAMMPS runs, computed once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

SPECS = Path(__file__).parent / "specs"


@pytest.fixture(scope="session")
def tiny_pressure_run(tmp_path_factory):
    """A tiny pressure-mode case run end to end (no figures): (spec, case_dir, summary)."""
    from assb_lmp.materials.resolve import load_case
    from assb_lmp.pipeline import runner

    spec = load_case(SPECS / "tiny_pressure.yaml")
    out = tmp_path_factory.mktemp("tiny_pressure")
    summary = runner.run_case(spec, out, analyze=False)
    return spec, out, summary
