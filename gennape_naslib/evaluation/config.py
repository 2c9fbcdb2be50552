"""Typed benchmark configurations that serialise to YAML/JSON.

Three protocols, one dataclass each: :class:`PredictorBenchConfig` (NASLib's within-family
protocol), :class:`TransferBenchConfig` (GENNAPE's cross-family protocol) and
:class:`ProxyBenchConfig` (zero-cost proxies on one table). :func:`config_from_dict` and
:func:`load_config` rebuild them, rejecting unknown keys with a message naming the key.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "NASLIB_TRAIN_SIZES",
    "BenchConfig",
    "MethodSpec",
    "PredictorBenchConfig",
    "ProxyBenchConfig",
    "TableSpec",
    "TransferBenchConfig",
    "config_from_dict",
    "load_config",
]

#: NASLib's usual sweep of training-set sizes.
NASLIB_TRAIN_SIZES = (5, 8, 14, 24, 42, 71, 121, 205, 348, 589, 1000)

#: Accuracy column chosen when a table spec names none (first one the table has).
DEFAULT_TARGETS = ("val_acc", "val_acc_surrogate", "test_acc_200ep", "top1_acc")


def _strict(cls: type, doc: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(doc, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(doc).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(doc) - names - {"protocol"})
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(names))}")
    return dict(doc)


@dataclass(frozen=True)
class TableSpec:
    """Which labelled table, dataset and accuracy column a benchmark uses.

    Args:
        name: Table name (``gennape data list``).
        dataset: Dataset suffix (``"cifar10"``, ...); ``None`` keeps the table as it is when it has
            no per-dataset columns, else picks ``cifar10`` (or the only dataset).
        metric: Accuracy column; ``None`` picks the first of ``val_acc``, ``val_acc_surrogate``,
            ``test_acc_200ep``, ``top1_acc`` present.
    """

    name: str
    dataset: str | None = None
    metric: str | None = None

    @classmethod
    def parse(cls, text: str) -> TableSpec:
        """``NAME[/DATASET][:METRIC]``, e.g. ``nb201/cifar100:test_acc_200ep``."""
        rest, _, metric = text.partition(":")
        name, _, dataset = rest.partition("/")
        if not name:
            raise ValueError(f"table spec {text!r}: expected NAME[/DATASET][:METRIC]")
        return cls(name, dataset or None, metric or None)

    @classmethod
    def from_dict(cls, doc: Any, where: str = "table") -> TableSpec:
        if isinstance(doc, str):
            return cls.parse(doc)
        return cls(**_strict(cls, doc, where))

    def __str__(self) -> str:
        return self.name + (f"/{self.dataset}" if self.dataset else "") + (f":{self.metric}" if self.metric else "")


@dataclass(frozen=True)
class MethodSpec:
    """A predictor or proxy by registry name, with hyperparameters.

    Args:
        name: Registry name (``gennape_naslib.predictors.list_predictors()``).
        params: Constructor keyword arguments (``random_state`` is set per seed when the predictor has it).
        label: Name in results and plots (default: ``name``).
        load: Use a trained model instead of fitting one (transfer protocol): ``"pretrained"`` for the
            predictor class's shipped model (``GENNAPEPredictor.pretrained()``), else the path of a file
            written by ``Predictor.save``. ``params`` are then set on the loaded model.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    load: str = ""

    @property
    def key(self) -> str:
        """The label, or the name."""
        return self.label or self.name

    @classmethod
    def from_dict(cls, doc: Any, where: str = "method") -> MethodSpec:
        if isinstance(doc, str):
            return cls(doc)
        out = _strict(cls, doc, where)
        return cls(out["name"], dict(out.get("params") or {}), out.get("label", ""), str(out.get("load") or ""))


