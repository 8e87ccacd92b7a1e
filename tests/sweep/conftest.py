"""The tiny sweep run once per session with real LAMMPS (2 workers)."""

from __future__ import annotations

import pytest

from assb_lmp import sweep
from assb_lmp.learn import dataset

from .tiny import TINY, write


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """The tiny sweep run once locally with 2 workers: (spec path, sweep folder)."""
    base = tmp_path_factory.mktemp("tiny")
    spec = write(base / "tiny.yaml", TINY)
    out = base / "ref"
    st = sweep.run(spec, out, jobs=2, progress=False)
    assert st is not None and len(st.done) == 4, st.report()
    dataset.export(out)
    return spec, out
