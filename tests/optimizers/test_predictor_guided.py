"""BANANAS and NPENAS: acquisition functions on hand cases, surrogate ensembles, predictions on record."""

from __future__ import annotations

import math

import numpy as np
import optimizer_stand_ins
import pytest
from scipy.stats import norm

from gennape_naslib.optimizers import get_optimizer
from gennape_naslib.optimizers._surrogate import ACQUISITION_FUNCTIONS, Surrogate, acquisition
from gennape_naslib.search.objectives import _load_table

METRIC = "test_acc_200ep"


@pytest.fixture(scope="module")
def table():
    return _load_table("nb201", "cifar10")


def test_acquisition_hand_cases():
    mean, std, rng = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 2.0]), np.random.default_rng(0)
    assert np.allclose(acquisition("exploit_only", mean, std, 2.0, rng), mean)
    assert np.allclose(acquisition("ucb", mean, std, 2.0, rng, explore_factor=0.5), [1.5, 2.0, 4.0])
    pi = acquisition("probability_improvement", mean, std, 2.0, rng)
    assert np.allclose(pi, [norm.cdf(-1.0), 0.0, norm.cdf(0.5)])
    ei = acquisition("ei", mean, std, 2.0, rng)
    expected0 = -1.0 * norm.cdf(-1.0) + 1.0 * norm.pdf(-1.0)
    expected2 = 1.0 * norm.cdf(0.5) + 2.0 * norm.pdf(0.5)
    assert np.allclose(ei, [expected0, 0.0, expected2])
    its_a = acquisition("its", mean, std, 0.0, np.random.default_rng(5))
    its_b = acquisition("its", mean, std, 0.0, np.random.default_rng(5))
    assert np.allclose(its_a, its_b) and its_a[1] == 2.0 and not np.allclose(its_a, mean)
    assert np.allclose(acquisition("its", mean, None, 0.0, rng), mean)
    with pytest.raises(ValueError, match="unknown acquisition function 'x'"):
        acquisition("x", mean, std, 0.0, rng)


def test_surrogate_ensemble_spread_and_pretrained_instance(table):
    archs = table.archs[:30]
    y = table.metric(METRIC)[:30]
    ens = Surrogate(optimizer_stand_ins.HammingKNN(k=2), "nb201", num_ensemble=3, seeds=[1, 2, 3])
    assert len(ens.members) == 3 and all(m.random_state == s for m, s in zip(ens.members, [1, 2, 3]))
    ens.fit(archs, y)
    mean, std = ens.predict(table.archs[30:40])
    assert mean.shape == std.shape == (10,) and np.all(std >= 0)
    fitted = optimizer_stand_ins.HammingKNN(k=1).fit(archs, y)
    single = Surrogate(fitted, "nb201", fit=False, clone=False)
    assert single.members[0] is fitted and not single.fit_enabled
    assert np.allclose(single.predict(archs)[0], y)
    with pytest.raises(ValueError, match="num_ensemble must be >= 1"):
        Surrogate(fitted, "nb201", num_ensemble=0)


@pytest.mark.parametrize("acq", ACQUISITION_FUNCTIONS)
@pytest.mark.parametrize("generator", ["mutation", "random_sampling"])
def test_bananas_records_predictions_and_beats_its_random_start(acq, generator, table):
    opt = get_optimizer(
        "bananas",
        family="nb201",
        metric=METRIC,
        random_state=0,
        predictor=optimizer_stand_ins.HammingKNN(k=3),
        num_ensemble=2,
        num_init=10,
        k=5,
        num_candidates=40,
        acq_fn_type=acq,
        acq_fn_optimization=generator,
    )
    while len(opt.history) < 30:
        (arch,) = opt.ask(1)
        opt.tell(arch, table.lookup(arch))
    assert opt.rounds == 4
    assert all(t.prediction is None for t in opt.history[:10])
    for trial in opt.history[10:]:
        mean, std = trial.prediction
        assert math.isfinite(mean) and std is not None and std >= 0
    assert len({t.hash for t in opt.history}) == 30


def test_bananas_mutation_candidates_stay_near_the_best(table):
    opt = get_optimizer(
        "bananas",
        family="nb201",
        metric=METRIC,
        random_state=1,
        predictor=optimizer_stand_ins.HammingKNN(),
        num_ensemble=1,
        num_init=10,
        num_arches_to_mutate=2,
        max_mutations=2,
    )
    while len(opt.history) < 10:
        (arch,) = opt.ask(1)
        opt.tell(arch, table.lookup(arch))
    parents = [t.arch.ops for t in opt.top(2)]
    for cand in opt._candidates():
        assert min(sum(a != b for a, b in zip(cand.ops, p)) for p in parents) <= 2


