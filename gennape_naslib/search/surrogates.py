"""NAS-Bench-301's official surrogate models as a search objective.

NAS-Bench-301 is a *surrogate* benchmark: the accuracy of a DARTS genotype is what an ensemble of
models fitted on about 60k trained architectures predicts for it. gennape-naslib neither ships nor
downloads the models or the package; a user who has them (``nb_models/xgb_v1.0`` and, for training time,
``nb_models/lgb_runtime_v1.0`` from the NAS-Bench-301 v1.0 model archive) queries them through the
official ``nasbench301`` package, as NASLib does::

    objective = NB301SurrogateObjective("nb_models/xgb_v1.0", runtime_dir="nb_models/lgb_runtime_v1.0")
    objective.evaluate(get("nb301").example())   # {"val_acc_surrogate": ..., "train_time_surrogate": ...}

Facts this module relies on (``nasbench301`` 0.3, github automl/nasbench301): ``load_ensemble(folder)``
finds every ensemble member below ``folder`` by its ``*surrogate_model.model`` file and reads
``data_config.json`` and ``model_config.json`` beside the first one; the returned object's
``predict(config=genotype, representation="genotype", with_noise=...)`` reads ``genotype.normal`` and
``genotype.reduce`` (8 ``(op, input)`` pairs each; the concat lists are not read, so only the
default ``[2, 3, 4, 5]`` can be asked for) and returns the ensemble mean, plus a draw of Gaussian
noise with the members' spread from NumPy's global generator when ``with_noise`` is true. The
performance model predicts the CIFAR-10 validation accuracy in percent, the runtime model the training
time in seconds. NASLib's ``query`` calls ``predict`` without ``with_noise`` (the package default,
noisy); this objective defaults to the noise-free mean so that a search is reproducible from its seed.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gennape_naslib.search.objectives import Objective, _derived

__all__ = ["Genotype", "NB301SurrogateObjective", "to_genotype"]

#: The DARTS genotype type (``genotypes.py`` of DARTS; ``nasbench301.representations.Genotype``).
Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")

#: The file that marks an ensemble member's folder (``nasbench301.load_ensemble`` looks for names ending in it).
MEMBER_FILE = "surrogate_model.model"
#: Files ``nasbench301.load_ensemble`` reads beside a member's model file.
MEMBER_CONFIGS = ("data_config.json", "model_config.json")
MODELS_URL = "https://figshare.com/articles/software/nasbench301_models_v1_0_zip/13061510"
_INSTALL = (
    "Install it with: pip install nasbench301 (or from https://github.com/automl/nasbench301), plus the "
    "packages its models need (xgboost for the xgb performance ensemble, lightgbm for the lgb runtime "
    "ensemble, ConfigSpace, scikit-learn, torch and torch-geometric for its other modules); gennape-naslib "
    "does not install it"
)

_ENSEMBLES: dict[str, Any] = {}
_LOCK = threading.Lock()


def _import_nasbench301() -> Any:
    """The ``nasbench301`` module, or a :class:`MissingDependencyError` saying how to install it."""
    from gennape_naslib._optional import require

    # no gennape-naslib extra installs it (its pinned dependencies would clash), so the message says what to do
    return require("nasbench301", None, "Querying the NAS-Bench-301 surrogate models", install=_INSTALL + ".")


def _package_version(module: Any) -> str:
    """The ``nasbench301`` version: the module's ``__version__`` (the 0.3 release has none), else its
    installed distribution's, else ``"unknown"``."""
    from importlib import metadata

    version = getattr(module, "__version__", None)
    if version is not None:
        return str(version)
    try:
        return metadata.version("nasbench301")
    except metadata.PackageNotFoundError:
        return "unknown"


def _check_model_dir(path: str | Path, what: str) -> Path:
    """The absolute folder of a NAS-Bench-301 ensemble, checked before the package loads it.

    Args:
        path: The folder (e.g. ``nb_models/xgb_v1.0``).
        what: What the folder is for, used in messages (``"performance model"``).

    Returns:
        The resolved folder.

    Raises:
        DataNotFoundError: If the folder does not exist, is a file, holds no ensemble member
            (no ``surrogate_model.model`` below it), or a member lacks its configuration files.
    """
    from gennape_naslib.data.table import DataNotFoundError

    folder = Path(path).expanduser().resolve()
    expected = (
        f"expected the folder of a NAS-Bench-301 {what} ensemble (e.g. nb_models/xgb_v1.0 or "
        f"nb_models/lgb_runtime_v1.0 from {MODELS_URL}), whose member folders each hold {MEMBER_FILE}, "
        f"{' and '.join(MEMBER_CONFIGS)}"
    )
    if not folder.exists():
        raise DataNotFoundError(f"NAS-Bench-301 {what} folder {folder} does not exist; {expected}")
    if not folder.is_dir():
        raise DataNotFoundError(f"NAS-Bench-301 {what} folder {folder} is a file; {expected}")
    members = sorted({p.parent for p in folder.rglob(f"*{MEMBER_FILE}")})  # the package's own pattern
    if not members:
        raise DataNotFoundError(f"NAS-Bench-301 {what} folder {folder} holds no {MEMBER_FILE}; {expected}")
    for member in members:
        missing = [name for name in MEMBER_CONFIGS if not (member / name).is_file()]
        if missing:
            raise DataNotFoundError(f"NAS-Bench-301 {what} member {member} lacks {', '.join(missing)}; {expected}")
    return folder


