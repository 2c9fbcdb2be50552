"""Saved and pretrained predictors in search configs: ``search.predictor_checkpoint`` and ``fit_predictor``.

The predictor files are written by the tests (a nearest-neighbour stand-in fitted on real NB-201 table
rows, a tiny GENNAPE); the shipped pretrained GENNAPE model is only loaded, never trained here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import optimizer_stand_ins
import pytest

from gennape_naslib.optimizers import get_optimizer
from gennape_naslib.optimizers._surrogate import Surrogate, fit_mode
from gennape_naslib.search import ConfigError, load_config, optimizer_kwargs, read_trials, run_search
from gennape_naslib.search.objectives import _load_table

METRIC = "test_acc_200ep"
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


class FinetunableKNN(optimizer_stand_ins.HammingKNN):
    """The stand-in with a ``finetune`` that returns a copy refitted on its own and the new rows."""

    calls = 0

    def finetune(self, X, y, epochs=None, family=None):
        FinetunableKNN.calls += 1
        new = copy.deepcopy(self)
        new.X_ = np.concatenate([self.X_, self._codes(X, family)[:, : self.X_.shape[1]]])
        new.y_ = np.concatenate([self.y_, np.asarray(y, dtype=np.float64)])
        return new


@pytest.fixture(scope="module")
def table():
    return _load_table("nb201", "cifar10")


def _bananas(search: dict, **extra) -> dict:
    return {
        "search_space": "nasbench201",
        "optimizer": "bananas",
        "seed": 0,
        "search": {"epochs": 15, "num_init": 10, "k": 5, "num_candidates": 20, "num_ensemble": 1, **search},
        **extra,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("False", False),
        ("finetune", "finetune"),
        ("fine-tune", "finetune"),
    ],
)
def test_fit_mode_spellings(value, expected):
    assert fit_mode(value) == expected


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"fit_predictor": "sometimes"}, r"search.fit_predictor must be true .* got 'sometimes'"),
        ({"fit_predictor": 2}, r"search.fit_predictor must be true"),
        ({"fit_predictor": "finetune", "predictor_type": "gennape"}, r"set search.predictor_checkpoint"),
        ({"predictor_checkpoint": "no_such_model.npz"}, r"search.predictor_checkpoint 'no_such_model.npz': no such"),
        ({"predictor_checkpoint": 3}, r"search.predictor_checkpoint must be 'pretrained' or the path"),
        ({"predictor_checkpoint": "pretrained", "predictor_type": "cg_trees"}, r"is the shipped GENNAPE model"),
    ],
)
def test_bad_predictor_keys_are_named(search, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_bananas(search))


def test_checkpoint_with_an_optimizer_that_has_no_predictor_is_refused():
    with pytest.raises(ConfigError, match=r"predictor_checkpoint is read by predictor-guided optimizers"):
        load_config({"optimizer": "re", "search": {"predictor_checkpoint": "pretrained"}})


def test_bananas_rejects_an_unknown_fit_mode():
    with pytest.raises(ValueError, match="Bananas: fit_predictor must be true"):
        get_optimizer("bananas", family="nb201", predictor="cg_trees", fit_predictor="maybe")


def _saved_knn(table, path: Path, rows: slice = slice(0, 40)) -> Path:
    knn = optimizer_stand_ins.HammingKNN(k=3).fit(table.archs[rows], table.metric(METRIC)[rows], family="nb201")
    return knn.save(path)


def test_saved_predictor_is_used_as_is(tmp_path, table):
    saved = _saved_knn(table, tmp_path / "models" / "knn.npz")
    config_file = tmp_path / "bananas.yaml"
    doc = _bananas({"predictor_checkpoint": "models/knn.npz", "predictor_kwargs": {"k": 2}})
    config_file.write_text(json.dumps(doc))  # JSON is YAML; the path is relative to the config file
    cfg = load_config(config_file)
    kwargs = optimizer_kwargs(cfg)
    model = kwargs["predictor"]
    assert isinstance(model, optimizer_stand_ins.HammingKNN) and model.k == 2 and model.is_fitted()
    assert kwargs["fit_predictor"] is False and "predictor_kwargs" not in kwargs
    before = model.X_.copy()
    result = run_search(cfg, folder=tmp_path / "run", table=table, report=False)
    surrogate = result.optimizer.surrogate
    assert not surrogate.fit_enabled and np.array_equal(surrogate.members[0].X_, before)
    assert all(t["predicted_mean"] is not None for t in result.trials[10:])
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert len(meta["identity"]["search"]["predictor_checkpoint_sha256"]) == 64
    assert saved.is_file()


def test_checkpoint_errors_at_load_time_name_the_key(tmp_path, table):
    _saved_knn(table, tmp_path / "knn.npz")
    bad_kwargs = load_config(
        _bananas({"predictor_checkpoint": str(tmp_path / "knn.npz"), "predictor_kwargs": {"z": 1}})
    )
    with pytest.raises(ConfigError, match=r"search.predictor_kwargs: invalid hyperparameter 'z'"):
        optimizer_kwargs(bad_kwargs)
    other = load_config(_bananas({"predictor_checkpoint": str(tmp_path / "knn.npz"), "predictor_type": "cg_trees"}))
    with pytest.raises(ConfigError, match=r"holds a 'hamming_knn_stand_in' predictor, but search.predictor is"):
        optimizer_kwargs(other)
    (tmp_path / "junk.npz").write_bytes(b"not a predictor")
    with pytest.raises(ConfigError, match=r"is not a predictor file"):
        optimizer_kwargs(load_config(_bananas({"predictor_checkpoint": str(tmp_path / "junk.npz")})))


def test_resume_refuses_a_changed_checkpoint_file(tmp_path, table):
    path = _saved_knn(table, tmp_path / "knn.npz")
    cfg = load_config(_bananas({"predictor_checkpoint": str(path), "epochs": 12}))
    run_search(cfg, folder=tmp_path / "run", table=table, report=False)
    _saved_knn(table, path, slice(40, 80))  # same name, other content
    with pytest.raises(ValueError, match="holds a search with other settings"):
        run_search(cfg, folder=tmp_path / "run", table=table, report=False)


def test_a_finished_search_is_extended_by_a_larger_budget(tmp_path, table):
    base = {"search_space": "nasbench201", "optimizer": "re", "seed": 4}
    short = load_config({**base, "search": {"epochs": 6, "population_size": 4, "sample_size": 2}})
    longer = load_config({**base, "search": {"epochs": 11, "population_size": 4, "sample_size": 2}})
    run_search(short, folder=tmp_path / "ext", table=table, report=False)
    extended = run_search(longer, folder=tmp_path / "ext", table=table, report=False)
    fresh = run_search(longer, folder=tmp_path / "fresh", table=table, report=False)
    assert extended.resumed == 6
    assert [t["hash"] for t in read_trials(tmp_path / "ext")] == [t["hash"] for t in fresh.trials]
    meta = json.loads((tmp_path / "ext" / "metadata.json").read_text())
    assert meta["budget_changes"][0]["from"] == 6 and meta["config"]["search"]["epochs"] == 11


def test_finetune_mode_tunes_a_copy_of_the_start_each_round(table):
    archs, y = table.archs[:60], table.metric(METRIC)[:60]
    start = FinetunableKNN(k=2).fit(archs[:20], y[:20], family="nb201")
    with pytest.raises(ValueError, match="'finetune' needs a fitted predictor instance"):
        Surrogate(FinetunableKNN(k=2), "nb201", fit="finetune")
    with pytest.raises(ValueError, match="'finetune' needs a fitted predictor instance"):
        Surrogate(optimizer_stand_ins.HammingKNN(k=2).fit(archs, y), "nb201", fit="finetune")
    ens = Surrogate(start, "nb201", num_ensemble=2, seeds=[5, 6], fit="finetune")
    assert [m.random_state for m in ens.members] == [5, 6] and all(m.is_fitted() for m in ens.members)
    FinetunableKNN.calls = 0
    ens.fit(archs[20:30], y[20:30])
    ens.fit(archs[20:40], y[20:40])
    assert FinetunableKNN.calls == 4
    # Each round starts from the given weights: 20 start rows + this round's 20, not 20 + 10 + 20.
    assert all(len(m.y_) == 40 for m in ens.members) and len(start.y_) == 20
    mean, std = ens.predict(archs[40:50])
    assert mean.shape == std.shape == (10,)


def test_finetune_mode_in_bananas_keeps_the_given_predictor(table):
    archs, y = table.archs[:20], table.metric(METRIC)[:20]
    start = FinetunableKNN(k=2).fit(archs, y, family="nb201")
    opt = get_optimizer(
        "bananas", family="nb201", metric=METRIC, random_state=1, predictor=start, num_ensemble=1,
        fit_predictor="finetune", num_init=5, k=3, num_candidates=15,
    )  # fmt: skip
    while len(opt.history) < 11:
        (arch,) = opt.ask(1)
        opt.tell(arch, table.lookup(arch))
    assert opt.rounds == 2 and len(start.y_) == 20
    assert len(opt.surrogate.members[0].y_) == 20 + 8  # fine-tuned on the 8 trials before round 2
    assert all(t.prediction is not None for t in opt.history[5:])


@pytest.mark.slow  # loads the shipped six-member model twice
def test_shipped_pretrained_config_loads_the_pretrained_gennape():
    cfg = load_config(CONFIGS / "search_nb201_bananas_gennape_pretrained.yaml")
    assert cfg.search["predictor_checkpoint"] == "pretrained" and cfg.search["fit_predictor"] is False
    kwargs = optimizer_kwargs(cfg)
    from gennape_naslib.predictors.gennape import GENNAPEPredictor

    assert isinstance(kwargs["predictor"], GENNAPEPredictor) and kwargs["predictor"].is_fitted()
    assert kwargs["fit_predictor"] is False
    # Every call gives a fresh copy, so runs never share (or mutate) one model.
    assert optimizer_kwargs(cfg)["predictor"] is not kwargs["predictor"]


def test_tiny_gennape_checkpoint_finetuned_in_a_search(tmp_path, table):
    from gennape_naslib.predictors.gennape import GENNAPEPredictor

    tiny = GENNAPEPredictor(
        members=("cl_fcm_t",), hidden=8, n_layers=2, cl_epochs=1, epochs=2, n_clusters=2, reference_size=16,
        finetune_epochs=1, num_threads=1, random_state=0,
    )  # fmt: skip
    tiny.fit(table.archs[:24], table.metric(METRIC)[:24], family="nb201").save(tmp_path / "tiny.npz")
    cfg = load_config(
        _bananas(
            {"predictor_checkpoint": str(tmp_path / "tiny.npz"), "fit_predictor": "finetune", "epochs": 13, "k": 3},
        )
    )
    result = run_search(cfg, folder=tmp_path / "run", table=table, report=False)
    surrogate = result.optimizer.surrogate
    assert surrogate.mode == "finetune" and result.optimizer.rounds == 1
    assert "finetune_heads" in surrogate.members[0].history_ and "finetune_heads" not in surrogate.bases[0].history_
    assert all(np.isfinite(t["predicted_mean"]) for t in result.trials[10:])
