"""Executors return results in item order, bound parallelism, report each result, and propagate errors."""

from __future__ import annotations

import os

import pytest

from gennape_naslib.execution import EXECUTORS, ProcessExecutor, SerialExecutor, get_executor


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise RuntimeError(f"item {x} failed")
    return x


def test_serial_map_keeps_order_and_reports_each_result():
    seen: list[tuple[int, int]] = []
    with SerialExecutor() as ex:
        out = ex.map(lambda x: x + 1, [5, 1, 3], progress=False, on_result=lambda i, r: seen.append((i, r)))
    assert out == [6, 2, 4]
    assert seen == [(0, 6), (1, 2), (2, 4)]
    assert ex.map(abs, [], progress=False) == []


@pytest.mark.slow  # spawning workers takes seconds on a busy 2-core machine
def test_process_pool_matches_serial_and_uses_other_processes():
    items = list(range(9))
    seen: dict[int, tuple[int, int]] = {}
    with ProcessExecutor(max_workers=2) as ex:
        out = ex.map(square_and_pid, items, progress=False, on_result=seen.__setitem__)
        assert [v for v, _ in out] == [x * x for x in items]
        assert sorted(seen) == items and all(seen[i] == out[i] for i in items)
        assert os.getpid() not in {pid for _, pid in out}
        with pytest.raises(RuntimeError, match="item 3 failed") as info:
            ex.map(fail_on_three, range(5), progress=False)
        assert info.value.__notes__ == ["while running item 3 of 5: 3"]
        assert ex.map(fail_on_three, [4, 2], progress=False) == [4, 2]  # the pool survives an error


def test_serial_errors_propagate_and_name_the_item():
    with pytest.raises(RuntimeError, match="item 3 failed") as info:
        SerialExecutor().map(fail_on_three, [1, 2, 3, 4], progress=False)
    assert info.value.__notes__ == ["while running item 2 of 4: 3"]


def test_get_executor_and_bad_arguments():
    assert isinstance(get_executor("serial"), SerialExecutor)
    assert get_executor("process", max_workers=3).max_workers == 3
    assert set(EXECUTORS) == {"serial", "process", "ray"}
    with pytest.raises(ValueError, match="could not resolve executor 'dask'"):
        get_executor("dask")
    with pytest.raises(ValueError, match="max_workers must be at least 1"):
        ProcessExecutor(max_workers=0)


def test_progress_bar_shows_when_forced(capsys):
    SerialExecutor().map(abs, [-1, -2], progress=True, desc="cells")
    assert "cells" in capsys.readouterr().err


# Ray: tests/evaluation/test_protocols.py runs a benchmark through RayExecutor and compares with serial.


def reject_architecture(x: int) -> int:
    from gennape_naslib.search_spaces import ArchValidationError

    raise ArchValidationError("nb201", "op_indices[0]", x, "op index out of range")


def test_arch_validation_error_survives_pickling():
    import pickle

    from gennape_naslib.search_spaces import ArchValidationError

    error = ArchValidationError("nb201", "op_indices[0]", 9, "op index out of range")
    error.add_note("while scoring item 4")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ArchValidationError and str(copy) == str(error)
    assert (copy.family, copy.field, copy.value, copy.reason) == ("nb201", "op_indices[0]", 9, "op index out of range")
    assert copy.__notes__ == ["while scoring item 4"]


@pytest.mark.slow  # spawning workers takes seconds on a busy 2-core machine
def test_process_pool_reports_an_invalid_architecture_and_stays_usable():
    with ProcessExecutor(max_workers=1) as ex:
        with pytest.raises(ValueError, match=r"nb201: invalid op_indices\[0\] = 9: op index out of range"):
            ex.map(reject_architecture, [9], progress=False)
        assert [v for v, _ in ex.map(square_and_pid, [2], progress=False)] == [4]
