"""Figures of an analysed stage: force-chain segments across a periodic edge, the strain of
the pressure–strain curve, and the four PNG files of a case."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from PIL import Image

from assb_lmp.analysis import plots
from assb_lmp.analysis.case_info import load_case_info
from assb_lmp.analysis.dumps import read_series, stage_paths
from assb_lmp.analysis.stage import analyze_stage


def test_force_chain_segments_use_the_nearest_periodic_image():
    pos = np.array([[0.4, 5.0, 0.0], [9.7, 5.2, 0.0], [5.0, 5.0, 0.0]])
    contacts = {"i": np.array([0, 0, 2]), "j": np.array([1, -1, 1]),
                "point": np.array([[0, 0, 0], [0.0, 5.0, 0.0], [0, 0, 0]], dtype=float),
                "fn": np.array([1.0, 2.0, 3.0])}
    res = SimpleNamespace(pos=pos, contacts=contacts, periodic_lengths=(10.0, None))
    seg, fn = plots.contact_segments(res)
    assert np.allclose(seg[0], [[0.4, 5.0], [-0.3, 5.2]])  # across x = 0, not the cell
    assert np.allclose(seg[1], [[0.4, 5.0], [0.0, 5.0]])   # wall contact point
    assert np.allclose(seg[2], [[5.0, 5.0], [9.7, 5.2]])   # an inner pair is unchanged
    walls = SimpleNamespace(pos=pos, contacts=contacts, periodic_lengths=(None, None))
    assert np.allclose(plots.contact_segments(walls)[0][0], [[0.4, 5.0], [9.7, 5.2]])
    assert list(fn) == [1.0, 2.0, 3.0]


def test_pressure_strain_curve_is_against_one_minus_w_over_w0():
    series = {"press": {"width_um": np.array([12.0, 11.0, 10.0]),
                        "p_move_mpa": np.array([0.0, 5.0, 30.0]),
                        "p_fix_mpa": np.array([0.0, 4.0, 29.0])},
              "release": {"width_um": np.array([10.0, 10.5]),
                          "p_move_mpa": np.array([30.0, 1.0]),
                          "p_fix_mpa": np.array([29.0, 1.0])}}
    fig = plots.pressure_strain_figure(series, ["press", "release"], width0_um=12.0)
    lines = fig.axes[0].lines
    assert len(lines) == 4  # moving and opposite wall of each stage
    np.testing.assert_allclose(lines[0].get_xdata(), [0.0, 1 / 12, 2 / 12])
    np.testing.assert_allclose(lines[2].get_xdata(), [2 / 12, 1.5 / 12])
    np.testing.assert_allclose(lines[1].get_ydata(), [0.0, 4.0, 29.0])


def test_case_figures_are_written(synthetic, tmp_path):
    info = load_case_info(synthetic)
    res = analyze_stage(info, "release")
    series = {s: read_series(stage_paths(synthetic, s)["series"]) for s in info.stages
              if stage_paths(synthetic, s)["series"].is_file()}
    written = plots.write_case_figures(res, series, lambda name: tmp_path / name,
                                       stages=info.stages, dpi=50)
    names = [p.name for p in written]
    assert names == ["force_chains.png", "stress_map.png", "stress_histograms.png",
                     "pressure_strain.png"]
    sizes = {"force_chains.png": (320, 280), "stress_map.png": (340, 280),
             "stress_histograms.png": (400, 170), "pressure_strain.png": (300, 210)}
    for p in written:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size == sizes[p.name], p.name
            assert len(np.unique(np.asarray(im.convert("L")))) > 5, p.name  # not blank
