"""The TensorFlow GraphDef importer: GENNAPE's label/keyword rules, its pipeline steps, Keras 3 graphs."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gennape_naslib.cg import GraphError, op_from_label
from gennape_naslib.cg.from_tf import gennape_label, is_kept, is_weighted_label


# --------------------------------------------------------------------------- label and keyword rules
@pytest.mark.parametrize(
    ("name", "op_type", "label", "op"),
    [
        ("net/stem/conv/conv2d", "Conv2D", "conv2d", "conv"),
        ("cell/sep/separable_conv2d", "Conv2D", "separable_conv2d", "conv"),
        ("bn/FusedBatchNormV3", "FusedBatchNormV3", "fusedbatchnormv3", "batchnorm"),
        ("block/Relu_4", "Relu", "relu_4", "relu"),
        ("block/Relu6", "Relu6", "relu6", "relu6"),
        ("dense/MatMul_1", "MatMul", "matmul_1", "matmul"),
        ("AddN", "AddN", "addn", "add"),
        ("add_45", "AddV2", "add_45", "add"),
        ("se/mul_1", "Mul", "mul_1", "mul"),
        ("concat_25", "ConcatV2", "concat_25", "concat"),
        ("head/global_pool", "Mean", "global_pool", "global"),
        ("identity_3", "Identity", "identity_3", "identity"),
        ("dw/depthwise", "DepthwiseConv2dNative", "depthwise", "depthwise"),
        ("pool/MaxPool", "MaxPool", "maxpool", "maxpool"),
        # op-type fallback: an out-of-vocabulary name with a sigmoid/relu/tanh/swish op type
        ("gate/activation", "Sigmoid", "sigmoid", "sigmoid"),
        ("act/Selu", "Relu", "relu", "relu"),
        # ...but only for those four op types
        ("act/activation", "Softplus", "activation", "<oov>"),
    ],
)
def test_gennape_label_rule(name: str, op_type: str, label: str, op: str) -> None:
    assert gennape_label(name, op_type) == label
    assert op_from_label(label) == op


def test_keep_exclude_and_weighted_keywords() -> None:
    for kept in ("input", "output", "conv2d", "kernel", "fusedbatchnormv3", "relu6", "paddings", "global_pool"):
        assert is_kept(kept), kept
    # "padding" contains "add" (a GENNAPE quirk); moving_mean is excluded although it contains "mean"
    assert is_kept("padding")
    for dropped in ("moving_mean", "readvariableop", "reshape", "pad", "truediv", "convolution", "skip_connect_3"):
        assert not is_kept(dropped), dropped
    for weighted in ("kernel", "depthwise_kernel", "conv2d", "biasadd", "pointwise_weights", "matmul"):
        assert is_weighted_label(weighted), weighted
    assert not is_weighted_label("relu") and not is_weighted_label("fusedbatchnormv3")


# --------------------------------------------------------------------------- TF1-style frozen graphs
@pytest.fixture(scope="module")
def tf() -> Any:
    return pytest.importorskip("tensorflow")


def _const(tf: Any, shape: tuple[int, ...], name: str) -> Any:
    return tf.constant(np.full(shape, 0.5, np.float32), name=name)


@pytest.fixture(scope="module")
def tf1_graph_def(tf: Any) -> Any:
    """A graph written as GENNAPE's TF1 models look once frozen: kernels are constants named kernel."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (1, 16, 16, 3), name="x")
        y = tf.identity(x, name="input")
        y = tf.nn.conv2d(y, _const(tf, (3, 3, 3, 8), "conv2d/kernel"), 2, "SAME", name="conv2d/Conv2D")
        y = tf.nn.bias_add(y, _const(tf, (8,), "conv2d/bias"), name="conv2d/BiasAdd")
        ones, zeros = _const(tf, (8,), "bn/gamma"), _const(tf, (8,), "bn/beta")
        mean, var = _const(tf, (8,), "bn/moving_mean"), _const(tf, (8,), "bn/moving_variance")
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(
            y, ones, zeros, mean=mean, variance=var, is_training=False, name="bn/FusedBatchNormV3"
        )
        y = tf.nn.relu(y, name="Relu")
        y = tf.pad(y, [[0, 0], [1, 1], [1, 1], [0, 0]], name="Pad")
        y = tf.nn.depthwise_conv2d(
            y, _const(tf, (3, 3, 8, 1), "dw/depthwise_kernel"), [1, 1, 1, 1], "VALID", name="dw/depthwise"
        )
        y = tf.nn.max_pool2d(y, 3, 2, "SAME", name="MaxPool")
        y = tf.reduce_mean(y, [1, 2], name="global_pool")
        y = tf.reshape(y, (1, 8), name="flatten/Reshape")
        y = tf.matmul(y, _const(tf, (8, 10), "dense/kernel"), name="dense/MatMul")
        y = tf.nn.bias_add(y, _const(tf, (10,), "dense/bias"), name="dense/BiasAdd")
        y = tf.nn.softmax(y, name="Softmax")
        tf.identity(y, name="output")
    return graph.as_graph_def()


