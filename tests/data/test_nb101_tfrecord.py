"""NAS-Bench-101's own tfrecord, read without TensorFlow.

The files are written here by TensorFlow's ``TFRecordWriter`` and protobuf (independent of the reader),
from the 30 real NAS-Bench-101 records of ``shared/data/nb101/nb101_records_30.pkl``: the reader must
give the same table as the ``nb101_records`` reader gives for that pickle.
"""

from __future__ import annotations

import base64
import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from gennape_naslib.data import DataFormatError, load_file, read_format
from gennape_naslib.data._tfrecord import crc32c, parse_message

RECORDS = Path(__file__).resolve().parents[3] / "shared" / "data" / "nb101" / "nb101_records_30.pkl"


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C catalogue's check value
    assert crc32c(b"") == 0


def _metrics_class():
    """nasbench.ModelMetrics (lib/model_metrics.proto), declared with protobuf's own descriptors."""
    descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
    from google.protobuf import descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(name="nb101_metrics_test.proto", package="nbtest", syntax="proto2")
    fd = descriptor_pb2.FieldDescriptorProto
    evaluation = fdp.message_type.add(name="EvaluationData")
    for number, name in enumerate(
        ("current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy"), 1
    ):
        evaluation.field.add(name=name, number=number, type=fd.TYPE_DOUBLE, label=fd.LABEL_OPTIONAL)
    evaluation.field.add(name="checkpoint_path", number=6, type=fd.TYPE_STRING, label=fd.LABEL_OPTIONAL)
    metrics = fdp.message_type.add(name="ModelMetrics")
    metrics.field.add(
        name="evaluation_data",
        number=1,
        type=fd.TYPE_MESSAGE,
        type_name=".nbtest.EvaluationData",
        label=fd.LABEL_REPEATED,
    )
    metrics.field.add(name="trainable_parameters", number=2, type=fd.TYPE_INT32, label=fd.LABEL_OPTIONAL)
    metrics.field.add(name="total_time", number=3, type=fd.TYPE_DOUBLE, label=fd.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("nbtest.ModelMetrics"))


def _rows(epochs: int = 108) -> list[bytes]:
    """One JSON record per training run of the real records, in NAS-Bench-101's layout."""
    if not RECORDS.is_file():
        pytest.skip("../shared/data is not present")
    model_metrics = _metrics_class()
    with open(RECORDS, "rb") as handle:
        records = pickle.load(handle)
    out = []
    for module_hash, (fixed, computed) in records.items():
        matrix = np.asarray(fixed["module_adjacency"])
        for run in computed[epochs]:
            message = model_metrics(trainable_parameters=int(fixed["trainable_parameters"]))
            message.evaluation_data.add(current_epoch=0.0)  # step 0: its values are not in the pickle
            for stage, epoch in (("halfway", epochs / 2), ("final", float(epochs))):
                message.evaluation_data.add(
                    current_epoch=epoch,
                    training_time=run[f"{stage}_training_time"],
                    train_accuracy=run[f"{stage}_train_accuracy"],
                    validation_accuracy=run[f"{stage}_validation_accuracy"],
                    test_accuracy=run[f"{stage}_test_accuracy"],
                )
            row = [
                module_hash,
                epochs,
                "".join(str(int(v)) for v in matrix.reshape(-1)),
                ",".join(fixed["module_operations"]),
                base64.b64encode(message.SerializeToString()).decode(),
            ]
            out.append(json.dumps(row).encode())
    return out


def _write(path: Path, rows: list[bytes]) -> Path:
    tf = pytest.importorskip("tensorflow")
    with tf.io.TFRecordWriter(str(path)) as writer:
        for row in rows:
            writer.write(row)
    return path


def test_parse_message_reads_protobufs_encoding() -> None:
    message = _metrics_class()(trainable_parameters=2694282, total_time=1.5)
    message.evaluation_data.add(current_epoch=108.0, validation_accuracy=0.93, checkpoint_path="m.ckpt-1")
    fields = parse_message(message.SerializeToString())
    assert fields[2] == [2694282] and len(fields[1]) == 1
    inner = parse_message(fields[1][0])
    assert np.frombuffer(inner[4][0], "<f8")[0] == 0.93 and inner[6] == [b"m.ckpt-1"]
    with pytest.raises(ValueError, match="truncated"):
        parse_message(message.SerializeToString()[:-3])


