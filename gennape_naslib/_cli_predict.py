"""``gennape train`` and ``gennape predict``: train a predictor on families, predict architectures with a saved one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_predict_commands"]

#: Keys of a ``gennape train`` config file (YAML or JSON); flags override them.
TRAIN_KEYS = {
    "model": "registry name of a new predictor (gennape, kgnn, ...)",
    "checkpoint": "a saved predictor to start from, or 'pretrained'",
    "train": "training families, 'nb201' or 'nb101+nb201' or a list",
    "test": "test families with shots, 'nb101#50+nb301#50' or a list",
    "seed": "seed of splits, shots and the predictor",
    "epochs": "training epochs",
    "finetune_epochs": "fine-tuning epochs on test families",
    "gnn": "GNN layer type (GraphConv, GCNConv, GINConv, GATConv, SAGEConv)",
    "params": "other hyperparameters of a new predictor (a mapping)",
    "metric": "label column (default: the table's accuracy column)",
    "dev_ratio": "held-out fraction of each training family for dev (0.1)",
    "test_ratio": "held-out fraction of each training family for in-domain test (0.1)",
    "out": "output folder",
    "save_finetuned": "also save every fine-tuned copy (true/false)",
}


def _load_config(path: Path) -> dict[str, Any]:
    from gennape_naslib.cli import CLIError

    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    text = path.read_text()
    if path.suffix.lower() == ".json":
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CLIError(f"{path}: not valid JSON ({exc})") from None
    else:
        import yaml

        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CLIError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(config, dict):
        raise CLIError(f"{path}: the config must be a mapping of keys ({', '.join(TRAIN_KEYS)})")
    unknown = sorted(set(config) - set(TRAIN_KEYS))
    if unknown:
        raise CLIError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(TRAIN_KEYS)}")
    return config


def _load_predictor(spec: str) -> Any:
    if spec == "pretrained":
        from gennape_naslib.predictors.gennape import GENNAPEPredictor

        return GENNAPEPredictor.pretrained()
    from gennape_naslib.predictors import Predictor

    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist (or pass 'pretrained')")
    return Predictor.load(path)


def _cmd_train(args: argparse.Namespace) -> int:
    from gennape_naslib.cli import CLIError
    from gennape_naslib.predictors.workflow import parse_family_list, run_training

    config = _load_config(args.config) if args.config is not None else {}
    for key in ("model", "checkpoint", "train", "test", "seed", "epochs", "finetune_epochs", "gnn", "metric", "out"):
        value = getattr(args, key)
        if value is not None:
            config[key] = value
    if args.save_finetuned:
        config["save_finetuned"] = True
    if not isinstance(config.get("params") or {}, dict):
        raise CLIError(f"config key 'params' must be a mapping of hyperparameters, got {config['params']!r}")
    params = dict(config.get("params") or {})
    if config.get("gnn") is not None:
        params["gnn"] = config["gnn"]
    if config.get("model") and config.get("checkpoint"):
        raise CLIError("give either --model (train a new predictor) or --checkpoint (start from a saved one), not both")
    train = parse_family_list(config["train"]) if config.get("train") else []
    test = parse_family_list(config["test"], with_shots=True) if config.get("test") else []
    if config.get("checkpoint"):
        model: Any = _load_predictor(str(config["checkpoint"]))
        if params:
            model.set_params(**params)
    else:
        model = config.get("model") or "gennape"
    if not train and not config.get("checkpoint"):
        raise CLIError("nothing to train on: give --train FAMILIES (or --checkpoint to only test)")
    if not train and config.get("epochs"):
        raise CLIError(
            f"epochs {config['epochs']} would fine-tune the checkpoint on --train families, but none is given; "
            "give --train FAMILIES, or drop --epochs to only test the checkpoint"
        )
    out = Path(config.get("out") or "runs/train")
    result = run_training(
        model,
        [t for t, _ in train],
        test,
        seed=int(config.get("seed", 0)),
        params=params if isinstance(model, str) else None,
        epochs=None if config.get("epochs") is None else int(config["epochs"]),
        finetune_epochs=None if config.get("finetune_epochs") is None else int(config["finetune_epochs"]),
        dev_ratio=float(config.get("dev_ratio", 0.1)),
        test_ratio=float(config.get("test_ratio", 0.1)),
        metric=config.get("metric"),
        out_dir=out,
        save_finetuned=bool(config.get("save_finetuned", False)),
        log=print,
    )
    print(f"model: {out / 'model.npz'}  metrics: {out / 'metrics.json'}  ({len(result['rows'])} rows)")
    return 0


def _read_archs(args: argparse.Namespace, family: Any) -> list[Any]:
    from gennape_naslib.cli import CLIError

    if (args.arch is None) == (args.file is None):
        raise CLIError("give exactly one of --arch JSON or --file archs.jsonl")
    if args.arch is not None:
        try:
            items = [json.loads(args.arch)]
        except json.JSONDecodeError as exc:
            raise CLIError(f"--arch: not valid JSON ({exc})") from None
        where = ["--arch"]
    else:
        if not args.file.is_file():
            raise FileNotFoundError(f"architecture file {args.file} does not exist")
        items, where = [], []
        for number, line in enumerate(args.file.read_text().splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise CLIError(f"{args.file}:{number}: not a JSON line ({exc})") from None
                where.append(f"{args.file}:{number}")
        if not items:
            raise CLIError(f"{args.file}: no architecture in the file")
    archs = []
    for item, place in zip(items, where):
        try:
            archs.append(family.from_json(item))
        except (ValueError, TypeError, KeyError) as exc:
            raise CLIError(f"{place}: not a {family.name} architecture ({exc})") from None
    return archs


def _cmd_predict(args: argparse.Namespace) -> int:
    from gennape_naslib import search_spaces
    from gennape_naslib.cli import CLIError

    family = search_spaces.get(args.family)
    predictor = _load_predictor(args.model)
    if args.std and not getattr(predictor, "supports_std", False):
        raise CLIError(f"--std: {type(predictor).__name__} ({args.model}) does not estimate its uncertainty")
    archs = _read_archs(args, family)
    if args.std:
        mean, std = predictor.predict(archs, return_std=True, family=family)
    else:
        mean, std = predictor.predict(archs, family=family), None
    lines = []
    for i, arch in enumerate(archs):
        row = {"arch": family.to_json(arch), "prediction": float(mean[i])}
        if std is not None:
            row["std"] = float(std[i])
        lines.append(json.dumps(row))
    if args.out is not None:
        from gennape_naslib._atomic import atomic_write

        with atomic_write(args.out) as fh:
            fh.write("\n".join(lines) + "\n")
        print(f"{len(lines)} predictions -> {args.out}")
    else:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


def add_predict_commands(commands: Any) -> None:
    """Add ``gennape train`` and ``gennape predict`` to the top-level subparsers ``commands``."""
    train = commands.add_parser(
        "train",
        help="train a predictor on families; zero-shot and k-shot metrics on others",
        description="Train a predictor (or start from a saved one) on the labelled tables of some families, "
        "evaluate it in-domain (dev/test split), then on test families zero-shot (NoFT) and fine-tuned on N "
        "architectures (FT). Writes model.npz and metrics.json into --out. Config keys: "
        + "; ".join(f"{k}: {v}" for k, v in TRAIN_KEYS.items()),
    )
    train.add_argument("--config", type=Path, metavar="FILE.yaml|FILE.json", help="keys as listed above")
    train.add_argument("--model", help="registry name of a new predictor (default gennape)")
    train.add_argument("--checkpoint", metavar="PATH|pretrained", help="start from a saved predictor")
    train.add_argument("--train", metavar="F[+F...]", help="training families, e.g. nb201 or nb101+nb201")
    train.add_argument("--test", metavar="F#N[+F#N...]", help="test families with fine-tuning shots, e.g. nb101#50")
    train.add_argument("--seed", type=int, help="seed (default 0)")
    train.add_argument("--epochs", type=int, help="training epochs (0 with --checkpoint: no training)")
    train.add_argument("--finetune-epochs", dest="finetune_epochs", type=int, help="fine-tuning epochs")
    train.add_argument("--gnn", help="GNN layer type (GraphConv, GCNConv, GINConv, GATConv, SAGEConv)")
    train.add_argument("--metric", help="label column (default: the table's accuracy column)")
    train.add_argument("--out", help="output folder (default runs/train)")
    train.add_argument("--save-finetuned", action="store_true", help="also save every fine-tuned copy")
    train.set_defaults(handler=_cmd_train)

    predict = commands.add_parser(
        "predict",
        help="predict architectures with a saved predictor",
        description="Predict the accuracy of architectures of a family with a saved predictor (or the shipped "
        "pretrained GENNAPE model); prints one JSON line per architecture. On a family the model was not trained "
        "or fine-tuned on, the values are ranking scores on an accuracy-like scale, not calibrated accuracies "
        "(they can fall outside 0-100); fine-tune on a few labelled architectures for accuracies.",
    )
    predict.add_argument("--model", required=True, metavar="PATH|pretrained", help="a saved predictor file")
    predict.add_argument("--family", required=True, help="the architectures' family (see 'gennape family list')")
    predict.add_argument("--arch", metavar="JSON", help="one architecture in the family's JSON encoding")
    predict.add_argument("--file", type=Path, metavar="archs.jsonl", help="one architecture JSON per line")
    predict.add_argument("--std", action="store_true", help="also print the predictor's uncertainty")
    predict.add_argument("--out", type=Path, metavar="FILE.jsonl", help="write the lines here instead of stdout")
    predict.set_defaults(handler=_cmd_predict)
