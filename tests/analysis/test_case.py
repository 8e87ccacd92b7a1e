"""A case analysed end to end: the outputs, the same bytes when recomputed from the dumps,
and bad input refused with nothing half-written."""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from assb_lmp import synthetic as factory
from assb_lmp.analysis import dumps, imaging
from assb_lmp.analysis.case import analyze_case
from assb_lmp.cli import analysis as cli_analysis
from assb_lmp.core.errors import AnalysisError
from assb_lmp.spec.targets import TARGETS

from ._helpers import CARDS, cell_json


def test_pressed_case_outputs_and_recomputed_labels(pressed_case, tmp_path):
    for rel in ("particles.csv", "contacts.csv", "labels.json", "image.png",
                "press/labels.json", "press/image.png", "figures/force_chains.png",
                "figures/stress_map.png", "figures/stress_histograms.png",
                "figures/pressure_strain.png"):
        assert (pressed_case / rel).is_file(), rel
    first = (pressed_case / "labels.json").read_bytes()
    labels = json.loads(first)
    assert all(labels[t] is not None for t in TARGETS)
    assert labels["porosity"] + labels["am_area_fraction"] < 1.0
    assert labels["reaction_area_um2"] > 0 and 0 < labels["se_coverage"] < 1
    # recompute from the dumps alone, through the CLI, in a copy without the outputs
    copy = tmp_path / "copy"
    shutil.copytree(pressed_case, copy)
    for rel in ("particles.csv", "contacts.csv", "labels.json", "image.png"):
        (copy / rel).unlink()
    shutil.rmtree(copy / "press")
    shutil.rmtree(copy / "figures")
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli_analysis.register(sub)
    args = parser.parse_args(["analyze", str(copy)])
    assert args.func(args) == 0
    assert (copy / "labels.json").read_bytes() == first
    assert (copy / "image.png").read_bytes() == (pressed_case / "image.png").read_bytes()
    assert (copy / "particles.csv").read_text() == (pressed_case / "particles.csv").read_text()
    assert not list(copy.glob(".analyze-*"))


def test_contacts_checked_against_lammps_virial(pressed_case, tmp_path):
    """The runner's atoms dump carries LAMMPS's per-atom pair virial; a contact dump whose
    forces do not reproduce it is refused."""
    atoms = dumps.read_last_frame(pressed_case / "dumps/press.atoms.dump")
    assert "virial_xx" in atoms  # the contract's column (else the check is skipped)
    case = tmp_path / "c"
    shutil.copytree(pressed_case / "dumps", case / "dumps")
    for name in ("spec.yaml", "materials.json", "structure.data"):
        shutil.copy(pressed_case / name, case / name)
    p = case / "dumps/press.contacts.dump"
    frame = dumps.read_last_frame(p)
    data = dict(frame.data)
    data["fn"] = data["fn"].copy()
    data["fn"][::3] *= 1.5
    p.write_text(dumps.format_frame(frame.columns, data, timestep=frame.timestep,
                                    box=frame.box, boundary=frame.boundary, kind="entries"))
    with pytest.raises(AnalysisError, match=r"press\.contacts\.dump.*virial.*same state"):
        analyze_case(case, figures=False)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_folder_without_dumps(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnalysisError, match=r"dumps.*no stage dumps"):
        analyze_case(tmp_path / "empty")
    with pytest.raises(AnalysisError, match="no such case folder"):
        analyze_case(tmp_path / "nothing")


def test_truncated_dump_writes_nothing(synthetic, tmp_path):
    case = tmp_path / "c"
    shutil.copytree(synthetic, case)
    analyze_case(case, figures=False)
    before = _snapshot(case)
    p = case / "dumps/release.contacts.dump"
    text = p.read_text()
    p.write_text(text[: int(len(text) * 0.6)])
    before[str(p.relative_to(case))] = p.read_bytes()
    with pytest.raises(AnalysisError, match=r"release\.contacts\.dump.*(truncated|line)"):
        analyze_case(case)
    assert _snapshot(case) == before  # nothing half-done, no temp folder left


