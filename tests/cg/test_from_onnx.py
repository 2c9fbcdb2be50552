"""The ONNX importer: operator rules, constant handling, files, and agreement with torch.fx."""

from __future__ import annotations

import io
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn as nn

from gennape_naslib.cg import GraphError, from_torch

onnx = pytest.importorskip("onnx")
pytestmark = pytest.mark.onnx

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from gennape_naslib.cg import from_onnx  # noqa: E402


def export(module: nn.Module, shape: tuple[int, ...]) -> Any:
    """Legacy (TorchScript) export that keeps batch norm as its own node."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(), torch.zeros(shape), buffer, dynamo=False, training=torch.onnx.TrainingMode.PRESERVE
        )
    return onnx.load_from_string(buffer.getvalue())


class _Mixed(nn.Module):
    """One of most things the lowering knows, in a single small network."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1)
        self.bn = nn.BatchNorm2d(8)
        self.relu6 = nn.ReLU6()
        self.hswish = nn.Hardswish()
        self.dw = nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False)
        self.grouped = nn.Conv2d(8, 8, 1, groups=2, bias=False)
        self.pad = nn.ZeroPad2d((1, 1, 2, 0))
        self.pool = nn.MaxPool2d(3, 1)
        self.avg = nn.AvgPool2d(2)
        self.silu = nn.SiLU()
        self.gate = nn.Hardsigmoid()
        self.tanh = nn.Tanh()
        self.head = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.hswish(self.relu6(self.bn(self.conv(x))))
        y = self.pool(self.pad(self.grouped(self.dw(x))))
        y = self.silu(y) * self.gate(y) + x * 0
        z = self.avg(torch.cat([x, self.tanh(y)], 1))
        return self.fc(torch.flatten(self.head(z), 1))


@pytest.fixture(scope="module")
def mixed() -> tuple[nn.Module, Any]:
    module = _Mixed().eval()
    return module, export(module, (1, 3, 16, 16))


def test_exported_module_matches_from_torch(mixed: tuple[nn.Module, Any]) -> None:
    module, proto = mixed
    cg = from_onnx(proto, name="mixed")
    reference = from_torch(module, (3, 16, 16))
    assert cg == reference, cg.diff(reference)
    counts = cg.op_counts()
    assert (counts["depthwise"], counts["conv"], counts["relu6"], counts["mul"], counts["zero"]) == (1, 2, 3, 3, 1)
    by_label = {n.label: n for n in cg.nodes}
    assert by_label["/conv/Conv"].use_bias and by_label["/conv/Conv"].strides == (2, 2)
    assert by_label["/dw/Conv"].op == "depthwise" and by_label["/dw/Conv"].shape == (8, 1, 3, 3)
    assert by_label["/grouped/Conv"].op == "conv" and by_label["/grouped/Conv"].shape == (4, 8, 1, 1)
    assert by_label["/pad/Pad"].resolution == (8, 10, 8, 10, 8, 8)
    assert dict(by_label["/pad/Pad"].metadata) == {"pad_h": [2, 0], "pad_w": [1, 1]}
    assert by_label["/fc/Gemm"].shape == (16, 4, 0, 0) and by_label["/fc/Gemm"].use_bias


def test_path_input_and_file_errors(mixed: tuple[nn.Module, Any], tmp_path: Path) -> None:
    path = tmp_path / "mixed_net.onnx"
    onnx.save(mixed[1], str(path))
    cg = from_onnx(path)
    assert cg.name == "mixed_net" and cg == from_onnx(mixed[1])
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"\xff\xfe definitely not protobuf \x00\x01")
    with pytest.raises(GraphError, match="garbage.onnx"):
        from_onnx(bad)
    with pytest.raises(GraphError, match="absent.onnx"):
        from_onnx(tmp_path / "absent.onnx")
    with pytest.raises(TypeError, match="ModelProto"):
        from_onnx(3.5)


