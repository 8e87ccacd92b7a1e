"""The synthetic image dataset: labels are functions of the image."""

from __future__ import annotations

import numpy as np

from assb_lmp.spec.targets import TARGETS
from assb_lmp.synthetic import make_synthetic_dataset

SIZE = 64


def test_synthetic_labels_are_functions_of_the_image(tmp_path):
    dataset = make_synthetic_dataset(tmp_path / "sweep" / "dataset", 32, seed=0, size=SIZE,
                                     write_cases=True)
    d = np.load(dataset / "arrays.npz")
    assert d["images"].dtype == np.uint8 and d["images"].shape == (32, SIZE, SIZE)
    assert tuple(d["targets"]) == TARGETS
    assert set(np.unique(d["images"])) <= {0, 128, 255}
    por = (d["images"] == 0).mean(axis=(1, 2))
    am = (d["images"] == 128).mean(axis=(1, 2))
    np.testing.assert_allclose(d["labels"][:, TARGETS.index("porosity")], por, rtol=1e-12)
    np.testing.assert_allclose(d["labels"][:, TARGETS.index("am_area_fraction")], am,
                               rtol=1e-12)
    assert (dataset / "manifest.csv").read_text().startswith("case_id,image,split,")
    assert (dataset.parent / "syn0000" / "particles.csv").is_file()
