"""Incomplete or corrupted predictor files give a ``PredictorFileError`` naming the file and what is missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gennape_naslib.predictors import Predictor, PredictorFileError
from gennape_naslib.predictors.baselines import CGTreesPredictor
from gennape_naslib.predictors.gennape import GENNAPEPredictor, KGNNPredictor

SMALL = dict(
    members=("cl_fcm_t", "pair", "kgnn", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32,
    n_clusters=2, epochs=1, reference_size=16, n_anchors=6, random_state=0,
)  # fmt: skip
_HEADER = "__predictor__"


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(5, 40)


def _members(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as archive:
        doc = json.loads(str(archive[_HEADER]))
        return doc, {k: archive[k] for k in archive.files if k != _HEADER}


def _rewrite(path: Path, out: Path, doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    np.savez(out, **{_HEADER: np.array(json.dumps(doc))}, **arrays)
    return out


def _drop_state_entry(path: Path, out: Path, entry: str) -> Path:
    doc, arrays = _members(path)
    del doc["state"]["__dict__"][entry]
    return _rewrite(path, out, doc, arrays)


def _drop_member(path: Path, out: Path, member: str) -> Path:
    doc, arrays = _members(path)
    del arrays[member]
    return _rewrite(path, out, doc, arrays)


def test_gennape_file_without_a_state_entry_or_an_array_member(tmp_path, nb201):
    archs, y = nb201
    path = GENNAPEPredictor(**SMALL).fit(archs[:30], y[:30]).save(tmp_path / "gennape.npz")
    assert isinstance(GENNAPEPredictor.load(path), GENNAPEPredictor)  # the intact file loads
    for entry in ("n_clusters", "members", "transforms", "weights"):
        broken = _drop_state_entry(path, tmp_path / f"no_{entry}.npz", entry)
        with pytest.raises(PredictorFileError, match=rf"no_{entry}\.npz: .*lacks the entry '{entry}'"):
            GENNAPEPredictor.load(broken)
    _, arrays = _members(path)
    assert "a3" in arrays
    broken = _drop_member(path, tmp_path / "no_a3.npz", "a3")
    with pytest.raises(PredictorFileError, match=r"no_a3\.npz: .*lacks the array member 'a3'"):
        Predictor.load(broken)


def test_gennape_file_with_a_state_that_does_not_fit(tmp_path, nb201):
    archs, y = nb201
    path = GENNAPEPredictor(**SMALL).fit(archs[:30], y[:30]).save(tmp_path / "gennape.npz")
    doc, arrays = _members(path)
    doc["state"]["__dict__"]["n_clusters"] = 3  # the saved networks have 2 centroids
    broken = _rewrite(path, tmp_path / "clusters.npz", doc, arrays)
    with pytest.raises(PredictorFileError, match=r"clusters\.npz: the saved state cannot be restored"):
        GENNAPEPredictor.load(broken)


def test_kgnn_and_cg_trees_files_without_a_state_entry(tmp_path, nb201):
    archs, y = nb201
    kgnn = KGNNPredictor(hidden=8, n_layers=2, epochs=1, random_state=0).fit(archs[:20], y[:20])
    path = kgnn.save(tmp_path / "kgnn.npz")
    with pytest.raises(PredictorFileError, match=r"no_mean\.npz: .*lacks the entry 'y_mean'"):
        Predictor.load(_drop_state_entry(path, tmp_path / "no_mean.npz", "y_mean"))
    with pytest.raises(PredictorFileError, match=r"no_a0\.npz: .*lacks the array member 'a0'"):
        Predictor.load(_drop_member(path, tmp_path / "no_a0.npz", "a0"))

    trees = CGTreesPredictor(n_estimators=3, random_state=0).fit(archs[:20], y[:20])
    path = trees.save(tmp_path / "trees.npz")
    np.testing.assert_allclose(Predictor.load(path).predict(archs[20:25]), trees.predict(archs[20:25]))
    with pytest.raises(PredictorFileError, match=r"no_trees\.npz: .*lacks the entry 'trees_'"):
        Predictor.load(_drop_state_entry(path, tmp_path / "no_trees.npz", "trees_"))
    doc, arrays = _members(path)
    del doc["state"]["__dict__"]["trees_"][1]["__dict__"]["value"]
    broken = _rewrite(path, tmp_path / "no_value.npz", doc, arrays)
    with pytest.raises(PredictorFileError, match=r"no_value\.npz: .*lacks the entry \"trees_\[1\]\['value'\]\""):
        Predictor.load(broken)
