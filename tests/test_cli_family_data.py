"""``gennape family``, ``gennape data`` and the family options of ``gennape cg``."""

from __future__ import annotations

import importlib.util
import json

import pytest

from gennape_naslib.cg import io
from gennape_naslib.cli import main

needs_plot = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="drawing needs the [plot] extra (matplotlib)"
)


def test_family_list_and_info(capsys) -> None:
    assert main(["family", "list"]) == 0
    names = capsys.readouterr().out.split()
    assert {"nb101", "nb201", "nb301", "ofa_pn", "ofa_mbv3", "ofa_resnet", "hiaml", "two_path", "inception"} <= set(
        names
    )
    assert main(["family", "info", "nb201"]) == 0
    out = capsys.readouterr().out
    assert "15,625" in out and "nasbench201" in out and "example CG" in out


def test_unknown_family_is_a_one_line_error(capsys) -> None:
    assert main(["family", "info", "nb999"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not resolve family 'nb999'" in err[0]


def test_cg_build_family_arch(tmp_path, capsys) -> None:
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    out = tmp_path / "g.json"
    assert main(["cg", "build", "--family", "nb201", "--arch", arch, "--out", str(out)]) == 0
    from gennape_naslib.search_spaces import get

    family = get("nb201")
    assert io.load_json(out) == family.to_cg(family.from_str(arch))
    assert main(["cg", "build", "--family", "nb201", "--arch", "|bad~0|"]) == 2
    assert "nb201" in capsys.readouterr().err
    assert main(["cg", "build"]) == 2


@needs_plot
def test_cg_draw_random_family(tmp_path, capsys) -> None:
    assert main(["cg", "draw", "--family", "hiaml", "--random", "2", "--out", str(tmp_path / "d"),
                 "--engine", "matplotlib"]) == 0  # fmt: skip
    pngs = sorted((tmp_path / "d").glob("*.png"))
    assert len(pngs) == 2 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_data_list_info_import(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GENNAPE_HOME", str(tmp_path / "home"))
    assert main(["data", "list"]) == 0
    assert "nb201" in capsys.readouterr().out
    assert main(["data", "info", "nb201"]) == 0
    assert "15,625 rows" in capsys.readouterr().out
    records = tmp_path / "mine.jsonl"
    records.write_text(
        json.dumps({"family": "hiaml", "arch": ["hiaml_z"] * 4, "metrics": {"acc": 92.5}})
        + "\n"
        + json.dumps({"family": "hiaml", "arch": ["hiaml_q"] * 4, "metrics": {"acc": 1}})
        + "\n"
    )
    assert main(["data", "import", "records", str(records), "--name", "mine"]) == 2
    assert "mine.jsonl: line 2" in capsys.readouterr().err
    assert main(["data", "import", "records", str(records), "--name", "mine", "--lenient"]) == 0
    assert "skipped 1" in capsys.readouterr().out
    assert main(["data", "info", "mine"]) == 0
    assert "1 rows of family hiaml" in capsys.readouterr().out
    assert main(["data", "info", "nothing"]) == 2


def test_data_import_passes_family_to_every_format(tmp_path, monkeypatch, capsys) -> None:
    """--family reached readers without a family parameter as a TypeError traceback."""
    monkeypatch.setenv("GENNAPE_HOME", str(tmp_path / "home"))
    zc = tmp_path / "scores.json"  # one row of NASLib's zc_nasbench201.json (real values)
    zc.write_text(json.dumps({"cifar10": {"(0, 2, 3, 2, 3, 1)": {"val_accuracy": 86.06, "flops": 88.307392}}}))
    assert main(["data", "import", "naslib_zc", str(zc), "--name", "zc", "--family", "nb201"]) == 0
    assert "imported 1 rows of family nb201" in capsys.readouterr().out
    assert main(["data", "import", "nb101_records", str(zc), "--name", "n", "--family", "nb201"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nb101_records file holds nb101 architectures, not 'nb201'" in err[0]


@pytest.mark.parametrize("argv", [["data"], ["family"], ["data", "import", "parquet", "x", "--name", "y"]])
def test_bad_arguments_exit_2(argv, capsys) -> None:
    assert main(argv) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