def _ensemble(module: Any, folder: Path) -> Any:
    """The ensemble in ``folder``, loaded once per process (a worker process loads it on first use)."""
    key = str(folder)
    with _LOCK:
        if key not in _ENSEMBLES:
            try:
                _ENSEMBLES[key] = module.load_ensemble(key)
            except Exception as exc:
                # keep the package's own error (a model file from another xgboost, ...), saying which folder
                note = getattr(exc, "add_note", None)  # Python >= 3.11
                if note is not None:
                    note(f"while nasbench301.load_ensemble read the NAS-Bench-301 ensemble in {folder}")
                raise
        return _ENSEMBLES[key]


def to_genotype(arch: Any, family: Any = None) -> Genotype:
    """The DARTS :data:`Genotype` of an NB-301 architecture, as the surrogate's ``"genotype"`` form reads it.

    Built from the family adapter's NASLib compact form (:meth:`NB301.to_naslib`, pairs ``(input,
    op_id)``), the form NASLib turns into a genotype before querying NAS-Bench-301: each pair becomes
    ``(op_name, input)`` with the adapter's op order, and both concat lists are ``[2, 3, 4, 5]``.

    Args:
        arch: An ``NB301Arch`` (or its JSON / text form).
        family: The NB-301 adapter (default: ``get("nb301")``).

    Raises:
        ArchValidationError: If ``arch`` is invalid, or a concat list is not ``[2, 3, 4, 5]`` (the
            surrogate does not read concat lists, so it would predict another architecture).
    """
    if family is None:
        from gennape_naslib.search_spaces import get

        family = get("nb301")
    normal, reduce = family.to_naslib(arch)
    ops = family.ops
    return Genotype(
        normal=[(ops[op_id], int(node)) for node, op_id in normal],
        normal_concat=[2, 3, 4, 5],
        reduce=[(ops[op_id], int(node)) for node, op_id in reduce],
        reduce_concat=[2, 3, 4, 5],
    )


class NB301SurrogateObjective(Objective):
    """NAS-Bench-301's surrogate ensembles as the metric of an NB-301 search (the whole DARTS space).

    Reports ``val_acc_surrogate`` (CIFAR-10 validation accuracy in percent, the name of the packaged
    nb301 table's column, which holds the same surrogate's predictions for 725 architectures) and, with a
    runtime model, ``train_time_surrogate`` (seconds). ``nasbench301`` is imported, the folders are
    checked and the ensembles are loaded when the objective is made, so a wrong setting fails before a
    search writes its folder; each folder is loaded once per process and shared by all objectives.

    Args:
        model_dir: Folder of the performance ensemble (``nb_models/xgb_v1.0``).
        runtime_dir: Folder of the runtime ensemble (``nb_models/lgb_runtime_v1.0``), or ``None``.
        with_noise: Add the ensemble's noise to every prediction (NAS-Bench-301's noisy query; draws
            come from NumPy's global generator, so a noisy search is not reproducible from its seed).
            Default ``False``: the ensemble mean, deterministic.
        extra_metrics: Derived metrics (``flops``, ``params``) computed by the family adapter.
        family: Family name; must be an NB-301 family (``"nb301"``).

    Raises:
        ValueError: If ``family`` is not an NB-301 family.
        MissingDependencyError: If ``nasbench301`` cannot be imported (the message says how to install it).
        DataNotFoundError: If a folder does not exist or does not hold an ensemble.
    """

    kind = "surrogate"
    metric = "val_acc_surrogate"
    runtime_metric = "train_time_surrogate"

    def __init__(
        self,
        model_dir: str | Path,
        runtime_dir: str | Path | None = None,
        with_noise: bool = False,
        extra_metrics: Sequence[str] = (),
        family: str = "nb301",
    ) -> None:
        from gennape_naslib.search_spaces.nb301 import NB301

        super().__init__(family, extra_metrics)
        if not isinstance(self.family, NB301):
            raise ValueError(
                f"the NAS-Bench-301 surrogate predicts DARTS genotypes of family nb301; family {family!r} is "
                "not one (use objective: tabular, predictor or function for other families)"
            )
        if not isinstance(with_noise, bool):
            raise ValueError(f"with_noise must be true or false, got {with_noise!r}")
        module = _import_nasbench301()
        self.model_dir = _check_model_dir(model_dir, "performance model")
        self.runtime_dir = None if runtime_dir is None else _check_model_dir(runtime_dir, "runtime model")
        self.with_noise = with_noise
        self.version = _package_version(module)
        for folder in (self.model_dir, self.runtime_dir):
            if folder is not None:
                _ensemble(module, folder)

    def evaluate(self, arch: Any) -> dict[str, float]:
        module = _import_nasbench301()  # sys.modules after the first time
        genotype = to_genotype(arch, self.family)
        out = {self.metric: self._predict(module, self.model_dir, genotype)}
        if self.runtime_dir is not None:
            out[self.runtime_metric] = self._predict(module, self.runtime_dir, genotype)
        out.update(_derived(self.family, arch, self.extra_metrics))
        return out

    def _predict(self, module: Any, folder: Path, genotype: Genotype) -> float:
        model = _ensemble(module, folder)
        return float(model.predict(config=genotype, representation="genotype", with_noise=self.with_noise))

    def describe(self) -> dict[str, Any]:
        metrics = [self.metric] + ([self.runtime_metric] if self.runtime_dir is not None else [])
        return {
            **super().describe(),
            "model_dir": str(self.model_dir),
            "runtime_dir": None if self.runtime_dir is None else str(self.runtime_dir),
            "with_noise": self.with_noise,
            "nasbench301_version": self.version,
            "metrics": metrics,
        }
