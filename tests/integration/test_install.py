"""A plain (non-editable) install finds its own templates, cards and examples.

The checkout is installed with ``pip install --no-deps <checkout>`` into a fresh venv that
takes its third-party packages from the test interpreter's site-packages (a ``.pth`` file),
so the installed ``assb_lmp`` is a copy in the new venv, not the checkout. From an empty
folder the test then copies a shipped example and runs ``materials``, ``generate`` and
``run`` on it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """Python of a fresh venv with the checkout installed as a regular package."""
    root = tmp_path_factory.mktemp("wheel")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig;"
                                "print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(CHECKOUT)],
                   check=True, capture_output=True, text=True, timeout=600)
    return py


def _run(py: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    return subprocess.run([str(py), "-m", "assb_lmp", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_installed_package_runs_a_shipped_example(installed, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    where = subprocess.run([str(installed), "-c", "import assb_lmp; print(assb_lmp.__file__)"],
                           cwd=work, capture_output=True, text=True, check=True).stdout
    assert str(CHECKOUT) not in where, f"the checkout was imported: {where}"

    r = _run(installed, work, "materials")
    assert r.returncode == 0, r.stderr
    assert "LGPS" in r.stdout and "LCO" in r.stdout

    r = _run(installed, work, "examples", "--copy", ".", "first_case")
    assert r.returncode == 0, r.stderr
    assert (work / "first_case.yaml").is_file()

    r = _run(installed, work, "generate", "first_case.yaml", "--out", "gen")
    assert r.returncode == 0, r.stderr
    assert "pair_style" in (work / "gen" / "deck.lmp").read_text()

    # the LIGGGHTS dialect's templates are package data too
    text = (work / "first_case.yaml").read_text().replace("name: first_case",
                                                          "name: first_case_lg\nengine: liggghts")
    (work / "first_case_lg.yaml").write_text(text)
    r = _run(installed, work, "generate", "first_case_lg.yaml", "--out", "gen_lg")
    assert r.returncode == 0, r.stderr
    assert "pair_style      gran model hertz" in (work / "gen_lg" / "deck.lmp").read_text()

    r = _run(installed, work, "run", "first_case.yaml", "--out", "case", "--no-figures")
    assert r.returncode == 0, r.stderr + r.stdout
    assert (work / "case" / "summary.json").is_file()
    assert (work / "case" / "labels.json").is_file()


@pytest.mark.slow
@pytest.mark.cnn
def test_installed_package_predicts_with_its_shipped_model(installed, tmp_path):
    pytest.importorskip("tensorflow")
    work = tmp_path / "empty"
    work.mkdir()
    r = _run(installed, work, "examples", "--copy", ".", "coldpress_case")
    assert r.returncode == 0, r.stderr
    r = _run(installed, work, "run", "coldpress_case.yaml", "--out", "case", "--no-figures")
    assert r.returncode == 0, r.stderr + r.stdout
    r = _run(installed, work, "predict", "case/image.png")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "assb_lmp/models/default" in r.stdout and str(CHECKOUT) not in r.stdout
    import json

    from assb_lmp.spec.targets import TARGETS

    shipped = json.loads((CHECKOUT / "models" / "default" / "metrics.json").read_text())
    for t in TARGETS:  # each quantity on its own line, with the model's test R2 at its end
        line = next((ln for ln in r.stdout.splitlines() if ln.startswith(t)), None)
        assert line is not None, (t, r.stdout)
        assert float(line.split()[-1]) == pytest.approx(shipped["targets"][t]["r2"], abs=5e-4)
    r = _run(installed, work, "gradcam", "case/image.png", "--target", "reaction_area_um2",
             "--out", "heat.png")
    assert r.returncode == 0, r.stderr + r.stdout
    assert (work / "heat.png").stat().st_size > 0