@dataclass
class BenchConfig:
    """Fields shared by every protocol (see the subclasses)."""

    protocol: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML data, with a ``protocol`` key."""
        return {"protocol": self.protocol, **json.loads(json.dumps(dataclasses.asdict(self)))}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write YAML (``.yaml``/``.yml``) or JSON (otherwise)."""
        from gennape_naslib._atomic import atomic_write

        target = Path(path)
        with atomic_write(target) as handle:
            if target.suffix in (".yaml", ".yml"):
                import yaml

                yaml.safe_dump(self.to_dict(), handle, sort_keys=False)
            else:
                json.dump(self.to_dict(), handle, indent=2)
        return target

    def validate(self) -> None:
        """Check the values; raise :class:`ValueError` naming the field."""
        seeds = getattr(self, "seeds", [])
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"{self.protocol} config: seeds must be a non-empty list without repeats, got {seeds}")
        methods = getattr(self, "methods", None)
        if methods is not None:
            if not methods:
                raise ValueError(f"{self.protocol} config: methods is empty")
            keys = [m.key for m in methods]
            if len(set(keys)) != len(keys):
                raise ValueError(f"{self.protocol} config: method labels repeat: {keys}; set distinct 'label's")


@dataclass
class PredictorBenchConfig(BenchConfig):
    """NASLib's protocol within one family.

    Args:
        table: The labelled table.
        methods: Predictors and proxies to compare.
        train_sizes: Training-set sizes (nested prefixes of one sample per seed, as NASLib).
        test_size: Test-set size (disjoint from every training set).
        seeds: One repetition per seed.
        sampling: ``"uniform"`` (random rows) or ``"mutation"`` (training architectures grown by
            mutating earlier ones, kept when the table has them: needs a table covering the space).
    """

    protocol: ClassVar[str] = "predictors"
    table: TableSpec
    methods: list[MethodSpec]
    train_sizes: list[int] = field(default_factory=lambda: list(NASLIB_TRAIN_SIZES))
    test_size: int = 200
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    sampling: str = "uniform"

    def validate(self) -> None:
        super().validate()
        if self.sampling not in ("uniform", "mutation"):
            raise ValueError(f"predictors config: sampling must be 'uniform' or 'mutation', got {self.sampling!r}")
        if not self.train_sizes or min(self.train_sizes) < 1:
            raise ValueError(f"predictors config: train_sizes must be positive, got {self.train_sizes}")
        if self.test_size < 2:
            raise ValueError(f"predictors config: test_size must be at least 2, got {self.test_size}")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> PredictorBenchConfig:
        out = _strict(cls, doc, "predictors config")
        out["table"] = TableSpec.from_dict(out["table"])
        out["methods"] = [MethodSpec.from_dict(m, f"methods[{i}]") for i, m in enumerate(out["methods"])]
        return cls(**{k: v for k, v in out.items() if k != "protocol"})


