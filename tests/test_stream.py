"""The DuckDB engine streams the loader's batches into one query, and the rulebook's results add up over
partitions of whole customers: any batch size, any line order, any partition, memory held or spilled to
disk, the same ledger and customers as all lines at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import invoice_lines
from segmentation import columns as c
from segmentation import config, engines
from segmentation.engines import DuckDBEngine, OutcomeWindow, combine, summarise_lines
from segmentation.errors import InvoiceDataError
from segmentation.load import invoice_batches, load_invoices
from test_properties import PROPERTY_SETTINGS, tables


def by_partitions(invoices: pd.DataFrame, partitions: int, *, window: OutcomeWindow | None = None):
    """The customer table of ``invoices`` summarised in ``partitions`` partitions of whole customers (and
    every copy of each line), as the Dask engine cuts them, then combined."""
    customer = invoices[c.CUSTOMER_ID]
    whole_line = pd.util.hash_pandas_object(invoices, index=False).to_numpy() % partitions
    key = np.where(customer.isna().to_numpy(), whole_line, customer.fillna(0).to_numpy(dtype="int64") % partitions)
    parts = [invoices[key == number] for number in range(partitions)]
    return combine([summarise_lines(part, window=window) for part in parts], source=Path("lines"), window=window)


def at_once(invoices: pd.DataFrame, *, window: OutcomeWindow | None = None):
    return DuckDBEngine().customer_table_of_lines(invoices, source="lines", window=window)


def same_result(first, second) -> None:
    pd.testing.assert_frame_equal(first.ledger, second.ledger, check_exact=True)
    pd.testing.assert_frame_equal(first.customers, second.customers, check_exact=True)
    assert (first.returns_matched, first.returns_unmatched, first.return_only_customers) == (
        second.returns_matched, second.returns_unmatched, second.return_only_customers)


@PROPERTY_SETTINGS
@given(tables, st.integers(min_value=1, max_value=7), st.randoms(use_true_random=False))
def test_any_partition_and_line_order_give_the_same_ledger_and_customers(invoices, partitions, random):
    order = list(range(len(invoices)))
    random.shuffle(order)
    shuffled = invoices.iloc[order].reset_index(drop=True)
    try:
        whole = at_once(invoices)
    except InvoiceDataError:
        with pytest.raises(InvoiceDataError):
            by_partitions(shuffled, partitions)
        return
    same_result(by_partitions(shuffled, partitions), whole)
    same_result(at_once(shuffled), whole)


def test_a_repeat_in_another_batch_of_the_file_is_removed_once_and_counted(tmp_path):
    rows = [
        ("536001", "85123A", "HEART", 6, "2010-12-01 08:26", 2.55, 12346, "United Kingdom"),
        ("536001", "22423", "CAKESTAND", 2, "2010-12-01 08:26", 12.75, 12346, "United Kingdom"),
        ("536001", "22423", "CAKESTAND", 2, "2010-12-01 08:26", 12.75, 12346, "United Kingdom"),
        ("536002", "85123A", "HEART", 6, "2010-12-02 08:26", 2.55, 12347, "France"),
        ("536001", "85123A", "HEART", 6, "2010-12-01 08:26", 2.55, 12346, "United Kingdom"),
    ]
    path = tmp_path / "lines.parquet"
    pq.write_table(pa.Table.from_pandas(invoice_lines(rows), preserve_index=False), path, row_group_size=2)
    for batch_lines in (1, 2, 3, 5):
        result = DuckDBEngine(batch_lines=batch_lines, progress=False).customer_table(path)
        assert result.ledger.loc["duplicate", c.LEDGER_ROWS] == 2
        assert result.ledger.loc["kept", c.LEDGER_ROWS] == 3
        assert result.customers.loc[12346, c.TOTAL_BILL_SIZE] == 6 * 2.55 + 2 * 12.75


@pytest.fixture(scope="module")
def dated_parquet(tmp_path_factory):
    """The real year with dated InvoiceDates (so it streams), 50,000 lines per row group."""
    lines = load_invoices(config.REAL_DATA_PATH)
    path = tmp_path_factory.mktemp("stream") / "year.parquet"
    pq.write_table(pa.Table.from_pandas(lines.astype({name: "str" for name in c.TEXT_COLUMNS}),
                                        preserve_index=False), path, row_group_size=50_000)
    return path, lines


@pytest.mark.slow
def test_the_real_year_streamed_in_small_batches_with_spills_equals_it_at_once(dated_parquet, tmp_path):
    path, lines = dated_parquet
    whole = at_once(lines)
    spills = tmp_path / "spills"
    result = DuckDBEngine(batch_lines=60_000, memory_limit="64MiB", temp_directory=spills).customer_table(path)
    same_result(result, whole)
    window = OutcomeWindow(pd.Timestamp("2010-09-01"))
    with_window = DuckDBEngine(batch_lines=200_000, threads=1).customer_table(path, window=window)
    pd.testing.assert_frame_equal(with_window.outcome, at_once(lines, window=window).outcome, check_exact=True)


def test_a_bad_value_in_a_later_batch_names_its_row_in_the_file(tmp_path):
    rows = [("536001", "85123A", "HEART", 6, "2010-12-01 08:26", 2.55, 12346, "United Kingdom")] * 300
    lines = invoice_lines(rows)
    lines.loc[212, c.UNIT_PRICE] = np.inf
    path = tmp_path / "lines.parquet"
    pq.write_table(pa.Table.from_pandas(lines, preserve_index=False), path, row_group_size=64)
    with pytest.raises(InvoiceDataError, match=r"row\(s\) 213\b"):
        DuckDBEngine(batch_lines=50).customer_table(path)


def test_only_dated_parquet_streams(tmp_path, real_file):
    assert invoice_batches(real_file).lines is None  # InvoiceDate stored as text: read whole
    lines = invoice_lines([("536001", "85123A", "HEART", 6, "2010-12-01 08:26", 2.55, 12346, "France")] * 10)
    path = tmp_path / "lines.parquet"
    pq.write_table(pa.Table.from_pandas(lines, preserve_index=False), path)
    batches = invoice_batches(path, batch_lines=4)
    assert batches.lines == 10
    assert [len(batch) for batch in batches] == [4, 4, 2]
    assert [batch.index[0] for batch in batches] == [1, 5, 9]


def test_progress_is_drawn_only_on_a_terminal(monkeypatch, capsys):
    import sys

    class Terminal:
        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = engines.Progress("lines", total=1000, shown=True, logged=False)
    progress.advance(400)
    progress.close()
    assert "400/1,000 lines" in terminal.text and "lines/s" in terminal.text
    monkeypatch.undo()
    quiet = engines.Progress("lines", total=1000, shown=True, logged=False)
    quiet.advance(400)
    quiet.close()
    assert capsys.readouterr().err == ""
