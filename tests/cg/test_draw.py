"""Drawing computation graphs with both engines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gennape_naslib.cg import CGBuilder, ComputeGraph
from gennape_naslib.cg.draw import COMPACT_ABOVE, DrawError, draw, node_label, to_dot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _small_graph() -> ComputeGraph:
    b = CGBuilder((32, 32, 3), name='tiny "net"')
    x = b.conv_bn_act(b.input_node, 16, 3, padding=1)
    y = b.conv_bn(x, 16, 3, padding=1)
    x = b.relu(b.add(x, y))
    x = b.pool(x, "max", 2)
    return b.build(b.linear(b.mean(x), 10))


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_node_label_shows_geometry_weights_stride_and_bias() -> None:
    cg = _small_graph()
    conv = node_label(cg.nodes[1], 1)
    assert conv == ["#1 conv", "32x32x3 -> 32x32x16", "w [3, 16, 3, 3] k3x3 s1"]
    assert node_label(cg.nodes[-2]) == ["matmul", "1x1x16 -> 1x1x10", "w [16, 10] +bias"]
    pool = next(n for n in cg.nodes if n.op == "maxpool")
    assert node_label(pool)[1:] == ["32x32x16 -> 16x16x16", "k2x2 s2"]
    assert node_label(cg.nodes[0]) == ["input", "32x32x3"]
    assert node_label(cg.nodes[1], compact=True) == ["conv 3x3 16"]


def test_to_dot_has_every_node_and_edge_and_escapes_quotes() -> None:
    cg = _small_graph()
    dot = to_dot(cg)
    assert dot.startswith('digraph "tiny \\"net\\"" {')
    assert sum(1 for line in dot.splitlines() if line.strip().startswith("n") and "[label=" in line) == cg.n_nodes
    assert (
        sum(1 for line in dot.splitlines() if "->" in line and line.strip().endswith(";") and "label" not in line)
        == cg.n_edges
    )
    assert 'fillcolor="#add8e6"' in dot  # weighted nodes are light blue
    assert '[label="conv 3x3 16", fillcolor="#add8e6"]' in to_dot(cg, compact=True)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_graphviz_engine_writes_png(tmp_path: Path) -> None:
    out = draw(_small_graph(), tmp_path / "sub" / "g.png", engine="graphviz")
    assert out == tmp_path / "sub" / "g.png"
    width, height = _png_size(out)
    assert height > width > 100 and out.stat().st_size > 5_000
    assert [p.name for p in out.parent.iterdir()] == ["g.png"]  # no temporary or .dot files left behind


def test_matplotlib_engine_writes_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    cg = _small_graph()
    out = draw(cg, tmp_path / "g.png", engine="matplotlib")
    width, height = _png_size(out)
    assert height > width > 100 and out.stat().st_size > 5_000


def test_matplotlib_engine_compact_labels_for_large_graphs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    import gennape_naslib.cg.draw as draw_module

    b = CGBuilder((8, 8, 4), name="long")
    x = b.input_node
    for _ in range(15):
        x = b.relu(b.bn(x))
    cg = b.build(x)
    full = _png_size(draw(cg, tmp_path / "full.png", engine="matplotlib"))
    monkeypatch.setattr(draw_module, "COMPACT_ABOVE", cg.n_nodes - 1)  # as if the graph had > 300 nodes
    compact = _png_size(draw(cg, tmp_path / "compact.png", engine="matplotlib"))
    assert compact[1] < 0.8 * full[1]  # one-line boxes make a shorter drawing
    assert COMPACT_ABOVE == 300


def test_unknown_engine_and_missing_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown drawing engine 'svg'"):
        draw(_small_graph(), tmp_path / "g.png", engine="svg")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DrawError, match="dot"):
        draw(_small_graph(), tmp_path / "g.png", engine="graphviz")
    assert not (tmp_path / "g.png").exists()


def test_a_path_that_is_not_png_is_refused_before_drawing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"g\.jpg: drawings are PNG files; give a path ending in \.png, not '\.jpg'"):
        draw(_small_graph(), tmp_path / "g.jpg", engine="matplotlib")
    assert list(tmp_path.iterdir()) == []
    pytest.importorskip("matplotlib")  # the refusal above needs no drawing library; drawing does ([plot])
    assert draw(_small_graph(), tmp_path / "G.PNG", engine="matplotlib").stat().st_size > 0
