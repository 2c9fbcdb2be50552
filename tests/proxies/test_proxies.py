"""Zero-cost proxies: registry, determinism, sign conventions, packaged batch, predictor wrapping."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gennape_naslib import proxies, search_spaces
from gennape_naslib.proxies.base import ZeroCostProxy, register_proxy
from gennape_naslib.proxies.batch import load_images, proxy_batch

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
ALL = [
    "epe_nas",
    "fisher",
    "flops",
    "grad_norm",
    "grasp",
    "jacov",
    "l2_norm",
    "nwot",
    "params",
    "plain",
    "snip",
    "synflow",
    "zen",
]
NB201_CELLS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|skip_connect~1|nor_conv_1x1~2|",
]
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
BATCH = 8


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def nb201():
    return search_spaces.get("nb201")


@pytest.fixture(scope="module")
def two_path():
    return search_spaces.get("two_path")


@pytest.fixture(scope="module")
def nb201_archs(nb201):
    return [nb201.from_str(s) for s in NB201_CELLS]


@pytest.fixture(scope="module")
def nb201_scores(nb201, nb201_archs):
    """Every proxy on the two NB-201 cells, then on the all-``none`` cell (shared passes: one run each)."""
    archs = [*nb201_archs, nb201.from_str(ALL_NONE)]
    return [proxies.score_many(ALL, nb201, a, seed=0, batch_size=BATCH) for a in archs]


def test_registry_lists_every_proxy_with_a_direction():
    assert proxies.list_proxies() == ALL
    assert proxies.list_proxies("s*") == ["snip", "synflow"]
    for name in ALL:
        proxy = proxies.get_proxy(name)
        assert proxy.name == name
        assert isinstance(type(proxy).higher_is_better, bool)
    assert proxies.get_proxy("grad-norm").name == "grad_norm"


def test_registry_errors():
    with pytest.raises(proxies.UnknownProxyError, match=r"could not resolve proxy 'synflo' among choices \{.*synflow"):
        proxies.get_proxy("synflo")
    with pytest.raises(TypeError, match="ZeroCostProxy subclass"):
        register_proxy("not_a_proxy")(object)
    with pytest.raises(ValueError, match="already registered"):

        @register_proxy("synflow")
        class Other(ZeroCostProxy):
            def compute(self, item):
                return 0.0

    with pytest.raises(proxies.UnknownProxyError):
        proxies.score("nope", "nb201", [])


@pytest.mark.slow
def test_every_proxy_is_finite_on_nb201(nb201_scores):
    for scores in nb201_scores[:2]:
        assert set(scores) == set(ALL)
        for name, (value, seconds) in scores.items():
            assert np.isfinite(value), (name, value)
            assert seconds >= 0


@pytest.mark.slow
def test_score_many_equals_each_proxy_alone(nb201, nb201_archs, nb201_scores):
    for name in ("fisher", "grasp", "nwot", "epe_nas"):
        alone = proxies.score_one(name, nb201, nb201_archs[1], seed=0, batch_size=BATCH)
        assert alone == pytest.approx(nb201_scores[1][name][0], rel=1e-9, abs=1e-12), name


def test_deterministic_under_a_seed_and_seed_sensitive(nb201, nb201_archs):
    archs = nb201_archs[1:]
    for name in ("snip", "zen"):
        a = proxies.score(name, nb201, archs, seed=3, batch_size=BATCH)
        b = proxies.score(name, nb201, archs, seed=3, batch_size=BATCH)
        c = proxies.score(name, nb201, archs, seed=4, batch_size=BATCH)
        np.testing.assert_array_equal(a, b)
        assert a[0] != c[0], name


@pytest.mark.slow
def test_second_family_every_proxy(two_path):
    archs = [two_path.sample(0), two_path.sample(1)]
    for name in ALL:
        values = proxies.score(name, two_path, archs, seed=0, batch_size=BATCH)
        assert values.shape == (2,) and values.dtype == np.float64
        assert np.all(np.isfinite(values)), (name, values)
        again = proxies.score(name, two_path, archs[:1], seed=0, batch_size=BATCH)
        assert again[0] == values[0], name


@pytest.mark.slow
def test_signs_on_a_network_that_ignores_its_input(nb201_scores):
    """All-``none`` cells output zeros: no signal reaches the head, so these proxies must rank it last."""
    dead = nb201_scores[2]
    for name in ("synflow", "snip", "grad_norm", "fisher", "nwot", "params", "flops", "l2_norm"):
        assert proxies.get_proxy(name).higher_is_better
        assert dead[name][0] < min(nb201_scores[0][name][0], nb201_scores[1][name][0]), name
    # synflow of the dead network is exactly 0 (NASLib's value); jacov is undefined (NaN), which
    # score() reports as NASLib's -1e8
    assert dead["synflow"][0] == 0.0
    assert np.isnan(dead["jacov"][0])
    assert proxies.score("jacov", "nb201", [ALL_NONE], batch_size=BATCH)[0] == proxies.NAN_SCORE


@pytest.mark.slow
def test_jacov_is_bounded_by_minus_batch_size(nb201_scores):
    for scores in nb201_scores[:2]:
        assert scores["jacov"][0] <= -BATCH + 1e-3


def test_draws_average_consecutive_seeds(nb201, nb201_archs):
    from gennape_naslib.predictors import get_predictor
    from gennape_naslib.proxies import _mean_of_draws

    archs = nb201_archs[1:]
    one = [proxies.score("snip", nb201, archs, seed=s, batch_size=BATCH) for s in (3, 4, 5)]
    np.testing.assert_allclose(proxies.score("snip", nb201, archs, seed=3, batch_size=BATCH, draws=3), np.mean(one, 0))
    np.testing.assert_array_equal(proxies.score("snip", nb201, archs, seed=3, batch_size=BATCH, draws=1), one[0])
    model = get_predictor("snip", batch_size=BATCH, random_state=3, draws=2)
    np.testing.assert_allclose(model.predict(archs, family=nb201), np.mean(one[:2], 0))
    assert model.get_params()["draws"] == 2
    assert _mean_of_draws([float("nan"), 1.0, 3.0]) == 2.0 and np.isnan(_mean_of_draws([float("nan")]))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="draws must be a positive integer"):
            proxies.score("snip", nb201, archs, draws=bad)


def test_batch_preparation(nb201):
    x, y = load_images()
    assert x.shape == (160, 32, 32, 3) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [16] * 10
    inputs, targets = proxy_batch(nb201, nb201.sample(0), batch_size=32, seed=0)
    assert inputs.shape == (32, 3, 32, 32) and targets.dtype == torch.int64
    assert abs(float(inputs.mean())) < 0.5 and 0.5 < float(inputs.std()) < 1.5
    ofa = search_spaces.get("ofa_mbv3")
    arch = ofa.sample(0)
    h = ofa.module_input_shape(arch)[1]
    big, big_targets = proxy_batch(ofa, arch, batch_size=32, seed=0)
    assert big.shape == (32, 3, h, h)
    assert torch.equal(big_targets, targets)  # same images at a seed, whatever the family
    with pytest.raises(ValueError, match="batch_size must be in 1..160"):
        proxy_batch(nb201, nb201.sample(0), batch_size=161)


@pytest.mark.skipif(not (SHARED / "data" / "cifar10").is_dir(), reason="../shared/data/cifar10 is absent")
def test_packaged_batch_is_reproduced_byte_for_byte():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_proxy_batch
    finally:
        sys.path.pop(0)
    payload = build_proxy_batch.build(SHARED / "data" / "cifar10" / "cifar10_train_first1000.npz")
    assert payload == (ROOT / "gennape_naslib" / "proxies" / "data" / "cifar10_batch.npz").read_bytes()


@pytest.mark.skipif(not (SHARED / "data" / "nb201").is_dir(), reason="../shared/data/nb201 is absent")
def test_data_free_proxies_match_published_nb201_scores(nb201):
    """params exactly, l2_norm (init-dependent) within 2 %, synflow (log scale) within 0.5 of NAS-Bench-Suite-Zero."""
    with open(SHARED / "data" / "nb201" / "zc_nasbench201_725.json") as fh:
        table = json.load(fh)["cifar10"]
    keys = sorted(table)[:6]
    archs = [nb201.from_naslib(ast.literal_eval(k)) for k in keys]
    params = proxies.score("params", nb201, archs) / 1e6
    np.testing.assert_allclose(params, [table[k]["params"]["score"] for k in keys], rtol=1e-9)
    l2 = proxies.score("l2_norm", nb201, archs)
    np.testing.assert_allclose(l2, [table[k]["l2_norm"]["score"] for k in keys], rtol=0.02)
    syn = proxies.score("synflow", nb201, archs)
    published = np.array([table[k].get("synflow", {}).get("score", np.nan) for k in keys])
    ok = np.isfinite(published)
    np.testing.assert_allclose(syn[ok], published[ok], atol=0.5)


def test_proxies_are_predictors(nb201, nb201_archs):
    from gennape_naslib.predictors import get_predictor, list_predictors

    assert {"synflow", "jacov", "zen", "epe_nas"} <= set(list_predictors())
    pred = get_predictor("snip", batch_size=BATCH)
    nb201_archs = nb201_archs[1:]
    assert not pred.needs_fit and pred.higher_is_better
    assert pred.fit(nb201_archs, [90.0]) is pred
    expected = proxies.score("snip", nb201, nb201_archs, seed=0, batch_size=BATCH)
    np.testing.assert_array_equal(pred.predict(nb201_archs), expected)
    np.testing.assert_array_equal(pred.predict([nb201.to_json(a) for a in nb201_archs], family="nb201"), expected)
    with pytest.raises(NotImplementedError):
        pred.predict(nb201_archs, return_std=True)
    with pytest.raises(ValueError):
        pred.fit(nb201_archs, [1.0, 2.0])
    assert get_predictor("snip", random_state=1).predict(nb201_archs[:1])[0] != expected[0]


class _ThreadCount(ZeroCostProxy):
    """Reports the torch thread count it runs with (not registered)."""

    name = "thread_count"
    needs_batch = False

    def compute(self, item) -> float:
        return float(torch.get_num_threads())


def test_scoring_runs_with_the_requested_threads_and_restores_them(nb201, nb201_archs):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        arch = nb201_archs[0]
        assert proxies.score_one(_ThreadCount(), nb201, arch) == 1.0  # default: one thread per process
        assert proxies.score(_ThreadCount(), nb201, [arch], num_threads=2)[0] == 2.0
        assert proxies.score_one(_ThreadCount(), nb201, arch, num_threads=None) == 2.0  # the process's setting
        assert proxies.score_many([], nb201, arch) == {}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_logits_of_reads_both_tuple_conventions():
    from gennape_naslib.proxies.base import logits_of

    logits, aux, features = torch.randn(4, 10), torch.randn(4, 10), torch.randn(4, 64)
    assert logits_of(logits) is logits
    assert logits_of((logits, aux)) is logits  # DARTS: (logits, aux_logits)
    assert logits_of((features, logits)) is logits  # NAS-Bench-201 reference nets: (features, logits)
    nb301 = search_spaces.get("nb301").__class__(auxiliary=True)
    out = nb301.to_module(nb301.example()).train()(torch.zeros(2, 3, 32, 32))
    assert isinstance(out, tuple) and len(out) == 2
    assert logits_of(out) is out[0]  # the main head, not the auxiliary one
