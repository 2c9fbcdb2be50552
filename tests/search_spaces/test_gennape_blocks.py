"""Layer programs shared by HiAML, Two-Path and Inception: caching, grafting, module layout."""

from __future__ import annotations

import pytest

from gennape_naslib import search_spaces
from gennape_naslib.cg import CGBuilder, GraphError
from gennape_naslib.search_spaces import _gennape_blocks as blocks
from gennape_naslib.search_spaces._gennape_blocks import Program, emit_cg, program_params
from gennape_naslib.search_spaces._inception_net import build_program as inception_program
from gennape_naslib.search_spaces.hiaml import build_program as hiaml_program
from gennape_naslib.search_spaces.two_path import build_program as two_path_program

PROGRAMS = {"hiaml": hiaml_program, "two_path": two_path_program, "inception": inception_program}


def _without_keys(program: Program) -> Program:
    """A copy of ``program`` whose nested programs have no cache key (so they are emitted afresh)."""
    copy = Program(program.channels[0])
    copy.steps = [
        blocks.Step(**{**{f: getattr(s, f) for f in s.__slots__}, "sub": _without_keys(s.sub)})
        if s.kind == "sub"
        else s
        for s in program.steps
    ]
    copy.channels = list(program.channels)
    return copy


@pytest.mark.parametrize("name", ["hiaml", "two_path", "inception"])
def test_fragment_cache_gives_the_same_graph(name: str) -> None:
    family = search_spaces.get(name)
    arch = family.sample(11)
    cached = family.to_cg(arch)
    program = _without_keys(PROGRAMS[name](arch, 10))
    b = CGBuilder((32, 32, 3))
    fresh = b.build(emit_cg(program, b, b.input_node))
    assert cached == fresh and cached.edges == fresh.edges
    assert [n.descriptor() for n in cached.nodes] == [n.descriptor() for n in fresh.nodes]


def test_graft_checks_the_input_geometry() -> None:
    block = CGBuilder((8, 8, 16))
    block.bn(block.conv(block.input_node, 16, 3, padding=1))
    b = CGBuilder((8, 8, 3))
    with pytest.raises(GraphError, match="graft"):
        b.graft(block, b.input_node)
    x = b.conv(b.input_node, 16, 1)
    conv = b.graft(block, x, output=1)  # node 1 of the block is its conv
    assert conv == x + 1
    out = b.graft(block, conv + 1)
    cg = b.build(out)
    assert [n.op for n in cg.nodes] == ["input", "conv", "conv", "batchnorm", "conv", "batchnorm", "output"]
    assert cg.edges == ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6))
    assert cg.nodes[4].resolution == (8, 8, 8, 8, 16, 16)


def test_module_layout_and_parameter_count() -> None:
    family = search_spaces.get("hiaml")
    arch = family.from_json(["hiaml_a22"] * 4)
    net = family.to_module(arch)
    names = dict(net.named_parameters())
    assert "stem.weight" in names and "stage1_block0.conv33_1.weight" in names and "classifier.bias" in names
    assert tuple(names["stage1_block0.conv33_1.weight"].shape) == (128, 64, 3, 3)
    bn = net.stage0_block0.conv33_1_bn
    assert (bn.eps, bn.momentum) == (1e-3, 0.1)  # TF BatchNormalization(momentum=0.9, epsilon=1e-3)
    assert program_params(hiaml_program(arch)) == sum(p.numel() for p in net.parameters())


def test_program_names_are_unique_and_blocks_check_channels() -> None:
    p = Program(3)
    a = p.conv(0, 8, 3, name="c")
    b = p.conv(a, 8, 3, name="c")
    assert [s.name for s in p.steps] == ["c", "c_1"] and p.channels == [3, 8, 8]
    with pytest.raises(ValueError, match="expects 16 input channels"):
        p.sub(b, Program(16), "block")


@pytest.mark.parametrize("name", ["hiaml", "two_path"])
def test_onnx_lowering_agrees(name: str) -> None:
    """The ONNX export of the network lowers to the same graph (ONNX drops inference dropout)."""
    import io
    import warnings

    onnx = pytest.importorskip("onnx")
    torch = pytest.importorskip("torch")
    from gennape_naslib.cg.from_onnx import from_onnx

    family = search_spaces.get(name)
    arch = family.sample(4)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            family.to_module(arch).eval(),
            torch.zeros(1, 3, 32, 32),
            buffer,
            dynamo=False,
            training=torch.onnx.TrainingMode.PRESERVE,
        )
    lowered = from_onnx(onnx.load_from_string(buffer.getvalue()))
    fast = family.to_cg(arch)
    if name == "two_path":  # drop the dropout's identity node from the direct graph before comparing
        (i,) = [k for k, n in enumerate(fast.nodes) if n.op == "identity"]
        (src,) = [s for s, d in fast.edges if d == i]
        (dst,) = [d for s, d in fast.edges if s == i]
        keep = [k for k in range(fast.n_nodes) if k != i]
        index = {old: new for new, old in enumerate(keep)}
        edges = [(s, d) for s, d in fast.edges if i not in (s, d)] + [(src, dst)]
        fast = fast.copy(nodes=[fast.nodes[k] for k in keep], edges=[(index[s], index[d]) for s, d in edges])
    assert fast == lowered, fast.diff(lowered)


