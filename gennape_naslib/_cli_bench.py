"""``gennape bench predictors|transfer|proxies`` and ``gennape report DIR`` (bench and search folders)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["add_bench_commands"]


def _cli_error(message: str) -> Exception:
    from gennape_naslib.cli import CLIError

    return CLIError(message)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _methods(args: argparse.Namespace) -> list[Any]:
    from gennape_naslib.evaluation.config import MethodSpec

    params: dict[str, dict[str, Any]] = {}
    for item in args.params or []:
        name, sep, text = item.partition("=")
        try:
            value = json.loads(text) if sep else None
        except json.JSONDecodeError as exc:
            raise _cli_error(f"--params {item!r}: the value after '=' is not JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise _cli_error(f"--params {item!r}: expected NAME={{JSON object}}")
        params[name] = value
    names = _names(args.methods or "")
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise _cli_error(f"--params names {unknown[0]!r}, which is not among --methods {names}")
    loads: dict[str, str] = {}
    for item in getattr(args, "load", None) or []:
        name, sep, source = item.partition("=")
        if not sep or not source:
            raise _cli_error(f"--load {item!r}: expected NAME=pretrained or NAME=PATH")
        if name not in names:
            raise _cli_error(f"--load names {name!r}, which is not among --methods {names}")
        loads[name] = source
    return [MethodSpec(n, params.get(n, {}), load=loads.get(n, "")) for n in names]


def _seeds(args: argparse.Namespace, default: list[int]) -> list[int]:
    if args.seeds and args.n_seeds:
        raise _cli_error("give --seeds or --n-seeds, not both")
    if args.n_seeds:
        return list(range(args.n_seeds))
    return args.seeds or default


def _table(text: str | None, option: str) -> Any:
    from gennape_naslib.evaluation.config import TableSpec

    if not text:
        raise _cli_error(f"{option} is required (or give --config FILE)")
    try:
        return TableSpec.parse(text)
    except ValueError as exc:
        raise _cli_error(f"{option}: {exc}") from None


def _fitting_train_sizes(table: Any, test_size: int) -> list[int]:
    """NASLib's sweep, cut to what the table holds besides the test set."""
    from gennape_naslib.evaluation.config import NASLIB_TRAIN_SIZES
    from gennape_naslib.evaluation.protocols import load_table

    room = len(load_table(table)) - test_size
    sizes = [s for s in NASLIB_TRAIN_SIZES if s <= room]
    if not sizes:
        raise _cli_error(f"table {table} has {room + test_size} labelled rows: no room for training after {test_size}")
    return sizes


def _config(args: argparse.Namespace) -> Any:
    from gennape_naslib.evaluation import config as cfg

    if args.config is not None:
        given = [o for o in ("table", "train", "test", "methods") if getattr(args, o, None)]
        if given:
            raise _cli_error(f"give either --config or --{given[0]}, not both")
        config = cfg.load_config(args.config)
        if config.protocol != args.bench_command:
            raise _cli_error(f"{args.config} is a {config.protocol!r} configuration, not {args.bench_command!r}")
        return config
    if args.bench_command == "predictors":
        table = _table(args.table, "--table")
        config = cfg.PredictorBenchConfig(
            table=table,
            methods=_methods(args) or [cfg.MethodSpec("flops"), cfg.MethodSpec("params")],
            train_sizes=args.train_sizes or _fitting_train_sizes(table, args.test_size),
            test_size=args.test_size,
            seeds=_seeds(args, [0, 1, 2]),
            sampling=args.sampling,
        )
    elif args.bench_command == "transfer":
        if not args.train or not args.test:
            raise _cli_error("--train and --test are required (or give --config FILE)")
        config = cfg.TransferBenchConfig(
            train=[_table(t, "--train") for t in _names(args.train)],
            test=[_table(t, "--test") for t in _names(args.test)],
            methods=_methods(args) or [cfg.MethodSpec("flops"), cfg.MethodSpec("params")],
            shots=args.shots or [0, 50],
            seeds=_seeds(args, [0, 1, 2]),
            train_limit=args.train_limit,
            test_size=args.test_size,
            fixed_test=args.fixed_test,
            proxy_seed=args.proxy_seed,
        )
    else:
        published = None if args.published in (None, "all") else _names(args.published)
        config = cfg.ProxyBenchConfig(
            table=_table(args.table, "--table"),
            published=[] if args.published == "none" else published,
            computed=_names(args.compute or ""),
            n_archs=args.n_archs,
            seeds=_seeds(args, [0]),
        )
    config.validate()
    return config


