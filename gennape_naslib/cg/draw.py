"""Draw a computation graph as a PNG a person can read.

One box per node, edges in data-flow direction from top to bottom. A box shows the node's index and
op, its geometry ``H_in x W_in x C_in -> H_out x W_out x C_out``, and for weighted nodes the weight
shape, kernel, stride and bias flag. Weighted nodes are light blue, regular nodes light grey, the
input green, the output orange and out-of-vocabulary nodes pink.

Two engines:

* ``"graphviz"`` writes a ``.dot`` file and runs Graphviz's ``dot`` program (no Python package
  needed); best layouts.
* ``"matplotlib"`` is a pure-Python fallback (the ``plot`` extra): a layered layout by topological
  depth with barycentre crossing reduction; graphs with more than 300 nodes get compact labels.

``"auto"`` uses Graphviz when ``dot`` is on ``PATH`` and matplotlib otherwise.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from gennape_naslib._atomic import atomic_write
from gennape_naslib.cg.graph import ComputeGraph, Node

__all__ = ["DrawError", "draw", "node_label", "to_dot", "ENGINES"]

logger = logging.getLogger(__name__)

ENGINES = ("auto", "graphviz", "matplotlib")

#: Graphs with more nodes than this get one-line labels in the matplotlib engine.
COMPACT_ABOVE = 300

_FILL = {"weighted": "#add8e6", "regular": "#d3d3d3", "input": "#b4e7b4", "output": "#ffc987", "<oov>": "#f4b6c2"}


class DrawError(RuntimeError):
    """A drawing engine is unavailable or failed."""


def _kind(node: Node) -> str:
    if node.op in ("input", "output", "<oov>"):
        return node.op
    return "weighted" if node.weighted else "regular"


def _hwc(h: int, w: int, c: int) -> str:
    return f"{h}x{w}x{c}"


def node_label(node: Node, index: int | None = None, compact: bool = False) -> list[str]:
    """The text lines of a node's box.

    Args:
        node: The node.
        index: Its position in the graph, shown as ``#i`` when given.
        compact: One short line (op, kernel, output channels) instead of the full description.
    """
    h_in, h_out, w_in, w_out, c_in, c_out = node.resolution
    head = node.op if index is None else f"#{index} {node.op}"
    if compact:
        if node.weighted and node.kernel != (0, 0):
            head += f" {node.kernel[0]}x{node.kernel[1]}"
        return [f"{head} {c_out}"]
    if node.op == "input":
        return [head, _hwc(h_out, w_out, c_out)]
    if node.op == "output":
        return [head, _hwc(h_in, w_in, c_in)]
    lines = [head, f"{_hwc(h_in, w_in, c_in)} -> {_hwc(h_out, w_out, c_out)}"]
    extra = []
    if node.shape is not None:
        shape = list(node.shape) if node.kernel != (0, 0) else list(node.shape[:2])
        extra.append(f"w {shape}")
        if node.kernel != (0, 0):
            extra.append(f"k{node.kernel[0]}x{node.kernel[1]}")
    else:
        ksize = (node.metadata or {}).get("ksize")
        if ksize:
            extra.append(f"k{ksize[0]}x{ksize[1]}")
    if node.strides is not None and (node.weighted or extra):
        extra.append(
            f"s{node.strides[0]}" if node.strides[0] == node.strides[1] else f"s{node.strides[0]}x{node.strides[1]}"
        )
    if node.weighted and node.use_bias:
        extra.append("+bias")
    if extra:
        lines.append(" ".join(extra))
    return lines


# ---------------------------------------------------------------------------------------------- graphviz
def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(cg: ComputeGraph, compact: bool | None = None) -> str:
    """Graphviz DOT source of a computation graph (top-to-bottom, one box per node).

    Args:
        cg: The graph.
        compact: One-line labels; default: only for graphs with more than :data:`COMPACT_ABOVE` nodes.
    """
    if compact is None:
        compact = cg.n_nodes > COMPACT_ABOVE
    lines = [
        f"digraph {_dot_quote(cg.name or 'cg')} {{",
        "  rankdir=TB; nodesep=0.25; ranksep=0.3;",
        f"  label={_dot_quote(cg.summary())}; labelloc=t; fontname=Helvetica; fontsize=14;",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=11, margin="0.12,0.04",'
        " height=0.3, penwidth=0.8];",
        "  edge [arrowsize=0.6, penwidth=0.8];",
    ]
    for i, node in enumerate(cg.nodes):
        text = "\\n".join(
            part.replace("\\", "\\\\").replace('"', '\\"') for part in node_label(node, None if compact else i, compact)
        )
        shape = ", shape=ellipse" if node.op in ("input", "output") else ""
        lines.append(f'  n{i} [label="{text}", fillcolor="{_FILL[_kind(node)]}"{shape}];')
    for s, d in cg.edges:
        lines.append(f"  n{s} -> n{d};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _draw_graphviz(cg: ComputeGraph, path: Path, timeout: float) -> None:
    dot = shutil.which("dot")
    if dot is None:
        raise DrawError(
            "the 'graphviz' engine needs Graphviz's 'dot' program on PATH; install Graphviz or use engine='matplotlib'"
        )
    with tempfile.TemporaryDirectory(prefix="gennape-dot-") as tmp:
        source = Path(tmp) / "graph.dot"
        source.write_text(to_dot(cg), encoding="utf-8")
        try:
            result = subprocess.run([dot, "-Tpng", str(source)], capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise DrawError(f"dot did not finish drawing {cg.summary()} within {timeout:.0f} s") from exc
    if result.returncode != 0 or not result.stdout.startswith(b"\x89PNG"):
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise DrawError(f"dot failed on {cg.summary()} (exit {result.returncode}): {' '.join(message[-3:])}")
    with atomic_write(path, "wb") as handle:
        handle.write(result.stdout)


# ---------------------------------------------------------------------------------------------- matplotlib
def _layers(cg: ComputeGraph) -> tuple[list[list[int]], list[tuple[int, list[int]]]]:
    """Layer each node by longest path from the sources; split long edges with dummy vertices.

    Returns the layers (lists of vertex ids, real nodes ``0..n-1``, dummies ``n..``) and, per edge,
    its chain of vertices from source to destination.
    """
    n = cg.n_nodes
    depth = [0] * n
    for s, d in cg.edges:  # edges are sorted by source and nodes are topologically ordered
        depth[d] = max(depth[d], depth[s] + 1)
    layers: list[list[int]] = [[] for _ in range(max(depth, default=0) + 1)]
    for i in range(n):
        layers[depth[i]].append(i)
    chains: list[tuple[int, list[int]]] = []
    next_id = n
    for s, d in cg.edges:
        chain = [s]
        for level in range(depth[s] + 1, depth[d]):
            layers[level].append(next_id)
            chain.append(next_id)
            next_id += 1
        chain.append(d)
        chains.append((s, chain))
    return layers, chains


def _order(layers: list[list[int]], chains: list[tuple[int, list[int]]], sweeps: int = 4) -> None:
    """Barycentre heuristic: reorder each layer by the mean position of its neighbours, both ways."""
    up: dict[int, list[int]] = {}
    down: dict[int, list[int]] = {}
    for _, chain in chains:
        for a, b in zip(chain, chain[1:]):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
    pos = {v: i for layer in layers for i, v in enumerate(layer)}
    for sweep in range(sweeps):
        order = range(1, len(layers)) if sweep % 2 == 0 else range(len(layers) - 2, -1, -1)
        nbrs = up if sweep % 2 == 0 else down
        for level in order:
            layer = layers[level]
            key = {v: (sum(pos[u] for u in nbrs[v]) / len(nbrs[v]) if nbrs.get(v) else pos[v]) for v in layer}
            layer.sort(key=lambda v: (key[v], pos[v]))
            for i, v in enumerate(layer):
                pos[v] = i


def _place(
    layers: list[list[int]], width: dict[int, float], preds: dict[int, list[int]], gap: float
) -> dict[int, float]:
    """x centre of each vertex: packed and centred, then pulled towards its predecessors."""
    x: dict[int, float] = {}
    for layer in layers:
        total = sum(width[v] for v in layer) + gap * (len(layer) - 1)
        cursor = -total / 2
        for v in layer:
            x[v] = cursor + width[v] / 2
            cursor += width[v] + gap
    for _ in range(3):
        for layer in layers[1:]:
            want = [sum(x[p] for p in preds[v]) / len(preds[v]) if preds.get(v) else x[v] for v in layer]
            # Keep the order and the spacing: forward pass pushes right, backward pass pushes left.
            placed = list(want)
            for i in range(1, len(layer)):
                low = placed[i - 1] + (width[layer[i - 1]] + width[layer[i]]) / 2 + gap
                placed[i] = max(placed[i], low)
            shift = (sum(placed) - sum(want)) / len(placed)
            placed = [p - shift for p in placed]
            for i in range(len(layer) - 2, -1, -1):
                high = placed[i + 1] - (width[layer[i + 1]] + width[layer[i]]) / 2 - gap
                placed[i] = min(placed[i], high)
            for v, p in zip(layer, placed):
                x[v] = p
    return x


def _char_width(fontsize: float, dpi: int) -> float:
    """Width in inches of one monospace character as Agg renders it (hinting widens it at low dpi)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    renderer = FigureCanvasAgg(Figure(dpi=dpi)).get_renderer()
    sample = "x" * 40
    width, _, _ = renderer.get_text_width_height_descent(
        sample, FontProperties(family="monospace", size=fontsize), False
    )
    return max(width / len(sample) / dpi, 0.6 * fontsize / 72)


