"""Readers of the files users already have, each tested on a small file made here in that format."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import pickle

import numpy as np
import pytest

from gennape_naslib.data import DataFormatError, DataNotFoundError, load_file, read_format

A1 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
A2 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def test_records_jsonl(tmp_path) -> None:
    path = tmp_path / "mine.jsonl"
    lines = [
        {"family": "hiaml", "arch": ["hiaml_a22", "hiaml_z", "hiaml_b23", "hiaml_src0"], "metrics": {"acc": 93.1}},
        {"family": "hiaml", "arch": ["hiaml_z"] * 4, "metrics": {"acc": 92.0, "latency": 3.5}},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    table = load_file(path)
    assert table.family == "hiaml" and len(table) == 2
    assert table["acc"].tolist() == [93.1, 92.0] and np.isnan(table["latency"][0])


def test_records_errors_name_file_and_line(tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"family": "nb201", "arch": A1, "metrics": {"acc": 1}})
        + "\n"
        + json.dumps({"family": "nb201", "arch": "|bogus~0|", "metrics": {"acc": 2}})
        + "\n{not json\n"
    )
    with pytest.raises(DataFormatError, match=r"bad.jsonl: line 2: "):
        load_file(path)
    with pytest.warns(UserWarning, match="skipped 2 malformed rows"):
        table = load_file(path, strict=False)
    assert len(table) == 1 and len(table.meta["skipped"]) == 2 and "line 3" in table.meta["skipped"][1]


def test_lenient_load_survives_a_bad_family_on_the_first_row(tmp_path) -> None:
    path = tmp_path / "typo.jsonl"
    rows = [{"family": "nb2O1", "arch": A1, "metrics": {"acc": 1}}]
    rows += [{"family": "nb201", "arch": arch, "metrics": {"acc": 2}} for arch in (A1, A2)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.warns(UserWarning, match="skipped 1 malformed rows"):
        table = load_file(path, strict=False)
    assert table.family == "nb201" and len(table) == 2 and "line 1" in table.meta["skipped"][0]


def test_records_csv(tmp_path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(f"family,arch,acc,flops\nnb201,{A1},94.3,\nnb201,{A2},85.1,12\n")
    table = load_file(path)
    assert table.encodings == [A1, A2] and np.isnan(table["flops"][0]) and table["flops"][1] == 12
    (tmp_path / "mixed.csv").write_text(f"family,arch,acc\nnb201,{A1},1\nhiaml,{json.dumps(['hiaml_z'] * 4)},2\n")
    with pytest.raises(DataFormatError, match="mixed.csv: line 3: family 'hiaml' differs"):
        load_file(tmp_path / "mixed.csv")
    (tmp_path / "nohead.csv").write_text("arch,acc\nx,1\n")
    with pytest.raises(DataFormatError, match="line 1: header lacks"):
        load_file(tmp_path / "nohead.csv")


def test_missing_file_says_where(tmp_path) -> None:
    with pytest.raises(DataNotFoundError, match="nope.json"):
        load_file(tmp_path / "nope.json")
    with pytest.raises(DataNotFoundError, match="NASLib"):
        read_format("naslib_zc", tmp_path / "zc_nasbench201.json")
    with pytest.raises(DataNotFoundError, match=r"mine.jsonl\)$"):  # the user's own file: no release to name
        read_format("records", tmp_path / "mine.jsonl")


def test_naslib_zc(tmp_path) -> None:
    doc = {
        "cifar10": {
            "(2, 2, 0, 2, 2, 2)": {"idx": "1", "val_accuracy": 91.0, "synflow": {"score": 3.5, "time": 0.1}},
            "(4, 3, 3, 0, 0, 0)": {"idx": "2", "val_accuracy": 85.0, "synflow": {"score": 1.5, "time": 0.1}},
        },
        "cifar100": {"(2, 2, 0, 2, 2, 2)": {"val_accuracy": 70.0, "synflow": {"score": 3.6, "time": 0.1}}},
    }
    path = tmp_path / "zc_nasbench201.json"
    path.write_text(json.dumps(doc))
    table = load_file(path)
    assert table.family == "nb201" and len(table) == 2
    assert table.lookup(A1)["val_acc/cifar10"] == 91.0 and table.lookup(A1)["synflow/cifar100"] == 3.6
    assert np.isnan(table.lookup(A2)["val_acc/cifar100"])


def test_naslib_nb201_pickle(tmp_path) -> None:
    doc = {
        A1: {
            "cifar10-valid": {
                "eval_acc1es": [50.0, 91.6],
                "train_acc1es": [60.0, 99.9],
                "cost_info": {"params": 1.53, "flops": 220.1, "latency": 0.02},
            }
        },  # fmt: skip
        A2: {"cifar10-valid": {"eval_acc1es": [40.0, 84.0], "train_acc1es": [50.0, 95.0],
                               "cost_info": {"flops": np.float32(50.5), "params": np.int64(1)}}},
    }  # fmt: skip
    path = tmp_path / "nb201_cifar10_full_training.pickle"
    path.write_bytes(pickle.dumps(doc))
    table = load_file(path)
    assert table["eval_acc_final/cifar10_valid"].tolist() == [91.6, 84.0]
    assert table["params/cifar10_valid"].tolist() == [1.53, 1.0]  # numpy scalars are numbers too
    assert table["flops/cifar10_valid"].tolist() == [220.1, 50.5] and np.isnan(table["latency/cifar10_valid"][1])
    assert table.meta["units"] == {"eval_acc_final": "percent", "train_acc_final": "percent"}


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickles_may_not_run_code(tmp_path, capsys) -> None:
    path = tmp_path / "nb201_evil.pickle"
    path.write_bytes(pickle.dumps({A1: _Evil()}))
    with pytest.raises(DataFormatError, match="refusing to load builtins.print"):
        load_file(path)
    assert "pwned" not in capsys.readouterr().out


def test_nb101_records(tmp_path) -> None:
    matrix = np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    runs = [{"final_validation_accuracy": 0.90, "final_test_accuracy": 0.89, "final_training_time": 100.0},
            {"final_validation_accuracy": 0.92, "final_test_accuracy": 0.91, "final_training_time": 110.0}]  # fmt: skip
    fixed = {"module_adjacency": matrix, "module_operations": ["input", "conv3x3-bn-relu", "maxpool3x3", "output"],
             "trainable_parameters": 1234}  # fmt: skip
    path = tmp_path / "nb101_records.pkl"
    path.write_bytes(pickle.dumps({"abc": (fixed, {108: runs})}))
    table = load_file(path)
    assert table.family == "nb101" and table["params"][0] == 1234
    assert table["val_acc_108ep"][0] == pytest.approx(91.0) and table["train_time_108ep"][0] == 105.0
    assert table.meta["units"] == {"val_acc_108ep": "percent", "test_acc_108ep": "percent"}  # the columns' names
    path.write_bytes(pickle.dumps({"abc": ({"module_adjacency": matrix}, {})}))
    with pytest.raises(DataFormatError, match="record abc: malformed"):
        load_file(path)


def _write_nb201_pth(path, rows) -> None:
    """A small file in the official NAS-Bench-201 v1.1 layout, made with nas_201_api's own record classes."""
    import torch
    from nas_201_api.api_utils import ArchResults, ResultsCount

    infos = {}
    for index, (arch, accs, flops, params) in enumerate(rows):
        per_hp = {}
        for hp, epochs in (("less", 12), ("full", 200)):
            results = ArchResults(index, arch)
            for dataset, (test, valid) in accs.items():
                curve = dict.fromkeys(range(epochs), 50.0)
                config = {"arch_str": arch}
                trial = ResultsCount(dataset, None, curve, curve, params, flops, config, 777, epochs, [0.01])
                splits = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",)}.get(
                    dataset, ("x-valid", "x-test", "ori-test")
                )
                keys = [f"{s}@{e}" for s in splits for e in range(epochs)]
                values = {k: (valid if k.startswith("x-valid") else test) if k.endswith(f"@{epochs - 1}") else 10.0
                          for k in keys}  # fmt: skip
                trial.update_eval(values, dict.fromkeys(keys, 1.0), dict.fromkeys(keys, 0.1))
                results.update(dataset, 777, trial)
            per_hp[hp] = results.state_dict()
        infos[index] = per_hp
    meta = {"meta_archs": [r[0] for r in rows], "arch2infos": infos, "evaluated_indexes": list(range(len(rows)))}
    torch.save(meta, path)