def test_dump_from_another_case(synthetic, tmp_path):
    other = factory.write_synthetic_case(tmp_path / "other", seed=9, width_um=20.0,
                                         height_um=16.0, am_area_fraction=0.35,
                                         am_diameter_um=(6.0, 0.5), stages=("press",))
    case = tmp_path / "c"
    shutil.copytree(synthetic, case)
    shutil.copy(other / "dumps/press.contacts.dump", case / "dumps/press.contacts.dump")
    with pytest.raises(AnalysisError, match=r"press\.contacts\.dump.*(another case|same)"):
        analyze_case(case, figures=False)
    shutil.copytree(synthetic, case, dirs_exist_ok=True)
    shutil.copy(other / "dumps/press.atoms.dump", case / "dumps/press.atoms.dump")
    with pytest.raises(AnalysisError, match=r"press\.atoms\.dump.*another case"):
        analyze_case(case, figures=False)
    shutil.copytree(synthetic, case, dirs_exist_ok=True)
    cell = json.loads((case / "dumps/press.cell.json").read_text())
    cell["step"] = 123
    (case / "dumps/press.cell.json").write_text(json.dumps(cell))
    with pytest.raises(AnalysisError, match=r"press\.atoms\.dump: timestep .* not from the same"):
        analyze_case(case, figures=False)
    assert not (case / "labels.json").exists()


def test_missing_stage_of_spec(synthetic, tmp_path):
    case = tmp_path / "c"
    shutil.copytree(synthetic, case)
    (case / "dumps/release.atoms.dump").unlink()
    with pytest.raises(AnalysisError, match="release.*did not finish"):
        analyze_case(case)


def test_periodic_cell_images_and_minimum_image(tmp_path):
    """In a periodic cell a particle across the edge shows on both sides of the image, and
    contacts across the edge are checked with the minimum image."""
    z = np.zeros(2)
    atoms = {"id": [1, 2], "type": [1, 2], "radius": [3.0, 0.5], "mass": [1.0, 1.0],
             "x": [0.5, 17.1], "y": [10.0, 10.0], "z": z, "vx": z, "vy": z, "vz": z,
             "omegax": z, "omegay": z, "omegaz": z}
    # 2 - 1 across the edge: x1 - x2 = 0.5 - 17.1 + 20 = 3.4 (overlap 0.1)
    contacts = {"id1": [1], "id2": [2], "dist": [3.4], "fn": [50.0], "ftx": [0.0],
                "fty": [0.0], "ftz": [0.0], "dx": [3.4], "dy": [0.0], "dz": [0.0]}
    cell = cell_json("press", 3, w=20.0, h=20.0, p_xx_mpa=1.0, p_yy_mpa=1.0)
    states = {"press": {"atoms": atoms, "contacts": contacts, "cell": cell,
                        "boundary": ("pp", "pp", "pp")}}
    case = factory.write_case_files(tmp_path / "per", states, cards=CARDS)
    labels = analyze_case(case, figures=False)
    img = imaging.load_png(case / "image.png")
    assert (img[:, 0] == 128).any() and (img[:, -1] == 128).any()  # both sides of the edge
    # AM area in the window [2, 18]²: the cap beyond x = 2 of the disc at x = 0.5 (chord
    # 1.5 µm from the centre) and the cap below x = 18 of its image at 20.5 (2.5 µm)
    def seg(d: float, r: float = 3.0) -> float:
        return r * r * math.acos(d / r) - d * math.sqrt(r * r - d * d)

    assert labels["am_area_fraction"] == pytest.approx((seg(1.5) + seg(2.5)) / 16.0**2,
                                                       rel=0.005)
    assert labels["info"]["stress_balance"]["wall_forces"] is None