@pytest.mark.tf
def test_tf1_graph_pipeline(tf1_graph_def: Any) -> None:
    from gennape_naslib.cg import from_tf_graphdef

    cg = from_tf_graphdef(tf1_graph_def, name="tf1")
    ops = [n.op for n in cg.nodes]
    # kernels, biases, BN statistics, reshape and softmax vanish; the Pad op is the paddings node
    assert ops == [
        "input",
        "conv",
        "batchnorm",
        "relu",
        "paddings",
        "depthwise",
        "maxpool",
        "global",
        "matmul",
        "output",
    ]
    assert cg.n_edges == cg.n_nodes - 1
    by_op = {n.op: n for n in cg.nodes}
    # kernel merge: the op nodes hold the kernel shapes, converted to [C_in, C_out, k1, k2]
    assert by_op["conv"].shape == (3, 8, 3, 3) and by_op["conv"].strides == (2, 2)
    assert by_op["depthwise"].shape == (8, 1, 3, 3)
    assert by_op["matmul"].shape == (8, 10, 0, 0)
    # bias merge: BiasAdd is folded into its producer as a flag
    assert by_op["conv"].use_bias and by_op["matmul"].use_bias and not by_op["depthwise"].use_bias
    assert by_op["conv"].metadata["padding"] == "same"
    # resolutions: [H_in, H_out, W_in, W_out, C_in, C_out] of the first input and the output tensor
    assert by_op["input"].resolution == (16, 16, 16, 16, 3, 3)
    assert by_op["conv"].resolution == (16, 8, 16, 8, 3, 8)
    assert by_op["paddings"].resolution == (8, 10, 8, 10, 8, 8)
    assert dict(by_op["paddings"].metadata) == {"pad_h": [1, 1], "pad_w": [1, 1]}
    assert by_op["depthwise"].resolution == (10, 8, 10, 8, 8, 8)
    assert by_op["maxpool"].resolution == (8, 4, 8, 4, 8, 8) and by_op["maxpool"].metadata["ksize"] == [3, 3]
    assert by_op["global"].resolution == (4, 1, 4, 1, 8, 8)
    assert by_op["matmul"].resolution == (1, 1, 1, 1, 8, 10)
    assert by_op["output"].resolution == (1, 1, 1, 1, 10, 10)


@pytest.mark.tf
def test_pb_path_input_and_malformed_files(tf1_graph_def: Any, tmp_path: Path) -> None:
    from gennape_naslib.cg import from_tf_graphdef, write_pb

    path = write_pb(tf1_graph_def, tmp_path / "tiny_net.pb")
    cg = from_tf_graphdef(path)
    assert cg.name == "tiny_net"
    assert cg == from_tf_graphdef(tf1_graph_def)

    bad = tmp_path / "broken.pb"
    bad.write_bytes(b"\x08\x96\x01 this is not a protobuf \xff\xfe")
    with pytest.raises(GraphError, match="broken.pb"):
        from_tf_graphdef(bad)
    with pytest.raises(GraphError, match="missing.pb"):
        from_tf_graphdef(tmp_path / "missing.pb")
    with pytest.raises(TypeError, match="GraphDef"):
        from_tf_graphdef(42)


