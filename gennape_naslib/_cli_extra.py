"""``gennape family ...`` and ``gennape data ...`` commands, and the family parts of ``gennape cg``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_data_commands", "add_family_commands", "draw_random_family", "family_graph"]


def _cli_error(message: str) -> Exception:
    from gennape_naslib.cli import CLIError

    return CLIError(message)


def _family(name: str) -> Any:
    from gennape_naslib.search_spaces import UnknownFamilyError, get

    try:
        return get(name)
    except UnknownFamilyError as exc:
        raise _cli_error(str(exc)) from None


def family_graph(name: str, arch_text: str | None, seed: int, graph_name: str | None) -> Any:
    """The CG of one architecture of family ``name`` (``arch_text`` as JSON or text form; else random)."""
    family = _family(name)
    if arch_text is None:
        arch = family.sample(seed)
    else:
        try:
            arch = family.coerce(json.loads(arch_text))
        except json.JSONDecodeError:
            arch = family.from_str(arch_text)
    print(f"{name}: {family.to_str(arch)}")
    cg = family.to_cg(arch)
    return cg.copy(name=graph_name) if graph_name else cg


def draw_random_family(name: str, count: int, seed: int, out: Path, engine: str) -> int:
    """Draw ``count`` random architectures of a family into folder ``out`` (GENNAPE's visualize_cgs)."""
    import numpy as np

    from gennape_naslib.cg.draw import draw

    if count < 1:
        raise _cli_error(f"--random must be at least 1, got {count}")
    family = _family(name)
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        arch = family.sample(rng)
        cg = family.to_cg(arch).copy(name=f"{name}_{i}")
        path = draw(cg, out / f"{name}_{i}.png", engine=engine)
        print(f"{cg.summary()}  {family.to_str(arch)}\n  -> {path}")
    return 0


# ---------------------------------------------------------------------- family commands
def _cmd_family_list(args: argparse.Namespace) -> int:
    from gennape_naslib.search_spaces import list_families

    for name in list_families():
        print(name)
    return 0


def _cmd_family_info(args: argparse.Namespace) -> int:
    family = _family(args.family)
    info = family.info()
    size = info["size"]
    print(f"{info['name']}: {info['doc']}")
    print(f"  space size:  {size:,}" if size else "  space size:  not enumerable")
    print(f"  input:       {tuple(info['input_shape'])} (C, H, W), {info['num_classes']} classes")
    print(f"  NASLib:      {info['naslib'] or 'no NASLib search space'}")
    print(f"  JSON:        {json.dumps(info['example_json'])}")
    print(f"  text form:   {info['example_str']}")
    cg = family.to_cg(family.example())
    print(f"  example CG:  {cg.summary()}, {cg.n_weighted} weighted")
    return 0


def add_family_commands(commands: Any) -> None:
    """Register ``gennape family list|info``."""
    parser = commands.add_parser("family", help="list and describe architecture families")
    sub = parser.add_subparsers(dest="family_command", metavar="SUBCOMMAND", required=True, parser_class=type(parser))
    listing = sub.add_parser("list", help="names of the available families", description="List the families.")
    listing.set_defaults(handler=_cmd_family_list)
    info = sub.add_parser("info", help="space size, encodings and an example", description="Describe a family.")
    info.add_argument("family", metavar="F")
    info.set_defaults(handler=_cmd_family_info)


# ---------------------------------------------------------------------- data commands
def _cmd_data_list(args: argparse.Namespace) -> int:
    from gennape_naslib import data

    for name in data.list_tables():
        where = "packaged" if name in data.PACKAGED else f"user ({data.gennape_home() / 'tables'})"
        print(f"{name:<16} {where}")
    return 0


def _cmd_data_info(args: argparse.Namespace) -> int:
    from gennape_naslib import data

    try:
        info = data.table_info(args.name)
    except data.DataNotFoundError as exc:
        raise _cli_error(str(exc)) from None
    print(f"{info['name']}: {info['rows']:,} rows of family {info['family']}")
    if info["description"]:
        print(f"  {info['description']}")
    for key in ("source", "licence"):
        if info["meta"].get(key):
            print(f"  {key}: {info['meta'][key]}")
    print("  columns (non-missing, min .. max):")
    for key, col in info["columns"].items():
        span = f"{col['min']:.6g} .. {col['max']:.6g}" if col["count"] else "-"
        print(f"    {key:<36} {col['count']:>7}  {span}")
    return 0


def _cmd_data_import(args: argparse.Namespace) -> int:
    from gennape_naslib import data

    kwargs: dict[str, Any] = {"strict": not args.lenient}
    if args.family:
        kwargs["family"] = args.family
    table = data.read_format(args.format, args.path, **kwargs)
    path = data.import_table(table, args.name, overwrite=args.overwrite)
    skipped = len(table.meta.get("skipped", []))
    print(f"imported {len(table):,} rows of family {table.family} as {args.name!r} -> {path}")
    if skipped:
        print(f"  skipped {skipped} malformed rows (--lenient)")
    return 0


def add_data_commands(commands: Any) -> None:
    """Register ``gennape data list|info|import``."""
    from gennape_naslib.data.formats import FORMATS

    parser = commands.add_parser("data", help="benchmark tables: list, describe, import your files")
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True, parser_class=type(parser))
    listing = sub.add_parser("list", help="packaged and imported tables", description="List the tables.")
    listing.set_defaults(handler=_cmd_data_list)
    info = sub.add_parser("info", help="rows, columns and provenance of a table", description="Describe a table.")
    info.add_argument("name", metavar="NAME")
    info.set_defaults(handler=_cmd_data_info)
    imp = sub.add_parser(
        "import",
        help="read a benchmark file into GENNAPE_HOME",
        description="Read a file in one of the supported formats and store it as a table under "
        "$GENNAPE_HOME/tables (default ~/.cache/gennape/tables), so that data.load(NAME) finds it.",
    )
    imp.add_argument("format", choices=sorted(FORMATS), metavar="FORMAT", help=", ".join(sorted(FORMATS)))
    imp.add_argument("path", type=Path, metavar="PATH")
    imp.add_argument("--name", required=True, help="table name")
    imp.add_argument(
        "--family",
        help="the family the file must hold; picks the space of a multi-space zero-cost file; needed for a "
        "gennape_cache whose name does not tell it (gpi_ofa_...: ofa_pn or ofa_mbv3)",
    )
    imp.add_argument("--overwrite", action="store_true", help="replace an existing table of that name")
    imp.add_argument("--lenient", action="store_true", help="skip malformed rows (reported) instead of failing")
    imp.set_defaults(handler=_cmd_data_import)
