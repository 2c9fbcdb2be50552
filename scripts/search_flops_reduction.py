"""Predictor-only FLOPs reduction from a given architecture (the setting of the GENNAPE paper's search).

Fits a predictor on part of a labelled table, starts a multi-objective search (predicted accuracy
max, FLOPs min) from the table's most accurate architecture, and lists the architectures found with
fewer FLOPs and a predicted accuracy at least the start's. Accuracies of found architectures are
*predicted* (they are not in the table); the predictor's held-out rank correlation is printed.

    python scripts/search_flops_reduction.py --table ofa_mbv3 --dataset imagenet --metric top1_acc
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from gennape_naslib.data import load
from gennape_naslib.predictors import get_predictor
from gennape_naslib.search import PredictorObjective, load_config, run_search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="ofa_mbv3")
    parser.add_argument("--dataset", default="imagenet")
    parser.add_argument("--metric", default="top1_acc")
    parser.add_argument("--predictor", default="cg_trees")
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/flops_reduction"))
    args = parser.parse_args()
    table = load(args.table, dataset=args.dataset)
    family = table.adapter
    train, test = table.split(0, [args.train, 500])[:2]
    predictor = get_predictor(args.predictor, random_state=0)
    predictor.fit(train.archs, train.metric(args.metric), family=table.family)
    pred = predictor.predict(test.archs, family=table.family)
    truth = test.metric(args.metric)
    quality = {"spearman": float(spearmanr(pred, truth)[0]), "kendall": float(kendalltau(pred, truth)[0])}
    start = table.archs[int(np.nanargmax(table.metric(args.metric)))]
    start_pred = float(predictor.predict([start], family=table.family)[0])
    start_flops = family.flops(start)
    doc = {
        "table": args.table,
        "predictor": args.predictor,
        "train_rows": args.train,
        "held_out_500": quality,
        "start": {
            "arch": family.to_str(start),
            "true": float(table.lookup(start)[args.metric]),
            "predicted": start_pred,
            "flops": start_flops,
        },
        "runs": [],
    }
    for seed in range(args.seeds):
        config = load_config(
            {
                "search_space": table.family,
                "dataset": args.dataset,
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
        objective = PredictorObjective(predictor, table.family, metric="predicted_acc", extra_metrics=["flops"])
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
                "found": len(better),
                "fewest_flops": None
                if best is None
                else {
                    "arch": best["arch_str"],
                    "flops": best["objectives"]["flops"],
                    "predicted": best["objectives"]["predicted_acc"],
                },
            }
        )
        print(json.dumps(doc["runs"][-1]), flush=True)
    (args.out / "flops_reduction.json").write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
