"""ComputeGraph value semantics: validation, equality, hashing, copies."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gennape_naslib.cg import CGBuilder, ComputeGraph, GraphError, Node, op_from_label
from gennape_naslib.cg.vocab import OPS


def _tiny(c: int = 8) -> ComputeGraph:
    b = CGBuilder((16, 16, 3), name="tiny")
    x = b.conv_bn_act(b.input_node, c, 3, padding=1)
    y = b.conv_bn_act(x, c, 1)
    x = b.add(x, y)
    return b.build(b.linear(b.mean(x), 10))


def test_vocabulary_matches_gennape() -> None:
    assert len(OPS) == 32 and OPS[0] == "<oov>" and OPS[3] == "conv" and OPS[24] == "global" and OPS[26] == "zero"
    cases = {
        "conv2d": "conv",
        "separable_conv2d": "conv",
        "fusedbatchnormv3": "batchnorm",
        "relu_4": "relu",
        "relu6": "relu6",
        "matmul_1": "matmul",
        "addn": "add",
        "add_45": "add",
        "mul_1": "mul",
        "concat_25": "concat",
        "global_pool": "global",
        "identity_3": "identity",
        "depthwise": "depthwise",
        "softmax": "<oov>",
    }
    for label, op in cases.items():
        assert op_from_label(label) == op, label


def test_nodes_are_validated() -> None:
    with pytest.raises(GraphError, match="not in the GENNAPE vocabulary"):
        Node("convolution", (1, 1, 1, 1, 1, 1))
    with pytest.raises(GraphError, match="6 values"):
        Node("relu", (1, 1, 1))
    with pytest.raises(GraphError, match="weighted but has no weight shape"):
        Node("conv", (1, 1, 1, 1, 1, 1))


def test_edges_must_go_forward() -> None:
    nodes = [Node("input", (4, 4, 4, 4, 3, 3)), Node("output", (4, 4, 4, 4, 3, 3))]
    with pytest.raises(GraphError, match="does not go forward"):
        ComputeGraph(nodes, [(1, 0)])
    with pytest.raises(GraphError, match="outside"):
        ComputeGraph(nodes, [(0, 5)])


def test_equality_ignores_names_and_independent_order() -> None:
    a = _tiny()
    # Same network with the two parallel branches created in the other order.
    b = CGBuilder((16, 16, 3), name="other")
    x = b.conv_bn_act(b.input_node, 8, 3, padding=1)
    y = b.conv_bn_act(x, 8, 1)
    x = b.add(x, y)
    again = b.build(b.linear(b.mean(x), 10))
    assert a == again and hash(a) == hash(again) and a.content_hash() == again.content_hash()
    assert a.name != again.name
    assert a != _tiny(16)
    assert "only in self" in a.diff(_tiny(16))


def test_hash_sees_connectivity() -> None:
    # Same node multiset, different wiring: relu feeding the add vs. bn feeding the add.
    def build(skip_from_bn: bool) -> ComputeGraph:
        b = CGBuilder((8, 8, 4))
        c = b.conv(b.input_node, 4, 1)
        n = b.bn(c)
        r = b.relu(n)
        return b.build(b.add(r, n if skip_from_bn else c))

    assert build(True) != build(False)
    assert build(True).op_counts() == build(False).op_counts()


def test_hash_is_stable_across_processes() -> None:
    code = (
        "from gennape_naslib.cg import CGBuilder;"
        "b = CGBuilder((16, 16, 3)); x = b.conv_bn_act(b.input_node, 8, 3, padding=1);"
        "print(b.build(b.linear(b.mean(x), 10)).content_hash())"
    )
    out = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()]
    out.append(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip())
    b = CGBuilder((16, 16, 3))
    x = b.conv_bn_act(b.input_node, 8, 3, padding=1)
    assert out[0] == out[1] == b.build(b.linear(b.mean(x), 10)).content_hash()


def test_copy_and_queries() -> None:
    cg = _tiny()
    other = cg.copy(name="renamed")
    assert other == cg and other.name == "renamed" and other.nodes is cg.nodes
    assert cg.nodes[0].op == "input" and cg.nodes[-1].op == "output"
    assert cg.n_weighted == 3
    assert cg.weighted_shapes()[(3, 8, 3, 3)] == 1
    assert cg.parents()[-1] == [cg.n_nodes - 2]
    assert "ComputeGraph[tiny](n_nodes: 11, n_edges: 11)" == cg.summary()
    with pytest.raises(TypeError, match="unknown attributes"):
        cg.copy(colour="red")
    assert cg.relabel(1, use_bias=True) != cg
