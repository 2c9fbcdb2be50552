"""torch.fx lowering: the mapping table, geometry, errors and warnings."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gennape_naslib.cg import CGBuilder, TraceError, from_torch


class _SE(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(c, c // 4, 1)
        self.act = nn.ReLU()
        self.expand = nn.Conv2d(c // 4, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.act = nn.Hardswish()
        self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False)
        self.se = _SE(16)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.act(self.bn(self.stem(x)))
        x = x + self.se(self.dw(x))
        x = x.mean((2, 3))
        return self.fc(self.drop(torch.flatten(x, 1)))


def _block_by_builder():
    b = CGBuilder((32, 32, 3))
    x = b.hswish(b.conv_bn(b.input_node, 16, 3, 2, 1))
    y = b.squeeze_excite(b.conv(x, 16, 3, 1, 1, groups=16), 4)
    x = b.add(x, y)
    return b.build(b.linear(b.identity(b.mean(x)), 10))


def test_block_matches_builder_and_rules() -> None:
    cg = from_torch(_Block(), (3, 32, 32))
    assert cg == _block_by_builder(), cg.diff(_block_by_builder())
    counts = cg.op_counts()
    assert counts["relu6"] == 2 and counts["mul"] == 2 and counts["mean"] == 2 and counts["identity"] == 1
    matmul = next(n for n in cg.nodes if n.op == "matmul")
    assert matmul.shape == (16, 10, 0, 0) and matmul.use_bias and matmul.resolution == (1, 1, 1, 1, 16, 10)
    stem = cg.nodes[1]
    assert stem.op == "conv" and stem.resolution == (32, 16, 32, 16, 3, 16) and stem.strides == (2, 2)
    assert not stem.use_bias


def test_training_flag_restored_and_batch_shape_accepted() -> None:
    net = _Block().train()
    a = from_torch(net, (1, 3, 32, 32))
    assert net.training and a == from_torch(net, (3, 32, 32))


class _Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.weight = nn.Parameter(torch.ones(1))

    def forward(self, x):
        x = F.relu6(self.conv(x) * self.weight + 3.0) / 6.0  # constant arithmetic vanishes
        a = F.max_pool2d(x, 2)
        b = F.avg_pool2d(F.pad(x, (0, 1, 0, 1)), 3, 2)
        z = a.mul(0.0)  # the NAS "none" op
        y = torch.cat([a, b, z], dim=1)
        return torch.sigmoid(y) + torch.tanh(y)


def test_functional_ops() -> None:
    cg = from_torch(_Functional(), (3, 16, 16))
    counts = cg.op_counts()
    for op, n in {"conv": 1, "relu6": 1, "maxpool": 1, "avgpool": 1, "paddings": 1, "zero": 1, "concat": 1,
                  "sigmoid": 1, "tanh": 1, "add": 1}.items():  # fmt: skip
        assert counts[op] == n, (op, counts)
    assert "mul" not in counts
    pad = next(n for n in cg.nodes if n.op == "paddings")
    assert pad.resolution == (16, 17, 16, 17, 8, 8) and pad.metadata == {"pad_w": [0, 1], "pad_h": [0, 1]}
    concat = next(n for n in cg.nodes if n.op == "concat")
    assert concat.resolution == (8, 8, 8, 8, 8, 24)
    assert next(n for n in cg.nodes if n.op == "conv").use_bias


def test_unknown_ops_become_oov_with_one_warning() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ELU(), nn.ELU(), nn.Flatten(), nn.LayerNorm(4 * 8 * 8))
    with pytest.warns(UserWarning, match=r"ELU \(2x\).*LayerNorm \(1x\)") as record:
        cg = from_torch(net, (3, 8, 8))
    assert len([w for w in record if "outside the GENNAPE vocabulary" in str(w.message)]) == 1
    assert cg.op_counts()["<oov>"] == 3


class _Untraceable(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow
            return x
        return -x


def test_untraceable_model_names_the_module() -> None:
    with pytest.raises(TraceError, match="_Untraceable"):
        from_torch(_Untraceable(), (3, 8, 8))


def test_bad_input_shape() -> None:
    with pytest.raises(ValueError, match="input_shape"):
        from_torch(_Block(), (32, 32))
    with pytest.raises(TraceError, match="check input_shape"):
        from_torch(_Block(), (4, 32, 32))


# ---------------------------------------------------------------------- inference graphs
class _StochasticDepth(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        if self.training:  # stochastic depth: a training-only branch
            y = y * torch.rand_like(y[:, :1, :1, :1]).ge(0.2) / 0.8
        return y + x


def test_training_only_branches_are_not_traced() -> None:
    net = _StochasticDepth().train()
    cg = from_torch(net, (8, 8, 8))
    assert net.training  # the flag is restored
    assert dict(cg.op_counts()) == {"input": 1, "conv": 1, "add": 1, "output": 1}
    assert cg == from_torch(net.eval(), (8, 8, 8))
    assert not net.training


def _drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """A drop-path function that torch.fx keeps as one call, as torchvision's ``stochastic_depth`` is."""
    if not training or p == 0.0:
        return x
    keep = torch.rand(x.shape[0], 1, 1, 1).ge(p).to(x.dtype) / (1.0 - p)
    return x * keep