def _model(nodes: list[Any], inits: list[Any], out_shape: list[int]) -> Any:
    graph = helper.make_graph(
        nodes,
        "handmade",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_matmul_bias_dropout_clip_and_unknown_ops() -> None:
    w = numpy_helper.from_array(np.ones((6, 5), np.float32), "w")
    b = numpy_helper.from_array(np.ones((5,), np.float32), "b")
    lo = numpy_helper.from_array(np.array(0.0, np.float32), "lo")
    hi = numpy_helper.from_array(np.array(1.0, np.float32), "hi")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"], name="fc"),
        helper.make_node("Add", ["m", "b"], ["mb"], name="fc_bias"),
        helper.make_node("Dropout", ["mb"], ["d"], name="drop"),
        helper.make_node("Clip", ["d", "lo", "hi"], ["c"], name="clip01"),
        helper.make_node("Exp", ["c"], ["e"], name="exp"),
        helper.make_node("Add", ["e", "d"], ["y"], name="sum"),
    ]
    with pytest.warns(UserWarning, match="Clip.*Exp|Exp.*Clip"):
        cg = from_onnx(_model(nodes, [w, b, lo, hi], [1, 5]))
    assert [n.op for n in cg.nodes] == ["input", "matmul", "identity", "<oov>", "<oov>", "add", "output"]
    assert cg.nodes[1].shape == (6, 5, 0, 0) and cg.nodes[1].use_bias
    assert cg.nodes[1].resolution == (1, 1, 1, 1, 6, 5)


def test_several_inputs_are_rejected() -> None:
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "z"], ["y"])],
        "two_inputs",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 6]) for n in ("x", "z")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])],
    )
    with pytest.raises(GraphError, match="one data input"):
        from_onnx(helper.make_model(graph))


def test_default_export_folds_batchnorm_and_the_lowering_shows_it() -> None:
    module = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU()).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, torch.zeros(1, 3, 8, 8), buffer, dynamo=False)
    folded = from_onnx(onnx.load_from_string(buffer.getvalue()))
    assert Counter(n.op for n in folded.nodes) == Counter(["input", "conv", "relu", "output"])
    assert folded.nodes[1].use_bias  # the folded BN became the convolution's bias
    kept = from_onnx(export(module, (1, 3, 8, 8)))
    assert kept == from_torch(module, (3, 8, 8))


def test_erf_gelu_becomes_one_gelu_node() -> None:
    # Below opset 20 torch exports GELU as Div -> Erf -> Add -> Mul -> Mul.
    module = nn.Sequential(nn.Conv2d(3, 8, 3), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), torch.zeros(1, 3, 8, 8), buffer, dynamo=False, opset_version=17)
    proto = onnx.load_from_string(buffer.getvalue())
    assert "Erf" in {node.op_type for node in proto.graph.node}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no <oov> warning
        cg = from_onnx(proto)
    assert [n.op for n in cg.nodes] == ["input", "conv", "gelu", "mean", "matmul", "output"]
    assert cg == from_torch(module, (3, 8, 8))


class _TokenMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 16, 4, 4)
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 8, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2)  # (1, 4 tokens, 16)
        return self.fc2(torch.relu(self.fc1(tokens))).mean(1)


def test_dense_layers_on_tokens_agree_with_from_torch() -> None:
    module = _TokenMLP().eval()
    cg = from_onnx(export(module, (1, 3, 8, 8)))
    dense = [(n.shape, n.use_bias, n.resolution) for n in cg.nodes if n.op == "matmul"]
    assert dense == [((16, 32, 0, 0), True, (4, 4, 1, 1, 16, 32)), ((32, 8, 0, 0), False, (4, 4, 1, 1, 32, 8))]
    reference = from_torch(module, (3, 8, 8))
    assert dense == [(n.shape, n.use_bias, n.resolution) for n in reference.nodes if n.op == "matmul"]


