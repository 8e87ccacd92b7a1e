"""docs/api.md runs as written: every ``python`` block, in order, in an empty folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.mark.slow
def test_api_walkthrough_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{DOC.name} block {i + 1}", "exec"), scope)
        except Exception as exc:  # noqa: BLE001 - name the block that broke
            raise AssertionError(f"{DOC.name} block {i + 1} failed: {exc!r}\n{code}") from exc
    assert (tmp_path / "out" / "first_case" / "labels.json").is_file()
    assert len(scope["status"].done) == 4 and not scope["status"].failed
    assert scope["info"]["n"] == 4
    assert scope["labels"]["am_stress_mean_mpa"] is not None


def test_top_level_names_are_the_api():
    import assb_lmp
    from assb_lmp import api

    assert set(assb_lmp.API) == set(api.__all__)
    for name in api.__all__:
        assert getattr(assb_lmp, name) is getattr(api, name)
