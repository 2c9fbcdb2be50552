"""The ``gennape`` command line.

::

    gennape cg build MODULE:CALLABLE --input-shape C,H,W [--input-kind image|tokens|flat] [--out G.json] [--draw G.png]
    gennape cg import MODEL.pb|MODEL.onnx [--input-shape H,W,C] [--out G.json] [--draw G.png]
    gennape cg build --family F [--arch JSON] [--out G.json] [--draw G.png]
    gennape cg draw G.json|GRAPHS.npz [--index I] --out G.png [--engine auto|graphviz|matplotlib]
    gennape cg draw --family F --random N --out DIR
    gennape cg info G.json|GRAPHS.npz [--index I]
    gennape family list | gennape family info F
    gennape data list | gennape data info NAME | gennape data import FORMAT PATH --name NAME
    gennape train [--config FILE] [--model M | --checkpoint PATH] --train F[+F] [--test F#N[+F#N]] [--out DIR]
    gennape predict --model PATH|pretrained --family F --arch JSON | --file archs.jsonl
    gennape search --config FILE.yaml [--seed S] [--out DIR]
    gennape bench predictors|transfer|proxies ... [--out DIR] | gennape report DIR
    gennape demo [--out DIR]

Exit codes: 0 success; 1 the work failed (a drawing engine failed, an optional dependency is
missing, a demo step failed); 2 bad arguments or bad input (unknown option, missing or malformed
file, a module path that does not import). Errors are one line on stderr, ``gennape: error: ...``;
``-v`` adds log messages (and tracebacks of errors), ``-vv`` debug messages.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, NoReturn

from gennape_naslib import __version__

__all__ = ["CLIError", "build_parser", "main"]

logger = logging.getLogger("gennape_naslib.cli")


class CLIError(Exception):
    """Bad input to a command (exit code 2); the message is shown as one line."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are a single line naming the command and how to get help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------------------------------------- argument types
#: ``cg build --input-kind`` -> the sizes ``--input-shape`` gives (without the batch axis).
_INPUT_KINDS = {"image": "C,H,W", "tokens": "L,E", "flat": "F"}


def _shape_type(names: str, counts: Collection[int] | None = None) -> Callable[[str], tuple[int, ...]]:
    """An argparse type for ``A,B,C`` positive integer tuples (``x`` also separates).

    ``counts``: the numbers of integers accepted (default: one per name in ``names``).
    """
    allowed = counts or (len(names.split(",")),)

    def parse(text: str) -> tuple[int, ...]:
        parts = text.replace("x", ",").split(",")
        try:
            values = tuple(int(p) for p in parts)
        except ValueError:
            values = ()
        if len(values) not in allowed or any(v <= 0 for v in values):
            how_many = " or ".join(map(str, sorted(allowed)))  # "3", or "1 or 2 or 3"
            raise argparse.ArgumentTypeError(
                f"expected {names} as {how_many} positive integers separated by commas, got {text!r}"
            )
        return values

    parse.__name__ = names  # shown by argparse in "invalid <name> value" messages
    return parse


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise CLIError(f"no such file: {text}" if not path.exists() else f"not a file: {text}")
    return path


# ---------------------------------------------------------------------------------------------- graph helpers
def _load_graphs(path: Path, index: int) -> tuple[Any, int]:
    """Load one graph of a JSON or NPZ file; returns ``(graph, number of graphs in the file)``."""
    from gennape_naslib.cg import io

    suffix = path.suffix.lower()
    if suffix == ".json":
        if index != 0:
            raise CLIError(f"{path} holds one graph; --index must be 0, got {index}")
        return io.load_json(path), 1
    if suffix == ".npz":
        collection = io.GraphCollection(path)
        if not -len(collection) <= index < len(collection):
            raise CLIError(f"--index {index} is out of range: {path} holds {len(collection)} graphs")
        return collection[index], len(collection)
    raise CLIError(f"unsupported file type {suffix or '(none)'!r} for {path}; expected .json or .npz")


def _write_outputs(cg: Any, args: argparse.Namespace) -> None:
    """Save (``--out``) and draw (``--draw``) a graph as a command asked."""
    if getattr(args, "out", None):
        from gennape_naslib.cg import io

        io.save_json(cg, args.out)
        print(f"wrote {args.out}")
    if getattr(args, "draw", None):
        from gennape_naslib.cg.draw import draw

        print(f"wrote {draw(cg, args.draw, engine=args.engine)}")