@pytest.mark.tf
def test_unknown_input_dims_need_input_shape(tf: Any) -> None:
    from gennape_naslib.cg import from_tf_graphdef

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (None, None, None, 3), name="images")
        y = tf.nn.conv2d(x, _const(tf, (1, 1, 3, 4), "proj/kernel"), 1, "VALID", name="proj/Conv2D")
        tf.nn.relu6(y, name="act/Relu6")
    gd = graph.as_graph_def()
    with pytest.raises(GraphError, match="geometry"):
        from_tf_graphdef(gd)
    cg = from_tf_graphdef(gd, input_shape=(12, 10, 3))
    # no node named input/output: the placeholder is the input and an output is appended to the sink
    assert [n.op for n in cg.nodes] == ["input", "conv", "relu6", "output"]
    assert cg.nodes[1].resolution == (12, 12, 10, 10, 3, 4)
    assert cg.input_shape == (1, 12, 10, 3)


@pytest.mark.tf
def test_zero_identity_degenerate_arithmetic_and_oov(tf: Any) -> None:
    from gennape_naslib.cg import from_tf_graphdef

    graph = tf.Graph()
    with graph.as_default():
        x = tf.identity(tf.compat.v1.placeholder(tf.float32, (1, 4, 4, 2), name="x"), name="input")
        zero = tf.multiply(tf.identity(x, name="Zero"), 0.0, name="mul")  # DARTS "none"
        skip = tf.identity(x, name="skip_connect_1")  # pruned: the label matches no keep keyword
        scaled = tf.add(tf.multiply(x, 2.0, name="mul_1"), 1.0, name="add")  # arithmetic with constants
        total = tf.add_n([zero, skip, tf.math.exp(scaled, name="Exp")], name="AddN")
        tf.identity(total, name="output")
    with pytest.warns(UserWarning, match="Exp"):
        cg = from_tf_graphdef(graph.as_graph_def())
    assert Counter(n.op for n in cg.nodes) == Counter(["input", "zero", "<oov>", "add", "output"])
    add = next(i for i, n in enumerate(cg.nodes) if n.op == "add")
    assert sorted(cg.nodes[s].op for s, d in cg.edges if d == add) == ["<oov>", "input", "zero"]


@pytest.mark.tf
def test_several_sinks_without_output_is_an_error(tf: Any) -> None:
    from gennape_naslib.cg import from_tf_graphdef

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (1, 4, 4, 2), name="x")
        tf.nn.relu(x, name="a/Relu")
        tf.nn.sigmoid(x, name="b/Sigmoid")
    with pytest.raises(GraphError, match="single output"):
        from_tf_graphdef(graph.as_graph_def())


# --------------------------------------------------------------------------- Keras 3 graphs
@pytest.fixture(scope="module")
def keras_graph_def(tf: Any) -> Any:
    from gennape_naslib.cg import freeze_keras_model

    keras = pytest.importorskip("keras")
    L = keras.layers
    inp = keras.Input((8, 8, 3), batch_size=1)
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(4, 3, padding="same", use_bias=False)(inp)))
    x = L.Activation("swish")(x)
    x = L.Activation("hard_swish")(L.ZeroPadding2D(1)(x))
    x = L.Dropout(0.3)(L.DepthwiseConv2D(3, padding="valid")(x))
    x = L.SeparableConv2D(6, 3, strides=2, padding="same")(x)
    y = L.Dense(5)(L.GlobalAveragePooling2D()(x))
    return freeze_keras_model(keras.Model(inp, y), (8, 8, 3))


@pytest.mark.tf
def test_freeze_keras_model_wrapper(keras_graph_def: Any) -> None:
    names = [n.name for n in keras_graph_def.node]
    assert "input" in names and names.count("output") == 1
    assert not any(n.op == "NoOp" for n in keras_graph_def.node)
    consumers = [n.name for n in keras_graph_def.node if any(i.split(":")[0] == "output" for i in n.input)]
    assert consumers == []  # "output" is the sink
    assert not any(n.op in ("VarHandleOp", "ReadVariableOp") for n in keras_graph_def.node)  # frozen


