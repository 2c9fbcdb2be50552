"""Zero-cost proxies: scores of untrained networks that rank architectures (NAS-Bench-Suite-Zero's set).

Proxies: ``synflow``, ``snip``, ``grasp``, ``fisher``, ``grad_norm``, ``jacov``, ``nwot``, ``zen``,
``epe_nas``, ``l2_norm``, ``plain``, ``params``, ``flops``. Each is computed on the real PyTorch network
of any family (``family.to_module(arch)``, PyTorch's default initialisation under ``torch.manual_seed``)
with a real CIFAR-10 minibatch shipped in the package (:mod:`gennape_naslib.proxies.batch`; ImageNet
families get the same images resized to their resolution). Definitions follow NASLib's zero-cost
predictors, which produced the published NAS-Bench-Suite-Zero scores; each module documents its
formula, and every proxy declares ``higher_is_better``.

Example::

    from gennape_naslib import proxies, search_spaces
    nb201 = search_spaces.get("nb201")
    archs = [nb201.sample(i) for i in range(3)]
    proxies.score("synflow", nb201, archs, seed=0)       # float64 array, one score per arch
    proxies.list_proxies()

Each proxy is also a :class:`~gennape_naslib.predictors.base.Predictor` (``fit`` is a no-op),
registered in the predictor registry under its name; see :mod:`gennape_naslib.proxies.predictor`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from gennape_naslib._threads import threads
from gennape_naslib.proxies import (  # noqa: F401  (registers the built-in proxies)
    counts,
    epe_nas,
    fisher,
    grad_norm,
    grasp,
    jacov,
    l2_norm,
    nwot,
    plain,
    snip,
    synflow,
    zen,
)
from gennape_naslib.proxies.base import (
    NAN_SCORE,
    ProxyInput,
    UnknownProxyError,
    ZeroCostProxy,
    as_float_scores,
    get_proxy,
    list_proxies,
    register_proxy,
)
from gennape_naslib.proxies.batch import DEFAULT_BATCH_SIZE, proxy_batch

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "NAN_SCORE",
    "ProxyInput",
    "UnknownProxyError",
    "ZeroCostProxy",
    "get_proxy",
    "list_proxies",
    "register_proxy",
    "score",
    "score_many",
    "score_one",
]


def _family(family: Any) -> Any:
    if isinstance(family, str):
        from gennape_naslib import search_spaces

        return search_spaces.get(family)
    return family


def _threads(n: int | None) -> Any:
    """``n`` torch / BLAS threads for the block (``None``: leave the process's setting)."""
    return contextlib.nullcontext() if n is None else threads(n)


def _item(adapter: Any, arch: Any, seed: int, batch_size: int) -> ProxyInput:
    arch = adapter.coerce(arch)
    inputs, targets = proxy_batch(adapter, arch, batch_size=batch_size, seed=seed)
    return ProxyInput(family=adapter, arch=arch, inputs=inputs, targets=targets, seed=int(seed))


def score_one(
    name: str | ZeroCostProxy,
    family: Any,
    arch: Any,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_threads: int | None = 1,
    draws: int = 1,
) -> float:
    """One proxy's raw score of one architecture (NaN possible; see :func:`score` for the array form).

    Args:
        name: Proxy name or instance.
        family: Family name or adapter.
        arch: An ``Arch`` of the family, or its JSON encoding or text form.
        seed: Seed of the weights, of the batch draw and of any random input.
        batch_size: Number of CIFAR-10 images (1..160; NAS-Bench-Suite-Zero used 32).
        num_threads: torch / BLAS threads while scoring (see :func:`score`).
        draws: Number of draws averaged (see :func:`score`).
    """
    proxy = get_proxy(name)
    adapter = _family(family)
    seeds = _draw_seeds(seed, draws)
    with _threads(num_threads), torch.random.fork_rng(devices=[]):
        values = [float(proxy.compute(_item(adapter, arch, s, batch_size))) for s in seeds]
    return values[0] if len(values) == 1 else _mean_of_draws(values)


def _draw_seeds(seed: int, draws: int) -> list[int]:
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    return [int(seed) + i for i in range(int(draws))]


def _mean_of_draws(values: list[float]) -> float:
    """Mean of the finite draws (NaN when none is finite, so :func:`score` reports NASLib's ``-1e8``)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def score(
    name: str | ZeroCostProxy,
    family: Any,
    archs: Sequence[Any],
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    num_threads: int | None = 1,
    draws: int = 1,
) -> np.ndarray:
    """Compute one zero-cost proxy for many architectures of one family.

    Args:
        name: Proxy name (see :func:`list_proxies`) or a :class:`ZeroCostProxy` instance.
        family: Family name (``"nb201"``) or adapter.
        archs: Architectures: ``Arch`` objects, JSON encodings or text forms of the family.
        seed: Seed of the network weights (``torch.manual_seed`` before ``to_module``), of the choice of
            images and of any random input; the same seed gives the same scores, also across processes.
        batch_size: Number of CIFAR-10 images per network (1..160); 32 as in NAS-Bench-Suite-Zero.
        progress: Show a tqdm progress bar.
        num_threads: torch / BLAS threads while scoring (default 1, as the GNN predictors: one
            process per core is the efficient layout, and two threads per process on a busy 2-core
            machine made one NB-301 architecture take minutes instead of seconds). ``None`` keeps
            the process's current setting.
        draws: Average the raw score over this many draws, seeds ``seed .. seed + draws - 1`` (other
            initial weights and other images each; non-finite draws are left out). 1 (default) is one
            draw. Averaging helps the proxies whose score depends much on the draw: on NB-201, the mean
            of 4 grasp draws agrees better with the published scores than any single draw
            (docs/results.md, "Averaging over draws"); it costs ``draws`` times the time.

    Returns:
        float64 array ``(len(archs),)``; NaN scores (undefined correlations) are reported as NASLib's
        ``-1e8``, ``-inf`` (e.g. a singular ``nwot`` kernel) is kept.

    Raises:
        UnknownProxyError: If ``name`` is not a registered proxy.
        ValueError: If ``batch_size`` or ``draws`` is out of range or an architecture is invalid.
    """
    proxy = get_proxy(name)
    adapter = _family(family)
    _draw_seeds(seed, draws)  # checked before any network is built
    items = list(archs)
    iterator: Any = items
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(items, desc=f"{proxy.name} on {adapter.name}", unit="arch")
    values = [
        score_one(proxy, adapter, arch, seed=seed, batch_size=batch_size, num_threads=num_threads, draws=draws)
        for arch in iterator
    ]
    return as_float_scores(values)


def score_many(
    names: Sequence[str],
    family: Any,
    arch: Any,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_threads: int | None = 1,
) -> dict[str, tuple[float, float]]:
    """Several proxies of one architecture, sharing the passes they have in common.

    The cross-entropy backward (grad_norm, snip, plain, fisher, grasp) and the Jacobian forward
    (jacov, epe_nas, nwot) run once; every score equals what :func:`score_one` gives alone.

    Args:
        names: Proxy names.
        family: Family name or adapter.
        arch: One architecture of the family (``Arch``, JSON encoding or text form).
        seed: As in :func:`score`.
        batch_size: As in :func:`score`.
        num_threads: As in :func:`score`.

    Returns:
        ``{name: (raw score, seconds)}``; the seconds of a shared pass are charged to the first proxy
        that needs it (so the sum over proxies is the total time).
    """
    adapter = _family(family)
    proxies = [get_proxy(n) for n in names]
    out: dict[str, tuple[float, float]] = {}
    with _threads(num_threads), torch.random.fork_rng(devices=[]):
        item = _item(adapter, arch, int(seed), batch_size)
        for proxy in proxies:
            start = time.perf_counter()
            value = float(proxy.compute(item))
            out[proxy.name] = (value, time.perf_counter() - start)
    return out
