"""The Dask engine gives the pandas engine's customer table and ledger, on a two-worker cluster."""

from __future__ import annotations

import pandas as pd
import pytest
from distributed import LocalCluster

from conftest import sample_in_three_layouts
from segmentation import columns as c
from segmentation import config
from segmentation.engines.runners import DaskEngine, DuckDBEngine, OutcomeWindow
from segmentation.errors import InvoiceDataError
from segmentation.reading.load import load_invoices
from segmentation.reading.partitions import input_files
from segmentation.rules.clean import clean_invoices
from segmentation.rules.features import build_customer_features


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as local:
        yield local


@pytest.fixture(scope="module")
def pandas_result():
    cleaning = clean_invoices(load_invoices(config.SAMPLE_PATH))
    return build_customer_features(cleaning.invoices), cleaning.ledger


@pytest.fixture(scope="module")
def sample_in_three_files(tmp_path_factory):
    """The bundled sample cut into three CSV files of one folder (so into several partitions)."""
    folder = tmp_path_factory.mktemp("exports")
    lines = pd.read_csv(config.SAMPLE_PATH, dtype=str, keep_default_na=False)
    for part, chunk in enumerate(range(0, len(lines), 12_000)):
        lines.iloc[chunk : chunk + 12_000].to_csv(folder / f"part_{part}.csv", index=False)
    return folder


def test_dask_engine_matches_pandas_on_a_folder_of_csv(cluster, pandas_result, sample_in_three_files):
    engine = DaskEngine(scheduler=cluster.scheduler_address, progress=False)
    result = engine.customer_table(sample_in_three_files)
    customers, ledger = pandas_result
    pd.testing.assert_frame_equal(result.customers, customers)
    pd.testing.assert_frame_equal(result.ledger, ledger)


def test_dask_engine_matches_pandas_on_parquet_with_gross_spend(cluster, tmp_path):
    path = tmp_path / "sample.parquet"
    load_invoices(config.SAMPLE_PATH).astype({name: "str" for name in c.TEXT_COLUMNS}).to_parquet(
        path, row_group_size=10_000
    )
    engine = DaskEngine(scheduler=cluster.scheduler_address, progress=False)
    result = engine.customer_table(path, spend="gross", snapshot_date="2012-01-01")
    expected = build_customer_features(
        clean_invoices(load_invoices(config.SAMPLE_PATH)).invoices, spend="gross", snapshot_date="2012-01-01"
    )
    pd.testing.assert_frame_equal(result.customers, expected)


def test_dask_engine_matches_pandas_on_exports_laid_out_three_ways(cluster, pandas_result, tmp_path):
    folder = sample_in_three_layouts(tmp_path)
    result = DaskEngine(scheduler=cluster.scheduler_address, progress=False).customer_table(folder)
    customers, ledger = pandas_result
    pd.testing.assert_frame_equal(result.customers, customers)
    pd.testing.assert_frame_equal(result.ledger, ledger)


def test_inputs_are_a_file_a_glob_or_a_folder(sample_in_three_files):
    files = input_files(sample_in_three_files)
    assert [f.name for f in files] == ["part_0.csv", "part_1.csv", "part_2.csv"]
    assert input_files(sample_in_three_files / "part_*.csv") == files
    assert input_files(files[0]) == files[:1]
    with pytest.raises(InvoiceDataError, match="no CSV or Parquet file found"):
        input_files(sample_in_three_files / "*.xlsx")


def test_cli_dask_engine_writes_the_same_files_as_pandas(tmp_path):
    from segmentation.__main__ import main

    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path / "pandas")]) == 0
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path / "dask"), "--engine", "dask",
                 "--worker-memory", "1GiB"]) == 0
    for name in ("customers.csv", "ledger.csv", "clusters.csv", "customer_segments.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "pandas" / name).read_bytes(), name


def test_scheduler_without_dask_engine_is_refused(tmp_path, capsys):
    from segmentation.__main__ import main

    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path), "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    assert "--scheduler needs --engine dask" in capsys.readouterr().err


@pytest.mark.real_data
def test_dask_engine_matches_pandas_on_the_real_file(cluster):
    result = DaskEngine(scheduler=cluster.scheduler_address, progress=False).customer_table(config.REAL_DATA_PATH)
    expected = DuckDBEngine().customer_table(config.REAL_DATA_PATH)
    pd.testing.assert_frame_equal(result.customers, expected.customers)
    pd.testing.assert_frame_equal(result.ledger, expected.ledger)
    assert (result.returns_matched, result.returns_unmatched, result.return_only_customers) == (
        expected.returns_matched, expected.returns_unmatched, expected.return_only_customers)


def test_dask_engine_matches_pandas_with_an_outcome_window(cluster, sample_in_three_files):
    window = OutcomeWindow(pd.Timestamp("2011-08-01"), horizon_days=60)
    result = DaskEngine(scheduler=cluster.scheduler_address, progress=False).customer_table(
        sample_in_three_files, window=window)
    expected = DuckDBEngine().customer_table(config.SAMPLE_PATH, window=window)
    pd.testing.assert_frame_equal(result.customers, expected.customers)
    pd.testing.assert_frame_equal(result.outcome, expected.outcome)
    pd.testing.assert_frame_equal(result.previous, expected.previous)  # the naive forecast's period