@pytest.mark.tf
def test_keras3_layers(keras_graph_def: Any) -> None:
    from gennape_naslib.cg import from_tf_graphdef

    cg = from_tf_graphdef(keras_graph_def, name="keras")
    # decomposed BN -> one batchnorm; swish -> sigmoid + mul; hard-swish -> relu6 + mul; Dropout -> nothing;
    # ZeroPadding2D -> paddings; SeparableConv2D -> depthwise + conv; GAP -> mean; Dense -> matmul (bias)
    assert [n.op for n in cg.nodes] == [
        "input",
        "conv",
        "batchnorm",
        "relu",
        "sigmoid",
        "mul",
        "paddings",
        "relu6",
        "mul",
        "depthwise",
        "depthwise",
        "conv",
        "mean",
        "matmul",
        "output",
    ]
    conv, _, relu, sigmoid, swish_mul, pad, relu6, hswish_mul = cg.nodes[1:9]
    parents = cg.parents()
    assert parents[5] == [3, 4] and parents[8] == [6, 7]  # the muls take the input and the gate
    assert not conv.use_bias and conv.shape == (3, 4, 3, 3)
    assert pad.resolution == (8, 10, 8, 10, 4, 4)
    dw, sep_dw, sep_pw = cg.nodes[9:12]
    assert dw.use_bias and dw.shape == (4, 1, 3, 3) and dw.resolution == (10, 8, 10, 8, 4, 4)
    assert sep_dw.shape == (4, 1, 3, 3) and sep_dw.strides == (2, 2) and not sep_dw.use_bias
    assert sep_pw.shape == (4, 6, 1, 1) and sep_pw.use_bias and sep_pw.resolution == (4, 4, 4, 4, 4, 6)
    assert cg.nodes[13].shape == (6, 5, 0, 0) and cg.nodes[13].use_bias
    assert cg.nodes[12].resolution == (4, 1, 4, 1, 6, 6)


@pytest.mark.tf
def test_gennape_model_maker_graph_with_constant_input(tf: Any) -> None:
    """GENNAPE feeds constant ones into an identity named input; internal input/output identities vanish."""
    from gennape_naslib.cg import from_tf_graphdef

    graph = tf.Graph()
    with graph.as_default():
        x = tf.identity(tf.ones((1, 6, 6, 2)), name="input")
        a = tf.identity(tf.nn.relu(x, name="cell/Relu"), name="cell/input")
        b = tf.concat([tf.nn.sigmoid(a, name="cell/Sigmoid"), tf.nn.tanh(a, name="cell/Tanh")], 3, name="concat")
        tf.identity(tf.identity(b, name="cell/output"), name="output")
    cg = from_tf_graphdef(graph.as_graph_def())
    assert [n.op for n in cg.nodes] == ["input", "relu", "sigmoid", "tanh", "concat", "output"]
    assert cg.nodes[4].resolution == (6, 6, 6, 6, 2, 4)
    assert cg.n_edges == 6


@pytest.mark.tf
def test_keras3_graph_without_output_node(tf: Any, keras_graph_def: Any) -> None:
    """A .pb frozen without the output identity: the single sink gets an output node appended."""
    from gennape_naslib.cg import from_tf_graphdef

    stripped = tf.compat.v1.GraphDef()
    stripped.CopyFrom(keras_graph_def)
    del stripped.node[:]
    stripped.node.extend(n for n in keras_graph_def.node if n.name != "output")
    assert from_tf_graphdef(stripped) == from_tf_graphdef(keras_graph_def)