def _draw_matplotlib(cg: ComputeGraph, path: Path, dpi: int) -> None:
    from gennape_naslib._optional import require

    # Figure + FigureCanvasAgg directly: no pyplot, so no global backend state and no GUI.
    require("matplotlib", "plot", "drawing computation graphs")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as MplPath

    n = cg.n_nodes
    compact = n > COMPACT_ABOVE
    fontsize = 7.0 if compact else 9.0
    char_w, line_h, pad = _char_width(fontsize, dpi), 1.25 * fontsize / 72, 0.08  # inches (monospace font)
    labels = [node_label(node, None if compact else i, compact) for i, node in enumerate(cg.nodes)]
    layers, chains = _layers(cg)
    _order(layers, chains)
    width = {v: 0.12 for layer in layers for v in layer}
    height = {v: 0.0 for layer in layers for v in layer}
    for i, text in enumerate(labels):
        width[i] = max(len(t) for t in text) * char_w + 2 * pad
        height[i] = len(text) * line_h + 2 * pad
    preds: dict[int, list[int]] = {}
    for _, chain in chains:
        for a, b in zip(chain, chain[1:]):
            preds.setdefault(b, []).append(a)
    x = _place(layers, width, preds, gap=0.15 if compact else 0.25)
    # Rows from the top, each as tall as its tallest box plus a gap for the arrows.
    y: dict[int, float] = {}
    cursor, row_gap = 0.0, 0.22 if compact else 0.35
    for layer in layers:
        tallest = max(height[v] for v in layer)
        for v in layer:
            y[v] = -(cursor + tallest / 2)
        cursor += tallest + row_gap
    margin = 0.3
    xmin = min(x[v] - width[v] / 2 for v in x) - margin
    xmax = max(x[v] + width[v] / 2 for v in x) + margin
    title_h = 0.4
    fig_w, fig_h = max(xmax - xmin, 3.0), cursor - row_gap + 2 * margin + title_h
    # Agg refuses images above 2^16 pixels a side; lower the resolution of huge drawings instead.
    dpi = int(min(dpi, 32000 / max(fig_w, fig_h)))
    fig = Figure(figsize=(fig_w, fig_h), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    cx = (xmin + xmax) / 2
    ax.set_xlim(cx - fig_w / 2, cx + fig_w / 2)
    ax.set_ylim(-(fig_h - margin - title_h), margin + title_h)
    ax.set_axis_off()
    ax.text(cx, margin / 2 + title_h / 2, cg.summary(), ha="center", va="center", fontsize=11, family="sans-serif")
    for _, chain in chains:
        pts = [(x[chain[0]], y[chain[0]] - height[chain[0]] / 2)]
        pts += [(x[v], y[v]) for v in chain[1:-1]]
        pts.append((x[chain[-1]], y[chain[-1]] + height[chain[-1]] / 2))
        codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(pts) - 1)
        ax.add_patch(
            FancyArrowPatch(
                path=MplPath(pts, codes),
                arrowstyle="-|>",
                mutation_scale=7 if compact else 9,
                lw=0.6,
                color="#444444",
                shrinkA=0,
                shrinkB=0,
            )
        )
    for i, text in enumerate(labels):
        w, h = width[i] - 2 * pad, height[i] - 2 * pad
        ax.add_patch(
            FancyBboxPatch(
                (x[i] - w / 2, y[i] - h / 2),
                w,
                h,
                boxstyle=f"round,pad={pad}",
                fc=_FILL[_kind(cg.nodes[i])],
                ec="#333333",
                lw=0.6,
                zorder=2,
            )
        )
        ax.text(
            x[i],
            y[i],
            "\n".join(text),
            ha="center",
            va="center",
            fontsize=fontsize,
            family="monospace",
            zorder=3,
            linespacing=1.1,
        )
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=dpi)


