"""``scripts/ofa_resolution_strata.py``: Spearman of each score on the whole table and within each stratum."""

from __future__ import annotations

import numpy as np
import pytest


def test_strata_rows_separate_a_between_group_trend_from_the_within_group_order(load_script):
    strata = load_script("ofa_resolution_strata").strata_spearman
    groups = np.repeat([128, 160], 5)
    y = np.concatenate([np.arange(5.0), 10 + np.arange(5.0)])
    # "size" follows the groups but runs backwards inside each; "inner" is the inside order only
    size = np.concatenate([5 - np.arange(5.0), 20 - np.arange(5.0)])
    inner = np.concatenate([np.arange(5.0), np.arange(5.0)])
    rows = strata({"size": size, "inner": inner}, y, groups)
    assert [r["stratum"] for r in rows] == ["all", 128, 160]
    assert [r["n"] for r in rows] == [10, 5, 5]
    assert rows[0]["size"] > 0.5 and rows[1]["size"] == pytest.approx(-1.0) and rows[2]["size"] == pytest.approx(-1.0)
    assert rows[0]["inner"] < rows[0]["size"] and rows[1]["inner"] == pytest.approx(1.0)


def test_strata_rows_reject_scores_or_groups_of_another_length(load_script):
    strata = load_script("ofa_resolution_strata").strata_spearman
    with pytest.raises(ValueError, match="'short' has 2 values, y 3"):
        strata({"short": np.zeros(2)}, np.arange(3.0), np.zeros(3))
    with pytest.raises(ValueError, match="groups has 2 values, y 3"):
        strata({}, np.arange(3.0), np.zeros(2))