def _clamp_in_place(x: torch.Tensor) -> torch.Tensor:
    return x.clamp_(0.0, 1.0)  # returns its input, but changed


def _softsign(x: torch.Tensor) -> torch.Tensor:
    return x / (1 + x.abs())


torch.fx.wrap("_drop_path")
torch.fx.wrap("_clamp_in_place")
torch.fx.wrap("_softsign")


class _WrappedCalls(nn.Module):
    def __init__(self, fn: str) -> None:
        super().__init__()
        self.fn = fn
        self.conv = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        if self.fn == "drop_path":
            y = _drop_path(y, 0.2, self.training)
        elif self.fn == "clamp_":
            y = _clamp_in_place(y)
        else:
            y = _softsign(y)
        return x + y


def test_wrapped_function_that_returns_its_input_vanishes() -> None:
    # torchvision's EfficientNet, ConvNeXt, Swin, MaxViT: `stochastic_depth` is fx-wrapped and returns its
    # input in eval mode; it must vanish (as in the ONNX export), not become an <oov> node per block.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no <oov> warning
        cg = from_torch(_WrappedCalls("drop_path"), (8, 8, 8))
    assert dict(cg.op_counts()) == {"input": 1, "conv": 1, "add": 1, "output": 1}
    assert cg == from_torch(_StochasticDepth(), (8, 8, 8))
    # Unknown ops that compute something stay <oov>: a new tensor, or the input changed in place.
    for fn, label in (("softsign", "_softsign"), ("clamp_", "_clamp_in_place")):
        with pytest.warns(UserWarning, match=label):
            cg = from_torch(_WrappedCalls(fn), (8, 8, 8))
        assert cg.op_counts()["<oov>"] == 1, fn


# ---------------------------------------------------------------------- in-place ops
class _UnassignedInPlace(nn.Module):
    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.conv = nn.Conv2d(3, 8, 3)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.conv(x)
        if self.how == "method":
            y.relu_()
        elif self.how == "module":
            self.act(y)
        else:
            F.relu(y, inplace=True)
        return y.mean((2, 3))


@pytest.mark.parametrize("how", ["method", "module", "function"])
def test_unassigned_in_place_ops_stay_on_the_path(how: str) -> None:
    cg = from_torch(_UnassignedInPlace(how), (3, 8, 8))
    assert [n.op for n in cg.nodes] == ["input", "conv", "relu", "mean", "output"]
    assert cg.edges == ((0, 1), (1, 2), (2, 3), (3, 4))


class _InPlaceResidual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.conv(x))  # reassigned: the usual way
        out += x
        z = out * 2.0
        z.add_(x)  # mutates z: the output reads the add
        return self.relu(z)


def test_reassigned_in_place_ops_keep_their_graph() -> None:
    cg = from_torch(_InPlaceResidual(), (8, 8, 8))
    assert [n.op for n in cg.nodes] == ["input", "conv", "relu", "add", "add", "relu", "output"]
    assert cg.edges == ((0, 1), (0, 3), (0, 4), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6))


