"""scripts/validate_proxies.py: resumable runs, per-proxy reruns (tags) and the merged per-cell rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def vp(load_script):
    return load_script("validate_proxies")


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_rerun_rows_replace_scores_of_their_proxies_only(vp, tmp_path):
    out = tmp_path / "run.jsonl"
    _write(
        out,
        [
            {"key": "a", "scores": {"plain": 1.0, "snip": 2.0}, "seconds": {"plain": 0.1, "snip": 0.2}},
            {"key": "b", "scores": {"plain": 3.0, "snip": 4.0}, "seconds": {"plain": 0.1, "snip": 0.2}},
            {"key": "a", "scores": {"plain": 9.0}, "seconds": {"plain": 0.5}, "tag": "v2"},
        ],
    )
    merged = {r["key"]: r for r in vp.merged_rows(out)}
    assert [r["key"] for r in vp.merged_rows(out)] == ["a", "b"]
    assert merged["a"]["scores"] == {"plain": 9.0, "snip": 2.0}
    assert merged["a"]["seconds"] == {"plain": 0.5, "snip": 0.2}
    assert merged["b"]["scores"] == {"plain": 3.0, "snip": 4.0}


def test_done_cells_depend_on_the_tag_and_the_requested_proxies(vp, tmp_path):
    out = tmp_path / "run.jsonl"
    assert vp._done_keys(out) == set()
    _write(
        out,
        [
            {"key": "a", "scores": {"plain": 1.0, "snip": 2.0}, "seconds": {}},
            {"key": "b", "scores": {"snip": 4.0}, "seconds": {}},
            {"key": "a", "scores": {"plain": 9.0}, "seconds": {}, "tag": "v2"},
        ],
    )
    assert vp._done_keys(out) == {"a", "b"}
    assert vp._done_keys(out, ["plain"]) == {"a"}  # b lacks plain: a plain-only run scores it
    assert vp._done_keys(out, ["plain"], "v2") == {"a"}
    assert vp._done_keys(out, ["snip"], "v2") == set()  # a new tag rescores every cell
