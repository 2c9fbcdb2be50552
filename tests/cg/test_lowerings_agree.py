"""The three lowerings give the same computation graph for the same network.

Each network of ``_twin_nets`` is lowered three ways: the PyTorch module through torch.fx
(:func:`from_torch`), the same module exported to ONNX (:func:`from_onnx`), and its Keras twin frozen
to a ``.pb`` file (:func:`from_tf_graphdef`). The graphs must have the same node and edge counts,
the same multisets of ``(op, resolution)`` and of weight shapes, and be equal.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from gennape_naslib.cg import ComputeGraph, from_torch

from ._twin_nets import INPUT_HWC, NAMES, keras_net, torch_net

H, W, C = INPUT_HWC


def assert_same_graph(got: ComputeGraph, want: ComputeGraph) -> None:
    assert got.n_nodes == want.n_nodes, want.diff(got)
    assert got.op_resolutions() == want.op_resolutions(), want.diff(got)
    assert got.weighted_shapes() == want.weighted_shapes()
    assert got.n_edges == want.n_edges
    assert [n.use_bias for n in got.nodes if n.weighted].count(True) == [
        n.use_bias for n in want.nodes if n.weighted
    ].count(True)
    assert got == want, want.diff(got)


@pytest.fixture(scope="module")
def torch_cgs() -> dict[str, ComputeGraph]:
    return {name: from_torch(torch_net(name), (C, H, W), name=name) for name in NAMES}


def test_twin_networks_have_the_intended_structure(torch_cgs: dict[str, ComputeGraph]) -> None:
    resnet, mbv3, darts = (torch_cgs[n].op_counts() for n in NAMES)
    # ResNet: stem + 16 block convs + 3 projections; 8 residual adds; GAP; dense head
    assert (resnet["conv"], resnet["add"], resnet["mean"], resnet["matmul"]) == (20, 8, 1, 1)
    # MobileNetV3: 6 hard-swishes (relu6 + mul) and 2 SE gates (relu6, mul), 2 SE means + the GAP
    assert (mbv3["relu6"], mbv3["mul"], mbv3["mean"], mbv3["depthwise"], mbv3["add"]) == (8, 8, 3, 2, 1)
    # DARTS cell: 3 separable convs of two halves each, two pools, three adds and the concat
    assert (darts["depthwise"], darts["conv"], darts["maxpool"], darts["avgpool"]) == (6, 10, 1, 1)
    assert (darts["add"], darts["concat"]) == (3, 1)
    assert torch_cgs["resnet"].nodes[-2].resolution == (1, 1, 1, 1, 64, 10)


@pytest.fixture(scope="module")
def onnx_cgs() -> dict[str, ComputeGraph]:
    onnx = pytest.importorskip("onnx")
    from gennape_naslib.cg import from_onnx

    result = {}
    for name in NAMES:
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                torch_net(name),
                torch.zeros(1, C, H, W),
                buffer,
                dynamo=False,
                training=torch.onnx.TrainingMode.PRESERVE,  # keep BatchNormalization nodes
            )
        result[name] = from_onnx(onnx.load_from_string(buffer.getvalue()), name=name)
    return result


@pytest.fixture(scope="module")
def tf_cgs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ComputeGraph]:
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef, write_pb

    folder: Path = tmp_path_factory.mktemp("pb")
    result = {}
    for name in NAMES:
        path = write_pb(freeze_keras_model(keras_net(name), INPUT_HWC), folder / f"{name}.pb")
        result[name] = from_tf_graphdef(path)
    return result


@pytest.mark.onnx
@pytest.mark.parametrize("name", NAMES)
def test_onnx_lowering_agrees_with_torch_fx(name: str, torch_cgs: Any, onnx_cgs: Any) -> None:
    assert_same_graph(onnx_cgs[name], torch_cgs[name])


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_tf_graphdef_lowering_agrees_with_torch_fx(name: str, torch_cgs: Any, tf_cgs: Any) -> None:
    assert tf_cgs[name].name == name
    assert_same_graph(tf_cgs[name], torch_cgs[name])


@pytest.mark.onnx
@pytest.mark.slow
@pytest.mark.parametrize("network", ["resnet18", "mobilenetv3_large"])
def test_onnx_agrees_on_the_reference_networks(network: str) -> None:
    """Full-size ResNet-18 and MobileNetV3-Large (``cg._examples``) at 64x64: ONNX == torch.fx."""
    onnx = pytest.importorskip("onnx")
    from gennape_naslib.cg import from_onnx
    from gennape_naslib.cg._examples import mobilenetv3_module, resnet_module

    module = (resnet_module if network == "resnet18" else mobilenetv3_module)().eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, torch.zeros(1, 3, 64, 64), buffer, dynamo=False, training=torch.onnx.TrainingMode.PRESERVE
        )
    assert_same_graph(from_onnx(onnx.load_from_string(buffer.getvalue())), from_torch(module, (3, 64, 64)))