# ---------------------------------------------------------------------- shape arithmetic
class _ViewBySize(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        y = F.relu(self.conv(x))
        return self.fc(F.adaptive_avg_pool2d(y, 1).view(y.size(0), -1))  # y's size, not y's data


class _ShapeArithmetic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        y = self.conv(x)
        b, c, h, w = y.shape
        return y.reshape(b, c // 2, 2, h * w).mean(3)


def test_shape_arithmetic_is_not_data() -> None:
    cg = from_torch(_ViewBySize(), (3, 8, 8))
    assert [n.op for n in cg.nodes] == ["input", "conv", "relu", "mean", "matmul", "output"]
    assert cg.parents()[4] == [3] and cg.n_edges == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no <oov> warning for floordiv
        cg = from_torch(_ShapeArithmetic(), (3, 8, 8))
    assert [n.op for n in cg.nodes] == ["input", "conv", "mean", "output"] and cg.n_edges == 3


# ---------------------------------------------------------------------- dense layers on token / channels-last tensors
class _Tokens(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 32, 4, 4)
        self.fc = nn.Linear(32, 64)

    def forward(self, x):
        return self.fc(self.patch(x).flatten(2).transpose(1, 2))  # (1, 16 tokens, 32)


class _ChannelsLast(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 4, 4)
        self.fc = nn.Linear(16, 24, bias=False)

    def forward(self, x):
        return self.fc(self.conv(x).permute(0, 2, 3, 1))  # (1, 4, 8, 16)


@pytest.mark.parametrize(
    ("net", "shape", "resolution"),
    [(_Tokens, (3, 16, 16), (16, 16, 1, 1, 32, 64)), (_ChannelsLast, (3, 16, 32), (4, 4, 8, 8, 16, 24))],
)
def test_dense_layer_resolution_describes_its_rows(net: type, shape: tuple[int, ...], resolution: tuple) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from gennape_naslib.cg.counting import count_flops, count_weight_params

    module = net().eval()
    cg = from_torch(module, shape)
    matmul = next(n for n in cg.nodes if n.op == "matmul")
    assert matmul.resolution == resolution
    assert matmul.shape[:2] == (resolution[4], resolution[5])
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, *shape))
    assert count_flops(cg) == counter.get_total_flops()
    assert count_weight_params(cg) == sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------- tensors of rank 5 and more
