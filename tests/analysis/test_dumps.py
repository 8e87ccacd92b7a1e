"""Streaming dump reader: round trips, LAMMPS's own output, bad files."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from assb_lmp.analysis import dumps
from assb_lmp.core.errors import AnalysisError

# Verbatim output of LAMMPS 22 Jul 2025 (custom + local dump; note the trailing blanks and
# "-0" that LAMMPS writes in local dumps).
LAMMPS_LOCAL = """ITEM: TIMESTEP
0
ITEM: NUMBER OF ENTRIES
1
ITEM: BOX BOUNDS ff ff pp
0.0000000000000000e+00 1.0000000000000000e+01
0.0000000000000000e+00 1.0000000000000000e+01
-5.0000000000000000e-01 5.0000000000000000e-01
ITEM: ENTRIES id1 id2 dist fn ftx fty ftz dx dy dz
1 2 1.43178 5.40937e+06 -0 -0 -0 -1.4 -0.3 0""" + " \n"
LAMMPS_ATOMS = """ITEM: TIMESTEP
0
ITEM: NUMBER OF ATOMS
3
ITEM: BOX BOUNDS ff ff pp
0.0000000000000000e+00 1.0000000000000000e+01
0.0000000000000000e+00 1.0000000000000000e+01
-5.0000000000000000e-01 5.0000000000000000e-01
ITEM: ATOMS id type radius mass x y z wall_xhi_fx wall_xhi_fy wall_xhi_fz
1 1 1.5 33.3637 2 5 0 0 0 0
2 2 0.5 1.56294 3.4 5.3 0 0 0 0
3 2 0.5 1.56294 9.6 2 0 -3.27629e+06 0 0
"""


def _frame(n: int, step: int, rng: np.random.Generator) -> str:
    data = {"id": np.arange(1, n + 1), "type": rng.integers(1, 3, n),
            "radius": rng.uniform(0.5, 6, n), "x": rng.normal(size=n),
            "y": rng.normal(size=n), "z": np.zeros(n)}
    return dumps.format_frame(list(data), data, timestep=step,
                              box=((0, 40), (0, 40), (-0.5, 0.5)))


def test_lammps_output_is_read(tmp_path):
    (tmp_path / "c.dump").write_text(LAMMPS_LOCAL)
    (tmp_path / "a.dump").write_text(LAMMPS_ATOMS)
    c = dumps.read_last_frame(tmp_path / "c.dump")
    assert c.kind == "entries" and c.n == 1 and c.timestep == 0
    assert c["id1"].dtype == np.int64 and c["id2"][0] == 2
    assert c["fn"][0] == pytest.approx(5.40937e6)
    assert c["dx"][0] == -1.4 and c["ftx"][0] == 0.0
    assert c.boundary == ("ff", "ff", "pp")
    np.testing.assert_array_equal(c.box, [[0, 10], [0, 10], [-0.5, 0.5]])
    a = dumps.read_last_frame(tmp_path / "a.dump")
    assert a.kind == "atoms" and a.columns[-3:] == ("wall_xhi_fx", "wall_xhi_fy", "wall_xhi_fz")
    assert a["wall_xhi_fx"][2] == pytest.approx(-3.27629e6)
    assert a["type"].tolist() == [1, 2, 2]


def test_round_trip_is_exact_and_streaming(tmp_path):
    rng = np.random.default_rng(0)
    frames = [_frame(50, 100 * k, rng) for k in range(3)]
    path = dumps.write_dump(tmp_path / "t.dump", frames)
    it = dumps.iter_frames(path)
    first = next(it)  # a generator: frames come one at a time
    assert first.timestep == 0 and len(first) == 50
    rest = list(it)
    assert [f.timestep for f in rest] == [100, 200]
    rng = np.random.default_rng(0)
    ref = _frame(50, 0, rng)
    assert dumps.format_frame(first.columns, first.data, timestep=0,
                              box=first.box) == ref  # bit-exact floats


def test_gzip_and_triclinic(tmp_path):
    text = LAMMPS_ATOMS.replace("BOX BOUNDS ff ff pp", "BOX BOUNDS xy xz yz pp pp pp").replace(
        "0.0000000000000000e+00 1.0000000000000000e+01\n", "0 10 0.5\n")
    text = text.replace("-5.0000000000000000e-01 5.0000000000000000e-01\n", "-0.5 0.5 0\n")
    p = tmp_path / "t.dump.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(text)
    f = dumps.read_last_frame(p)
    assert f.tilt is not None and f.tilt.tolist() == [0.5, 0.5, 0.0]
    assert f.boundary == ("pp", "pp", "pp")
    assert f.n == 3


def test_truncated_frame_names_file_and_rows(tmp_path):
    rng = np.random.default_rng(1)
    text = _frame(20, 0, rng) + _frame(20, 10, rng)
    p = tmp_path / "cut.dump"
    p.write_text(text[: len(text) - 200])  # cut inside the last frame
    frames = dumps.iter_frames(p)
    assert next(frames).timestep == 0  # the complete first frame is delivered
    with pytest.raises(AnalysisError, match=r"cut\.dump.*(truncated|line)"):
        next(frames)


def test_truncated_header_and_short_row(tmp_path):
    p = tmp_path / "h.dump"
    p.write_text("ITEM: TIMESTEP\n5\nITEM: NUMBER OF ATOMS\n")
    with pytest.raises(AnalysisError, match="truncated"):
        dumps.read_last_frame(p)
    p.write_text(LAMMPS_ATOMS.rsplit("\n", 2)[0] + "\n3 2 0.5 1.5 9.6\n")
    with pytest.raises(AnalysisError, match=r"line 12.*expected 10 numbers"):
        dumps.read_last_frame(p)


def test_not_a_dump_and_empty(tmp_path):
    p = tmp_path / "x.dump"
    p.write_text("LAMMPS data file\n\n3 atoms\n")
    with pytest.raises(AnalysisError, match="not a LAMMPS text dump"):
        dumps.read_last_frame(p)
    p.write_text("")
    with pytest.raises(AnalysisError, match="empty"):
        dumps.read_last_frame(p)
    with pytest.raises(AnalysisError, match="not found"):
        dumps.read_last_frame(tmp_path / "missing.dump")


def test_missing_column_message(tmp_path):
    (tmp_path / "a.dump").write_text(LAMMPS_ATOMS)
    f = dumps.read_last_frame(tmp_path / "a.dump")
    with pytest.raises(AnalysisError, match="missing column.*vx"):
        f.require(("id", "vx"))


def test_cell_and_series(tmp_path):
    cell = {"stage": "press", "step": 10, "xlo_um": 0, "xhi_um": 40, "ylo_um": 0,
            "yhi_um": 40, "zlo_um": -0.5, "zhi_um": 0.5, "depth_um": 1.0}
    p = tmp_path / "press.cell.json"
    p.write_text(json.dumps(cell))
    assert dumps.read_cell(p)["xhi_um"] == 40
    p.write_text(json.dumps({k: v for k, v in cell.items() if k != "yhi_um"}))
    with pytest.raises(AnalysisError, match="yhi_um"):
        dumps.read_cell(p)
    p.write_text(json.dumps(cell)[:40])
    with pytest.raises(AnalysisError, match="truncated"):
        dumps.read_cell(p)
    s = tmp_path / "press.series.txt"
    s.write_text(dumps.format_series({"step": [0, 200], "width_um": [46.0, 45.9]}))
    tab = dumps.read_series(s)
    assert tab["width_um"].tolist() == [46.0, 45.9]
    s.write_text("# step width_um\n0 46\n200\n")
    with pytest.raises(AnalysisError, match="line 3"):
        dumps.read_series(s)
