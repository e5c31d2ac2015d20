"""The engines are interchangeable: on small messy invoice files they give the same ledger and customers.

Each example writes one CSV for the pandas engine and the same lines cut into
one to three CSV files of a folder for the Dask engine (so into several
partitions), on one two-worker cluster shared by all examples.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from distributed import LocalCluster
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from segmentation import columns as c
from segmentation.engines.runners import DaskEngine, DuckDBEngine
from segmentation.errors import InvoiceDataError
from segmentation.rules import rulebook

# Same convention as test_properties.py: fixed examples; PROPERTY_EXAMPLES=1000 searches wider.
# Fewer by default here, as each example runs a Dask graph.
ENGINE_SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 25)),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Cancellation prefixes in either case, padded with spaces (" c536001", "C536002 ").
invoice_numbers = st.builds(
    lambda pad, prefix, number, tail: f"{pad}{prefix}{number}{tail}",
    st.sampled_from(["", " "]),
    st.sampled_from(["", "", "", "c", "C", "A"]),
    st.sampled_from(["536001", "536002", "536003"]),
    st.sampled_from(["", " "]),
)
line = st.tuples(
    invoice_numbers,
    st.sampled_from(["85123A", "22423", "22111", "POST"]),  # few products: ties in the top item
    st.sampled_from(["HEART", "CAKESTAND", "heart", None]),
    st.integers(min_value=-6, max_value=12),  # zero, returns, purchases
    # a return may come before the purchase it returns
    st.sampled_from(["2010-12-01 08:26:00", "2010-12-02 00:01:00", "2011-01-15 10:00:00"]),
    st.sampled_from([0.29, 1.25, 2.55, 18.0, 0.29, 2.55, 0.0, -11.5]),  # zero and negative prices too
    st.sampled_from([12346, 12347, 12348, None]),
    st.sampled_from(["United Kingdom", "France", "EIRE"]),  # few countries: ties in the location
)
# Some lines repeated exactly (the duplicate rule); the copies may land in another file.
tables = st.lists(line, min_size=8, max_size=30).flatmap(
    lambda rows: st.lists(st.sampled_from(rows), max_size=6).map(lambda copies: rows + copies)
)


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as local:
        yield local


def write_files(rows: list[tuple], folder: Path, n_files: int) -> tuple[Path, Path]:
    """The lines as one CSV file, and cut into ``n_files`` CSV files of a folder."""
    lines = pd.DataFrame(rows, columns=list(c.INVOICE_COLUMNS)).astype({c.CUSTOMER_ID: "Int64"})
    whole = folder / "lines.csv"
    lines.to_csv(whole, index=False)
    parts = folder / "parts"
    parts.mkdir()
    size = -(-len(lines) // n_files)
    for start in range(0, len(lines), size):
        lines.iloc[start : start + size].to_csv(parts / f"part_{start:03d}.csv", index=False)
    return whole, parts


@ENGINE_SETTINGS
@given(tables, st.integers(min_value=1, max_value=3), st.sampled_from(["net", "gross"]))
def test_pandas_and_dask_engines_give_the_same_ledger_and_customers(cluster, rows, n_files, spend):
    assert_engine_matches_duckdb(DaskEngine(scheduler=cluster.scheduler_address, progress=False), rows, n_files,
                                 spend)


def assert_engine_matches_duckdb(engine, rows: list[tuple], n_files: int, spend: str) -> None:
    """``engine`` on the lines cut into ``n_files`` files of a folder gives the DuckDB engine's ledger and
    customers on the lines as one file, or both refuse."""
    with tempfile.TemporaryDirectory() as scratch:
        whole, parts = write_files(rows, Path(scratch), n_files)
        try:
            expected = DuckDBEngine().customer_table(whole, spend=spend)
        except InvoiceDataError as error:  # nothing bought: both engines refuse
            event("no purchase left: both engines refuse")
            assert "no purchase lines" in str(error)
            with pytest.raises(InvoiceDataError, match="no purchase lines"):
                engine.customer_table(parts, spend=spend)
            return
        result = engine.customer_table(parts, spend=spend)
    event(f"customers compared: {'1' if len(expected.customers) == 1 else 'several'}")
    pd.testing.assert_frame_equal(result.ledger, expected.ledger)
    pd.testing.assert_frame_equal(result.customers, expected.customers)
    assert result.returns_matched == pytest.approx(expected.returns_matched, abs=1e-6)
    assert result.returns_unmatched == pytest.approx(expected.returns_unmatched, abs=1e-6)
    assert result.return_only_customers == expected.return_only_customers


def test_duckdb_draws_no_progress_bar_on_standard_output():
    """DuckDB's own bar (on by default, for statements over two seconds) writes to standard output even
    when it is a file, where the run's summary goes."""
    with rulebook.connection(threads=1) as db:
        assert db.execute("SELECT current_setting('enable_progress_bar')").fetchall() == [(False,)]