def test_npenas_ranks_children_by_the_predictor(table):
    opt = get_optimizer(
        "npenas",
        family="nb201",
        metric=METRIC,
        random_state=0,
        predictor=optimizer_stand_ins.HammingKNN(k=1),
        num_init=10,
        k=3,
        num_candidates=20,
        num_arches_to_mutate=5,
    )
    while len(opt.history) < 19:
        (arch,) = opt.ask(1)
        opt.tell(arch, table.lookup(arch))
    # exploit_only with a 1-NN predictor: the first queued child has the largest predicted mean.
    preds = [t.prediction[0] for t in opt.history[10:13]]
    assert preds == sorted(preds, reverse=True)
    with pytest.raises(ValueError, match="always come from mutation"):
        get_optimizer(
            "npenas", family="nb201", predictor=optimizer_stand_ins.HammingKNN(), acq_fn_optimization="random_sampling"
        )


def test_bananas_validates_its_arguments():
    with pytest.raises(ValueError, match="acq_fn_type 'nope' unknown"):
        get_optimizer("bananas", family="nb201", predictor=optimizer_stand_ins.HammingKNN(), acq_fn_type="nope")
    with pytest.raises(ValueError, match="k must be >= 1"):
        get_optimizer("bananas", family="nb201", predictor=optimizer_stand_ins.HammingKNN(), k=0)


def test_bananas_with_a_registered_predictor_name(table):
    """The registry path: a predictor named by string (cg_trees, an ensemble with its own std)."""
    opt = get_optimizer(
        "bananas",
        family="nb201",
        metric=METRIC,
        random_state=0,
        predictor="cg_trees",
        predictor_kwargs={"n_estimators": 10},
        num_ensemble=1,
        num_init=6,
        k=3,
        num_candidates=10,
    )
    while len(opt.history) < 9:
        (arch,) = opt.ask(1)
        opt.tell(arch, table.lookup(arch))
    assert opt.history[-1].prediction is not None and opt.history[-1].prediction[1] is not None


@pytest.mark.parametrize("name", ["bananas", "npenas"])
def test_one_fit_per_round_even_when_the_best_neighbourhoods_are_used_up(name, table):
    fits = []

    class Counting(optimizer_stand_ins.HammingKNN):
        def fit(self, X, y, family=None):
            fits.append(len(X))
            return super().fit(X, y, family)

    opt = get_optimizer(
        name,
        family="nb201",
        metric=METRIC,
        random_state=0,
        predictor=Counting(k=1),
        num_ensemble=1,
        num_init=10,
        k=5,
        num_candidates=20,
        num_arches_to_mutate=1,
    )
    while len(opt.history) < 90:
        (arch,) = opt.ask(1)
        opt.tell(arch, table.lookup(arch))
    assert len(fits) == opt.rounds == (90 - 10) // 5
    assert fits == list(range(10, 90, 5))


def test_bananas_calibrate_std_rescales_by_its_own_earlier_predictions(table):
    """``calibrate_std``: each round's std factor is ``spread_scale`` of the window of earlier (prediction,
    label) pairs, rebuilt here from the recorded trials alone; without the option the std is as given."""
    from gennape_naslib.optimizers.bananas import CALIBRATION_MIN_PAIRS, CALIBRATION_WINDOW
    from gennape_naslib.predictors.spread import spread_scale

    def run(calibrate):
        opt = get_optimizer(
            "bananas", family="nb201", metric=METRIC, random_state=3, predictor=optimizer_stand_ins.HammingKNN(k=3),
            num_ensemble=2, num_init=10, k=5, num_candidates=30, calibrate_std=calibrate,
        )  # fmt: skip
        while len(opt.history) < 60:
            (arch,) = opt.ask(1)
            opt.tell(arch, table.lookup(arch))
        return opt

    opt, plain = run(True), run(False)
    assert plain.surrogate.std_scale == 1.0
    raw: list[tuple[float, float, float]] = []  # (label, mean, uncalibrated std) in evaluation order
    scales = []
    for start in range(10, 60, 5):  # one round of k = 5 proposals each
        window = [p for p in raw if p[2] > 0][-CALIBRATION_WINDOW:]
        scale = spread_scale(*map(np.array, zip(*window))) if len(window) >= CALIBRATION_MIN_PAIRS else 1.0
        scales.append(scale)
        for trial in opt.history[start : start + 5]:
            mean, std = trial.prediction
            raw.append((trial.metrics[METRIC], mean, std / scale))
    assert scales[0] == 1.0 and all(s != 1.0 for s in scales[1:])
    # the last round's factor (a wrong factor in any earlier round would have changed the rebuilt pairs)
    assert opt.surrogate.std_scale == pytest.approx(scales[-1], rel=1e-9)
    # the first round (no pairs yet) proposes exactly what the uncalibrated search does
    assert [t.hash for t in opt.history[:15]] == [t.hash for t in plain.history[:15]]
    with pytest.raises(ValueError, match="calibrate_std must be true or false"):
        get_optimizer("bananas", family="nb201", predictor=optimizer_stand_ins.HammingKNN(), calibrate_std="yes")
