"""scripts/check_prediction_fast_path.py (cited in docs/results.md) runs and finds the two paths in agreement."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_prediction_fast_path.py"


def test_fast_path_check_runs_and_agrees() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--n", "60"], capture_output=True, text=True, timeout=300, check=True
    ).stdout
    assert out.startswith("60 NB-201 cells, shipped model")
    gap = float(re.search(r"ensemble score: max \|diff\| ([0-9.e+-]+)", out).group(1))
    assert gap < 1e-4  # float32 summation order only
    assert "reference vs itself in other batches: max |diff| 0," in out