# ---------------------------------------------------------------------------------------------- public
def draw(
    cg: ComputeGraph,
    path: str | os.PathLike[str],
    engine: str = "auto",
    *,
    dpi: int = 100,
    timeout: float = 300.0,
) -> Path:
    """Write a PNG drawing of ``cg`` to ``path`` (atomically) and return the path.

    Args:
        cg: The computation graph.
        path: Destination ``.png`` file; its folder is created if needed.
        engine: ``"graphviz"``, ``"matplotlib"`` or ``"auto"`` (Graphviz if ``dot`` is on ``PATH``).
        dpi: Resolution of the matplotlib engine (lowered automatically for very large graphs).
        timeout: Seconds to wait for ``dot``.

    Returns:
        The path written.

    Raises:
        ValueError: If ``engine`` is unknown or ``path`` has a suffix other than ``.png``.
        DrawError: If the graphviz engine was requested without ``dot`` on ``PATH`` or ``dot`` failed.
        gennape_naslib._optional.MissingDependencyError: If matplotlib is needed but not installed.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown drawing engine {engine!r}; expected one of {', '.join(ENGINES)}")
    target = Path(path)
    if target.suffix and target.suffix.lower() != ".png":
        raise ValueError(f"{target}: drawings are PNG files; give a path ending in .png, not {target.suffix!r}")
    if engine == "auto":
        engine = "graphviz" if shutil.which("dot") else "matplotlib"
    logger.debug("drawing %s with %s into %s", cg.summary(), engine, target)
    if engine == "graphviz":
        _draw_graphviz(cg, target, timeout)
    else:
        _draw_matplotlib(cg, target, dpi)
    return target