@pytest.mark.tf
@pytest.mark.slow
def test_keras_applications_mobilenetv3_small(tf: Any) -> None:
    """A real Keras 3 model: MobileNetV3-Small (Howard et al., 2019, Table 2), random weights."""
    import keras

    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef

    model = keras.applications.MobileNetV3Small(weights=None, input_shape=(96, 96, 3), include_preprocessing=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no <oov> nodes
        cg = from_tf_graphdef(freeze_keras_model(model, (96, 96, 3)))
    counts = cg.op_counts()
    # 11 bneck blocks (one depthwise each), 9 with squeeze-excite (+1 global pooling), 6 residuals
    assert (counts["depthwise"], counts["mean"], counts["add"]) == (11, 10, 6)
    assert counts["relu6"] == counts["mul"]  # every hard-swish and hard-sigmoid gate is relu6 + mul
    assert cg.nodes[1].op == "conv" and cg.nodes[1].resolution == (96, 48, 96, 48, 3, 16)


# --------------------------------------------------------------------------- dense rows and upsampling
@pytest.mark.tf
def test_keras_dense_on_tokens_counts_every_row(tf: Any) -> None:
    """Keras applies Dense to tokens as Reshape -> MatMul -> Reshape; the matmul keeps its L rows."""
    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef
    from gennape_naslib.cg.counting import count_flops

    keras = pytest.importorskip("keras")
    L = keras.layers
    inp = keras.Input((16, 64), batch_size=1)
    y = L.Dense(10)(L.GlobalAveragePooling1D()(L.Dense(64)(L.ReLU()(L.Dense(128)(inp)))))
    cg = from_tf_graphdef(freeze_keras_model(keras.Model(inp, y), (16, 64)))
    assert [n.op for n in cg.nodes] == ["input", "matmul", "relu", "matmul", "mean", "matmul", "output"]
    first, _, second, mean, head = cg.nodes[1:6]
    assert first.resolution == (16, 16, 1, 1, 64, 128) and second.resolution == (16, 16, 1, 1, 128, 64)
    assert mean.resolution == (16, 1, 1, 1, 64, 64) and head.resolution == (1, 1, 1, 1, 64, 10)
    assert count_flops(cg) == 2 * (16 * 64 * 128 + 16 * 128 * 64 + 64 * 10)


@pytest.mark.tf
def test_keras_dense_on_channels_last_map_matches_torch(tf: Any) -> None:
    """A Dense on an NHWC map is a 1x1 position-wise product: H x W rows, as from_torch's Linear."""
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef, from_torch
    from gennape_naslib.cg.counting import count_flops

    L = keras.layers
    inp = keras.Input((6, 5, 3), batch_size=1)
    y = L.Conv2D(4, 1, use_bias=False)(L.Dense(8, use_bias=False)(L.Conv2D(8, 3, padding="same", use_bias=False)(inp)))
    cg_tf = from_tf_graphdef(freeze_keras_model(keras.Model(inp, y), (6, 5, 3)))

    class Twin(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.dense = torch.nn.Linear(8, 8, bias=False)
            self.b = torch.nn.Conv2d(8, 4, 1, bias=False)

        def forward(self, x: Any) -> Any:
            y = self.dense(self.a(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            return self.b(y)

    cg_torch = from_torch(Twin(), (3, 6, 5))
    assert cg_tf.nodes[2].op == "matmul" and cg_tf.nodes[2].resolution == (6, 6, 5, 5, 8, 8)
    assert cg_tf == cg_torch
    assert count_flops(cg_tf) == count_flops(cg_torch) == 2 * 30 * (3 * 8 * 9 + 8 * 8 + 8 * 4)


@pytest.mark.tf
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_keras_upsampling_is_one_oov_node_like_torch(tf: Any, interpolation: str) -> None:
    """Keras 3 builds nearest UpSampling2D from repeat/tile plumbing; it must not vanish from the graph."""
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef, from_torch

    L = keras.layers
    inp = keras.Input((8, 8, 3), batch_size=1)
    y = L.Conv2D(4, 1)(L.UpSampling2D(2, interpolation=interpolation)(L.Conv2D(8, 3, padding="same")(inp)))
    with pytest.warns(UserWarning, match="<oov>"):
        cg_tf = from_tf_graphdef(freeze_keras_model(keras.Model(inp, y), (8, 8, 3)))
    assert [n.op for n in cg_tf.nodes] == ["input", "conv", "<oov>", "conv", "output"]
    assert cg_tf.nodes[2].resolution == (8, 16, 8, 16, 8, 8)

    nn = torch.nn
    up = nn.Upsample(scale_factor=2, mode=interpolation)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), up, nn.Conv2d(8, 4, 1))
    with pytest.warns(UserWarning, match="<oov>"):
        assert cg_tf == from_torch(net, (3, 8, 8))


@pytest.mark.parametrize("shape", [(0, 4), (2, 3, 4, 5, 6), (2, 8, 8, 3), ()])
def test_freeze_keras_model_rejects_bad_example_shapes(shape: tuple[int, ...]) -> None:
    from gennape_naslib.cg._tf_freeze import _example_shape

    with pytest.raises(ValueError, match="one example's shape"):
        _example_shape(shape)


# --------------------------------------------------------------------------- grouped convolutions and norms
@pytest.mark.tf
def test_keras_grouped_convolutions_match_torch(tf: Any) -> None:
    """Keras 3 runs a grouped Conv2D as a call of an XLA function; it is the convolution, not <oov>.

    ``groups == C_in`` is a depthwise convolution (ConvNeXt's 7x7), other groupings a conv with the
    per-group input channels, as in from_torch; strides and padding come from the called Conv2D.
    """
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef, from_torch
    from gennape_naslib.cg.counting import count_flops, count_weight_params

    L = keras.layers
    inp = keras.Input((9, 9, 8), batch_size=1)
    x = L.Conv2D(8, 7, padding="same", groups=8)(inp)
    x = L.Conv2D(16, 3, strides=2, groups=4, use_bias=False)(x)
    model = keras.Model(inp, L.Conv2D(32, 3, padding="same", groups=16)(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no <oov> nodes
        cg_tf = from_tf_graphdef(freeze_keras_model(model, (9, 9, 8)))
    assert [n.op for n in cg_tf.nodes] == ["input", "depthwise", "conv", "depthwise", "output"]
    dw, grouped, dw2 = cg_tf.nodes[1:4]
    assert dw.shape == (8, 1, 7, 7) and dw.use_bias and dw.resolution == (9, 9, 9, 9, 8, 8)
    assert grouped.shape == (2, 16, 3, 3) and grouped.strides == (2, 2) and grouped.metadata["padding"] == "valid"
    assert grouped.resolution == (9, 4, 9, 4, 8, 16) and not grouped.use_bias
    assert dw2.shape == (16, 2, 3, 3)  # channel multiplier 2

    nn = torch.nn
    twin = nn.Sequential(
        nn.Conv2d(8, 8, 7, padding=3, groups=8),
        nn.Conv2d(8, 16, 3, stride=2, groups=4, bias=False),
        nn.Conv2d(16, 32, 3, padding=1, groups=16),
    )
    cg_torch = from_torch(twin, (8, 9, 9))
    assert cg_tf == cg_torch, cg_torch.diff(cg_tf)
    assert count_flops(cg_tf) == 2 * (81 * 8 * 49 + 16 * 2 * 16 * 9 + 16 * 16 * 2 * 9)
    assert count_weight_params(cg_tf) == model.count_params()


@pytest.mark.tf
def test_plain_grouped_conv2d_is_depthwise(tf: Any) -> None:
    """A TF Conv2D whose kernel has one input channel per group (groups = C_in) is depthwise."""
    from gennape_naslib.cg import from_tf_graphdef

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (1, 8, 8, 4), name="x")
        y = tf.nn.conv2d(x, _const(tf, (3, 3, 1, 4), "dw/kernel"), 1, "SAME", name="dw/Conv2D")
        tf.nn.conv2d(y, _const(tf, (1, 1, 2, 6), "g/kernel"), 1, "VALID", name="g/Conv2D")  # 2 groups
    cg = from_tf_graphdef(graph.as_graph_def())
    assert [(n.op, n.shape) for n in cg.nodes[1:3]] == [("depthwise", (4, 1, 3, 3)), ("conv", (2, 6, 1, 1))]


@pytest.mark.tf
def test_keras_layer_and_group_norm_are_one_oov_node_like_torch(tf: Any) -> None:
    """Keras 3 normalises over ``tf.nn.moments`` (mean, squared difference, rsqrt, ...): one <oov> node.

    Without the collapse a LayerNormalization became ten nodes (two ``mean``, ``mul``s, ``add``s and
    three <oov> ops), where from_torch makes one <oov> node of ``nn.LayerNorm``/``nn.GroupNorm``.
    """
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef, from_torch

    L = keras.layers
    inp = keras.Input((6, 5, 8), batch_size=1)
    x = L.LayerNormalization(axis=[1, 2, 3], epsilon=1e-6)(L.Conv2D(8, 3, padding="same")(inp))
    y = L.Conv2D(4, 1)(L.Add()([inp, x]))
    model = keras.Model(inp, L.GroupNormalization(groups=2)(y))
    with pytest.warns(UserWarning, match=r"LayerNorm/GroupNorm \(moments\) \(2x\)"):
        cg_tf = from_tf_graphdef(freeze_keras_model(model, (6, 5, 8)))
    assert [n.op for n in cg_tf.nodes] == ["input", "conv", "<oov>", "add", "conv", "<oov>", "output"]
    assert cg_tf.nodes[2].resolution == (6, 6, 5, 5, 8, 8)

    nn = torch.nn

    class Twin(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.norm = nn.Conv2d(8, 8, 3, padding=1), nn.GroupNorm(1, 8)
            self.proj, self.out_norm = nn.Conv2d(8, 4, 1), nn.GroupNorm(2, 4)

        def forward(self, x: Any) -> Any:
            return self.out_norm(self.proj(x + self.norm(self.conv(x))))

    with pytest.warns(UserWarning, match="<oov>"):
        cg_torch = from_torch(Twin(), (8, 6, 5))
    assert cg_tf == cg_torch, cg_torch.diff(cg_tf)


@pytest.mark.tf
def test_rank5_tensors_have_a_geometry(tf: Any) -> None:
    """Ops on a 5-D tensor (a grouped reshape) fold the leading spatial axes into H instead of failing."""
    from gennape_naslib.cg import from_tf_graphdef

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (1, 4, 5, 6), name="x")
        y = tf.reshape(x, (1, 4, 5, 2, 3), name="split/Reshape")
        y = tf.nn.sigmoid(tf.nn.relu(y, name="Relu"), name="Sigmoid")
        tf.reshape(y, (1, 4, 5, 6), name="merge/Reshape")
    cg = from_tf_graphdef(graph.as_graph_def())  # was: GraphError "cannot determine the geometry"
    assert [n.op for n in cg.nodes] == ["input", "relu", "sigmoid", "output"]
    assert cg.nodes[1].resolution == (20, 20, 2, 2, 3, 3)


@pytest.mark.tf
def test_keras_dilated_convolutions_keep_bias_and_dilation(tf: Any) -> None:
    """Every dilated stride-1 conv becomes GENNAPE's ``spacetobatchnd -> conv -> batchtospacend`` (1.7).

    Keras' grouped ``Conv2D`` is a function call with that form inside; it is split like the plain
    form and equals from_torch's depthwise ``Conv2d``. A plain dilated Conv2D's ``BiasAdd`` follows
    the ``BatchToSpaceND`` and must still set the conv's bias flag.
    """
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef, from_torch
    from gennape_naslib.cg.counting import count_weight_params

    L = keras.layers
    inp = keras.Input((12, 12, 8), batch_size=1)
    model = keras.Model(inp, L.Conv2D(8, 3, dilation_rate=2, groups=8)(inp))
    cg_tf = from_tf_graphdef(freeze_keras_model(model, (12, 12, 8)))
    assert [n.op for n in cg_tf.nodes] == ["input", "spacetobatchnd", "depthwise", "batchtospacend", "output"]
    s2b, dw, b2s = cg_tf.nodes[1:4]
    assert s2b.resolution == (12, 6, 12, 6, 8, 8) and dw.resolution == (6, 4, 6, 4, 8, 8) and dw.use_bias
    assert b2s.resolution == (4, 8, 4, 8, 8, 8)
    assert cg_tf == from_torch(torch.nn.Conv2d(8, 8, 3, dilation=2, groups=8), (8, 12, 12))
    assert count_weight_params(cg_tf) == model.count_params()
    model = keras.Model(inp, L.Conv2D(8, 3, dilation_rate=2, groups=2)(inp))  # grouped, not depthwise
    cg_tf = from_tf_graphdef(freeze_keras_model(model, (12, 12, 8)))
    assert [n.op for n in cg_tf.nodes] == ["input", "spacetobatchnd", "conv", "batchtospacend", "output"]
    assert cg_tf == from_torch(torch.nn.Conv2d(8, 8, 3, dilation=2, groups=2), (8, 12, 12))

    model = keras.Model(inp, L.Conv2D(4, 3, dilation_rate=2, padding="same")(inp))
    cg_tf = from_tf_graphdef(freeze_keras_model(model, (12, 12, 8)))
    assert [n.op for n in cg_tf.nodes] == ["input", "spacetobatchnd", "conv", "batchtospacend", "output"]
    assert cg_tf.nodes[2].use_bias and count_weight_params(cg_tf) == model.count_params()


@pytest.mark.tf
def test_keras_flatten_then_dense_is_one_row(tf: Any) -> None:
    """VGG's head: Flatten -> Dense. The Flatten reshape folds the map into C; it is not a Tensordot.

    The matmul sees one row of H*W*C inputs, as from_torch's Linear after nn.Flatten; reading the
    rows off the tensor before the Flatten gave (4, 1, 4, 1, 8, 32) for a [128, 32] kernel.
    """
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef, from_torch

    L = keras.layers
    inp = keras.Input((8, 8, 3), batch_size=1)
    x = L.MaxPooling2D(2)(L.Conv2D(8, 3, padding="same", activation="relu")(inp))
    model = keras.Model(inp, L.Dense(10)(L.Dense(32, activation="relu")(L.Flatten()(x))))
    cg_tf = from_tf_graphdef(freeze_keras_model(model, (8, 8, 3)))
    assert cg_tf.nodes[4].op == "matmul" and cg_tf.nodes[4].resolution == (1, 1, 1, 1, 128, 32)

    nn = torch.nn
    twin = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 32), nn.ReLU()
    )
    assert cg_tf == from_torch(nn.Sequential(*twin, nn.Linear(32, 10)), (3, 8, 8))


@pytest.mark.tf
@pytest.mark.parametrize("depthwise", [False, True])
def test_dilated_convolution_flops_count_every_batch_block(tf: Any, depthwise: bool) -> None:
    """TF's spacetobatchnd -> conv -> batchtospacend form counts the FLOPs of the whole dilated conv."""
    keras = pytest.importorskip("keras")
    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef
    from gennape_naslib.cg.counting import count_flops

    L = keras.layers
    inp = keras.Input((32, 30, 8), batch_size=1)
    if depthwise:
        layer = L.DepthwiseConv2D(3, dilation_rate=2, padding="same", use_bias=False)
    else:
        layer = L.Conv2D(16, 3, dilation_rate=2, padding="same", use_bias=False)
    cg = from_tf_graphdef(freeze_keras_model(keras.Model(inp, layer(inp)), (32, 30, 8)))
    assert [n.op for n in cg.nodes][1:4] == ["spacetobatchnd", "depthwise" if depthwise else "conv", "batchtospacend"]
    assert count_flops(cg) == 2 * 32 * 30 * 8 * (1 if depthwise else 16) * 9  # as the torch twin's dilated conv


@pytest.mark.tf
@pytest.mark.parametrize(
    ("size", "kernel", "dilation", "padding", "depthwise"),
    [(32, 3, 2, "same", True), (31, 5, 2, "same", True), (32, 3, 3, "same", False), (13, 3, 2, "valid", True)],
)
def test_dilated_convolutions_equal_their_torch_twins(
    tf: Any, size: int, kernel: int, dilation: int, padding: str, depthwise: bool
) -> None:
    """TF's own lowering is the reference: the torch twin of a dilated Keras layer has the same graph.

    Odd sizes make TF pad the map to a multiple of the dilation and crop it after (GENNAPE_FACTS 1.7).
    """
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef, from_torch

    L = keras.layers
    inp = keras.Input((size, size, 8), batch_size=1)
    if depthwise:
        layer = L.DepthwiseConv2D(kernel, dilation_rate=dilation, padding=padding, use_bias=False)
        twin = torch.nn.Conv2d(8, 8, kernel, dilation=dilation, groups=8, bias=False, padding=padding)
    else:
        layer = L.Conv2D(4, kernel, dilation_rate=dilation, padding=padding, use_bias=False)
        twin = torch.nn.Conv2d(8, 4, kernel, dilation=dilation, bias=False, padding=padding)
    cg_tf = from_tf_graphdef(freeze_keras_model(keras.Model(inp, layer(inp)), (size, size, 8)))
    cg_torch = from_torch(twin, (8, size, size))
    assert [n.op for n in cg_torch.nodes][1:4] == [
        "spacetobatchnd",
        "depthwise" if depthwise else "conv",
        "batchtospacend",
    ]
    assert [n.resolution for n in cg_torch.nodes] == [n.resolution for n in cg_tf.nodes]
    assert cg_tf == cg_torch
