"""The ``gennape`` command line, called in-process."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from gennape_naslib import __version__
from gennape_naslib.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

TINY_NET = """
import torch.nn as nn

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.pool(self.bn(self.conv(x)).relu())
        return self.fc(x.flatten(1))

def make():
    return Tiny()

instance = Tiny()
not_a_model = 42
"""


@pytest.fixture
def net_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_net.py"
    path.write_text(textwrap.dedent(TINY_NET))
    return path


def _one_error_line(err: str, prefix: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert lines[0].startswith(prefix), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "argv", [["--help"], ["cg", "--help"], ["cg", "build", "--help"], ["cg", "import", "--help"], ["demo", "--help"]]
)
def test_help_exits_zero(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("usage: gennape")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "prefix", "fragment"),
    [
        ([], "gennape: error:", "COMMAND"),
        (["frob"], "gennape: error:", "invalid choice: 'frob'"),
        (["cg", "build"], "gennape: error:", "give MODULE:CALLABLE"),
        (["cg", "build", "m:f"], "gennape: error:", "--input-shape C,H,W is required"),
        (["cg", "build", "m:f", "--input-shape", "3,32,32,32"], "gennape cg build: error:", "expected C,H,W"),
        (["cg", "build", "m:f", "--input-shape", "3,32"], "gennape: error:", "--input-kind image expects C,H,W"),
        (["cg", "build", "m:f", "--input-shape", "8", "--input-kind", "tokens"], "gennape: error:", "expects L,E"),
        (["cg", "draw", "g.json"], "gennape cg draw: error:", "--out"),
        (["cg", "draw", "g.json", "--out", "g.png", "--engine", "svg"], "gennape cg draw: error:", "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], prefix: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert fragment in _one_error_line(captured.err, prefix)


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("no_colon_here", "expected MODULE:CALLABLE"),
        ("gennape_naslib.no_such_module:make", "cannot import module 'gennape_naslib.no_such_module'"),
        ("{net}:missing", "has no attribute 'missing'"),
        ("{net}:not_a_model", "neither an nn.Module nor a callable"),
        ("{dir}/absent.py:make", "no such Python file"),
    ],
)
def test_cg_build_bad_targets(target: str, fragment: str, net_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = target.format(net=net_file, dir=net_file.parent)
    assert main(["cg", "build", spec, "--input-shape", "3,16,16"]) == 2
    assert fragment in _one_error_line(capsys.readouterr().err, "gennape: error:")


@pytest.mark.parametrize("attr", ["make", "Tiny", "instance"])
def test_cg_build_from_file_saves_and_draws(
    attr: str, net_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, png = tmp_path / "out" / "tiny.json", tmp_path / "out" / "tiny.png"
    code = main(
        ["cg", "build", f"{net_file}:{attr}", "--input-shape", "3,16,16", "--out", str(out), "--draw", str(png)]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "ComputeGraph[Tiny](n_nodes: 7, n_edges: 6)" in text
    assert f"wrote {out}" in text and f"wrote {png}" in text
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    from gennape_naslib.cg import io

    cg = io.load_json(out)
    assert [n.op for n in cg.nodes] == ["input", "conv", "batchnorm", "relu", "mean", "matmul", "output"]
    assert cg.nodes[1].resolution == (16, 16, 16, 16, 3, 8) and cg.nodes[1].use_bias
    assert str(net_file.parent) not in sys.path  # the file's folder is only on sys.path while importing it


def test_cg_build_from_dotted_module(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cg", "build", "gennape_naslib.demo:small_resnet", "--input-shape", "3,32,32", "--name", "r"]) == 0
    assert "ComputeGraph[r](n_nodes: 32, n_edges: 34)" in capsys.readouterr().out


@pytest.fixture
def saved_graph(tmp_path: Path) -> Path:
    from gennape_naslib.cg import io
    from gennape_naslib.cg._examples import resnet_cg

    path = tmp_path / "resnet.json"
    io.save_json(resnet_cg((32, 32, 3), (16, 32, 64), (1, 1, 1), 10, "cifar", name="small"), path)
    return path


def test_cg_info_json(saved_graph: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cg", "info", str(saved_graph)]) == 0
    out = capsys.readouterr().out
    assert "nodes 32, edges 34, weighted 10" in out
    histogram = {
        line.split()[0]: int(line.split()[1])
        for line in out.splitlines()
        if line.startswith("  ") and len(line.split()) == 2 and line.split()[1].isdigit()
    }
    assert histogram == {
        "batchnorm": 9,
        "conv": 9,
        "relu": 7,
        "add": 3,
        "input": 1,
        "matmul": 1,
        "mean": 1,
        "output": 1,
    }


def test_cg_info_and_draw_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gennape_naslib.cg import io
    from gennape_naslib.cg._examples import resnet_cg

    graphs = [
        resnet_cg((32, 32, 3), (16, 32, 64), depths, 10, "cifar", name=f"d{i}")
        for i, depths in enumerate([(1, 1, 1), (2, 2, 2), (3, 3, 3)])
    ]
    path = tmp_path / "many.npz"
    io.save_npz(graphs, path)
    assert main(["cg", "info", str(path), "--index", "1"]) == 0
    out = capsys.readouterr().out
    sizes = [g.n_nodes for g in graphs]
    assert f"3 graphs, nodes per graph min {min(sizes)} / mean {sum(sizes) / 3:.1f} / max {max(sizes)}" in out
    assert graphs[1].summary() in out
    assert main(["cg", "info", str(path), "--index", "3"]) == 2
    assert "out of range" in _one_error_line(capsys.readouterr().err, "gennape: error:")
    png = tmp_path / "d2.png"
    assert main(["cg", "draw", str(path), "--index", "2", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == PNG_SIGNATURE


def test_cg_draw_json(saved_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "g.png"
    assert main(["cg", "draw", str(saved_graph), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == PNG_SIGNATURE and png.stat().st_size > 5_000
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "name", "fragment"),
    [
        (None, "absent.json", "no such file"),
        ("not json", "bad.json", "bad.json"),
        ("{}", "graph.txt", "unsupported file type '.txt'"),
    ],
)
def test_cg_info_bad_files(
    content: str | None, name: str, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    assert main(["cg", "info", str(path)]) == 2
    assert fragment in _one_error_line(capsys.readouterr().err, "gennape: error:")


def test_cg_import_rejects_unknown_types_and_shape_for_onnx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.h5"
    model.write_bytes(b"")
    assert main(["cg", "import", str(model)]) == 2
    assert "expected .pb or .onnx" in _one_error_line(capsys.readouterr().err, "gennape: error:")
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"")
    assert main(["cg", "import", str(onnx_file), "--input-shape", "32,32,3"]) == 2
    assert ".pb files only" in _one_error_line(capsys.readouterr().err, "gennape: error:")


def test_verbose_logging_is_removed_after_the_command(saved_graph: Path) -> None:
    import logging

    package_logger = logging.getLogger("gennape_naslib")
    before = list(package_logger.handlers)
    assert main(["-v", "cg", "info", str(saved_graph)]) == 0
    assert package_logger.handlers == before


def test_demo_skips_tensorflow_step_without_tf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gennape_naslib import demo

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # makes `import tensorflow` fail
    reports = demo.run_demo(tmp_path, engine="matplotlib", steps=[s for s in demo.STEPS if s.run is demo.step_tf_graph])
    assert [r.status for r in reports] == ["skipped"]
    assert "gennape-naslib[tf]" in reports[0].message
    assert "skipped" in capsys.readouterr().out


def test_demo_reports_a_failing_step_and_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gennape_naslib import demo

    def broken(ctx: demo.DemoContext) -> demo.StepOutput:
        raise RuntimeError("boom")

    def fine(ctx: demo.DemoContext) -> demo.StepOutput:
        return demo.StepOutput(["fine"], [])

    reports = demo.run_demo(tmp_path, steps=[demo.DemoStep("broken", broken), demo.DemoStep("fine", fine)])
    assert [(r.status, r.message) for r in reports] == [("failed", "RuntimeError: boom"), ("ok", "")]
    assert "1 ok, 0 skipped, 1 failed" in capsys.readouterr().out


def test_cg_build_shows_oov_warning_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prelu_net.py"
    path.write_text("import torch.nn as nn\n\ndef make():\n    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.PReLU())\n")
    assert main(["cg", "build", f"{path}:make", "--input-shape", "3,8,8"]) == 0
    captured = capsys.readouterr()
    assert "<oov>" in captured.out  # the op histogram lists the out-of-vocabulary node
    warning = _one_error_line(captured.err, "gennape: warning:")
    assert "PReLU" in warning


def test_cg_import_onnx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "W")
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [weight],
    )
    model_path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(model_path))
    out = tmp_path / "tiny.json"
    assert main(["cg", "import", str(model_path), "--out", str(out)]) == 0
    assert "ComputeGraph[tiny](n_nodes: 4, n_edges: 3)" in capsys.readouterr().out
    from gennape_naslib.cg import io

    cg = io.load_json(out)
    assert [n.op for n in cg.nodes] == ["input", "conv", "relu", "output"]
    assert cg.nodes[1].shape == (3, 4, 3, 3) and not cg.nodes[1].use_bias


@pytest.mark.slow
@pytest.mark.tf
def test_cg_import_pb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tf = pytest.importorskip("tensorflow")
    from gennape_naslib.cg import from_tf

    inputs = tf.keras.Input((16, 16, 3))
    x = tf.keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = tf.keras.layers.GlobalAveragePooling2D()(tf.keras.layers.ReLU()(x))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(4)(x))
    pb = from_tf.write_pb(from_tf.freeze_keras_model(model, (16, 16, 3)), tmp_path / "net.pb")
    png = tmp_path / "net.png"
    assert main(["cg", "import", str(pb), "--input-shape", "16,16,3", "--draw", str(png)]) == 0
    assert "ComputeGraph[net](n_nodes: 6, n_edges: 5)" in capsys.readouterr().out
    assert png.read_bytes()[:8] == PNG_SIGNATURE


def test_cg_build_dotted_module_from_working_folder(
    net_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(net_file.parent)
    try:
        assert main(["cg", "build", "tiny_net:make", "--input-shape", "3,16,16"]) == 0
    finally:
        sys.modules.pop("tiny_net", None)
    assert "ComputeGraph[Tiny](n_nodes: 7, n_edges: 6)" in capsys.readouterr().out
    assert str(net_file.parent) not in sys.path
