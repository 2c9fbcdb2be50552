"""Ask/tell contract of every optimizer: registry, determinism, no repeats, families, exhaustion."""

from __future__ import annotations

import math

import numpy as np
import optimizer_stand_ins
import pytest

from gennape_naslib.optimizers import (
    Optimizer,
    SearchSpaceExhausted,
    get_optimizer,
    list_optimizers,
    register_optimizer,
    resolve_optimizer_name,
)
from gennape_naslib.search.objectives import _load_table
from gennape_naslib.search_spaces import get, list_families

METRIC = "test_acc_200ep"
BUILTIN = ["bananas", "local_search", "multi_objective", "npenas", "random_search", "regularized_evolution"]


@pytest.fixture(scope="module")
def table():
    return _load_table("nb201", "cifar10")


def make(name: str, family: str = "nb201", seed: int = 0, **kw):
    if name in ("bananas", "npenas"):
        kw.setdefault("predictor", optimizer_stand_ins.HammingKNN(k=3))
        kw.setdefault("num_ensemble", 1)
        kw.setdefault("num_init", 8)
        kw.setdefault("k", 4)
        kw.setdefault("num_candidates", 30)
    if name == "multi_objective":
        kw.setdefault("objectives", [f"{METRIC}:max", "edgegpu_latency:min"])
        kw.setdefault("reference_point", [0.0, 100.0])
        kw.setdefault("num_init", 10)
        kw.setdefault("population_size", 10)
    else:
        kw.setdefault("metric", METRIC)
    if name == "regularized_evolution":
        kw.setdefault("population_size", 10)
        kw.setdefault("sample_size", 3)
    return get_optimizer(name, family=family, random_state=seed, **kw)


def drive(opt: Optimizer, table, budget: int, batch: int = 1) -> list[str]:
    while len(opt.history) < budget:
        for arch in opt.ask(batch):
            opt.tell(arch, table.lookup(arch))
    return [t.hash for t in opt.history]


def test_registry_lists_resolves_and_rejects():
    assert list_optimizers() == BUILTIN
    assert resolve_optimizer_name("re") == "regularized_evolution"
    assert resolve_optimizer_name("RS") == "random_search"
    assert resolve_optimizer_name("local-search") == "local_search"
    with pytest.raises(KeyError, match=r"could not resolve optimizer 'nope' among choices \{.*bananas"):
        get_optimizer("nope", family="nb201")
    with pytest.raises(TypeError, match="regularized_evolution"):
        get_optimizer("re", family="nb201", population=3)
    with pytest.raises(TypeError, match="needs an Optimizer subclass"):
        register_optimizer("bad")(int)


@pytest.mark.parametrize("name", BUILTIN)
def test_no_repeats_deterministic_and_seeded(name, table):
    first = drive(make(name, seed=3), table, 40)
    assert len(set(first)) == len(first) == 40
    assert drive(make(name, seed=3), table, 40) == first
    assert drive(make(name, seed=4), table, 40) != first


@pytest.mark.parametrize("name", BUILTIN)
def test_batched_ask_gives_distinct_new_archs_and_best_is_the_max(name, table):
    opt = make(name, seed=1)
    hashes = drive(opt, table, 36, batch=4)
    assert len(set(hashes)) == 36
    best = opt.best()
    assert best.metrics[METRIC] == max(t.metrics[METRIC] for t in opt.history)
    assert opt.top(3)[0] is best
    assert not opt.pending


def test_warm_start_and_failed_trials_are_never_proposed_or_best(table):
    opt = make("random_search", seed=0)
    family = get("nb201")
    seeds = [family.sample(i) for i in range(5)]
    for arch in seeds:
        opt.tell(arch, table.lookup(arch))
    failed = family.sample(99)
    opt.tell(failed, {METRIC: math.nan})
    assert opt.best().hash != family.canonical_hash(failed)
    known = {family.canonical_hash(a) for a in [*seeds, failed]}
    proposed = {family.canonical_hash(a) for a in opt.ask(200)}
    assert not proposed & known
    assert len(opt.successful) == 5


def test_ask_rejects_bad_n_and_tell_rejects_non_mapping():
    opt = make("random_search")
    with pytest.raises(ValueError, match="n must be >= 1"):
        opt.ask(0)
    with pytest.raises(TypeError, match="metrics must be a mapping"):
        opt.tell(opt.ask(1)[0], [1.0])


