"""Safe import of the GENNAPE authors' caches (pickled records and labelled JSON files).

The pickles are made here: small stand-in classes are placed in a fake
``model_src.comp_graph.tf_comp_graph`` module only while pickling, so loading must work without it.
The accuracies in these fixtures are placeholders for checking the conversions, not benchmark data.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gennape_naslib.cg import CGBuilder, ComputeGraph
from gennape_naslib.cg.gennape_cache import (
    Genotype,
    UnsafePickleError,
    load_gennape_cache,
    load_gennape_json,
)
from gennape_naslib.cg.io import CGFormatError, to_gennape_state_dict

_MODULES = (
    "model_src",
    "model_src.comp_graph",
    "model_src.comp_graph.tf_comp_graph",
    "model_src.search_space",
    "model_src.search_space.hiaml_two_path",
    "model_src.search_space.hiaml_two_path.arch_configs",
    "model_src.search_space.inception",
    "model_src.search_space.inception.arch_config",
    "fake_darts",
)


@contextlib.contextmanager
def _gennape_modules() -> Iterator[types.ModuleType]:
    """Install fake GENNAPE modules for pickling, and remove them afterwards."""
    assert not any(name in sys.modules for name in _MODULES)
    mod = types.ModuleType("model_src.comp_graph.tf_comp_graph")
    for cls_name in ("ComputeGraph", "RegularNode", "WeightedNode"):
        setattr(mod, cls_name, type(cls_name, (), {"__module__": mod.__name__}))
    # GENNAPE's config classes, pickled as objects by make_new_family_cgs.py (attribute holders only)
    configs = {}
    for module, names in (
        ("model_src.search_space.hiaml_two_path.arch_configs", ("TwoPathNetConfig", "SinglePathBlockConfig")),
        ("model_src.search_space.inception.arch_config", ("NetConfig", "BlockConfig")),
    ):
        configs[module] = types.ModuleType(module)
        for cls_name in names:
            setattr(configs[module], cls_name, type(cls_name, (), {"__module__": module}))
    darts = types.ModuleType("fake_darts")
    darts.Genotype = collections.namedtuple("Genotype", "normal normal_concat reduce reduce_concat")  # type: ignore[attr-defined]
    darts.Genotype.__module__ = "fake_darts"
    sys.modules.update(
        {
            "model_src": types.ModuleType("model_src"),
            "model_src.comp_graph": types.ModuleType("model_src.comp_graph"),
            mod.__name__: mod,
            "model_src.search_space": types.ModuleType("model_src.search_space"),
            "model_src.search_space.hiaml_two_path": types.ModuleType("model_src.search_space.hiaml_two_path"),
            "model_src.search_space.inception": types.ModuleType("model_src.search_space.inception"),
            **configs,
            "fake_darts": darts,
        }
    )
    try:
        yield mod
    finally:
        for name in _MODULES:
            sys.modules.pop(name, None)


def _gennape_object(cg: ComputeGraph, mod: types.ModuleType) -> Any:
    """A GENNAPE ComputeGraph object with the attributes GENNAPE_FACTS 1.16 lists."""
    sd = to_gennape_state_dict(cg)
    graph = mod.ComputeGraph()

    def node(entry: dict[str, Any], weighted: bool) -> Any:
        obj = mod.WeightedNode() if weighted else mod.RegularNode()
        obj.str_id, obj.label, obj.op_type_idx = entry["str_id"], entry["label"], entry["op_type_idx"]
        obj.type_idx = int(weighted)
        obj.resolution, obj.strides, obj.metadata = entry["resolution"], entry["strides"], entry["metadata"]
        if weighted:
            obj.shape = np.array(entry["shape"], dtype=np.int64)  # numpy values must load too
        return obj

    graph.name, graph.input_shape = sd["name"], sd["input_shape"]
    graph.edge_pairs = sd["edge_pairs"]
    graph.regular_nodes = [node(e, False) for e in sd["regular_nodes"]]
    graph.weighted_nodes = [node(e, True) for e in sd["weighted_nodes"]]
    graph.n_regular_nodes, graph.n_weighted_nodes = len(graph.regular_nodes), len(graph.weighted_nodes)
    for key in ("max_hidden_size", "max_kernel_size", "max_derived_H", "max_derived_W"):
        setattr(graph, key, sd[key])
    return graph


def _graph(width: int, name: str) -> ComputeGraph:
    b = CGBuilder((32, 32, 3), name=name)
    x = b.conv_bn_act(b.input_node, width, 3, stride=2, padding=1)
    x = b.add(x, b.conv_bn(b.relu(x), width, 3, padding=1))
    x = b.pool(x, "max", 3, 2, 1)
    return b.build(b.linear(b.mean(x), 10))


def _write_cache(path: Path, protocol: int) -> list[ComputeGraph]:
    graphs = [_graph(16, "NB101-Net0"), _graph(32, "NB301-Net1").copy(max_h=32, max_w=32)]
    with _gennape_modules() as mod:
        genotype = sys.modules["fake_darts"].Genotype(
            normal=[("sep_conv_3x3", 0), ("skip_connect", 1)], normal_concat=range(2, 6), reduce=[], reduce_concat=[2]
        )
        records = [
            {
                "compute graph": _gennape_object(graphs[0], mod),
                "acc": np.float64(0.5),
                "flops": 12.5,
                "n_params": np.int64(1234),
                "original config": (["input", "conv3x3-bn-relu", "output"], np.eye(3, k=1, dtype=np.int64)),
            },
            {"compute graph": _gennape_object(graphs[1], mod), "acc": 0.25, "original config": genotype},
        ]
        path.write_bytes(pickle.dumps(records, protocol=protocol))
    return graphs


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_cache_round_trip(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "gpi_test_comp_graph_cache.pkl"
    graphs = _write_cache(path, protocol)
    assert "model_src.comp_graph.tf_comp_graph" not in sys.modules
    records = load_gennape_cache(path)
    assert "model_src.comp_graph.tf_comp_graph" not in sys.modules  # nothing was imported
    assert len(records) == 2
    first, second = records
    assert set(first) == {"compute graph", "acc", "flops", "n_params", "original config"}
    for record, want in zip(records, graphs):
        got = record["compute graph"]
        assert isinstance(got, ComputeGraph)
        assert got == want, got.diff(want)
        assert got.nodes == want.nodes and got.edges == want.edges  # str_id positions restore our order
        assert (got.name, got.input_shape, got.max_h, got.max_w) == (
            want.name,
            want.input_shape,
            want.max_h,
            want.max_w,
        )
    assert type(first["acc"]) is float and first["acc"] == 0.5
    assert type(first["n_params"]) is int and first["n_params"] == 1234 and first["flops"] == 12.5
    ops, adj = first["original config"]
    assert ops[1] == "conv3x3-bn-relu" and isinstance(adj, np.ndarray) and adj.tolist() == np.eye(3, k=1).tolist()
    genotype = second["original config"]
    assert isinstance(genotype, Genotype)
    assert genotype.normal == [("sep_conv_3x3", 0), ("skip_connect", 1)] and list(genotype.normal_concat) == [
        2,
        3,
        4,
        5,
    ]
    assert "n_params" not in second


class _RunsCode:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (self.command,))


class _Evaluates:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (eval, ("1 + 1",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_code_running_pickle_is_refused_and_never_runs(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([{"compute graph": _RunsCode(f"touch {marker}")}], protocol=protocol))
    with pytest.raises(UnsafePickleError) as info:
        load_gennape_cache(path)
    assert f"{path}: refusing to load {os.system.__module__}.system" in str(info.value)
    assert not marker.exists()
    assert isinstance(info.value, pickle.UnpicklingError)
    path.write_bytes(pickle.dumps({"x": _Evaluates()}, protocol=protocol))
    with pytest.raises(UnsafePickleError, match="refusing to load builtins.eval"):
        load_gennape_cache(path)


def test_unknown_classes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps([collections.Counter("ab")]))
    with pytest.raises(UnsafePickleError, match="refusing to load collections.Counter"):
        load_gennape_cache(path)
    # A Genotype name under any module is rebuilt locally, without importing that module.
    path.write_bytes(b"\x80\x04\x8c\x02os\x94\x8c\x08Genotype\x94\x93\x94(K\x01K\x02K\x03K\x04t\x94\x81\x94.")
    with pytest.raises(CGFormatError, match="expected a list of records, got Genotype"):
        load_gennape_cache(path)


def test_malformed_caches(tmp_path: Path) -> None:
    path = tmp_path / "bad.pkl"
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(CGFormatError, match="bad.pkl: not a readable GENNAPE cache pickle"):
        load_gennape_cache(path)
    path.write_bytes(pickle.dumps({"acc": 0.5}))
    with pytest.raises(CGFormatError, match="bad.pkl: expected a list of records, got dict"):
        load_gennape_cache(path)
    path.write_bytes(pickle.dumps([{"acc": 0.5}]))
    with pytest.raises(CGFormatError, match=r"bad.pkl: record 0: 'compute graph': missing"):
        load_gennape_cache(path)
    path.write_bytes(pickle.dumps([{"compute graph": {"name": "x"}}]))
    with pytest.raises(CGFormatError, match="record 0: compute graph: expected a GENNAPE ComputeGraph, got dict"):
        load_gennape_cache(path)
    with _gennape_modules() as mod:
        broken = _gennape_object(_graph(8, "x"), mod)
        del broken.weighted_nodes[0].resolution
        del broken.edge_pairs
        path.write_bytes(pickle.dumps([{"compute graph": broken}]))
    with pytest.raises(CGFormatError, match=r"record 0: compute graph\.edge_pairs: missing attribute"):
        load_gennape_cache(path)
    with _gennape_modules() as mod:
        broken = _gennape_object(_graph(8, "x"), mod)
        broken.weighted_nodes[1].resolution = (1, 2)
        path.write_bytes(pickle.dumps([{"compute graph": broken}]))
    with pytest.raises(CGFormatError, match=r"record 0: compute graph: weighted_nodes\[1\]\.resolution: expected 6"):
        load_gennape_cache(path)


def test_labelled_json(tmp_path: Path) -> None:
    graphs = [_graph(8, "HiAML-0"), _graph(16, "HiAML-1")]
    data = {
        str(i): {
            "net_config": [["hiaml_l20"] * 4, i],
            "max_perf": 90.0 + i,
            "perfs": [89.0, 90.0 + i],
            "cg": to_gennape_state_dict(g),
        }
        for i, g in enumerate(graphs)
    }
    path = tmp_path / "gpi_test_hiaml_cifar10_labelled_cg_data.json"
    path.write_text(json.dumps(data))
    records = load_gennape_json(path)
    assert [r["id"] for r in records] == ["0", "1"]
    for i, (record, want) in enumerate(zip(records, graphs)):
        assert record["compute graph"] == want
        assert record["acc"] == pytest.approx((90.0 + i) / 100)
        assert record["original config"] == [["hiaml_l20"] * 4, i]
    del data["1"]["max_perf"]
    path.write_text(json.dumps(data))
    with pytest.raises(CGFormatError, match=r"\['1'\]\.max_perf: missing"):
        load_gennape_json(path)
    data["1"]["max_perf"] = 91.0
    data["1"]["cg"]["regular_nodes"][0]["op_type_idx"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(
        CGFormatError, match=r"\['1'\]\.cg: regular_nodes\[0\]\.op_type_idx: expected an integer in 0\.\.31"
    ):
        load_gennape_json(path)


# ---------------------------------------------------------------------- real cache layouts through data.load_file
def _family_cache(path: Path, family: str, archs: list[Any], names: list[str], config: Any) -> None:
    """A GENNAPE cache of real graphs of ``family`` (acc/flops/n_params are placeholders)."""
    from gennape_naslib.search_spaces import get

    adapter = get(family)
    with _gennape_modules() as mod:
        records = [
            {"compute graph": _gennape_object(adapter.to_cg(a).copy(name=n), mod), "acc": 0.5, "flops": 1.0,
             "n_params": 10, "original config": config(adapter.to_json(a))}
            for a, n in zip(archs, names)
        ]  # fmt: skip
        path.write_bytes(pickle.dumps(records, protocol=4))


def _ofa_config(prefix: str) -> Any:
    def config(enc: dict[str, Any]) -> Any:  # GENNAPE's (res, net_config) with its block names
        stages = [[f"{prefix}_e{b[1]}_k{b[3]}" for b in stage] for stage in enc["stages"]]
        return (enc["r"], stages)

    return config


def test_mixed_ofa_cache_is_split_like_gennape(tmp_path: Path) -> None:
    """GENNAPE's gpi_ofa_comp_graph_cache.pkl mixes OFA-PN and OFA-MBv3; each family keeps its own records."""
    from gennape_naslib.data import DataFormatError, load_file
    from gennape_naslib.search_spaces import get

    pn, mbv3 = tmp_path / "pn.pkl", tmp_path / "mbv3.pkl"
    _family_cache(pn, "ofa_pn", [get("ofa_pn").sample(i) for i in range(2)], ["OFA-PN-Net0", "OFA-PN-Net1"],
                  _ofa_config("mbconv2"))  # fmt: skip
    _family_cache(mbv3, "ofa_mbv3", [get("ofa_mbv3").sample(5)], ["OFA-MBV3-Net2"], _ofa_config("mbconv3"))
    path = tmp_path / "gpi_ofa_comp_graph_cache.pkl"
    with _gennape_modules():
        records = pickle.loads(pn.read_bytes()) + pickle.loads(mbv3.read_bytes())
        records = [records[0], records[2], records[1]]  # GENNAPE shuffles its caches
        path.write_bytes(pickle.dumps(records, protocol=4))
    table = load_file(path, family="ofa_pn")
    assert table.family == "ofa_pn" and len(table) == 2 and table.meta["other_family_records"] == 1
    assert table.encodings == [get("ofa_pn").to_json(get("ofa_pn").sample(i)) for i in range(2)]
    table = load_file(path, family="ofa_mbv3")
    assert len(table) == 1 and table.encodings == [get("ofa_mbv3").to_json(get("ofa_mbv3").sample(5))]
    with pytest.raises(
        DataFormatError, match="gpi_ofa_comp_graph_cache.pkl: pass the family.*mixes ofa_pn and ofa_mbv3"
    ):
        load_file(path)


