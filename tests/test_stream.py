"""The single-machine engine streams batches through the one batch step: any batch size, any line order,
sums held in memory or written to disk, the same ledger and customers as all lines at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import invoice_lines
from segmentation import clean, config, engines
from segmentation import columns as c
from segmentation.clean import LineHashes
from segmentation.engines import OutcomeWindow, PandasEngine, combine_batches, stream_batches
from segmentation.errors import InvoiceDataError
from segmentation.load import invoice_batches, load_invoices
from segmentation.stream import SumStore
from test_properties import PROPERTY_SETTINGS, tables


def streamed(invoices: pd.DataFrame, batch_lines: int, *, window: OutcomeWindow | None = None):
    """The customer table of ``invoices`` streamed ``batch_lines`` lines at a time."""
    batches = [invoices.iloc[start:start + batch_lines] for start in range(0, len(invoices), batch_lines)]
    return combine_batches(stream_batches(batches, window=window), source="lines", window=window)


def at_once(invoices: pd.DataFrame, *, window: OutcomeWindow | None = None):
    return PandasEngine().customer_table_of_lines(invoices, source="lines", window=window)


def same_result(first, second) -> None:
    pd.testing.assert_frame_equal(first.ledger, second.ledger, check_exact=True)
    pd.testing.assert_frame_equal(first.customers, second.customers, check_exact=True)
    assert (first.returns_matched, first.returns_unmatched, first.return_only_customers) == (
        second.returns_matched, second.returns_unmatched, second.return_only_customers)


def outcome(invoices: pd.DataFrame, batch_lines: int):
    """(streamed, at once), or None when the lines give no customer table."""
    try:
        whole = at_once(invoices)
    except InvoiceDataError:
        with pytest.raises(InvoiceDataError):
            streamed(invoices, batch_lines)
        return None
    return streamed(invoices, batch_lines), whole


@PROPERTY_SETTINGS
@given(tables, st.integers(min_value=1, max_value=41), st.randoms(use_true_random=False))
def test_any_batch_size_and_line_order_give_the_same_ledger_and_customers(invoices, batch_lines, random):
    order = list(range(len(invoices)))
    random.shuffle(order)
    shuffled = invoices.iloc[order].reset_index(drop=True)
    results = outcome(shuffled, batch_lines)
    if results is not None:
        same_result(*results)
        same_result(results[0], at_once(invoices))


@PROPERTY_SETTINGS
@given(tables, st.integers(min_value=1, max_value=41))
def test_colliding_hashes_never_remove_a_line_that_repeats_no_earlier_one(invoices, batch_lines):
    # every line hashes alike: each is held as a repeat of an earlier batch and must be given back
    # unless it truly equals an earlier line
    constant = lambda lines: np.zeros(len(lines), dtype="uint64")  # noqa: E731
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clean, "row_hashes", constant)
        patch.setattr(engines, "row_hashes", constant)
        results = outcome(invoices, batch_lines)
    if results is not None:
        same_result(*results)


def test_a_repeat_across_a_batch_boundary_is_removed_once_and_counted():
    rows = [
        ("536001", "85123A", "HEART", 6, "2010-12-01 08:26", 2.55, 12346, "United Kingdom"),
        ("536001", "22423", "CAKESTAND", 2, "2010-12-01 08:26", 12.75, 12346, "United Kingdom"),
        ("536001", "22423", "CAKESTAND", 2, "2010-12-01 08:26", 12.75, 12346, "United Kingdom"),
        ("536002", "85123A", "HEART", 6, "2010-12-02 08:26", 2.55, 12347, "France"),
        ("536001", "85123A", "HEART", 6, "2010-12-01 08:26", 2.55, 12346, "United Kingdom"),
    ]
    lines = invoice_lines(rows)
    for batch_lines in (1, 2, 3, 5):
        result = streamed(lines, batch_lines)
        assert result.ledger.loc["duplicate", c.LEDGER_ROWS] == 2
        assert result.ledger.loc["kept", c.LEDGER_ROWS] == 3
        assert result.customers.loc[12346, c.TOTAL_BILL_SIZE] == 6 * 2.55 + 2 * 12.75


def test_line_hashes_remember_every_batch():
    seen = LineHashes()
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 2**63, size, dtype="uint64") for size in (5, 3, 40, 1, 0, 17, 100)]
    for number, batch in enumerate(batches):
        assert not seen.contains(batch).any()
        seen.add(batch)
        for earlier in batches[: number + 1]:
            assert seen.contains(earlier).all()
    assert len(seen) == sum(map(len, batches))


@pytest.fixture(scope="module")
def dated_parquet(tmp_path_factory):
    """The real year with dated InvoiceDates (so it streams), 50,000 lines per row group."""
    lines = load_invoices(config.REAL_DATA_PATH)
    path = tmp_path_factory.mktemp("stream") / "year.parquet"
    pq.write_table(pa.Table.from_pandas(lines.astype({name: "str" for name in c.TEXT_COLUMNS}),
                                        preserve_index=False), path, row_group_size=50_000)
    return path, lines


@pytest.mark.slow
def test_the_real_year_streamed_in_small_batches_with_spills_equals_it_at_once(dated_parquet, monkeypatch):
    path, lines = dated_parquet
    whole = at_once(lines)
    monkeypatch.setattr(config, "SUMS_MEMORY_BYTES", 4 << 20)  # written to disk several times
    result = PandasEngine(batch_lines=60_000).customer_table(path)
    same_result(result, whole)
    window = OutcomeWindow(pd.Timestamp("2010-09-01"))
    with_window = PandasEngine(batch_lines=200_000, threads=1).customer_table(path, window=window)
    pd.testing.assert_frame_equal(with_window.outcome, at_once(lines, window=window).outcome, check_exact=True)


def test_the_store_gives_the_same_pieces_held_in_memory_or_written_to_disk(real_file):
    lines = clean.clean_invoices(load_invoices(real_file).head(60_000)).invoices
    from segmentation.features import line_sums

    sums = [line_sums(lines.iloc[start:start + 7_000]) for start in range(0, len(lines), 7_000)]
    in_memory, on_disk = SumStore(), SumStore(memory_bytes=1, buckets=5)
    for part in sums:
        in_memory.add(part)
        on_disk.add(part)
    assert on_disk.spilled and not in_memory.spilled
    first, second = in_memory.pieces(), on_disk.pieces()
    pd.testing.assert_frame_equal(first.customers.sort_index(), second.customers.sort_index(), check_exact=True)
    pd.testing.assert_series_equal(first.top_item_codes.sort_index(), second.top_item_codes.sort_index())
    pd.testing.assert_series_equal(first.locations.sort_index(), second.locations.sort_index())


def test_a_bad_value_in_a_later_batch_names_its_row_in_the_file(tmp_path):
    rows = [("536001", "85123A", "HEART", 6, "2010-12-01 08:26", 2.55, 12346, "United Kingdom")] * 300
    lines = invoice_lines(rows)
    lines.loc[212, c.UNIT_PRICE] = np.inf
    path = tmp_path / "lines.parquet"
    pq.write_table(pa.Table.from_pandas(lines, preserve_index=False), path, row_group_size=64)
    with pytest.raises(InvoiceDataError, match=r"row\(s\) 213\b"):
        PandasEngine(batch_lines=50).customer_table(path)


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