def test_nb201_pth(tmp_path) -> None:
    pytest.importorskip("nas_201_api", reason="the nb201 extra (nas-bench-201) is not installed")
    path = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    accs = {"cifar10-valid": (94.0, 91.0), "cifar10": (94.37, 0.0), "cifar100": (73.5, 73.0),
            "ImageNet16-120": (47.3, 46.9)}  # fmt: skip
    _write_nb201_pth(path, [(A1, accs, 184.0, 1.53), (A2, {"cifar10": (85.0, 0.0)}, 50.0, 0.4)])
    table = load_file(path)
    assert table.encodings == [A1, A2]
    assert table["test_acc_200ep/cifar10"].tolist() == [94.37, 85.0]
    assert table["val_acc_200ep/cifar10_valid"][0] == 91.0 and np.isnan(table["val_acc_200ep/cifar10_valid"][1])
    assert table["test_acc_200ep/imagenet16_120"][0] == 47.3 and table["params/cifar10"].tolist() == [1.53, 0.4]
    assert table.meta["units"] == {"test_acc_200ep": "percent", "val_acc_200ep": "percent"}


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="choices: records"):
        read_format("parquet", "x")


def test_gennape_labelled_json(tmp_path) -> None:
    from gennape_naslib.cg.io import to_gennape_state_dict
    from gennape_naslib.search_spaces import get

    family = get("hiaml")
    configs = [["hiaml_a22", "hiaml_z", "hiaml_b23", "hiaml_src0"], ["hiaml_l20"] * 4]
    doc = {
        str(i): {
            "net_config": cfg,
            "max_perf": 90.0 + i,
            "perfs": [90.0 + i],
            "cg": to_gennape_state_dict(family.to_cg(family.from_json(cfg))),
        }  # fmt: skip
        for i, cfg in enumerate(configs)
    }
    path = tmp_path / "gpi_test_hiaml_cifar10_labelled_cg_data.json"
    path.write_text(json.dumps(doc))
    table = load_file(path)  # GENNAPE's file name tells the family
    assert table.family == "hiaml" and table.encodings == configs
    assert table["acc"].tolist() == pytest.approx([0.90, 0.91])
    renamed = tmp_path / "mine_labelled_cg_data.json"
    renamed.write_text(json.dumps(doc))
    with pytest.raises(DataFormatError, match="mine_labelled_cg_data.json: pass the family"):
        load_file(renamed)
    assert load_file(renamed, family="hiaml").encodings == configs


