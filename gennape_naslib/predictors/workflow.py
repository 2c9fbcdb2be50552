"""Train a predictor on some families and test it zero-shot and k-shot on others (GENNAPE's demo protocol).

This is what ``gennape train`` and ``scripts/run_cg_kgnn_predictor.py`` run:

1. every training family's labelled table is split into train / dev / test (``dev_ratio``, ``test_ratio``,
   shuffled by the seed); the predictor is fitted on the union of the train parts (or, with a
   checkpoint, the checkpoint is fine-tuned on it), and scored on the union of the dev and test parts;
2. every test family ``F#N`` is scored on all of its table without fine-tuning ("NoFT"), then a copy is
   fine-tuned on N architectures chosen by the seed and scored on the rest ("FT"); the original model
   is never changed. With N > 0 the NoFT row is also computed on the same rest, so the two compare.

Family tokens name a packaged or imported table (``gennape data list``) or a family whose table has the
same name; ``nb201c10`` / ``nb201c100`` / ``nb201in16`` select NB-201's CIFAR-10 / CIFAR-100 /
ImageNet16-120 columns as in GENNAPE. The metric is the table's accuracy column unless given; accuracy
columns stored as fractions are converted to percent, so that every family has the same units (a model
trained on one family is fine-tuned on another on the same scale).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FamilyData", "load_family_data", "parse_family_list", "run_training"]

logger = logging.getLogger(__name__)

#: GENNAPE's NB-201 family names and the dataset of the packaged table they select.
NB201_ALIASES = {"nb201c10": "cifar10", "nb201c100": "cifar100", "nb201in16": "imagenet16_120"}


@dataclass
class FamilyData:
    """The labelled architectures of one family token."""

    token: str
    family: Any
    archs: list[Any]
    y: np.ndarray
    metric: str

    def take(self, idx: Sequence[int] | np.ndarray) -> tuple[list[Any], np.ndarray]:
        """Architectures and labels at ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        return [self.archs[i] for i in idx], self.y[idx]


def load_family_data(token: str, metric: str | None = None, dataset: str | None = None) -> FamilyData:
    """The labelled architectures of a family token (see the module docstring).

    Raises:
        ValueError: If the token names no table, the metric is not a column, or no row has a label.
    """
    from gennape_naslib import data, search_spaces
    from gennape_naslib.evaluation.config import DEFAULT_TARGETS

    name = token.strip()
    if name in NB201_ALIASES:
        name, dataset = "nb201", dataset or NB201_ALIASES[name]
    if name == "nb201" and dataset is None:
        dataset = "cifar10"
    try:
        table = data.load(name, dataset=dataset)
    except data.DataNotFoundError as exc:
        raise ValueError(f"family {token!r}: {exc}") from None
    columns = list(table.metric_names)

    def column(m: str) -> str | None:  # 'm' itself, or the first 'm/<dataset>' of a table with several datasets
        return m if m in columns else next((c for c in columns if c.startswith(m + "/")), None)

    if metric is None:
        metric = next((m for m in DEFAULT_TARGETS if column(m) is not None), None)
        if metric is None:
            raise ValueError(f"family {token!r}: no accuracy column among {columns}; pass a metric")
    elif column(metric) is None:
        raise ValueError(f"family {token!r}: metric {metric!r} is not a column of table {name!r} ({columns})")
    y = np.asarray(table.metric(column(metric)), dtype=np.float64)
    keep = np.flatnonzero(np.isfinite(y))
    if keep.size == 0:
        raise ValueError(f"family {token!r}: no architecture has a {metric!r} value")
    if metric in DEFAULT_TARGETS and np.nanmax(np.abs(y)) <= 1.0:
        y = y * 100.0  # accuracy columns stored as fractions (e.g. OFA top-1): one unit, percent, for every family
    archs = table.archs
    return FamilyData(token, search_spaces.get(table.family), [archs[i] for i in keep], y[keep], metric)


def parse_family_list(text: str | Sequence[str], with_shots: bool = False) -> list[tuple[str, int]]:
    """Parse ``"nb101#50 + nb301#50"`` (GENNAPE's syntax; ``#N`` optional, default 0) or a list of tokens.

    Raises:
        ValueError: For an empty list or a shot count that is not a non-negative number.
    """
    tokens = text if not isinstance(text, str) else text.split("+")
    out: list[tuple[str, int]] = []
    for raw in tokens:
        token = str(raw).strip()
        if not token:
            continue
        name, _, shots = token.partition("#")
        n = 0
        if shots.strip():
            if not with_shots:
                raise ValueError(f"{token!r}: '#N' is only allowed for test families")
            try:
                n = int(float(shots))
            except ValueError:
                raise ValueError(f"{token!r}: the shot count after '#' must be a number") from None
            if n < 0:
                raise ValueError(f"{token!r}: the shot count must be >= 0")
        if name.strip() not in {t for t, _ in out}:
            out.append((name.strip(), n))
    if not out:
        raise ValueError(f"no family in {text!r}")
    return out