def _import_target(spec: str) -> Any:
    """Resolve ``MODULE:ATTR`` where MODULE is a dotted module path or a ``.py`` file."""
    module_part, sep, attr = spec.rpartition(":")
    if not sep or not module_part or not attr:
        raise CLIError(f"expected MODULE:CALLABLE (e.g. mypkg.nets:make_net or path/to/net.py:Net), got {spec!r}")
    if module_part.endswith(".py") or "/" in module_part or os.sep in module_part:
        path = Path(module_part)
        if not path.is_file():
            raise CLIError(f"no such Python file: {module_part}")
        mod_name = f"_gennape_user_{path.stem}_{abs(hash(str(path.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(mod_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise CLIError(f"cannot load {module_part} as a Python module")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_name] = module
        sys.path.insert(0, str(path.resolve().parent))  # let the file import its neighbours
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(mod_name, None)
            raise CLIError(f"importing {module_part} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            sys.path.remove(str(path.resolve().parent))
    else:
        sys.path.insert(0, os.getcwd())  # as `python -m` does, so modules in the working folder import
        try:
            module = importlib.import_module(module_part)
        except Exception as exc:
            raise CLIError(f"cannot import module {module_part!r}: {type(exc).__name__}: {exc}") from exc
        finally:
            sys.path.remove(os.getcwd())
    obj: Any = module
    for name in attr.split("."):
        if not hasattr(obj, name):
            raise CLIError(f"{module_part} has no attribute {attr!r}")
        obj = getattr(obj, name)
    return obj


def _module_from_target(spec: str) -> Any:
    """An ``nn.Module`` from ``MODULE:CALLABLE``: the object itself or what calling it returns."""
    obj = _import_target(spec)
    import torch.nn as nn

    if not isinstance(obj, nn.Module):
        if not callable(obj):
            raise CLIError(f"{spec} is a {type(obj).__name__}, neither an nn.Module nor a callable returning one")
        try:
            obj = obj()
        except Exception as exc:
            raise CLIError(f"calling {spec} with no arguments failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(obj, nn.Module):
            raise CLIError(f"{spec}() returned a {type(obj).__name__}, expected a torch.nn.Module")
    return obj


# ---------------------------------------------------------------------------------------------- commands
def _graph_for_build(args: argparse.Namespace) -> Any:
    """The graph ``cg build`` describes: a PyTorch target through torch.fx, or a family architecture."""
    if args.family is not None:
        if args.target is not None:
            raise CLIError("give either MODULE:CALLABLE or --family/--arch, not both")
        from gennape_naslib._cli_extra import family_graph

        return family_graph(args.family, args.arch, args.seed, args.name)
    if args.target is None:
        raise CLIError("give MODULE:CALLABLE (with --input-shape) or --family F [--arch JSON]")
    if args.input_shape is None:
        raise CLIError("--input-shape C,H,W is required with MODULE:CALLABLE")
    expected = _INPUT_KINDS[args.input_kind]
    if len(args.input_shape) != len(expected.split(",")):
        shape = ",".join(map(str, args.input_shape))
        raise CLIError(f"--input-shape {shape}: --input-kind {args.input_kind} expects {expected}")
    from gennape_naslib.cg import from_torch

    module = _module_from_target(args.target)
    return from_torch(module, args.input_shape, name=args.name, input_kind=args.input_kind)


def _cmd_cg_build(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    cg = _graph_for_build(args)
    print(cg.describe())
    logger.info("built %s in %.2f s", cg.summary(), time.perf_counter() - start)
    _write_outputs(cg, args)
    return 0


def _cmd_cg_import(args: argparse.Namespace) -> int:
    path = _existing_file(args.model)
    suffix = path.suffix.lower()
    start = time.perf_counter()
    if suffix == ".pb":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter off stderr
        from gennape_naslib.cg.from_tf import from_tf_graphdef

        cg = from_tf_graphdef(path, input_shape=args.input_shape, name=args.name)
    elif suffix == ".onnx":
        if args.input_shape is not None:
            raise CLIError("--input-shape applies to .pb files only; ONNX models carry their input shape")
        from gennape_naslib.cg.from_onnx import from_onnx

        cg = from_onnx(path, name=args.name)
    else:
        raise CLIError(f"unsupported model file type {suffix or '(none)'!r} for {path}; expected .pb or .onnx")
    print(cg.describe())
    logger.info("imported %s in %.2f s", cg.summary(), time.perf_counter() - start)
    _write_outputs(cg, args)
    return 0


def _cmd_cg_draw(args: argparse.Namespace) -> int:
    from gennape_naslib.cg.draw import draw

    if args.family is not None:
        if args.graph is not None:
            raise CLIError("give either FILE.json|FILE.npz or --family F --random N, not both")
        from gennape_naslib._cli_extra import draw_random_family

        return draw_random_family(args.family, args.random, args.seed, args.out, args.engine)
    if args.graph is None:
        raise CLIError("give FILE.json|FILE.npz, or --family F --random N")
    cg, _ = _load_graphs(_existing_file(args.graph), args.index)
    print(f"wrote {draw(cg, args.out, engine=args.engine)} ({cg.summary()})")
    return 0


def _histogram(counts: dict[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return "\n".join(f"  {op:<14} {n:>6}" for op, n in ordered)


def _cmd_cg_info(args: argparse.Namespace) -> int:
    path = _existing_file(args.graph)
    cg, count = _load_graphs(path, args.index)
    if path.suffix.lower() == ".npz":
        from gennape_naslib.cg import io

        sizes = io.GraphCollection(path).n_nodes
        print(
            f"{path}: {count} graphs, nodes per graph min {sizes.min()} / mean {sizes.mean():.1f} / max {sizes.max()}"
        )
        print(f"graph {args.index}:")
    print(cg.summary())
    print(f"  nodes {cg.n_nodes}, edges {cg.n_edges}, weighted {cg.n_weighted}, input shape {cg.input_shape}")
    print("  op histogram:")
    print(_histogram(dict(cg.op_counts())))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from gennape_naslib.demo import run_demo

    reports = run_demo(args.out, engine=args.engine)
    return 1 if any(r.status == "failed" for r in reports) else 0


# ---------------------------------------------------------------------------------------------- parser
def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, metavar="FILE.json", help="save the graph as versioned JSON")
    parser.add_argument("--draw", type=Path, metavar="FILE.png", help="draw the graph as a PNG")
    _add_engine_option(parser)


def _add_engine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=("auto", "graphviz", "matplotlib"),
        default="auto",
        help="drawing engine (default: auto = graphviz if 'dot' is installed, else matplotlib)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``gennape`` argument parser (built on demand, never at import time)."""
    parser = _Parser(prog="gennape", description="GENNAPE neural architecture performance estimation for NASLib.")
    parser.add_argument("--version", action="version", version=f"gennape-naslib {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log progress (-vv: debug messages)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    cg = commands.add_parser("cg", help="build, import, draw and inspect computation graphs")
    cg_commands = cg.add_subparsers(dest="cg_command", metavar="SUBCOMMAND", required=True, parser_class=_Parser)

    build = cg_commands.add_parser(
        "build",
        help="computation graph of a PyTorch model",
        description="Build the computation graph of a PyTorch model through torch.fx. MODULE:CALLABLE names an "
        "nn.Module or a callable returning one when called without arguments, where MODULE is a dotted module "
        "path or a path/to/file.py.",
    )
    build.add_argument(
        "target",
        nargs="?",
        metavar="MODULE:CALLABLE",
        help="e.g. net.py:Net, or torchvision.models:resnet18 where torchvision is installed",
    )
    build.add_argument(
        "--input-shape",
        type=_shape_type("C,H,W (tokens: L,E; flat: F)", counts=(1, 2, 3)),
        metavar="C,H,W",
        help="input tensor shape without the batch (L,E tokens; F flat)",
    )
    build.add_argument(
        "--input-kind",
        choices=sorted(_INPUT_KINDS),
        default="image",
        help="image (C,H,W, default), tokens (L,E: a batch-first sequence) or flat (F: feature vectors)",
    )
    build.add_argument("--family", help="build a family architecture instead (see 'gennape family list')")
    build.add_argument("--arch", metavar="JSON", help="the architecture in the family's encoding (default: random)")
    build.add_argument("--seed", type=int, default=0, help="seed of the random architecture (default 0)")
    build.add_argument("--name", help="graph name (default: the module's class name)")
    _add_output_options(build)
    build.set_defaults(handler=_cmd_cg_build)

    imp = cg_commands.add_parser(
        "import",
        help="computation graph of a TensorFlow .pb or an ONNX model",
        description="Import a frozen TensorFlow GraphDef (.pb, needs the 'tf' extra) or an ONNX model "
        "(.onnx, needs the 'onnx' extra) as a computation graph.",
    )
    imp.add_argument("model", metavar="MODEL.pb|MODEL.onnx")
    imp.add_argument(
        "--input-shape", type=_shape_type("H,W,C"), metavar="H,W,C", help="input shape of a .pb with unknown dims"
    )
    imp.add_argument("--name", help="graph name (default: the file name)")
    _add_output_options(imp)
    imp.set_defaults(handler=_cmd_cg_import)

    draw = cg_commands.add_parser(
        "draw",
        help="draw a saved graph (or random family architectures) as PNG",
        description="Draw a saved graph, or N random architectures of a family into a folder.",
    )
    draw.add_argument("graph", nargs="?", metavar="FILE.json|FILE.npz")
    draw.add_argument("--index", type=int, default=0, help="which graph of an .npz collection (default 0)")
    draw.add_argument(
        "--out", type=Path, required=True, metavar="FILE.png|DIR", help="PNG to write (DIR with --family)"
    )
    draw.add_argument("--family", help="draw random architectures of this family")
    draw.add_argument("--random", type=int, default=1, metavar="N", help="how many (with --family, default 1)")
    draw.add_argument("--seed", type=int, default=0, help="seed of the random architectures (default 0)")
    _add_engine_option(draw)
    draw.set_defaults(handler=_cmd_cg_draw)

    info = cg_commands.add_parser(
        "info", help="sizes and op histogram of a saved graph", description="Describe a saved graph or collection."
    )
    info.add_argument("graph", metavar="FILE.json|FILE.npz")
    info.add_argument("--index", type=int, default=0, help="which graph of an .npz collection to detail (default 0)")
    info.set_defaults(handler=_cmd_cg_info)

    from gennape_naslib._cli_extra import add_data_commands, add_family_commands

    add_family_commands(commands)
    add_data_commands(commands)
    from gennape_naslib._cli_search import add_search_commands

    add_search_commands(commands)
    from gennape_naslib._cli_bench import add_bench_commands

    add_bench_commands(commands)
    from gennape_naslib._cli_predict import add_predict_commands

    add_predict_commands(commands)

    demo = commands.add_parser(
        "demo",
        help="a six-step tour: computation graphs, zero-/few-shot prediction, proxies and a short search",
        description="Run the six demo steps (PyTorch and Keras models and the families as computation graphs, "
        "the pretrained GENNAPE on unseen families zero-shot and fine-tuned, zero-cost proxies vs GENNAPE vs "
        "FLOPs, a short BANANAS + GENNAPE search) and write their outputs into a folder.",
    )
    demo.add_argument("--out", type=Path, default=Path("demo_output"), metavar="DIR", help="default: ./demo_output")
    _add_engine_option(demo)
    demo.set_defaults(handler=_cmd_demo)
    return parser


# ---------------------------------------------------------------------------------------------- entry point
def _configure_logging(verbosity: int) -> logging.Handler | None:
    if verbosity <= 0:
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("gennape_naslib")
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO if verbosity == 1 else logging.DEBUG)
    return handler


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    print(f"gennape: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gennape`` command line.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code (0 success, 1 failure, 2 bad arguments or input).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and argument errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    handler = _configure_logging(args.verbose)
    try:
        return _run(args)
    finally:
        if handler is not None:
            package_logger = logging.getLogger("gennape_naslib")
            package_logger.removeHandler(handler)
            package_logger.setLevel(logging.NOTSET)


def _run(args: argparse.Namespace) -> int:
    from gennape_naslib._optional import MissingDependencyError
    from gennape_naslib.cg.draw import DrawError

    error: Exception
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            # torch-geometric scripts a few modules at import time; the deprecation is theirs, not the user's
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated")
            warnings.showwarning = _show_warning
            return int(args.handler(args))
    except (CLIError, FileNotFoundError, ValueError) as exc:
        code, error = 2, exc
    except KeyError as exc:
        # Only the package's named lookup errors (UnknownFamilyError, UnknownPredictorError, ...) are
        # bad input; a bare KeyError is a bug, whose traceback must stay visible.
        if type(exc) is KeyError or not type(exc).__module__.startswith("gennape_naslib."):
            raise
        code, error = 2, exc
    except (MissingDependencyError, DrawError, OSError) as exc:
        # a path of the wrong kind (--out naming a file, --draw a folder) is bad input, not a failed job
        wrong_kind = isinstance(exc, (FileExistsError, IsADirectoryError, NotADirectoryError)) and exc.filename
        code, error = 2 if wrong_kind else 1, exc
    if args.verbose:
        traceback.print_exception(error, file=sys.stderr)
    print(f"gennape: error: {' '.join(_error_message(error, args).split())}", file=sys.stderr)
    return code


def _error_message(error: BaseException, args: argparse.Namespace) -> str:
    """The one-line message of an error; OS errors about a path name the path (and its option) plainly."""
    if isinstance(error, OSError) and error.filename:
        # an atomic write reports its hidden temporary file first and the target second
        path = Path(os.fsdecode(error.filename2 or error.filename))
        options = [k for k in ("out", "draw", "save_config") if getattr(args, k, None) is not None]
        named = next((k for k in options if Path(getattr(args, k)) == path), None)
        where = f"--{named.replace('_', '-')} {path}" if named else str(path)
        if isinstance(error, FileNotFoundError):
            return f"no such file: {error.filename}"
        if isinstance(error, FileExistsError) and path.exists() and not path.is_dir():
            return f"{where} is a file, expected a folder"
        if isinstance(error, IsADirectoryError):
            return f"{where} is a folder, expected a file path"
        if isinstance(error, NotADirectoryError):
            return f"{where}: a part of the path is a file, expected folders"
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])  # KeyError's str() quotes its message
    return str(error) or type(error).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
