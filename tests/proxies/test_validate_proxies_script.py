"""scripts/validate_proxies.py: resumable runs, per-proxy reruns (tags) and the merged per-cell rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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


def test_average_of_runs_against_published_scores(vp, tmp_path):
    from scipy.stats import spearmanr

    if not vp.ZC_FILE.is_file():
        pytest.skip("../shared/data/nb201/zc_nasbench201_725.json is absent")

    published = vp.load_published()
    keys = sorted(published)[:8]
    pub = np.array([published[k]["grasp"]["score"] for k in keys])
    acc = np.array([published[k]["val_accuracy"] for k in keys])
    rng = np.random.default_rng(0)
    runs = []
    for i in range(3):  # the published scores plus noise, each run on the cells in its own order
        noisy = pub + rng.normal(0, pub.std(), pub.size)
        order = rng.permutation(len(keys))
        path = tmp_path / f"seed{i}.jsonl"
        _write(path, [{"key": keys[j], "scores": {"grasp": float(noisy[j])}, "seconds": {}} for j in order])
        runs.append((path, noisy))
    _write(runs[2][0], [*map(json.loads, runs[2][0].read_text().splitlines())][1:])  # one cell missing in run 3
    rows, n = vp.averaged([p for p, _ in runs], ["grasp"])
    missing = next(k for k in keys if k not in {r["key"] for r in vp.merged_rows(runs[2][0])})
    keep = np.array([k != missing for k in keys])
    assert n == 7
    (row,) = rows
    assert row["n"] == 7
    scores = [s[keep] for _, s in runs]
    assert row["single"] == pytest.approx([spearmanr(s, pub[keep]).statistic for s in scores])
    assert row["mean_of_k"][2] == pytest.approx(spearmanr(scores[0] + scores[1], pub[keep]).statistic)
    assert row["mean_of_k"][3] == pytest.approx(spearmanr(sum(scores), pub[keep]).statistic)
    assert len(row["pairwise"]) == 3
    assert row["rho_pub_acc"] == pytest.approx(spearmanr(pub[keep], acc[keep]).statistic)
    with pytest.raises(ValueError, match="at least two runs"):
        vp.averaged([runs[0][0]])
    with pytest.raises(ValueError, match="'snip': the runs .* share 0 scored cells"):
        vp.averaged([p for p, _ in runs], ["snip"])