def test_ops_on_tensors_of_rank_five_get_a_geometry() -> None:
    # Chained Einsum nodes on 5-D tensors (MaxViT's window attention) used to fail the whole import.
    from .test_from_torch import WindowAttention

    module = WindowAttention().eval()
    with pytest.warns(UserWarning, match=r"Einsum \(2x\)"):
        cg = from_onnx(export(module, (1, 8, 8, 8)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cg == from_torch(module, (8, 8, 8))
    assert [n.resolution for n in cg.nodes if n.op == "<oov>"] == [(16, 16, 16, 4, 2, 2), (16, 16, 4, 16, 2, 2)]


class _ChunkedBranches(nn.Module):
    """ShuffleNet-v2's split: ``torch.chunk`` exports as ``Shape -> Gather -> Div -> Slice`` arithmetic."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.branch = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.conv(x).chunk(2, dim=1)
        return torch.cat([self.pool(a), self.branch(b)], dim=1)


@pytest.mark.parametrize("free_batch", [False, True])
def test_size_arithmetic_on_data_tensors_is_folded(free_batch: bool) -> None:
    module = _ChunkedBranches().eval()
    if free_batch:  # a symbolic batch axis counts as one input
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, torch.zeros(1, 3, 8, 8), buffer, dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "n"}}
            )
        proto = onnx.load_from_string(buffer.getvalue())
        assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "n"
    else:
        proto = export(module, (1, 3, 8, 8))
    assert "Shape" in {node.op_type for node in proto.graph.node}
    cg = from_onnx(proto)
    # Without folding, the slices' shapes were unknown and the import failed (no geometry for the pool).
    assert cg == from_torch(module, (3, 8, 8)), from_torch(module, (3, 8, 8)).diff(cg)
    branch = next(n for n in cg.nodes if n.op == "conv" and n.shape == (8, 8, 3, 3))
    assert branch.resolution == (8, 4, 8, 4, 8, 8)


@pytest.mark.parametrize(
    ("batch_first", "need_weights", "cross"),
    [(True, False, False), (False, False, False), (True, True, False), (False, True, True)],
)
def test_multihead_attention_agrees_with_from_torch(batch_first: bool, need_weights: bool, cross: bool) -> None:
    # The exporter writes the projections on sequence-first (L, 1, E) and flattened (L, E) tensors: every
    # leading axis of a batch-1 graph is rows (they used to read as one row, dividing the FLOPs by L).
    from .test_from_torch import Attention

    module = Attention(batch_first, need_weights, cross).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cg = from_onnx(export(module, (1, 3, 16, 16)))
        reference = from_torch(module, (3, 16, 16))
    assert cg == reference, reference.diff(cg)
    assert [n.resolution[:2] for n in cg.nodes if n.op == "matmul"][0] == (16, 16)


class _Windows(nn.Module):
    """Swin's window partition: sizes read off the tensor, windows stacked on the leading axis."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 16, 2, 2)
        self.fc = nn.Linear(16, 24)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).permute(0, 2, 3, 1)  # (1, 8, 8, 16)
        b, h, w, c = x.shape
        x = x.view(b, h // 4, 4, w // 4, 4, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, 16, c)  # (4 windows, 16, 16)
        return self.fc(x).mean(1)


def test_dense_layer_on_windows_counts_every_window() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from gennape_naslib.cg.counting import count_flops

    module = _Windows().eval()
    cg = from_onnx(export(module, (1, 3, 16, 16)))
    fc = next(n for n in cg.nodes if n.op == "matmul")
    # 4 windows x 16 tokens: H = 4, W = 16 (the windows axis used to be read as the batch: 16 rows).
    assert fc.resolution == (4, 4, 16, 16, 16, 24)
    assert cg == from_torch(module, (3, 16, 16))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, 3, 16, 16))
    assert count_flops(cg) == counter.get_total_flops()


def test_matmul_with_a_parameter_agrees_with_from_torch() -> None:
    from .test_from_torch import _ParameterDense

    module = _ParameterDense().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cg = from_onnx(export(module, (1, 3, 16, 16)))
        reference = from_torch(module, (3, 16, 16))
    assert cg == reference, reference.diff(cg)


def test_external_data_weights_are_never_read(tmp_path: Path) -> None:
    """Models over 2 GB keep their weights in external files: the graph needs only their shapes.

    Every tensor is saved externally; the weights (over 4,096 values) are then pointed at a file that does
    not exist, so reading any of them fails (onnx.load does): the graph must not change.
    """
    module = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(32, 32, 3),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )  # fmt: skip
    proto = export(module, (1, 3, 8, 8))
    reference = from_onnx(proto, name="net")
    assert reference == from_torch(module, (3, 8, 8))
    path = tmp_path / "net.onnx"
    onnx.save_model(proto, str(path), save_as_external_data=True, location="weights.bin", size_threshold=0)
    assert from_onnx(path, name="net") == reference
    model = onnx.load(str(path), load_external_data=False)
    moved = 0
    for tensor in model.graph.initializer:
        if np.prod(tensor.dims) > 4096:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value, moved = "missing.bin", moved + 1
    assert moved == 2  # the second conv's and the dense layer's weights
    onnx.save_model(model, str(path))
    with pytest.raises(Exception):  # noqa: B017 - onnx's own error: those weights are really gone
        onnx.load(str(path))
    assert from_onnx(path, name="net") == reference
