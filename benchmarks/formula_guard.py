"""The spreadsheet-formula guard and the CSV writer on a customer table of about 84,000 rows.

``python -m benchmarks.formula_guard`` segments the bundled year, repeats its ``customer_segments.csv``
table and its customer table until each has at least ``ROWS`` rows (the customers of a ~10M-line file),
and prints the best of three times of ``export.neutralise_formulas`` and the time of writing the file.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd

from segmentation import config, export
from segmentation.analysis import pipeline

ROWS = 84_000
REPEATS = 3


def main() -> None:
    run = pipeline.segment_file(config.DEFAULT_DATA_PATH)
    tables = {"customer_segments.csv": (run.segments_table, export.write_customer_segments),
              "customers.csv": (run.customers, export.write_csv)}
    with tempfile.TemporaryDirectory() as folder:
        for name, (table, write) in tables.items():
            rows = pd.concat([table] * -(-ROWS // len(table)), ignore_index=True)
            guard = min(_seconds(export.neutralise_formulas, rows) for _ in range(REPEATS))
            written = _seconds(write, rows, Path(folder) / name)
            text = len(rows.select_dtypes(include=["object", "str", "category"]).columns)
            print(f"{name}: {len(rows):,} rows, {len(rows.columns)} columns ({text} text): "
                  f"neutralise_formulas {guard:.3f} s (best of {REPEATS}), writing the file {written:.3f} s")


def _seconds(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