def test_flops_order_of_the_three_families() -> None:
    """PAPER_FACTS 2.2: Inception has the most FLOPs, Two-Path is the lightest (HiAML in between)."""
    import numpy as np

    medians = {}
    for name in ("hiaml", "two_path", "inception"):
        family = search_spaces.get(name)
        rng = np.random.default_rng(0)
        medians[name] = float(np.median([family.flops(family.sample(rng)) for _ in range(30)]))
    assert medians["two_path"] < medians["hiaml"] < medians["inception"], medians


def _tf_network(tf, program: Program):
    """The program written with TensorFlow ops as GENNAPE's TF builders write it ("same" padding,
    fused inference batch norm, Keras-2-style dropout identity), for the GraphDef importer."""
    variables = []

    def var(shape):
        v = tf.Variable(tf.random.normal(shape, stddev=0.1))
        variables.append(v)
        return v

    def build(prog: Program):
        layers = []
        for s in prog.steps:
            if s.kind == "conv" and s.groups > 1:
                layers.append((var((*s.kernel, s.c_in, 1)), var((s.c_out,)) if s.bias else None))
            elif s.kind == "conv":
                layers.append((var((*s.kernel, s.c_in, s.c_out)), var((s.c_out,)) if s.bias else None))
            elif s.kind == "bn":
                layers.append(tuple(var((s.c_out,)) for _ in range(4)))
            elif s.kind == "linear":
                layers.append((var((s.c_in, s.c_out)), var((s.c_out,))))
            elif s.kind == "sub":
                layers.append(build(s.sub))
            else:
                layers.append(None)

        def run(x):
            values = [x]
            for s, layer in zip(prog.steps, layers):
                first = values[s.inputs[0]]
                if s.kind == "conv":
                    strides = (1, *s.stride, 1)
                    if s.groups > 1:
                        y = tf.nn.depthwise_conv2d(first, layer[0], strides, "SAME")
                    else:
                        y = tf.nn.conv2d(first, layer[0], strides, "SAME")
                    y = tf.nn.bias_add(y, layer[1]) if layer[1] is not None else y
                elif s.kind == "bn":
                    y = tf.compat.v1.nn.fused_batch_norm(first, *layer, is_training=False)[0]
                elif s.kind in ("relu", "relu6"):
                    y = getattr(tf.nn, s.kind)(first)
                elif s.kind in ("maxpool", "avgpool"):
                    pool = tf.nn.max_pool2d if s.kind == "maxpool" else tf.nn.avg_pool2d
                    y = pool(first, s.kernel, (1, *s.stride, 1), "SAME")
                elif s.kind == "add":
                    y = values[s.inputs[0]]
                    for i in s.inputs[1:]:
                        y = y + values[i]
                elif s.kind == "concat":
                    y = tf.concat([values[i] for i in s.inputs], -1)
                elif s.kind == "mean":
                    y = tf.reduce_mean(first, [1, 2])
                elif s.kind == "dropout":
                    y = tf.identity(first, name="Identity")
                elif s.kind == "linear":
                    y = tf.nn.bias_add(tf.matmul(first, layer[0]), layer[1])
                else:
                    y = layer(first)
                values.append(y)
            return values[-1]

        return run

    forward = build(program)
    return lambda x, training=False: forward(x)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hiaml", "two_path", "inception"])
def test_tensorflow_same_padding_network_gives_the_same_graph(name: str) -> None:
    """The network written with TF ops and "same" padding (what GENNAPE froze) lowers through the
    GraphDef importer to exactly our direct graph, so symmetric PyTorch padding changes nothing."""
    tf = pytest.importorskip("tensorflow")
    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef

    family = search_spaces.get(name)
    arch = family.sample(21)
    graph_def = freeze_keras_model(_tf_network(tf, PROGRAMS[name](arch, 10)), (32, 32, 3))
    lowered = from_tf_graphdef(graph_def)
    fast = family.to_cg(arch)
    assert fast == lowered, fast.diff(lowered)
