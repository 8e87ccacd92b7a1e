"""Cross-section images: phase fractions against analytic circle areas, overlaps, 3D."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assb_lmp.analysis import imaging

WINDOW = (0.0, 36.0, 0.0, 36.0)
AREA = 36.0 * 36.0


def _segment(r: float, d: float) -> float:
    """Area of the part of a disc of radius r beyond a chord at distance d from the centre."""
    return r * r * math.acos(d / r) - d * math.sqrt(r * r - d * d)


def _layout(seed: int = 0):
    """AM discs (one crossing the left edge of the window) and random 1 µm SE discs."""
    rng = np.random.default_rng(seed)
    am = [(-2.0, 18.0, 5.0), (9.0, 7.0, 4.5), (22.0, 9.0, 5.5), (12.0, 27.0, 6.0),
          (28.0, 26.0, 5.0)]
    xy = np.zeros((3000, 2))
    r = np.zeros(3000)
    n_am = len(am)
    xy[:n_am] = [(x, y) for x, y, _ in am]
    r[:n_am] = [q for *_, q in am]
    n = n_am
    for x, y in rng.uniform(0.5, 35.5, (6000, 2)):
        if np.all((xy[:n, 0] - x) ** 2 + (xy[:n, 1] - y) ** 2 >= (0.5 + r[:n]) ** 2):
            xy[n], r[n] = (x, y), 0.5
            n += 1
    phase = np.array([1] * n_am + [2] * (n - n_am))
    return xy[:n], r[:n], phase


def _analytic(xy, r, phase):
    area = np.pi * r**2
    # the first AM disc is cut by the window edge x = 0 at 2 µm from its centre: the
    # window holds only its cap beyond the chord
    area[0] = _segment(5.0, 2.0)
    return area[phase == 1].sum() / AREA, area[phase == 2].sum() / AREA


def test_image_format_and_values():
    xy, r, phase = _layout()
    img = imaging.render_section(xy, r, phase, WINDOW)
    assert img.shape == (224, 224) and img.dtype == np.uint8
    assert set(np.unique(img).tolist()) <= {0, 128, 255}


def test_phase_fractions_match_circle_areas():
    xy, r, phase = _layout()
    am, se = _analytic(xy, r, phase)
    assert se > 0.2 and am > 0.25  # a meaningful layout
    fr = imaging.phase_fractions(imaging.render_section(xy, r, phase, WINDOW))
    assert fr["am"] == pytest.approx(am, rel=0.01)
    assert fr["se"] == pytest.approx(se, rel=0.01)
    assert fr["void"] == pytest.approx(1 - am - se, rel=0.01)
    fine = imaging.phase_fractions(imaging.render_section(xy, r, phase, WINDOW, pixels=896))
    assert fine["am"] == pytest.approx(am, rel=0.002)
    assert fine["se"] == pytest.approx(se, rel=0.003)


def test_overlap_split_on_radical_line_and_order_independent():
    # AM r1 = 6 and SE r2 = 3, centres 8 µm apart: the lens is split on the radical line at
    # l1 = (d² + r1² − r2²) / (2 d) from the AM centre
    d, r1, r2 = 8.0, 6.0, 3.0
    l1 = (d * d + r1 * r1 - r2 * r2) / (2 * d)
    xy = np.array([[14.0, 18.0], [14.0 + d, 18.0]])
    r = np.array([r1, r2])
    am = (math.pi * r1 * r1 - _segment(r1, l1)) / AREA
    se = (math.pi * r2 * r2 - _segment(r2, d - l1)) / AREA
    img = imaging.render_section(xy, r, [1, 2], WINDOW, pixels=896)
    fr = imaging.phase_fractions(img)
    assert fr["am"] == pytest.approx(am, rel=0.005)
    assert fr["se"] == pytest.approx(se, rel=0.005)
    swapped = imaging.render_section(xy[::-1], r[::-1], ["SE", "AM"], WINDOW, pixels=896)
    np.testing.assert_array_equal(img, swapped)


def test_deterministic_on_random_overlaps():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 36, (400, 2))
    r = rng.uniform(0.4, 3.0, 400)
    ph = rng.integers(1, 3, 400)
    a = imaging.render_section(xy, r, ph, WINDOW)
    perm = rng.permutation(400)
    b = imaging.render_section(xy[perm], r[perm], ph[perm], WINDOW)
    # only exact power ties could differ; with random reals there are none
    np.testing.assert_array_equal(a, b)


def test_orientation_row0_is_top():
    img = imaging.render_section(np.array([[4.0, 32.0]]), np.array([3.0]), [1], WINDOW)
    rows, cols = np.nonzero(img == 128)
    assert rows.max() < 112 and cols.max() < 112  # top-left corner of the picture


def test_section_plane_3d():
    pos = np.array([[18.0, 18.0, 3.0], [5.0, 5.0, 6.0], [30.0, 30.0, -1.0]])
    r = np.array([5.0, 5.0, 2.0])
    img = imaging.render_section(pos, r, [1, 2, 2], WINDOW, pixels=896, plane_z_um=0.0)
    fr = imaging.phase_fractions(img)
    assert fr["am"] == pytest.approx(math.pi * (25 - 9) / AREA, rel=0.005)  # radius 4
    assert fr["se"] == pytest.approx(math.pi * (4 - 1) / AREA, rel=0.01)  # second: |h| ≥ r
    centres, rad, idx = imaging.section_discs(pos, r, 0.0)
    assert idx.tolist() == [0, 2]
    np.testing.assert_allclose(rad, [4.0, math.sqrt(3.0)])


def test_png_round_trip(tmp_path):
    xy, r, phase = _layout(1)
    img = imaging.render_section(xy, r, phase, WINDOW)
    imaging.save_png(tmp_path / "i.png", img)
    from PIL import Image

    with Image.open(tmp_path / "i.png") as im:
        assert im.mode == "L" and im.size == (224, 224)
    np.testing.assert_array_equal(imaging.load_png(tmp_path / "i.png"), img)
    with pytest.raises(ValueError):
        imaging.save_png(tmp_path / "bad.png", img.astype(float))