@pytest.mark.parametrize(
    ("family", "config", "expected"),
    [
        ("nb101", (["input", "conv3x3-bn-relu", "output"], np.eye(3, k=1, dtype=int)),
         {"matrix": [[0, 1, 0], [0, 0, 1], [0, 0, 0]], "ops": ["input", "conv3x3-bn-relu", "output"]}),
        ("nb201", (["nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_3x3", "nor_conv_3x3"],
                   ((0,), (0,), (1,), (0,), (1,), (2, 3))), A1),
        ("ofa_resnet", (160, {"d": [2, 0, 1, 2, 0], "e": [0.25] * 18, "w": [0, 1, 2, 0, 1, 2]}), None),
    ],
)  # fmt: skip
def test_gennape_configs_convert(family, config, expected) -> None:
    from gennape_naslib.data.formats import gennape_config_to_encoding
    from gennape_naslib.search_spaces import get

    adapter = get(family)
    arch = adapter.coerce(gennape_config_to_encoding(family, config))
    if expected is not None:
        assert arch == adapter.coerce(expected)
    with pytest.raises(ValueError, match=f"not a GENNAPE {family} config"):
        gennape_config_to_encoding(family, 42)


# ---------------------------------------------------------------------- real layouts, other datasets, sizes
# Rows copied from NASLib's naslib/data zero-cost files (real values, trimmed to a few proxies).
NB201_ZC_KEY = "(0, 2, 3, 2, 3, 1)"  # in zc_nasbench201.json (NAS-Bench-Suite-Zero layout, all three datasets)
NB201_ZC = {
    "cifar10": {"idx": "534", "arch": NB201_ZC_KEY, "val_accuracy": 86.06,
                "flops": {"score": 88.307392, "time": 0.48845587600953877}},
    "cifar100": {"idx": "534", "arch": NB201_ZC_KEY, "val_accuracy": 62.01999992675781,
                 "flops": {"score": 88.313152, "time": 0.4938527438789606}},
    "ImageNet16-120": {"idx": "534", "arch": NB201_ZC_KEY, "val_accuracy": 32.20000001017252,
                       "flops": {"score": 22.084672, "time": 0.8884254461154342}},
}  # fmt: skip
TRANSNAS_MICRO = {  # zc_transbench101_micro.json: the same 6-tuples, ops of another space
    "class_scene": {
        "(1, 0, 0, 2, 1, 0)": {"idx": "534", "arch": "(1, 0, 0, 2, 1, 0)", "val_accuracy": 34.89251708984375,
                               "flops": {"score": 263.299072, "time": 0.8095472559798509}},
        "(1, 0, 0, 2, 2, 3)": {"idx": "164", "arch": "(1, 0, 0, 2, 2, 3)", "val_accuracy": 35.04180145263672,
                               "flops": {"score": 1946.13248, "time": 0.83687689807266}},
    }
}  # fmt: skip