def _executor(args: argparse.Namespace) -> Any:
    from gennape_naslib.execution import get_executor

    kwargs: dict[str, Any] = {}
    if args.executor == "ray" and args.ray_address:
        kwargs["address"] = args.ray_address
    return get_executor(args.executor, max_workers=args.workers, **kwargs)


def _cmd_bench(args: argparse.Namespace) -> int:
    from gennape_naslib.evaluation.protocols import plan_cells, run_benchmark

    try:
        config = _config(args)
        if args.save_config:
            config.save(args.save_config)
        out = args.out or Path(f"bench_{config.protocol}")
        total = len(plan_cells(config))
        executor = _executor(args)
    except KeyError as exc:  # unknown predictor, proxy, family or column
        raise _cli_error(str(exc).strip("'\"")) from None
    print(f"bench {config.protocol}: {total} cells -> {out} ({args.executor} executor)")
    try:
        with executor:
            folder = run_benchmark(
                config,
                out,
                executor=executor,
                progress=None if not args.no_progress else False,
                naslib_errors=args.naslib_errors,
            )
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished cells are saved in {out}; run the same command again to resume")
        return 130
    except KeyError as exc:
        raise _cli_error(str(exc).strip("'\"")) from None
    print(f"results: {folder.results_path}")
    print(f"summary: {folder.path / 'summary.md'}")
    return 0


def _is_search_folder(folder: Path) -> bool:
    from gennape_naslib.search.runner import TRIALS_FORMAT

    try:
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # not readable here: the benchmark reader says what is wrong
    return isinstance(meta, dict) and meta.get("format") == TRIALS_FORMAT


def _cmd_report(args: argparse.Namespace) -> int:
    if not args.dir.is_dir():
        raise _cli_error(f"no such folder: {args.dir}")
    if _is_search_folder(args.dir):
        from gennape_naslib.search.report import render_search_report

        summary = render_search_report(args.dir, plots=not args.no_plots)
        pictures = [] if args.no_plots else sorted(args.dir.glob("*.png"))
        for path in [summary, summary.with_name("errors.json"), *pictures]:
            print(os.fspath(path))
        return 0
    from gennape_naslib.evaluation.report import render_report

    for path in render_report(args.dir, naslib_errors=args.naslib_errors or None, plots=not args.no_plots):
        print(os.fspath(path))
    return 0