class WindowAttention(nn.Module):
    """Attention inside windows on 5-D tensors (batch, heads, windows, tokens, dim), as MaxViT computes it."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Conv2d(8, 24, 1)
        self.proj = nn.Conv2d(8, 8, 1)

    def forward(self, x):  # (1, 8, 8, 8)
        qkv = self.qkv(x).reshape(1, 2, 4, 4, 3, 16)
        q, k, v = qkv[..., 0, :], qkv[..., 1, :], qkv[..., 2, :]  # each (1, 2, 4, 4, 16)
        attn = torch.einsum("bhwnd,bhwmd->bhwnm", q, k).softmax(-1)
        out = torch.einsum("bhwnm,bhwmd->bhwnd", attn, v)
        return self.proj(out.reshape(1, 8, 8, 8))


def test_ops_on_tensors_of_rank_five_get_a_geometry() -> None:
    # Two chained ops on 5-D tensors used to leave a node without geometry: GraphError for all of MaxViT.
    with pytest.warns(UserWarning, match=r"einsum \(2x\)"):
        cg = from_torch(WindowAttention(), (8, 8, 8))
    assert [n.op for n in cg.nodes] == ["input", "conv", "<oov>", "<oov>", "conv", "output"]
    first, second = cg.nodes[2], cg.nodes[3]
    # (N, C, D1, ..., Dk): C = axis 1, W = the last axis, H = the axes between folded.
    assert first.resolution == (4 * 4, 4 * 4, 16, 4, 2, 2)
    assert second.resolution == (4 * 4, 4 * 4, 4, 16, 2, 2)
    assert sorted(cg.parents()[3]) == [1, 2]


class _AxisMoves(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 1)
        self.fc = nn.Linear(2, 4)

    def forward(self, x):
        y = self.conv(x).swapaxes(1, 3).movedim(3, 1)  # MaxViT swaps axes around its attention
        a, b, c = torch.unbind(y.reshape(1, 3, 2, 4, 4), 1)
        d = torch.swapdims(a + b * c, 1, 3).narrow(1, 0, 2).select(1, 0)  # (1, 4, 2)
        return self.fc(d.unflatten(1, (2, 2)))


def test_layout_ops_vanish() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no <oov> warning
        cg = from_torch(_AxisMoves(), (3, 4, 4))
    # a, b and c are views of one tensor: the arithmetic between them is degenerate and vanishes too.
    assert [n.op for n in cg.nodes] == ["input", "conv", "matmul", "output"]


# ---------------------------------------------------------------------- attention and sequence-first tensors
class Attention(nn.Module):
    """Patch tokens through ``nn.MultiheadAttention`` (self- or cross-attention), as ViT does."""

    def __init__(self, batch_first: bool = True, need_weights: bool = False, cross: bool = False) -> None:
        super().__init__()
        self.batch_first, self.need_weights, self.cross = batch_first, need_weights, cross
        self.patch = nn.Conv2d(3, 16, 4, 4)
        self.context = nn.Conv2d(3, 8, 8, 8) if cross else None
        self.attn = nn.MultiheadAttention(
            16, 2, batch_first=batch_first, kdim=8 if cross else None, vdim=8 if cross else None
        )
        self.head = nn.Linear(16, 10)

    def tokens(self, t: torch.Tensor) -> torch.Tensor:
        t = t.flatten(2).transpose(1, 2)  # (1, L, C)
        return t if self.batch_first else t.transpose(0, 1)  # (L, 1, C)

    def forward(self, x):
        q = self.tokens(self.patch(x))
        kv = self.tokens(self.context(x)) if self.context is not None else q
        y, _ = self.attn(q, kv, kv, need_weights=self.need_weights)
        return self.head(y)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("cross", [False, True])
def test_multihead_attention_keeps_its_projections(batch_first: bool, cross: bool) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from gennape_naslib.cg.counting import count_flops, count_weight_params

    module = Attention(batch_first, cross=cross).eval()
    with pytest.warns(UserWarning, match=r"MultiheadAttention \(2x\)"):
        cg = from_torch(module, (3, 16, 16))  # 16 query tokens, 4 context tokens
    dense = [(n.shape, n.resolution) for n in cg.nodes if n.op == "matmul"]
    if cross:
        projections = [
            ((16, 16, 0, 0), (16, 16, 1, 1, 16, 16)),
            ((8, 16, 0, 0), (4, 4, 1, 1, 8, 16)),
            ((8, 16, 0, 0), (4, 4, 1, 1, 8, 16)),
        ]
    else:
        projections = [((16, 48, 0, 0), (16, 16, 1, 1, 16, 48))]
    assert dense == [*projections, ((16, 16, 0, 0), (16, 16, 1, 1, 16, 16)), ((16, 10, 0, 0), (16, 16, 1, 1, 16, 10))]
    # The two products of the heads: (N, h, L, d) = (1, 2, 16, 8) by (1, 2, S, 8).
    source = 4 if cross else 16
    core = [n.resolution for n in cg.nodes if n.op == "<oov>"]
    assert core == [(16, 16, 8, source, 2, 2), (16, 16, source, 8, 2, 2)]
    # FLOPs and parameters: everything but the (weightless) products of the heads, which the fused
    # attention kernel FlopCounterMode sees does not count either.
    fast_path = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused inference path is one uncounted op
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(torch.zeros(1, 3, 16, 16))
    finally:
        torch.backends.mha.set_fastpath_enabled(fast_path)
    assert count_flops(cg) == counter.get_total_flops()
    assert count_weight_params(cg) == sum(p.numel() for p in module.parameters())


class _SequenceFirstDense(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 16, 4, 4)
        self.fc = nn.Linear(16, 32)

    def forward(self, x):
        tokens = self.patch(x).flatten(2).permute(2, 0, 1)  # (L, 1, C), as batch_first=False transformers
        return self.fc(tokens).mean(0)


def test_dense_layer_on_sequence_first_tokens_counts_every_token() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from gennape_naslib.cg.counting import count_flops

    module = _SequenceFirstDense().eval()
    cg = from_torch(module, (3, 16, 16))
    fc = next(n for n in cg.nodes if n.op == "matmul")
    assert fc.resolution == (16, 16, 1, 1, 16, 32)  # 16 tokens, not 1
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, 3, 16, 16))
    assert count_flops(cg) == counter.get_total_flops()


class _ParameterDense(nn.Module):
    """A dense layer written as ``x @ W + b`` with parameters, as hand-written transformer blocks do."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 4, 4)
        self.weight = nn.Parameter(torch.randn(8, 12))
        self.bias = nn.Parameter(torch.zeros(12))
        self.proj = nn.Parameter(torch.randn(12, 6))

    def forward(self, x):
        tokens = self.patch(x).flatten(2).transpose(1, 2)  # (1, 16, 8)
        hidden = torch.relu(tokens @ self.weight + self.bias)
        scores = hidden @ hidden.transpose(1, 2)  # two computed tensors: no weight
        return torch.matmul(scores @ hidden, self.proj)