def test_tfrecord_gives_the_records_table(tmp_path) -> None:
    path = _write(tmp_path / "nasbench_only108.tfrecord", _rows())
    table = load_file(path)  # the suffix picks nb101_tfrecord
    reference = read_format("nb101_records", RECORDS)
    assert table.family == "nb101" and len(table) == len(reference) == 30
    assert table.encodings == reference.encodings
    assert set(table.metric_names) == set(reference.metric_names)
    for column in reference.metric_names:
        np.testing.assert_allclose(table[column], reference[column], rtol=1e-12, err_msg=column)
    assert table.meta["format"] == "nb101_tfrecord" and table.meta["units"]["val_acc_108ep"] == "percent"
    # the real records' values: mean of three runs, in percent
    assert 80.0 < float(np.nanmean(table["val_acc_108ep"])) < 95.0


def test_gzip_tfrecord_and_data_checksums(tmp_path) -> None:
    raw = _write(tmp_path / "raw.tfrecord", _rows()).read_bytes()
    packed = tmp_path / "nasbench_only108.tfrecord.gz"
    packed.write_bytes(gzip.compress(raw))
    assert len(load_file(packed, check_crc=True)) == 30
    damaged = bytearray(raw)
    damaged[100] ^= 0x01  # inside the first record's data: its JSON still parses, the checksum does not match
    bad = tmp_path / "damaged.tfrecord"
    bad.write_bytes(bytes(damaged))
    with pytest.raises(DataFormatError, match="damaged.tfrecord: data checksum mismatch in the record at byte 0"):
        read_format("nb101_tfrecord", bad, check_crc=True)


def test_truncated_download_strict_and_lenient(tmp_path) -> None:
    raw = _write(tmp_path / "raw.tfrecord", _rows()).read_bytes()
    cut = tmp_path / "cut.tfrecord"
    cut.write_bytes(raw[: len(raw) - 50])
    with pytest.raises(DataFormatError, match=r"cut.tfrecord: truncated record at byte \d+"):
        load_file(cut)
    with pytest.warns(UserWarning, match="skipped 1 malformed rows"):
        table = load_file(cut, strict=False)
    assert len(table) == 30  # the torn tail is the last of three runs of the last cell: every cell survives
    assert table.meta["skipped"][0].startswith(f"{cut}: truncated record")


def test_wrong_files_and_rows_are_named(tmp_path) -> None:
    not_tfrecord = tmp_path / "scores.tfrecord"
    not_tfrecord.write_text(json.dumps({"a": 1}) * 4)
    with pytest.raises(DataFormatError, match="scores.tfrecord: bad length checksum at byte 0: not a TFRecord"):
        load_file(not_tfrecord)
    rows = _rows()
    first = json.loads(rows[0])
    other = json.loads(rows[3])  # another cell
    rows[0] = json.dumps([first[0], *other[1:]]).encode()  # cell of another module under the first hash
    rows.append(b"[1, 2]")
    path = _write(tmp_path / "mixed.tfrecord", rows)
    with pytest.raises(DataFormatError, match=r"mixed.tfrecord: record at byte \d+: malformed NAS-Bench-101 record"):
        load_file(path)
    with pytest.warns(UserWarning):
        table = load_file(path, strict=False)
    reasons = table.meta["skipped"]
    assert any("appeared before with another cell" in r for r in reasons)
    assert any(f"module {first[0]}: malformed NAS-Bench-101 cell (the cell's hash is" in r for r in reasons)
    assert len(table) == 29  # the first module's cell is not its own: the whole module is refused
    with pytest.raises(DataFormatError, match="holds nb101 architectures, not 'nb201'"):
        read_format("nb101_tfrecord", path, family="nb201")


def test_full_file_has_one_column_set_per_epoch_budget(tmp_path) -> None:
    """``nasbench_full.tfrecord`` holds runs of 4, 12, 36 and 108 epochs per module.

    The 108-epoch runs are real; here they are also written with ``epochs`` 4 (placeholders: the same
    values under another budget), so the reader must keep the two budgets apart and average each.
    """
    real = _rows()
    relabelled = [json.dumps([r[0], 4, *r[2:]]).encode() for r in map(json.loads, real)]
    path = _write(tmp_path / "nasbench_full.tfrecord", relabelled[::2] + real)  # budget 4: every other run
    table = read_format("nb101_tfrecord", path)
    assert len(table) == 30
    assert {"val_acc_4ep", "val_acc_108ep", "test_acc_4ep", "train_time_4ep"} <= set(table.metric_names)
    reference = read_format("nb101_records", RECORDS)
    np.testing.assert_allclose(table["val_acc_108ep"], reference["val_acc_108ep"], rtol=1e-12)
    assert not np.allclose(table["val_acc_4ep"], table["val_acc_108ep"])  # not every run of a module: other means