def _common(parser: argparse.ArgumentParser, default_seeds: str) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="YAML/JSON configuration instead of the options")
    parser.add_argument("--save-config", type=Path, metavar="FILE", help="write the configuration used (YAML/JSON)")
    parser.add_argument("--seeds", type=_int_list, metavar="S,S,...", help=f"seeds (default {default_seeds})")
    parser.add_argument("--n-seeds", type=int, metavar="N", help="seeds 0..N-1")
    parser.add_argument("--out", type=Path, metavar="DIR", help="run folder (default ./bench_<protocol>); resumed")
    parser.add_argument(
        "--executor", choices=("process", "serial", "ray"), default="process", help="where cells run (default process)"
    )
    parser.add_argument("--workers", type=int, metavar="N", help="parallel cells (default: CPU count)")
    parser.add_argument("--ray-address", metavar="ADDR", help="Ray cluster address (with --executor ray)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_bench_commands(commands: Any) -> None:
    """Register ``gennape bench predictors|transfer|proxies`` and ``gennape report``."""
    parser = commands.add_parser("bench", help="benchmark predictors and zero-cost proxies into a run folder")
    sub = parser.add_subparsers(dest="bench_command", metavar="PROTOCOL", required=True, parser_class=type(parser))
    methods_help = "comma-separated predictor/proxy names (default flops,params; see the predictor registry)"
    params_help = "hyperparameters of one method as NAME={JSON}, e.g. gennape='{\"epochs\": 20}' (repeatable)"

    pred = sub.add_parser(
        "predictors",
        help="NASLib's protocol within one family",
        description="Train each method on growing training sets of one table and test on a fixed test set, "
        "per seed (NASLib's predictor evaluation).",
    )
    pred.add_argument("--table", metavar="NAME[/DATASET][:METRIC]", help="e.g. nb201/cifar10 or nb101")
    pred.add_argument("--methods", metavar="A,B,...", help=methods_help)
    pred.add_argument("--params", action="append", metavar="NAME=JSON", help=params_help)
    pred.add_argument(
        "--train-sizes", type=_int_list, metavar="N,N,...", help="default: NASLib's 5..1000 sweep, cut to the table"
    )
    pred.add_argument("--test-size", type=int, default=200, metavar="N", help="default 200")
    pred.add_argument("--sampling", choices=("uniform", "mutation"), default="uniform", help="training-set sampling")
    pred.add_argument("--naslib-errors", action="store_true", help="also write NASLib's errors.json per method/seed")
    _common(pred, "0,1,2")
    pred.set_defaults(handler=_cmd_bench)

    tra = sub.add_parser(
        "transfer",
        help="GENNAPE's protocol across families",
        description="Fit on the training families, then test zero-shot and k-shot (fine-tuned on the same "
        "k samples for every method) on each test family, per seed.",
    )
    tra.add_argument("--train", metavar="T,T,...", help="training tables, e.g. nb201,nb301")
    tra.add_argument("--test", metavar="T,T,...", help="test tables, e.g. nb101,ofa_mbv3")
    tra.add_argument("--methods", metavar="A,B,...", help=methods_help)
    tra.add_argument("--params", action="append", metavar="NAME=JSON", help=params_help)
    tra.add_argument("--shots", type=_int_list, metavar="K,K,...", help="fine-tune sample counts (default 0,50)")
    tra.add_argument("--train-limit", type=int, metavar="N", help="random rows per training table (default all)")
    tra.add_argument("--test-size", type=int, metavar="N", help="test rows per test table (default all remaining)")
    tra.add_argument(
        "--fixed-test",
        action="store_true",
        help="one test set of --test-size rows per table for every seed (proxies are then computed once)",
    )
    tra.add_argument(
        "--proxy-seed", type=int, metavar="S", help="seed of the zero-cost proxies at every seed (default: the seed)"
    )
    tra.add_argument(
        "--load",
        action="append",
        metavar="NAME=pretrained|PATH",
        help="use a trained model for a method instead of fitting it, e.g. gennape=pretrained (repeatable)",
    )
    _common(tra, "0,1,2")
    tra.set_defaults(handler=_cmd_bench, naslib_errors=False)

    prox = sub.add_parser(
        "proxies",
        help="zero-cost proxies on one table: correlations and timing",
        description="Correlate the table's published proxy columns and/or freshly computed proxies with accuracy.",
    )
    prox.add_argument("--table", metavar="NAME[/DATASET][:METRIC]", help="e.g. nb201_zc/cifar10")
    prox.add_argument("--published", metavar="all|none|A,B,...", help="published proxy columns (default all)")
    prox.add_argument("--compute", metavar="A,B,...", help="proxies to compute on the architectures")
    prox.add_argument("--n-archs", type=int, metavar="N", help="architectures to compute on (default all rows)")
    _common(prox, "0")
    prox.set_defaults(handler=_cmd_bench, naslib_errors=False)

    report = commands.add_parser(
        "report",
        help="re-render summary.md and plots of a bench or search folder",
        description="Re-render summary.md and the PNG plots of a folder written by 'gennape bench' (and, with "
        "--naslib-errors, NASLib's errors.json files) or by 'gennape search' (its errors.json is always "
        "rewritten), from the files in the folder; nothing is evaluated again.",
    )
    report.add_argument("dir", type=Path, metavar="DIR", help="a 'gennape bench' or 'gennape search' result folder")
    report.add_argument(
        "--naslib-errors", action="store_true", help="also write NASLib's errors.json files (bench folders)"
    )
    report.add_argument("--no-plots", action="store_true", help="only the summary")
    report.set_defaults(handler=_cmd_report)