def test_naslib_zc_all_three_nb201_datasets(tmp_path) -> None:
    path = tmp_path / "zc_nasbench201.json"
    path.write_text(json.dumps({dataset: {NB201_ZC_KEY: row} for dataset, row in NB201_ZC.items()}))
    table = load_file(path)
    row = table.lookup("|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|")
    assert row["val_acc/cifar10"] == 86.06 and row["val_acc/cifar100"] == 62.01999992675781
    assert row["val_acc/imagenet16_120"] == 32.20000001017252 and row["flops/imagenet16_120"] == 22.084672


def test_naslib_zc_transnas_bench_is_refused_not_read_as_nb201(tmp_path) -> None:
    """NASLib's TransNAS-Bench-101 files use NB-201-shaped keys; they were imported as NB-201 cells."""
    path = tmp_path / "zc_transbench101_micro.json"
    path.write_text(json.dumps(TRANSNAS_MICRO))
    with pytest.raises(DataFormatError, match=r"zc_transbench101_micro.json: .*'transbench101_micro'.*no gennape"):
        load_file(path)
    renamed = tmp_path / "scores.json"  # the name no longer tells: the datasets do
    renamed.write_text(json.dumps(TRANSNAS_MICRO))
    with pytest.raises(DataFormatError, match=r"scores.json: dataset\(s\) \['class_scene'\] are not CIFAR"):
        load_file(renamed)


def test_naslib_zc_space_wrapped_layouts(tmp_path) -> None:
    """NASLib's older files wrap the datasets in the space name and store plain scores."""
    old = {"(4, 3, 3, 3, 2, 3)": {"flops": 62.508352, "params": 0.434196, "val_accuracy": 68.33999986572266}}
    path = tmp_path / "zc_nasbench201.json"  # the first row of that NASLib file
    path.write_text(json.dumps({"nasbench201": {"cifar100": old}}))
    table = load_file(path)
    assert (
        len(table) == 1
        and table["val_acc/cifar100"][0] == 68.33999986572266
        and table["params/cifar100"][0] == 0.434196
    )
    both = {"nasbench201": {"cifar100": old}, "transbench101_micro": TRANSNAS_MICRO}
    path = tmp_path / "zc_all.json"
    path.write_text(json.dumps(both))
    with pytest.raises(DataFormatError, match="holds several search spaces .*pass family="):
        load_file(path)
    assert load_file(path, family="nb201")["val_acc/cifar100"][0] == 68.33999986572266
    with pytest.raises(DataFormatError, match="search space 'transbench101_micro' has no gennape-naslib family"):
        read_format("naslib_zc", _write(tmp_path / "w.json", {"transbench101_micro": TRANSNAS_MICRO}))
    with pytest.raises(
        DataFormatError, match="hold nasbench101, nasbench201, nasbench301 architectures, not family 'hiaml'"
    ):
        load_file(path, family="hiaml")


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return path


def test_every_reader_takes_family(tmp_path) -> None:
    """`gennape data import FORMAT --family F` passes family= to every reader (was a TypeError)."""
    zc = _write(tmp_path / "scores.json", {"cifar10": {NB201_ZC_KEY: NB201_ZC["cifar10"]}})
    assert read_format("naslib_zc", zc, family="nb201").family == "nb201"
    nb201 = tmp_path / "nb201_cifar10_full_training.pickle"
    nb201.write_bytes(pickle.dumps({A1: {"cifar10-valid": {"eval_acc1es": [1.0]}}}))
    assert read_format("naslib_nb201", nb201, family="nb201").family == "nb201"
    with pytest.raises(DataFormatError, match="naslib_nb201 file holds nb201 architectures, not 'nb101'"):
        read_format("naslib_nb201", nb201, family="nb101")
    with pytest.raises(DataFormatError, match="nb101_records file holds nb101 architectures, not 'nb201'"):
        read_format("nb101_records", nb201, family="nb201")
    records = _write(tmp_path / "mine.jsonl", {"family": "nb201", "arch": A1, "metrics": {"acc": 1}})
    assert read_format("records", records, family="nb201").family == "nb201"
    with pytest.raises(DataFormatError, match="line 1: family 'nb201' differs from 'hiaml'"):
        read_format("records", records, family="hiaml")