@dataclass
class TransferBenchConfig(BenchConfig):
    """GENNAPE's protocol: train on some families, test zero-shot and k-shot on others.

    Args:
        train: Training tables (all rows, or ``train_limit`` random rows each).
        test: Test tables. For each seed and test table a fixed permutation gives the fine-tune
            samples (its first ``max(shots)`` rows; the first ``k`` for k-shot) and the test set
            (the rest, at most ``test_size``), the same for every method.
        methods: Predictors and proxies.
        shots: Fine-tune sample counts (0 = zero-shot).
        seeds: One repetition per seed.
        train_limit: Rows per training table (``None``: all).
        test_size: Test rows per test table (``None``: all remaining).
        fixed_test: Use one seed-independent random sample of ``test_size`` rows per test table as
            the test set at every seed (fine-tune samples are then drawn per seed from the other rows),
            so expensive zero-cost proxies are computed once per architecture.
        proxy_seed: Seed of the zero-cost proxies (initial weights, images) at every seed
            (``None``: the cell's seed). With ``fixed_test`` the proxies' scores are computed once.
    """

    protocol: ClassVar[str] = "transfer"
    train: list[TableSpec]
    test: list[TableSpec]
    methods: list[MethodSpec]
    shots: list[int] = field(default_factory=lambda: [0, 50])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    train_limit: int | None = None
    test_size: int | None = None
    fixed_test: bool = False
    proxy_seed: int | None = None

    def validate(self) -> None:
        super().validate()
        if self.fixed_test and self.test_size is None:
            raise ValueError("transfer config: fixed_test needs a test_size")
        if self.test_size is not None and self.test_size < 2:
            raise ValueError(f"transfer config: test_size must be at least 2, got {self.test_size}")
        if not self.train or not self.test:
            raise ValueError("transfer config: needs at least one train and one test table")
        if not self.shots or min(self.shots) < 0:
            raise ValueError(f"transfer config: shots must be counts >= 0, got {self.shots}")
        if self.train_limit is not None and self.train_limit < 2:
            raise ValueError(f"transfer config: train_limit must be at least 2, got {self.train_limit}")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> TransferBenchConfig:
        out = _strict(cls, doc, "transfer config")
        out["train"] = [TableSpec.from_dict(t, f"train[{i}]") for i, t in enumerate(out["train"])]
        out["test"] = [TableSpec.from_dict(t, f"test[{i}]") for i, t in enumerate(out["test"])]
        out["methods"] = [MethodSpec.from_dict(m, f"methods[{i}]") for i, m in enumerate(out["methods"])]
        return cls(**{k: v for k, v in out.items() if k != "protocol"})


@dataclass
class ProxyBenchConfig(BenchConfig):
    """Zero-cost proxies on one table: correlation with accuracy and time per architecture.

    Args:
        table: The labelled table.
        published: Proxy columns of the table to evaluate (``None``: every column named like a
            proxy; ``[]``: none).
        computed: Proxies to compute with :func:`gennape_naslib.proxies.score`.
        n_archs: Architectures to compute proxies on (a fixed random sample; ``None``: all rows).
            Published scores are evaluated on all rows.
        seeds: Seeds of the computed proxies (weights, images).
    """

    protocol: ClassVar[str] = "proxies"
    table: TableSpec
    published: list[str] | None = None
    computed: list[str] = field(default_factory=list)
    n_archs: int | None = None
    seeds: list[int] = field(default_factory=lambda: [0])

    def validate(self) -> None:
        super().validate()
        if self.n_archs is not None and self.n_archs < 2:
            raise ValueError(f"proxies config: n_archs must be at least 2, got {self.n_archs}")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ProxyBenchConfig:
        out = _strict(cls, doc, "proxies config")
        out["table"] = TableSpec.from_dict(out["table"])
        return cls(**{k: v for k, v in out.items() if k != "protocol"})


_PROTOCOLS: dict[str, Any] = {c.protocol: c for c in (PredictorBenchConfig, TransferBenchConfig, ProxyBenchConfig)}


def config_from_dict(doc: Mapping[str, Any]) -> BenchConfig:
    """Rebuild a configuration from :meth:`BenchConfig.to_dict` data (its ``protocol`` key picks the class)."""
    protocol = doc.get("protocol") if isinstance(doc, Mapping) else None
    if protocol not in _PROTOCOLS:
        raise ValueError(f"config: 'protocol' must be one of {sorted(_PROTOCOLS)}, got {protocol!r}")
    try:
        config = _PROTOCOLS[protocol].from_dict(doc)
    except KeyError as exc:
        raise ValueError(f"{protocol} config: missing key {exc.args[0]!r}") from None
    except TypeError as exc:
        raise ValueError(f"{protocol} config: {exc}") from None
    config.validate()
    return config


def load_config(path: str | os.PathLike[str]) -> BenchConfig:
    """Read a YAML or JSON configuration file."""
    text = Path(path).read_text(encoding="utf-8")
    if Path(path).suffix in (".yaml", ".yml"):
        import yaml

        doc = yaml.safe_load(text)
    else:
        doc = json.loads(text)
    try:
        return config_from_dict(doc)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
