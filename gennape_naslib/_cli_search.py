"""``gennape search``: run or resume a configured architecture search."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_search_commands"]


def _cmd_search(args: argparse.Namespace) -> int:
    from gennape_naslib.search import load_config, run_search

    config = load_config(args.config, seed=args.seed, out_dir=None)
    folder = args.out if args.out is not None else config.run_dir()
    if config.ignored:
        print(f"ignored NASLib keys (not used by discrete search): {', '.join(config.ignored)}")
    print(
        f"{config.optimizer} on {config.search_space}/{config.dataset}, seed {config.seed}, "
        f"{config.epochs} evaluations -> {folder}"
    )
    try:
        result = run_search(config, folder=folder, resume=not args.no_resume)
    except KeyboardInterrupt:
        again = "the same command again" if not args.no_resume else "it again without --no-resume"
        print(f"\ninterrupted: finished evaluations are saved in {folder}; run {again} to resume")
        return 130
    best = result.optimizer.best()
    if result.resumed:
        print(f"resumed: {result.resumed} evaluations were already in {folder / 'trials.jsonl'}")
    if best is not None:
        value = best.metrics.get(result.optimizer.metric)
        print(f"best {result.optimizer.metric}: {value:.4f}  {result.optimizer.family.to_str(best.arch)}")
    print(f"report: {folder / 'summary.md'}")
    return 0


def add_search_commands(commands: Any) -> None:
    """Add ``gennape search`` to the top-level subparsers ``commands``."""
    search = commands.add_parser(
        "search",
        help="run a NASLib-style search config (RE, BANANAS, NPENAS, multi-objective, ...)",
        description="Run an architecture search described by a NASLib-style YAML config (see configs/search_*.yaml) "
        "and write metadata.json, trials.jsonl, summary.md, errors.json and plots into the result folder. "
        "A folder that already holds the same search is resumed.",
    )
    search.add_argument("--config", type=Path, required=True, metavar="FILE.yaml", help="the search config")
    search.add_argument("--seed", type=int, help="override the config's seed")
    search.add_argument(
        "--out", type=Path, metavar="DIR", help="result folder (default: out_dir/<space>/<dataset>/<optimizer>/<seed>)"
    )
    search.add_argument("--no-resume", action="store_true", help="refuse to continue a search found in the folder")
    search.set_defaults(handler=_cmd_search)