def test_nb101_full_record_layout(tmp_path) -> None:
    """nasbench_only108.pkl / the full NAS-Bench-101 records: int8 adjacency, 4 epoch budgets, halfway keys.

    Accuracies here are placeholders (the loader's arithmetic is what is checked).
    """
    matrix = np.array([[0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], np.int8)
    ops = ["input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu", "output"]

    def run(v):
        return {"halfway_training_time": 5.0, "halfway_train_accuracy": v / 2, "halfway_validation_accuracy": v / 2,
                "halfway_test_accuracy": v / 2, "final_training_time": 10.0, "final_train_accuracy": v,
                "final_validation_accuracy": v, "final_test_accuracy": v}  # fmt: skip

    computed = {e: [run(0.25), run(0.5), run(0.75)] for e in (4, 12, 36, 108)}
    fixed = {"module_adjacency": matrix, "module_operations": ops, "trainable_parameters": np.int64(2694282)}
    path = tmp_path / "nasbench_only108.pkl"
    path.write_bytes(pickle.dumps({"7e0f3f1e4bb4c9e2b5b3f0c2a0a1d2e3": (fixed, computed)}, protocol=4))
    table = load_file(path)
    assert table.family == "nb101" and table.encodings[0]["matrix"] == matrix.tolist()
    assert table["params"][0] == 2694282 and table["val_acc_4ep"][0] == pytest.approx(50.0)
    assert {f"test_acc_{e}ep" for e in (4, 12, 36, 108)} <= set(table.metric_names)
    assert table.meta["units"]["val_acc_36ep"] == "percent"


def test_naslib_nb301_training_data(tmp_path) -> None:
    """nb301_full_training.pickle: {compact: {val_accuracies, train_losses, runtime}}; values are placeholders."""
    spec = (((0, 6), (1, 4), (0, 0), (1, 5), (1, 4), (3, 2), (0, 6), (3, 2)),
            ((0, 1), (1, 4), (0, 1), (1, 4), (2, 6), (3, 4), (1, 5), (2, 1)))  # fmt: skip
    doc = {spec: {"runtime": [100.0, 200.0], "train_losses": [2.0, 1.0], "val_accuracies": [50.0, 60.0]},
           ((0, 9),): {"val_accuracies": [1.0]}}  # fmt: skip
    path = tmp_path / "nb301_full_training.pickle"
    path.write_bytes(pickle.dumps(doc))
    with pytest.raises(DataFormatError, match=r"nb301_full_training.pickle: compact \(\(0, 9\),\)"):
        load_file(path)
    with pytest.warns(UserWarning, match="skipped 1 malformed rows"):
        table = load_file(path, strict=False)
    from gennape_naslib.search_spaces import get

    assert table.family == "nb301" and table.encodings == [get("nb301").to_json(get("nb301").from_compact(spec))]
    assert table["val_acc_final"].tolist() == [60.0] and table["runtime"].tolist() == [200.0]
    assert table.meta["units"] == {"val_acc_final": "percent"}


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_files(tmp_path, compress) -> None:
    zc = {dataset: {NB201_ZC_KEY: row} for dataset, row in NB201_ZC.items()}
    path = tmp_path / "zc_nasbench201.json.gz"
    path.write_bytes(compress(json.dumps(zc).encode()))
    assert load_file(path)["val_acc/cifar100"][0] == 62.01999992675781
    path = tmp_path / "nb201_cifar10_full_training.pickle.bz2"
    path.write_bytes(compress(pickle.dumps({A1: {"cifar10-valid": {"eval_acc1es": [1.0, 91.6]}}})))
    assert load_file(path)["eval_acc_final/cifar10_valid"].tolist() == [91.6]
    path = tmp_path / "mine.csv.xz"
    path.write_bytes(compress(f"family,arch,acc\nnb201,{A1},94.3\n".encode()))
    assert load_file(path)["acc"].tolist() == [94.3]
    truncated = tmp_path / "zc_nasbench201_cut.json"
    truncated.write_bytes(compress(json.dumps(zc).encode())[:40])
    with pytest.raises(DataFormatError, match="zc_nasbench201_cut.json: not"):
        load_file(truncated)