def test_cache_family_from_gennape_file_names(tmp_path: Path) -> None:
    """GENNAPE's cache names tell the family; an NB-201 cache is a cache, not NASLib's nb201 pickle."""
    from gennape_naslib.data import load_file
    from gennape_naslib.search_spaces import get

    ops = ["nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_1x1", "skip_connect"]
    arch = get("nb201").coerce(ops)  # GENNAPE's edge order is the arch string's
    path = tmp_path / "gpi_nb201c10_comp_graph_cache.pkl"
    _family_cache(path, "nb201", [arch], ["NB201-Net0"], lambda enc: (ops, ((0,), (0,), (1,), (0,), (1,), (2, 3))))
    table = load_file(path)
    assert table.family == "nb201" and table.meta["format"] == "gennape_cache"
    assert table.encodings == [get("nb201").to_json(arch)] and table["acc"].tolist() == [0.5]
    nb101 = get("nb101").sample(3)
    path = tmp_path / "demo_nb101_comp_graph_cache.pkl"
    _family_cache(path, "nb101", [nb101], ["NB101-Net0"], lambda enc: (enc["ops"], np.array(enc["matrix"])))
    assert load_file(path).encodings == [get("nb101").to_json(nb101)]


def test_unlabelled_two_path_and_inception_caches(tmp_path: Path) -> None:
    """make_new_family_cgs.py pickles TwoPathNetConfig / NetConfig objects; they load as state dicts."""
    from gennape_naslib.data import load_file
    from gennape_naslib.search_spaces import get
    from gennape_naslib.search_spaces.inception import CONV_OPS as INCEPTION_CONV
    from gennape_naslib.search_spaces.two_path import CONV_OPS as TWO_PATH_CONV

    two_path, inception = get("two_path"), get("inception")
    tp_arch, inc_arch = two_path.sample(0), inception.sample(0)
    tp_enc, inc_enc = two_path.to_json(tp_arch), inception.to_json(inc_arch)
    with _gennape_modules() as mod:
        tp_mod = sys.modules["model_src.search_space.hiaml_two_path.arch_configs"]
        inc_mod = sys.modules["model_src.search_space.inception.arch_config"]

        def block(names: list[str]) -> Any:
            obj = tp_mod.SinglePathBlockConfig()
            obj.op_names, obj.op_types = names, ["conv" if n in TWO_PATH_CONV else "supp" for n in names]
            return obj

        tp_cfg = tp_mod.TwoPathNetConfig()
        tp_cfg.path1, tp_cfg.path2 = [block(b) for b in tp_enc["path1"]], [block(b) for b in tp_enc["path2"]]
        tp_cfg.path1_reduce_inds, tp_cfg.path2_reduce_inds = set(tp_enc["path1_reduce"]), set(tp_enc["path2_reduce"])
        stages = []
        for st in inc_enc["stages"]:
            blk = inc_mod.BlockConfig()
            blk.paths = [{"ops": p["ops"], "op_types": ["conv" if o in INCEPTION_CONV else "supp" for o in p["ops"]],
                          "C_internal": p["c_internal"], "C_out": p["c_out"]} for p in st["paths"]]  # fmt: skip
            stages.append({"block": blk, "n_blocks": st["n_blocks"], "C_in": st["c_in"], "C_out": st["c_out"],
                           "stride": st["stride"]})  # fmt: skip
        inc_cfg = inc_mod.NetConfig()
        inc_cfg.stages = stages
        for name, adapter, arch, cfg in (
            ("two_path_1_comp_graph_cache.pkl", two_path, tp_arch, tp_cfg),
            ("inception_1_comp_graph_cache.pkl", inception, inc_arch, inc_cfg),
        ):
            record = {"compute graph": _gennape_object(adapter.to_cg(arch).copy(name="0"), mod), "original config": cfg}
            (tmp_path / name).write_bytes(pickle.dumps([record], protocol=4))
    records = load_gennape_cache(tmp_path / "two_path_1_comp_graph_cache.pkl")
    config = records[0]["original config"]
    assert config["path1_reduce_inds"] == sorted(tp_enc["path1_reduce"])  # a set became a sorted list
    assert config["path1"][0] == {"op_names": tp_enc["path1"][0], "op_types": block_types(tp_enc["path1"][0])}
    table = load_file(tmp_path / "two_path_1_comp_graph_cache.pkl")  # unlabelled: no metric columns
    assert table.family == "two_path" and table.encodings == [tp_enc] and table.metric_names == []
    table = load_file(tmp_path / "inception_1_comp_graph_cache.pkl")
    assert table.family == "inception" and table.encodings == [inc_enc]
    assert records[0]["compute graph"] == two_path.to_cg(tp_arch)


def block_types(names: list[str]) -> list[str]:
    from gennape_naslib.search_spaces.two_path import CONV_OPS

    return ["conv" if n in CONV_OPS else "supp" for n in names]


def test_refused_pickle_is_a_data_error_for_the_importer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`gennape data import gennape_cache` reports a refused pickle in one line, exit 2 (was a traceback)."""
    from gennape_naslib.cli import main
    from gennape_naslib.data import DataFormatError, read_format

    marker = tmp_path / "pwned"
    path = tmp_path / "gpi_nb101_comp_graph_cache.pkl"
    path.write_bytes(pickle.dumps([{"compute graph": _RunsCode(f"touch {marker}")}], protocol=4))
    with pytest.raises(DataFormatError, match="refusing to load"):
        read_format("gennape_cache", path)
    assert main(["data", "import", "gennape_cache", str(path), "--name", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refusing to load" in err[0] and not marker.exists()