def test_matmul_with_a_parameter_is_a_dense_layer() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from gennape_naslib.cg.counting import count_flops, count_weight_params

    module = _ParameterDense().eval()
    with pytest.warns(UserWarning, match=r"matmul \(2x\)"):
        cg = from_torch(module, (3, 16, 16))
    dense = [(n.shape, n.use_bias, n.resolution) for n in cg.nodes if n.op == "matmul"]
    assert dense == [((8, 12, 0, 0), True, (16, 16, 1, 1, 8, 12)), ((12, 6, 0, 0), False, (16, 16, 1, 1, 12, 6))]
    assert cg.op_counts()["<oov>"] == 2
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, 3, 16, 16))
    products = 2 * (2 * 16 * 16 * 12)  # the two data-by-data products are not counted on the graph
    assert count_flops(cg) == counter.get_total_flops() - products
    assert count_weight_params(cg) == sum(p.numel() for p in module.parameters())


class _Tokens(nn.Module):
    """Self-attention, a residual add and an MLP on a batch-first token sequence."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(32, 4, batch_first=True)
        self.fc, self.out = nn.Linear(32, 64), nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.attn(x, x, x, need_weights=False)
        return self.out(torch.relu(self.fc(x + y))).mean(1)


def _flops(module: nn.Module, shape: tuple[int, ...]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    # with autograd on: under no_grad, MultiheadAttention takes a fused path FlopCounterMode undercounts
    with FlopCounterMode(display=False) as counter:
        module.eval()(torch.zeros(shape))
    return counter.get_total_flops()


def test_token_and_flat_inputs() -> None:
    """Transformers and MLPs: tokens ``(L, E)`` are rows of width E everywhere, features one row."""
    from gennape_naslib.cg.counting import count_flops

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the attention products are <oov>
        cg = from_torch(_Tokens(), (12, 32), input_kind="tokens")
    assert cg.nodes[0].resolution == (12, 12, 1, 1, 32, 32)
    by_op = {n.op: n for n in cg.nodes}
    assert by_op["add"].resolution == (12, 12, 1, 1, 32, 32) and by_op["relu"].resolution == (12, 12, 1, 1, 64, 64)
    assert count_flops(cg) == _flops(_Tokens(), (1, 12, 32))
    assert from_torch(_Tokens(), (5, 12, 32), input_kind="tokens") == cg  # the batch is always 1

    mlp = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3))
    flat = from_torch(mlp, (20,), input_kind="flat")
    assert [n.op for n in flat.nodes] == ["input", "matmul", "relu", "matmul", "output"]
    assert flat.nodes[0].resolution == (1, 1, 1, 1, 20, 20) and count_flops(flat) == _flops(mlp, (1, 20))
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\).*\(20,\).*set input_kind"):
        from_torch(mlp, (20,))
    with pytest.raises(ValueError, match="input_kind must be one of image, tokens, flat"):
        from_torch(mlp, (20,), input_kind="text")


class _Masked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, scale: float = 2.0) -> torch.Tensor:
        if mask is not None:
            x = x.masked_fill(mask, 0.0)
        return self.fc(x) * scale


def test_optional_arguments_are_fixed_at_their_defaults() -> None:
    """``forward(x, mask=None)``: traced as the call with one input (the mask branch is not taken)."""
    cg = from_torch(_Masked(), (8,), input_kind="flat")
    assert [n.op for n in cg.nodes] == ["input", "matmul", "output"]


class _Classifier(nn.Module):
    """A token classifier around ``nn.TransformerEncoder`` (its forward is not traceable by torch.fx)."""

    def __init__(self, norm_first: bool) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(1))


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoders_lower_through_their_parts(norm_first: bool) -> None:
    """Attention projections and the feed-forward matmuls are counted exactly; norms and the attention
    products are ``<oov>`` (outside GENNAPE's vocabulary), dropout an ``identity``."""
    from gennape_naslib.cg.counting import count_flops

    model = _Classifier(norm_first).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cg = from_torch(model, (10, 32), input_kind="tokens")
        layer = from_torch(model.encoder.layers[0], (10, 32), input_kind="tokens")
    counts = cg.op_counts()
    assert (counts["matmul"], counts["<oov>"], counts["add"], counts["identity"]) == (2 * 4 + 1, 2 * 4, 4, 6)
    assert count_flops(cg) == _flops(model, (1, 10, 32))
    assert layer.op_counts()["matmul"] == 4 and count_flops(layer) == _flops(model.encoder.layers[0], (1, 10, 32))
