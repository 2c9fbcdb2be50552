"""Versioned JSON, NPZ collections and GENNAPE state dicts."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gennape_naslib.cg import CGBuilder, ComputeGraph, Node
from gennape_naslib.cg.io import (
    CGFormatError,
    GraphCollection,
    from_dict,
    from_gennape_state_dict,
    load_json,
    load_npz,
    save_json,
    save_npz,
    to_dict,
    to_gennape_state_dict,
)


def _random_graph(rng: random.Random, name: str) -> ComputeGraph:
    """A small network with branches, pools, padding, SE, zero ops and a dense head."""
    b = CGBuilder((rng.choice([16, 32]), rng.choice([16, 32]), 3), name=name)
    x = b.conv_bn_act(b.input_node, 8, 3, padding=1, bias=rng.random() < 0.3)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        if kind == 0:
            k, c = rng.choice([1, 3, 5]), b.out_shape(x)[2]
            x = b.add(x, b.conv_bn(b.conv_bn_act(x, c, k, padding=k // 2), c, 1))
        elif kind == 1:
            x = b.pool(x, rng.choice(["max", "avg"]), 3, 2, 1)
        elif kind == 2:
            x = b.squeeze_excite(x, 4)
        elif kind == 3:
            x = b.pad(x, (0, 1, 0, 1))
        elif kind == 4:
            x = b.add(x, b.zero(x))
        else:
            x = b.act(b.depthwise(x, 3, padding=1), "hswish")
    return b.build(b.linear(b.mean(x), 10))


def _graphs(count: int, seed: int = 0) -> list[ComputeGraph]:
    rng = random.Random(seed)
    return [_random_graph(rng, f"g{i}") for i in range(count)]


def _assert_identical(a: ComputeGraph, b: ComputeGraph) -> None:
    """Equal, and also in node order, names, labels, strides, metadata and graph attributes."""
    assert a == b, a.diff(b)
    assert a.nodes == b.nodes and a.edges == b.edges
    assert [n.metadata for n in a.nodes] == [n.metadata for n in b.nodes]
    assert [n.label for n in a.nodes] == [n.label for n in b.nodes]
    for attr in ("name", "input_shape", "max_h", "max_w", "max_hidden", "max_kernel"):
        assert getattr(a, attr) == getattr(b, attr), attr


def _tuples_to_lists(value: Any) -> Any:
    return json.loads(json.dumps(value))


# ------------------------------------------------------------------------------------------- JSON
def test_json_round_trip(tmp_path: Path) -> None:
    for i, cg in enumerate(_graphs(12)):
        path = tmp_path / f"g{i}.json"
        save_json(cg, path, indent=1 if i % 2 else None)
        _assert_identical(load_json(path), cg)


def test_json_keeps_custom_maxima_and_metadata(tmp_path: Path) -> None:
    b = CGBuilder((8, 8, 3), name="meta")
    x = b.node("relu", b.input_node, metadata={"note": ("a", 1), "nested": {"k": [1, 2]}})
    cg = b.build(x).copy(max_h=32, max_w=16, max_hidden=64, max_kernel=5)
    doc = to_dict(cg)
    assert doc["format"] == "gennape-naslib.cg" and doc["version"] == 1
    assert doc["maxima"] == {"max_h": 32, "max_w": 16, "max_hidden": 64, "max_kernel": 5}
    assert doc["nodes"][1]["metadata"] == {"note": ["a", 1], "nested": {"k": [1, 2]}}
    assert set(doc["nodes"][0]) == {"op", "label", "resolution", "shape", "use_bias", "strides", "metadata"}
    json.dumps(doc)  # plain JSON
    back = from_dict(doc)
    assert back.nodes[1].metadata == {"note": ["a", 1], "nested": {"k": [1, 2]}}  # JSON has no tuples
    _assert_identical(back, cg.relabel(1, metadata=doc["nodes"][1]["metadata"]))


def test_json_save_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    good = _graphs(1)[0]
    save_json(good, path)
    before = path.read_text()
    b = CGBuilder((8, 8, 3))
    bad = b.build(b.node("relu", b.input_node, metadata={"obj": object()}))
    with pytest.raises(ValueError, match=r"nodes\[1\]\.metadata\.obj"):
        save_json(bad, path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.json"]


def _doc() -> dict[str, Any]:
    b = CGBuilder((8, 8, 3), name="small")
    x = b.conv_bn_act(b.input_node, 4, 3, padding=1)
    return to_dict(b.build(b.linear(b.mean(x), 2)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["nodes"][3].__setitem__("resolution", [1, 2]),
            "nodes[3].resolution: expected 6 integers, got [1, 2]",
        ),
        (lambda d: d["nodes"][1].__setitem__("shape", [3, 4, 3]), "nodes[1].shape: expected 4 integers or null"),
        (lambda d: d["nodes"][1].__setitem__("shape", None), "nodes[1]: node 'conv'"),
        (lambda d: d["nodes"][2].__setitem__("op", "bn"), "nodes[2].op: expected a vocabulary op name, got 'bn'"),
        (lambda d: d["nodes"][1].__setitem__("use_bias", 1), "nodes[1].use_bias: expected true or false"),
        (lambda d: d["nodes"][1].__setitem__("strides", [1, 1, 1, 1]), "nodes[1].strides: expected 2 integers"),
        (lambda d: d["nodes"][0].__setitem__("metadata", [1]), "nodes[0].metadata: expected an object or null"),
        (lambda d: d["nodes"].__setitem__(0, "input"), "nodes[0]: expected an object"),
        (lambda d: d["edges"].append([5, 1]), "edges: graph 'small': edge (5, 1) does not go forward"),
        (lambda d: d["edges"].append([0]), "edges[6]: expected 2 integers"),
        (lambda d: d["maxima"].__setitem__("max_h", 0), "maxima.max_h: expected an integer in 1.., got 0"),
        (lambda d: d.__setitem__("input_shape", [1, 8, 8]), "input_shape: expected 4 integers or null"),
        (lambda d: d.__setitem__("format", "other"), "format: expected 'gennape-naslib.cg', got 'other'"),
        (lambda d: d.pop("format"), "format: expected 'gennape-naslib.cg', got no format field"),
        (lambda d: d.__setitem__("version", 2), "version: unsupported gennape-naslib.cg version 2 (written by a newer"),
        (lambda d: d.__setitem__("version", "1"), "version: expected an integer, got '1'"),
        (lambda d: d.pop("nodes"), "nodes: expected a list, got NoneType"),
    ],
)
def test_json_errors_name_file_and_field(tmp_path: Path, change: Any, message: str) -> None:
    doc = _doc()
    change(doc)
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CGFormatError) as info:
        load_json(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_json_not_json_or_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(CGFormatError, match="broken.json: not a valid JSON file"):
        load_json(path)
    path.write_text("[1, 2]")
    with pytest.raises(CGFormatError, match="broken.json: expected a JSON object, got list"):
        load_json(path)


def test_from_dict_names_its_source() -> None:
    doc = _doc()
    doc["nodes"][0]["resolution"] = [8, 8, 8, 8, 3, "3"]
    with pytest.raises(CGFormatError, match=r"^upload: nodes\[0\]\.resolution: expected 6 integers"):
        from_dict(doc, source="upload")


# -------------------------------------------------------------------------------------------- NPZ
def test_npz_round_trip_of_many_graphs(tmp_path: Path) -> None:
    graphs = _graphs(150, seed=1)
    graphs.append(graphs[3].copy(name="custom maxima", max_h=32, max_w=32, max_hidden=128, max_kernel=3))
    graphs.append(ComputeGraph([], [], name="empty"))  # no nodes, no input shape
    b = CGBuilder((4, 4, 2), name="odd metadata")
    graphs.append(b.build(b.node("relu", b.input_node, label="ünïcode", metadata={"t": (1, 2), "e": {}})))
    path = tmp_path / "many.npz"
    save_npz(graphs, path)
    loaded = load_npz(path)
    assert len(loaded) == len(graphs)
    for got, want in zip(loaded, graphs):
        if want.input_shape is None:
            assert got.n_nodes == 0 and got.input_shape is None and got.name == "empty"
            continue
        if want.name == "odd metadata":
            assert got.nodes[1].metadata == {"t": [1, 2], "e": {}}  # tuples come back as lists
            assert got.nodes[1].label == "ünïcode"
            continue
        _assert_identical(got, want)


def test_graph_collection_is_lazy_and_indexable(tmp_path: Path) -> None:
    graphs = _graphs(20, seed=2)
    path = tmp_path / "c.npz"
    save_npz(graphs, path)
    coll = GraphCollection(path)
    assert len(coll) == 20 and coll.names == [g.name for g in graphs]
    assert coll.n_nodes.tolist() == [g.n_nodes for g in graphs]
    _assert_identical(coll[7], graphs[7])
    _assert_identical(coll[-1], graphs[-1])
    assert coll[7] is coll[7]
    with pytest.raises(IndexError, match="out of range"):
        coll[20]
    assert [g.name for g in coll] == coll.names
    assert "20 graphs" in repr(coll)


def test_npz_empty_collection(tmp_path: Path) -> None:
    path = tmp_path / "none.npz"
    save_npz([], path)
    assert load_npz(path) == []


def _rewrite(path: Path, **changes: Any) -> None:
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": np.array(2)}, "version: unsupported gennape-naslib.cg-collection version 2 (written by a newer"),
        ({"version": np.array(0)}, "version: unsupported gennape-naslib.cg-collection version 0;"),
        ({"format": np.array("something")}, "format: expected 'gennape-naslib.cg-collection', got 'something'"),
        ({"format": None}, "format: expected 'gennape-naslib.cg-collection', got no format array"),
        ({"resolution": None}, "resolution: missing array"),
        ({"node_offsets": np.array([0, 3])}, "node_offsets: expected 4 non-decreasing offsets"),
        ({"resolution": np.zeros((2, 5), dtype=np.int32)}, "resolution: expected shape"),
        ({"op": np.full(1, 40, dtype=np.int8)}, "op: "),
        ({"resolution": np.zeros((1, 6), dtype=np.float32)}, "resolution: expected an integer or boolean array"),
        ({"text": np.frombuffer(b"[]", dtype=np.uint8)}, "text: expected an object with lists"),
        ({"edges": np.array([[1, 0]] * 12)}, "graph 0: graph 'a': edge (1, 0) does not go forward"),
        ({"metadata_code": np.array([5], dtype=np.int8)}, "metadata_code: values must lie in -1.."),
    ],
)
def test_npz_errors_name_file_and_array(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    b = CGBuilder((4, 4, 1), name="a")
    x = b.relu(b.relu(b.relu(b.input_node)))
    cg = b.build(x)
    graphs = [cg.copy(name=name) for name in ("a", "b", "c")]  # all three share one node table
    path = tmp_path / "c.npz"
    save_npz(graphs, path)
    if "op" in changes or "metadata_code" in changes or "resolution" in changes:
        with np.load(path) as archive:
            u = len(archive["op"])
        for key, value in list(changes.items()):
            if isinstance(value, np.ndarray) and key in ("op", "metadata_code"):
                changes[key] = np.resize(value, u)
            if key == "resolution" and value is not None and value.dtype.kind == "f":
                changes[key] = np.zeros((u, 6), dtype=np.float32)
    _rewrite(path, **changes)
    with pytest.raises(CGFormatError) as info:
        load_npz(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_npz_refuses_pickled_arrays_and_other_files(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    save_npz(_graphs(2), path)
    _rewrite(path, text=np.array([{"names": []}], dtype=object))
    with pytest.raises(CGFormatError, match="text: cannot be read without pickle"):
        load_npz(path)
    other = tmp_path / "x.npz"
    other.write_text("hello")
    with pytest.raises(CGFormatError, match="x.npz: not an NPZ archive .it does not start with a zip header"):
        load_npz(other)
    single = tmp_path / "single.npz"  # a .npy array under an .npz name
    with open(single, "wb") as handle:
        np.save(handle, np.arange(3))
    with pytest.raises(CGFormatError, match=r"single.npz: not an NPZ archive \(a single .npy array\)"):
        load_npz(single)
    truncated = tmp_path / "t.npz"
    truncated.write_bytes(path.read_bytes()[:40])  # a zip header, then nothing readable
    with pytest.raises(CGFormatError, match="t.npz: not a readable NPZ file"):
        load_npz(truncated)
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "missing.npz")


# ------------------------------------------------------------------------------------ state dicts
def test_state_dict_layout() -> None:
    b = CGBuilder((32, 32, 3), name="sd")
    stem = b.conv(b.input_node, 64, 3, stride=2, padding=1)
    x = b.relu(b.bn(stem))
    cg = b.build(b.linear(b.mean(x), 10))
    sd = to_gennape_state_dict(cg)
    assert set(sd) == {
        "name",
        "input_shape",
        "max_hidden_size",
        "max_kernel_size",
        "max_derived_H",
        "max_derived_W",
        "edge_pairs",
        "regular_nodes",
        "weighted_nodes",
    }
    assert (sd["max_derived_H"], sd["max_derived_W"], sd["max_hidden_size"], sd["max_kernel_size"]) == (
        256,
        256,
        512,
        7,
    )
    assert sd["input_shape"] == (1, 32, 32, 3) and sd["name"] == "sd"
    conv, dense = sd["weighted_nodes"]
    assert conv["op_type_idx"] == 3 and conv["resolution"] == (32, 16, 32, 16, 3, 64)
    assert conv["strides"] == (1, 2, 2, 1) and conv["shape"] == [3, 64, 3, 3]
    assert "use_bias" not in (conv["metadata"] or {})
    assert conv["str_id"] == f"{stem}|conv"
    assert dense["op_type_idx"] == 8 and dense["metadata"]["use_bias"] is True and dense["shape"] == [64, 10, 0, 0]
    first = sd["regular_nodes"][0]
    assert first == {
        "str_id": "0|input",
        "op_type_idx": 1,
        "label": "input",
        "resolution": (32, 32, 32, 32, 3, 3),
        "strides": None,
        "metadata": None,
    }
    assert [n["op_type_idx"] for n in sd["regular_nodes"]] == [1, 5, 6, 19, 2]
    # conv (0) -> bn (3), dense (1) -> output (6), input (2) -> conv (0), ...
    assert sd["edge_pairs"] == [(0, 3), (1, 6), (2, 0), (3, 4), (4, 5), (5, 1)]


def test_state_dict_round_trip() -> None:
    for cg in _graphs(25, seed=3):
        sd = to_gennape_state_dict(cg)
        _assert_identical(from_gennape_state_dict(sd), cg)
        _assert_identical(from_gennape_state_dict(_tuples_to_lists(sd)), cg)  # as stored in JSON files


def _appendix_b_state_dict() -> dict[str, Any]:
    """A GENNAPE-style state dict: GraphDef positions in str_id, NHWC metadata, weighted first."""
    nhwc = {"data_format": "NHWC", "dilations": (1, 1, 1, 1), "padding": "same"}
    return {
        "name": "HiAML-like",
        "input_shape": (1, 32, 32, 3),
        "max_hidden_size": 512,
        "max_kernel_size": 7,
        "max_derived_H": 32,
        "max_derived_W": 32,
        "weighted_nodes": [
            {
                "str_id": "40|net/dense/matmul",
                "op_type_idx": 8,
                "label": "matmul",
                "resolution": (1, 1, 1, 1, 64, 10),
                "strides": None,
                "shape": [64, 10, 0, 0],
                "metadata": {"use_bias": True},
            },
            {
                "str_id": "6|net/stem/conv/conv2d",
                "op_type_idx": 3,
                "label": "conv2d",
                "resolution": (32, 16, 32, 16, 3, 64),
                "strides": (1, 2, 2, 1),
                "shape": [3, 64, 3, 3],
                "metadata": nhwc,
            },
        ],
        "regular_nodes": [
            {"str_id": "3|input", "op_type_idx": 1, "label": "input", "resolution": (32, 32, 32, 32, 3, 3)},
            {"str_id": "12|net/bn/fusedbatchnormv3", "op_type_idx": 5, "label": "fusedbatchnormv3",
             "resolution": (16, 16, 16, 16, 64, 64), "strides": None, "metadata": {"data_format": "NHWC"}},
            {"str_id": "13|net/relu", "op_type_idx": 6, "label": "relu", "resolution": (16, 16, 16, 16, 64, 64),
             "strides": None, "metadata": None},
            {"str_id": "30|net/mean", "op_type_idx": 19, "label": "mean", "resolution": (16, 1, 16, 1, 64, 64),
             "strides": None, "metadata": None},
            {"str_id": "45|output", "op_type_idx": 2, "label": "output", "resolution": (1, 1, 1, 1, 10, 10),
             "strides": None, "metadata": None},
        ],
        # indices: 0 dense, 1 conv, 2 input, 3 bn, 4 relu, 5 mean, 6 output
        "edge_pairs": [(0, 6), (1, 3), (2, 1), (3, 4), (4, 5), (5, 0)],
    }  # fmt: skip


def test_state_dict_in_gennape_layout_is_reordered_topologically() -> None:
    cg = from_gennape_state_dict(_appendix_b_state_dict(), source="hiaml.json")
    assert [n.op for n in cg.nodes] == ["input", "conv", "batchnorm", "relu", "mean", "matmul", "output"]
    assert cg.edges == tuple((i, i + 1) for i in range(6))
    conv, dense = cg.nodes[1], cg.nodes[5]
    assert conv.strides == (2, 2) and conv.shape == (3, 64, 3, 3) and not conv.use_bias
    assert conv.metadata == {"data_format": "NHWC", "dilations": (1, 1, 1, 1), "padding": "same"}
    assert dense.use_bias and dense.metadata is None  # use_bias moved out of the metadata
    assert cg.nodes[2].label == "fusedbatchnormv3"
    assert (cg.max_h, cg.max_w, cg.max_hidden, cg.max_kernel) == (32, 32, 512, 7)  # stored maxima kept
    assert cg.input_shape == (1, 32, 32, 3) and cg.name == "HiAML-like"
    b = CGBuilder((32, 32, 3))
    x = b.relu(b.bn(b.conv(b.input_node, 64, 3, stride=2, padding=1)))
    assert cg == b.build(b.linear(b.mean(x), 10))


def test_state_dict_nchw_strides() -> None:
    sd = _appendix_b_state_dict()
    sd["weighted_nodes"][1]["strides"] = (1, 1, 2, 3)
    sd["weighted_nodes"][1]["metadata"] = {"data_format": "NCHW"}
    assert from_gennape_state_dict(sd).nodes[1].strides == (2, 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda sd: sd["weighted_nodes"][1].__setitem__("op_type_idx", 32), "weighted_nodes[1].op_type_idx: expected"),
        (lambda sd: sd["weighted_nodes"][1].pop("shape"), "weighted_nodes[1].shape: a weighted node needs"),
        (lambda sd: sd["weighted_nodes"][1].__setitem__("strides", (1, 2, 2)), "weighted_nodes[1].strides: expected 4"),
        (
            lambda sd: sd["regular_nodes"][2].__setitem__("resolution", (1, 2)),
            "regular_nodes[2].resolution: expected 6",
        ),
        (lambda sd: sd["regular_nodes"][1].__setitem__("op_type_idx", 3), "regular_nodes[1]: node 'fusedbatchnormv3'"),
        (lambda sd: sd["edge_pairs"].append((6, 2)), "edge_pairs: the edges form a cycle"),
        (lambda sd: sd["edge_pairs"].append((6, 7)), "edge_pairs[6]: (6, 7) is a self loop or names a node outside"),
        (lambda sd: sd["edge_pairs"].append((3, 3)), "edge_pairs[6]: (3, 3) is a self loop"),
        (lambda sd: sd.pop("regular_nodes"), "regular_nodes: missing"),
        (lambda sd: sd.__setitem__("max_derived_H", -1), "max_derived_H: expected an integer in 1.."),
    ],
)
def test_state_dict_errors(change: Any, message: str) -> None:
    sd = _appendix_b_state_dict()
    change(sd)
    with pytest.raises(CGFormatError) as info:
        from_gennape_state_dict(sd, source="hiaml.json: [7].cg")
    assert str(info.value).startswith("hiaml.json: [7].cg: ")
    assert message in str(info.value)


def test_state_dict_without_positions_uses_list_order() -> None:
    sd = _appendix_b_state_dict()
    for group in ("weighted_nodes", "regular_nodes"):
        for node in sd[group]:
            node["str_id"] = "no position"
    cg = from_gennape_state_dict(sd)
    assert [n.op for n in cg.nodes] == ["input", "conv", "batchnorm", "relu", "mean", "matmul", "output"]
    assert Node("input", (32, 32, 32, 32, 3, 3), label="input") == cg.nodes[0]