def test_minimisation_prefers_small_values(table):
    opt = make("regularized_evolution", metric="edgegpu_latency", maximize=False)
    drive(opt, table, 30)
    assert opt.best().metrics["edgegpu_latency"] == min(t.metrics["edgegpu_latency"] for t in opt.history)


def test_regularized_evolution_mutates_tournament_winners(table):
    opt = make("regularized_evolution", seed=2)
    drive(opt, table, 30)
    family = get("nb201")
    assert len(opt.population) == 10
    # Every child after the random warm-up is one mutation away from some earlier architecture.
    ops = [t.arch.ops for t in opt.history]
    for i in range(10, 30):
        assert any(sum(a != b for a, b in zip(ops[i], ops[j])) == 1 for j in range(i)), family.to_str(
            opt.history[i].arch
        )


def test_regularized_evolution_batch_fills_only_the_free_warm_up_slots_with_random_cells(table):
    opt = make("regularized_evolution", seed=0)  # population_size 10
    first = opt.ask(8)
    for arch in first:
        opt.tell(arch, table.lookup(arch))
    second = opt.ask(8)  # 2 warm-up slots left: 2 random cells, then 6 children of the population
    parents = [a.ops for a in first]
    children = [a for a in second[2:] if any(sum(x != y for x, y in zip(a.ops, p)) == 1 for p in parents)]
    assert len(children) == 6
    # Serial asks are unchanged: the first mutation comes right after population_size random cells.
    serial = make("regularized_evolution", seed=0)
    drive(serial, table, 10)
    (child,) = serial.ask(1)
    assert any(sum(x != y for x, y in zip(child.ops, t.arch.ops)) == 1 for t in serial.population)


def test_local_search_restarts_only_at_local_optima_of_the_history(table):
    family = get("nb201")
    for seed in (0, 1):
        opt = make("local_search", seed=seed, num_init=10)
        drive(opt, table, 400)
        assert opt.restarts == len(opt.local_optima) >= 3
        told = {t.hash: t for t in opt.history}
        for optimum in opt.local_optima:
            # Every neighbour was evaluated, in this climb or an earlier one (or as an equal cell),
            # and none is better.
            keys = [family.canonical_hash(a) for a in family.neighbors(optimum.arch)]
            assert all(k in told for k in keys)
            assert max(opt.score(told[k]) for k in keys) <= opt.score(optimum), family.to_str(optimum.arch)


def test_local_search_climbs_and_restarts(table):
    opt = make("local_search", seed=0, num_init=5)
    drive(opt, table, 200)
    assert opt.restarts >= 1
    # While climbing, the current architecture never gets worse until a restart.
    assert opt.current is not None


def test_space_exhaustion_is_reported():
    for name in ("random_search", "regularized_evolution", "local_search"):
        kw = {"max_attempts": 200}
        if name == "regularized_evolution":
            kw.update(population_size=2, sample_size=2)
        if name == "local_search":
            kw.update(num_init=2)
        opt = get_optimizer(name, family=optimizer_stand_ins.TinyFamily(), metric="m", random_state=0, **kw)
        values = []
        for _ in range(5):
            (arch,) = opt.ask(1)
            values.append(arch.value)
            opt.tell(arch, {"m": float(arch.value)})
        assert sorted(values) == [0, 1, 2, 3, 4]
        with pytest.raises(SearchSpaceExhausted, match="no new tiny_stand_in architecture"):
            opt.ask(1)


STRUCTURAL = "text_length"  # a structural stand-in objective for mechanics tests, not a performance label


@pytest.mark.parametrize("family_name", list_families())
@pytest.mark.parametrize("name", ["random_search", "regularized_evolution", "local_search"])
def test_every_family(family_name, name):
    family = get(family_name)
    kw = {"population_size": 4, "sample_size": 2} if name == "regularized_evolution" else {}
    if name == "local_search":
        kw["num_init"] = 3
    opt = get_optimizer(name, family=family_name, metric=STRUCTURAL, random_state=0, **kw)
    for _ in range(8):
        (arch,) = opt.ask(1)
        family.validate(arch)
        opt.tell(arch, {STRUCTURAL: float(len(family.to_str(arch)))})
    assert len({t.hash for t in opt.history}) == 8
    assert np.isfinite(opt.score(opt.best()))


@pytest.mark.parametrize("name", BUILTIN)
def test_shipped_conformance_suite(name, table):
    from gennape_naslib.testing.optimizer_contract import OptimizerContract

    OptimizerContract(lambda seed: make(name, seed=seed), table.lookup, budget=24).check_all()
