"""GENNAPE's ``run_cg_kgnn_predictor.py`` demo on this package: train the k-GNN on some families, then
report zero-shot ("NoFT") and fine-tuned ("FT") metrics on others.

The flags and defaults are the original script's (GENNAPE_FACTS 4.1; single-dash spelling), and so is
the run name ``gpi_acc_predictor_<model_name>_seed<seed>``, the log ``<logs_dir>/<run>.txt`` (every line
also printed) and the checkpoints ``<saved_models_dir>/<run>_latest.npz`` and ``<run>_<family>_ft.npz``.
The work is :func:`gennape_naslib.predictors.workflow.run_training` with the ``kgnn`` predictor.

Differences, by design:

* labels come from this package's tables (``gennape data list``): the packaged ones are nb101, nb201
  (``nb201c10``), nb301 and ofa_mbv3; other families work once a table of that name is imported
  (``gennape data import``). The default ``-family_test`` therefore lists the packaged families only;
* the model after the last epoch is evaluated (the original keeps the epoch with the best dev MAPE);
  dev metrics are logged after training;
* targets are z-scored for training (the original regresses raw accuracies); predictions are in accuracy units;
* fine-tuning uses batch size 1 and the initial learning rate, as the original; ``-e_chk`` names a
  predictor file saved by this package, fine-tuned on the training families for ``-epochs``;
* ``-device_str`` other than cpu is refused (the package runs on CPU); ``-allow_parallel`` and
  ``-saved_model_file`` are accepted and unused, as in the original.

Example: ``python scripts/run_cg_kgnn_predictor.py -family_train nb101 -family_test "nb201c10#50+nb301#50" -epochs 40``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_TEST = "nb201c10#50+nb301#50+ofa_mbv3#50"
ACTIVATIONS = {"tanh": "tanh", "relu": "relu", "none": "identity"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0], prefix_chars="-")  # the first paragraph
    p.add_argument("-device_str", default=None)
    p.add_argument("-seed", type=int, default=1)
    p.add_argument("-max_gradient_norm", type=float, default=5.0)
    p.add_argument("-logs_dir", default="logs")
    p.add_argument("-saved_models_dir", default="saved_models")
    p.add_argument("-saved_model_file", default="saved_models/default_model.pt")
    p.add_argument("-allow_parallel", action="store_true")
    p.add_argument("-model_name", default="Demo")
    p.add_argument("-family_train", default="nb101")
    p.add_argument("-family_test", default=DEFAULT_TEST)
    p.add_argument("-dev_ratio", type=float, default=0.1)
    p.add_argument("-test_ratio", type=float, default=0.1)
    p.add_argument("-epochs", type=int, default=40)
    p.add_argument("-fine_tune_epochs", type=int, default=100)
    p.add_argument("-batch_size", type=int, default=32)
    p.add_argument("-initial_lr", type=float, default=1e-4)
    p.add_argument("-in_channels", type=int, default=32)
    p.add_argument("-hidden_size", type=int, default=32)
    p.add_argument("-out_channels", type=int, default=32)
    p.add_argument("-num_layers", type=int, default=6)
    p.add_argument("-dropout_prob", type=float, default=0.0)
    p.add_argument("-aggr_method", default="mean")
    p.add_argument("-gnn_activ", default="tanh")
    p.add_argument("-reg_activ", default=None)
    p.add_argument("-gnn_type", default="GraphConv")
    p.add_argument("-normalize_HW_per_family", action="store_true")
    p.add_argument("-e_chk", default=None)
    return p


def check(args: argparse.Namespace) -> None:
    """Refuse settings this port does not implement, naming the flag."""
    if args.device_str not in (None, "cpu"):
        raise SystemExit(f"-device_str {args.device_str!r}: only cpu is supported")
    if len({args.in_channels, args.hidden_size, args.out_channels}) != 1:
        raise SystemExit("-in_channels, -hidden_size and -out_channels must be equal here (one width)")
    if args.aggr_method != "mean":
        raise SystemExit(f"-aggr_method {args.aggr_method!r}: only 'mean' (the original default) is implemented")
    if args.gnn_activ not in ACTIVATIONS:
        raise SystemExit(f"-gnn_activ {args.gnn_activ!r}: choose one of {', '.join(ACTIVATIONS)}")
    if args.dropout_prob or args.reg_activ or args.normalize_HW_per_family:
        raise SystemExit("-dropout_prob, -reg_activ and -normalize_HW_per_family are not implemented (defaults only)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check(args)
    from gennape_naslib.predictors import Predictor
    from gennape_naslib.predictors.workflow import parse_family_list, run_training

    run = f"gpi_acc_predictor_{args.model_name}_seed{args.seed}"
    logs, models = Path(args.logs_dir), Path(args.saved_models_dir)
    logs.mkdir(parents=True, exist_ok=True)
    models.mkdir(parents=True, exist_ok=True)
    log_file = (logs / f"{run}.txt").open("w")

    def log(line: str) -> None:
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    start = time.time()
    log(f"Run {run}; params: {vars(args)}")
    train = sorted({t for t, _ in parse_family_list(args.family_train)})
    test = parse_family_list(args.family_test, with_shots=True)
    log(f"Training families: {train}; test families: {test}")
    params = {
        "hidden": args.hidden_size,
        "n_layers": args.num_layers,
        "gnn": args.gnn_type,
        "activation": ACTIVATIONS[args.gnn_activ],
        "batch_size": args.batch_size,
        "lr": args.initial_lr,
        "grad_clip": args.max_gradient_norm,
        "finetune_batch_size": 1,
    }
    model = Predictor.load(args.e_chk) if args.e_chk else "kgnn"
    result = run_training(
        model,
        train,
        test,
        seed=args.seed,
        params=params,
        epochs=args.epochs,
        finetune_epochs=args.fine_tune_epochs,
        dev_ratio=args.dev_ratio,
        test_ratio=args.test_ratio,
        out_dir=models / run,
        save_finetuned=True,
        log=log,
    )
    (models / run / "model.npz").replace(models / f"{run}_latest.npz")
    for fam, _ in test:
        ft = models / run / f"{fam}_ft.npz"
        if ft.is_file():
            ft.replace(models / f"{run}_{fam}_ft.npz")
    (models / run / "metrics.json").replace(logs / f"{run}_metrics.json")
    (models / run).rmdir()
    for row in result["rows"]:
        prefix = "Test" if row["setting"] == "test" else f"{row['family']}-{row['setting']}"
        log(
            f"{prefix} MSE: {row['mse']:.6f}, MAE: {row['mae']:.6f}, MAPE: {row['mape']:.6f}, "
            f"Spearman Rho: {row['spearman']:.4f}, KT0.0001: {row['gennape_tau']:.4f}, "
            f"NDCG@50: {row['ndcg_50']:.4f}, NDCG@10: {row['ndcg_10']:.4f}"
        )
    log(f"Elapsed: {time.time() - start:.1f} s")
    log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
