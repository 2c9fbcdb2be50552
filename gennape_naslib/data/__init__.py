"""Benchmark data: real labels offline behind one table interface.

``load(name)`` returns a :class:`BenchmarkTable` for a packaged table (derived from published
benchmark files by ``scripts/build_packaged_data.py``) or a table a user imported into
``GENNAPE_HOME`` (``gennape data import``); :func:`load_file` reads the files users already have.
Metric columns that depend on the dataset are named ``<metric>/<dataset>``
(``test_acc_200ep/cifar10``); ``load(name, dataset=...)`` keeps that dataset's columns and drops the
suffix.
"""

from __future__ import annotations

from gennape_naslib.data.formats import FORMATS, load_file, read_format
from gennape_naslib.data.registry import (
    PACKAGED,
    gennape_home,
    import_table,
    list_tables,
    load,
    table_info,
)
from gennape_naslib.data.table import BenchmarkTable, DataFormatError, DataNotFoundError

__all__ = [
    "BenchmarkTable",
    "DataFormatError",
    "DataNotFoundError",
    "FORMATS",
    "PACKAGED",
    "gennape_home",
    "import_table",
    "list_tables",
    "load",
    "load_file",
    "read_format",
    "table_info",
]
