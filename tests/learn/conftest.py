"""Shared fixtures of the CNN stage: small synthetic datasets and one model trained on them.

Fast: 64 x 64 images (the published 224 x 224 network is built, not trained, to check its
layer shapes and its 493,449 parameters).
"""

from __future__ import annotations

import pytest

from assb_lmp.synthetic import make_synthetic_dataset

SIZE = 64


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """128 images with case folders (particles.csv) beside the dataset."""
    root = tmp_path_factory.mktemp("sweep")
    return make_synthetic_dataset(root / "dataset", 128, seed=0, size=SIZE, write_cases=True)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """24 images and no case folders (so no stress-distribution figures)."""
    return make_synthetic_dataset(tmp_path_factory.mktemp("tiny") / "dataset", 24, seed=3,
                                  size=SIZE)


@pytest.fixture(scope="session")
def trained(dataset, tmp_path_factory):
    """(model folder, metrics) of the published network trained 30 epochs on ``dataset``."""
    pytest.importorskip("tensorflow")
    from assb_lmp.learn.train import train

    out = tmp_path_factory.mktemp("model")
    metrics = train(dataset, out, epochs=30, patience=10, batch_size=8, seed=1,
                    distribution_cases=2)
    return out, metrics