def _split(n: int, dev_ratio: float, test_ratio: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not (0 <= dev_ratio < 1 and 0 <= test_ratio < 1 and dev_ratio + test_ratio < 1):
        raise ValueError(f"dev_ratio {dev_ratio} and test_ratio {test_ratio} must be in [0, 1) with a sum below 1")
    perm = np.random.default_rng(seed).permutation(n)
    n_dev, n_test = int(round(n * dev_ratio)), int(round(n * test_ratio))
    return perm[n_dev + n_test :], perm[:n_dev], perm[n_dev : n_dev + n_test]


def _as_inputs(parts: list[tuple[FamilyData, np.ndarray]]) -> tuple[list[Any], np.ndarray, Any]:
    """Predictor inputs for rows of one or several families (several: computation graphs)."""
    X: list[Any] = []
    ys = []
    for fam, idx in parts:
        archs, y = fam.take(idx)
        X.extend(archs if len(parts) == 1 else [fam.family.to_cg(a) for a in archs])
        ys.append(y)
    family = parts[0][0].family if len(parts) == 1 else None
    return X, np.concatenate(ys), family


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from gennape_naslib.evaluation.metrics import evaluate_predictions

    out = evaluate_predictions(y, p)
    out["mse"] = float(np.mean((np.asarray(y) - np.asarray(p)) ** 2))
    out["n"] = int(len(y))
    return out


def run_training(
    model: str | Any,
    train: Sequence[str],
    test: Sequence[tuple[str, int]] = (),
    *,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    epochs: int | None = None,
    finetune_epochs: int | None = None,
    dev_ratio: float = 0.1,
    test_ratio: float = 0.1,
    metric: str | None = None,
    out_dir: str | Path | None = None,
    save_finetuned: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train (or start from a checkpoint), evaluate in-domain, then zero-shot and k-shot on test families.

    Args:
        model: A registry name (``"gennape"``, ``"kgnn"``, ...) to train from scratch, or a fitted
            predictor (a checkpoint) to fine-tune on the training families (``epochs`` fine-tuning epochs;
            ``epochs=0`` evaluates it as is).
        train: Training family tokens (may be empty with a checkpoint: no training).
        test: ``(token, N)`` test families with their fine-tuning shots.
        seed: Seed of the splits, the shots and the predictor.
        params: Hyperparameters of a new predictor.
        epochs: Training epochs (the predictor's default when ``None``).
        finetune_epochs: Fine-tuning epochs on test families (the predictor's default when ``None``).
        dev_ratio, test_ratio: Fractions of each training family held out for dev and in-domain test.
        metric: Label column (default: each table's accuracy column).
        out_dir: Folder for ``model.npz``, ``metrics.json`` (and ``<family>_ft.npz`` with ``save_finetuned``);
            ``metrics.json`` is written last, so a folder without it holds an unfinished run.
        save_finetuned: Also save every fine-tuned copy.
        log: Called with every progress line (default: the module logger).

    Returns:
        ``{"rows": [...], "model": predictor, "seconds": {...}}``; each row has ``family``, ``setting``
        (``train``/``dev``/``test``/``NoFT``/``FT``), ``shots`` and the metrics of
        :func:`~gennape_naslib.evaluation.metrics.evaluate_predictions` plus ``mse`` and ``n``.

    Raises:
        ValueError: Before any training, for a family without a table, a shot count that leaves fewer
            than 2 architectures to test on, an unknown hyperparameter, or ``epochs`` with a checkpoint
            and no training family.
        UnknownPredictorError: If ``model`` names no registered predictor.
    """
    say = log or logger.info
    out = Path(out_dir) if out_dir is not None else None
    rows: list[dict[str, Any]] = []
    seconds: dict[str, float] = {}

    def record(family: str, setting: str, shots: int, y: np.ndarray, p: np.ndarray) -> None:
        row = {"family": family, "setting": setting, "shots": shots, **_metrics(y, p)}
        rows.append(row)
        say(
            f"{family} {setting}: n={row['n']} Spearman {row['spearman']:.4f} KT1e-4 {row['gennape_tau']:.4f} "
            f"NDCG@10 {row['ndcg_10']:.4f} NDCG@50 {row['ndcg_50']:.4f} MAE {row['mae']:.4f} MAPE {row['mape']:.4f}"
        )

    # Settings are checked before the tables load and before any training, so that a bad one fails at once.
    if isinstance(model, str):
        if not train:
            raise ValueError("training a new predictor needs at least one training family")
        kwargs = dict(params or {})
        if epochs is not None:
            kwargs["epochs"] = int(epochs)
        from gennape_naslib.predictors import get_predictor

        predictor = get_predictor(model, **kwargs)
        if "random_state" in predictor.get_params() and "random_state" not in kwargs:
            predictor.set_params(random_state=seed)  # not every predictor has randomness (flops, params)
    else:
        predictor = model
        if not train and epochs:
            raise ValueError(f"epochs={epochs} would fine-tune the checkpoint on training families, but none is given")
        if train and not hasattr(predictor, "finetune"):
            raise ValueError(f"{type(predictor).__name__} cannot be fine-tuned on the training families")
    train_data = [load_family_data(t, metric) for t in train]
    test_data = [(load_family_data(t, metric), n) for t, n in test]
    for fam, shots in test_data:  # before any training: a bad shot count must not cost a training run
        if shots >= len(fam.y) - 1:
            raise ValueError(f"test family {fam.token!r}: {shots} shots leave fewer than 2 of {len(fam.y)} to test on")
    splits = [(fam, _split(len(fam.y), dev_ratio, test_ratio, seed)) for fam in train_data]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)  # before training: an unusable folder must not cost a training run
        # metrics.json is written last and describes model.npz: a rerun into the folder removes an earlier
        # run's before it replaces the model, so an interrupted rerun never leaves the old metrics next to
        # the new model (a folder without metrics.json is an unfinished run)
        (out / "metrics.json").unlink(missing_ok=True)
    for fam, (tr, dev, te) in splits:
        say(f"train family {fam.token}: {len(tr)} train / {len(dev)} dev / {len(te)} test ({fam.metric})")

    t0 = time.perf_counter()
    if isinstance(model, str):
        trained = True
        X, y, family = _as_inputs([(fam, tr) for fam, (tr, _, _) in splits])
        predictor.fit(X, y, family=family)
    else:
        trained = bool(train_data) and (epochs is None or epochs > 0)
        if trained:
            X, y, family = _as_inputs([(fam, tr) for fam, (tr, _, _) in splits])
            predictor = predictor.finetune(X, y, epochs=epochs, family=family)
    seconds["train"] = time.perf_counter() - t0
    if trained:
        say(f"trained {type(predictor).__name__} in {seconds['train']:.1f} s")
    else:
        say(f"using the checkpoint {type(predictor).__name__} as it is (no training)")
    if out is not None:
        predictor.save(out / "model.npz")

    for fam, (_, dev, te) in splits:
        for setting, idx in (("dev", dev), ("test", te)):
            if len(idx) > 1:
                X, y, family = _as_inputs([(fam, idx)])
                record(fam.token, setting, 0, y, predictor.predict(X, family=family))

    for fam, shots in test_data:
        n = len(fam.y)
        perm = np.random.default_rng(seed).permutation(n)
        shot_idx, rest = perm[:shots], perm[shots:]
        X_rest, y_rest = fam.take(rest)
        t0 = time.perf_counter()
        record(fam.token, "NoFT", shots, y_rest, predictor.predict(X_rest, family=fam.family))
        seconds[f"{fam.token}/NoFT"] = time.perf_counter() - t0
        if shots > 0:
            if not hasattr(predictor, "finetune"):
                raise ValueError(f"test family {fam.token}#{shots}: {type(predictor).__name__} cannot be fine-tuned")
            X_shot, y_shot = fam.take(shot_idx)
            t0 = time.perf_counter()
            tuned = predictor.finetune(X_shot, y_shot, epochs=finetune_epochs, family=fam.family)
            record(fam.token, "FT", shots, y_rest, tuned.predict(X_rest, family=fam.family))
            seconds[f"{fam.token}/FT"] = time.perf_counter() - t0
            if out is not None and save_finetuned:
                tuned.save(out / f"{fam.token}_ft.npz")

    if out is not None:
        from gennape_naslib._atomic import atomic_write

        with atomic_write(out / "metrics.json") as fh:
            json.dump({"seed": seed, "rows": rows, "seconds": seconds}, fh, indent=1, sort_keys=True)
    return {"rows": rows, "model": predictor, "seconds": seconds}
