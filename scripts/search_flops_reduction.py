"""Predictor-only FLOPs reduction from a given architecture (the setting of the GENNAPE paper's search).

Starts a multi-objective search (predicted accuracy max, FLOPs min) from one architecture and lists
the architectures found with fewer FLOPs and a predicted accuracy at least the start's. Accuracies of
found architectures are *predictions only* (they were not trained or looked up).

Predictors (``--predictor``):

- ``cg_trees`` (or another registered name): fitted on ``--train`` rows of a labelled table;
- ``gennape_pretrained``: the shipped GENNAPE model (trained on NB-201 CIFAR-10) used zero-shot, which
  works for families without any labels (HiAML);
- ``gennape_finetune``: the shipped model fine-tuned on ``--train`` rows of the table (percent scale)
  for ``--finetune-epochs`` epochs, the paper's setting.

With a table the start is the table's most accurate architecture and the predictor's rank
correlation on 500 held-out rows is reported. Without one (``--family hiaml``) the start is
``--start`` or, by default, the architecture the predictor ranks first among ``--start-sample``
random ones (a stand-in for "the best known architecture"; there are no HiAML labels here).

    python scripts/search_flops_reduction.py --table ofa_mbv3 --dataset imagenet --metric top1_acc
    python scripts/search_flops_reduction.py --table ofa_mbv3 --predictor gennape_finetune --out runs/fr_mbv3_gennape
    python scripts/search_flops_reduction.py --family hiaml --predictor gennape_pretrained --out runs/fr_hiaml
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau, spearmanr

from gennape_naslib.data import load
from gennape_naslib.predictors import get_predictor
from gennape_naslib.search import PredictorObjective, load_config, run_search
from gennape_naslib.search_spaces import get


def _predictor(args: argparse.Namespace, train: Any, family: str) -> tuple[Any, dict[str, Any]]:
    """The predictor and a description of how it was made."""
    if args.predictor.startswith("gennape_"):
        from gennape_naslib.predictors.gennape import GENNAPEPredictor

        model = GENNAPEPredictor.pretrained()
        if args.predictor == "gennape_pretrained":
            return model, {"how": "shipped GENNAPE model (trained on all NB-201 CIFAR-10 cells), zero-shot"}
        if args.predictor != "gennape_finetune":
            raise ValueError(f"unknown predictor {args.predictor!r}")
        if train is None:
            raise ValueError("--predictor gennape_finetune needs --table (labels to fine-tune on)")
        y = _percent(train.metric(args.metric))
        model = model.finetune(train.archs, y, epochs=args.finetune_epochs, family=family)
        how = f"shipped GENNAPE model fine-tuned on {len(y)} table rows for {args.finetune_epochs} epochs"
        return model, {"how": how, "member_weights": dict(zip(model.members_, map(float, model.weights_)))}
    if train is None:
        raise ValueError(f"--predictor {args.predictor} is fitted on labels; give --table or use gennape_pretrained")
    model = get_predictor(args.predictor, random_state=0)
    model.fit(train.archs, train.metric(args.metric), family=family)
    return model, {"how": f"{args.predictor} fitted on {len(train.archs)} table rows"}


def _percent(y: np.ndarray) -> np.ndarray:
    """Accuracies in percent (the pretrained GENNAPE model's scale); fractions are multiplied by 100."""
    y = np.asarray(y, dtype=np.float64)
    return y * 100.0 if np.nanmax(y) <= 1.0 else y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=None, help="labelled table (default ofa_mbv3 unless --family is given)")
    parser.add_argument("--family", default=None, help="family without a table (e.g. hiaml)")
    parser.add_argument("--dataset", default="imagenet")
    parser.add_argument("--metric", default="top1_acc")
    parser.add_argument("--predictor", default="cg_trees")
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--finetune-epochs", type=int, default=20)
    parser.add_argument("--start", default=None, help="start architecture (the family's string form)")
    parser.add_argument("--start-sample", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/flops_reduction"))
    args = parser.parse_args()
    if args.table is None and args.family is None:
        args.table = "ofa_mbv3"
    started, cpu = time.perf_counter(), time.process_time()
    table = train = None
    if args.table is not None:
        table = load(args.table, dataset=args.dataset)
        family = table.adapter
        train, test = table.split(0, [args.train, 500])[:2]
    else:
        family = get(args.family)
    predictor, made = _predictor(args, train, family.name)
    doc: dict[str, Any] = {"family": family.name, "table": args.table, "predictor": args.predictor, **made}
    if table is not None:
        pred = predictor.predict(test.archs, family=family.name)
        truth = test.metric(args.metric)
        doc["held_out_500"] = {
            "spearman": float(spearmanr(pred, truth)[0]),
            "kendall": float(kendalltau(pred, truth)[0]),
        }
        start = table.archs[int(np.nanargmax(table.metric(args.metric)))]
        doc["start_rule"] = "the table's most accurate architecture"
    elif args.start is not None:
        start = family.from_str(args.start)
        doc["start_rule"] = "given (--start)"
    else:
        rng = np.random.default_rng(0)
        pool = [family.sample(rng) for _ in range(args.start_sample)]
        start = pool[int(np.argmax(predictor.predict(pool, family=family.name)))]
        doc["start_rule"] = f"the predictor's top-ranked of {args.start_sample} random architectures (seed 0)"
    start_pred = float(np.asarray(predictor.predict([start], family=family.name)).reshape(-1)[0])
    start_flops = family.flops(start)
    doc["start"] = {"arch": family.to_str(start), "predicted": start_pred, "flops": start_flops}
    if table is not None:
        doc["start"]["true"] = float(table.lookup(start)[args.metric])
    doc["runs"] = []
    print(json.dumps(doc), flush=True)
    for seed in range(args.seeds):
        config = load_config(
            {
                "search_space": family.name,
                "dataset": args.dataset if table is not None else "none",
                "optimizer": "multi_objective",
                "seed": seed,
                "search": {
                    "epochs": args.epochs,
                    "objective": "predictor",
                    "objectives": ["predicted_acc:max", "flops:min"],
                    "reference_point": [0.0, 2 * start_flops],
                    "initial_archs": [family.to_json(start)],
                    "num_init": 10,
                    "population_size": 10,
                },
            }
        )
        objective = PredictorObjective(predictor, family.name, metric="predicted_acc", extra_metrics=["flops"])
        result = run_search(config, folder=args.out / str(seed), objective=objective)
        better = [
            t
            for t in result.trials
            if t["objectives"]["flops"] < start_flops and t["objectives"]["predicted_acc"] >= start_pred
        ]
        best = min(better, key=lambda t: t["objectives"]["flops"]) if better else None
        doc["runs"].append(
            {
                "seed": seed,
                "evaluations": len(result.trials),
                "found": len(better),
                "fewest_flops": None
                if best is None
                else {
                    "arch": best["arch_str"],
                    "flops": best["objectives"]["flops"],
                    "flops_change": best["objectives"]["flops"] / start_flops - 1.0,
                    "predicted": best["objectives"]["predicted_acc"],
                },
            }
        )
        print(json.dumps(doc["runs"][-1]), flush=True)
    doc["seconds"] = {"wall": time.perf_counter() - started, "process_cpu": time.process_time() - cpu}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "flops_reduction.json").write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
