"""The headless main job, end to end, on the bundled sample and on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from segmentation import columns as c
from segmentation import config
from segmentation.__main__ import main
from segmentation.analysis.rfm import load_segment_map
from segmentation.presentation import plots

OUTPUTS = ("customers.csv", "ledger.csv", "clusters.csv", "customer_segments.csv", *plots.FIGURE_FILES)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "segmentation", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("sample_out")
    return run_cli(str(config.SAMPLE_PATH), "--out", str(out)), out


def test_sample_run_succeeds_and_writes_the_tables_and_figures(sample_run):
    result, out = sample_run
    assert result.returncode == 0, result.stderr
    assert all((out / name).is_file() for name in OUTPUTS)
    assert "lines read" in result.stdout and "High spend" in result.stdout


def test_customers_csv_has_every_feature_cluster_and_segment(sample_run):
    _, out = sample_run
    customers = pd.read_csv(out / "customers.csv")
    assert list(customers.columns) == [c.CUSTOMER_ID, *c.FEATURES, c.CLUSTER, c.SEGMENT]
    assert customers[c.CUSTOMER_ID].is_unique
    clustered = customers.dropna(subset=[c.CLUSTER])
    assert set(clustered[c.CLUSTER].astype(int)) == {0, 1, 2}
    assert (customers.loc[customers[c.CLUSTER].isna(), c.TOTAL_BILL_SIZE] <= 0).all()
    # clusters are ordered by spend: every Low spend customer spends less than any Mid spend one
    by_cluster = clustered.groupby(c.CLUSTER)[c.TOTAL_BILL_SIZE]
    assert (by_cluster.max().iloc[:-1].to_numpy() < by_cluster.min().iloc[1:].to_numpy()).all()


def test_ledger_csv_balances(sample_run):
    _, out = sample_run
    ledger = pd.read_csv(out / "ledger.csv", index_col=c.LEDGER_STEP)
    removed = ledger.drop(index=["input", "kept"])[c.LEDGER_ROWS].sum()
    assert ledger.loc["input", c.LEDGER_ROWS] == ledger.loc["kept", c.LEDGER_ROWS] + removed
    assert ledger.loc["input", c.LEDGER_ROWS] == len(pd.read_csv(config.SAMPLE_PATH))


def test_clusters_csv_counts_every_clustered_customer(sample_run):
    _, out = sample_run
    clusters = pd.read_csv(out / "clusters.csv", index_col=c.CLUSTER)
    customers = pd.read_csv(out / "customers.csv")
    assert clusters["customers"].sum() == customers[c.CLUSTER].notna().sum()
    assert list(clusters[c.SEGMENT]) == ["Low spend", "Mid spend", "High spend"]


def test_two_runs_write_identical_bytes(sample_run, tmp_path):
    _, first = sample_run
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path)]) == 0
    for name in OUTPUTS:
        assert (tmp_path / name).read_bytes() == (first / name).read_bytes(), name


def test_bad_input_gives_one_line_exit_2_and_no_traceback(tmp_path):
    bad = tmp_path / "export.csv"
    bad.write_text("InvoiceNo,StockCode,Quantity\n1,85123A,6\n", encoding="utf-8")
    result = run_cli(str(bad), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "export.csv" in lines[0] and "Description" in lines[0] and "UnitPrice" in lines[0]
    assert not (tmp_path / "out").exists()


def test_too_few_customers_for_k_is_exit_2(tmp_path):
    path = tmp_path / "two_customers.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,85123A,HEART,6,2010-12-01 08:26:00,2.55,100,United Kingdom\n"
        "2,85123A,HEART,2,2010-12-02 08:26:00,2.55,200,United Kingdom\n",
        encoding="utf-8",
    )
    result = run_cli(str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "only 2 customer(s)" in result.stderr and "--k" in result.stderr


def test_default_output_folder_is_named_after_the_input():
    assert config.output_dir_for(Path("x/Online Retail.xlsx")) == config.PROCESSED_DIR / "Online Retail"
    assert config.output_dir_for(Path("retail_II.csv.gz")) == config.PROCESSED_DIR / "retail_II"


def test_rfm_log_auto_prints_the_chosen_k_and_the_elbow_and_names_segments(tmp_path):
    result = run_cli(str(config.SAMPLE_PATH), "--out", str(tmp_path), "--features", "rfm", "--log", "--k", "auto")
    assert result.returncode == 0, result.stderr
    assert "the best silhouette" in result.stdout and "elbow (kneed)" in result.stdout
    clusters = pd.read_csv(tmp_path / "clusters.csv", index_col=c.CLUSTER)
    assert clusters[c.SEGMENT].is_unique and set(clusters[c.SEGMENT]) <= set(load_segment_map().names)
    assert (tmp_path / plots.K_DIAGNOSTICS).is_file() and (tmp_path / plots.SEGMENT_PROFILES).is_file()


def test_log_spend_with_a_fixed_k_splits_the_sample_evenly(tmp_path):
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path), "--log", "--k", "3"]) == 0
    clusters = pd.read_csv(tmp_path / "clusters.csv", index_col=c.CLUSTER)
    assert clusters["customers"].min() > 40  # raw spend leaves one customer in each of two clusters
    assert list(clusters[c.SEGMENT]) == ["Low spend", "Mid spend", "High spend"]


@pytest.mark.parametrize("k", ["0", "three"])
def test_bad_k_is_a_usage_error(tmp_path, k):
    result = run_cli(str(config.SAMPLE_PATH), "--out", str(tmp_path), "--k", k)
    assert result.returncode == 2
    assert "--k" in result.stderr and "Traceback" not in result.stderr


def test_large_inputs_report_each_stage_with_its_time(tmp_path, monkeypatch, caplog):
    from segmentation.analysis import pipeline
    from segmentation.engines import runners

    monkeypatch.setattr(runners, "LARGE_INPUT_BYTES", 0)
    with caplog.at_level("INFO", logger=runners.__name__):
        pipeline.segment_file(config.SAMPLE_PATH)
    stages = [record.getMessage().split()[0] for record in caplog.records if record.name == runners.__name__]
    assert stages == ["lines", "customers"]


def test_dask_engine_without_dask_installed_is_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "distributed" else real_find_spec(name, *args))
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path), "--engine", "dask"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --engine dask needs Dask: .venv/bin/pip install -r requirements-dask.txt\n"
    assert not any(tmp_path.iterdir())


def test_customer_segments_csv_holds_every_customer_every_segmentation_and_why_not_clustered(tmp_path):
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path)]) == 0
    customers = pd.read_csv(tmp_path / "customers.csv", index_col=c.CUSTOMER_ID)
    segments = pd.read_csv(tmp_path / "customer_segments.csv", index_col=c.CUSTOMER_ID,
                           keep_default_na=False, na_values=[""])
    assert list(segments.columns) == list(c.SEGMENT_EXPORT_COLUMNS)
    assert sorted(segments.index) == sorted(customers.index)
    unclustered = segments[c.KMEANS_RFM_CLUSTER].isna()
    assert (segments[c.NOT_CLUSTERED_REASON].notna() == unclustered).all()
    assert (segments.loc[segments[c.FREQUENCY] == 0, c.RFM_SEGMENT].isna()).all()
    names = load_segment_map().names
    # rows in the map's order of rule segments, customers with none last
    ranks = segments[c.RFM_SEGMENT].map({name: rank for rank, name in enumerate(names)}).fillna(len(names))
    assert ranks.is_monotonic_increasing
    per_cluster = segments.dropna(subset=[c.KMEANS_RFM_CLUSTER]).groupby(c.KMEANS_RFM_CLUSTER)[c.KMEANS_RFM_SEGMENT]
    assert (per_cluster.nunique() == 1).all() and per_cluster.first().is_unique
    assert set(per_cluster.first()) <= set(names)  # names from the map: no numbers, no duplicates


def test_as_of_writes_validation_and_a_rerun_without_it_removes_it(tmp_path):
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path), "--as-of", "2011-09-01",
                 "--horizon-days", "60"]) == 0
    validation = pd.read_csv(tmp_path / "validation.csv", index_col=[c.SEGMENTATION, c.SEGMENT])
    assert list(validation.columns) == list(c.VALIDATION_COLUMNS)
    first = pd.read_csv(tmp_path / "customers.csv", parse_dates=[c.LAST_PURCHASE])
    assert (first[c.LAST_PURCHASE].dropna() < pd.Timestamp("2011-09-01")).all()
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path)]) == 0
    assert not (tmp_path / "validation.csv").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--as-of", "2011-13-01"], "YYYY-MM-DD"),
    (["--as-of", "2011-09-01", "--horizon-days", "0"], "at least 1 day"),
    (["--horizon-days", "30", "--no-forecast"], "--horizon-days needs --as-of or the forecast"),
    (["--as-of", "2011-12-01"], "after the data's last day"),
    (["--as-of", "2001-01-01"], "not after the first purchase line"),
])
def test_bad_validation_options_are_one_line_errors(tmp_path, args, message):
    result = run_cli(str(config.SAMPLE_PATH), "--out", str(tmp_path), *args)
    assert result.returncode == 2
    assert message in result.stderr.strip().splitlines()[-1]  # argparse puts its usage above
    assert "Traceback" not in result.stderr


def test_a_bad_segment_map_is_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "map.toml"
    bad.write_text('[[segment]]\nname = "All"\nr = [1, 2, 3, 4, 5]\nfm = [1, 2, 3, 4]\n', encoding="utf-8")
    result = run_cli(str(config.SAMPLE_PATH), "--out", str(tmp_path / "out"), "--segment-map", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr and "FM=5" in result.stderr.replace(" ", "")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_of_four_customers_scans_only_the_k_they_allow(tmp_path):
    path = tmp_path / "four.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        + "".join(f"{n},85123A,HEART,{q},2010-12-0{n} 08:26:00,2.55,{n}00,United Kingdom\n"
                  for n, q in [(1, 6), (2, 2), (3, 9), (4, 1)]),
        encoding="utf-8",
    )
    result = run_cli(str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "k = 2 … 3" in result.stdout


def test_too_few_customers_to_choose_the_rfm_k_is_one_line(tmp_path):
    path = tmp_path / "three.csv"
    path.write_text(  # three spenders, but customer 300 bought postage alone: two can be clustered on RFM
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,85123A,HEART,6,2010-12-01 08:26:00,2.55,100,United Kingdom\n"
        "2,85123A,HEART,2,2010-12-02 08:26:00,2.55,200,United Kingdom\n"
        "3,POST,POSTAGE,1,2010-12-03 08:26:00,18.00,300,United Kingdom\n",
        encoding="utf-8",
    )
    result = run_cli(str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: only 2 customer(s) can be clustered on Recency_Days")
    assert "--rfm-k" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert run_cli(str(path), "--out", str(tmp_path / "out"), "--rfm-k", "1").returncode == 0


def test_help_names_the_columns_a_file_needs_and_what_a_run_writes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for name in (*c.INVOICE_COLUMNS, *c.ONLINE_RETAIL_II_NAMES.values(), "customer_segments.csv",
                 "contact_list.csv", "slipping_away.csv", "model.json", "forecast_check.csv"):
        assert name in text, name
    for group in ("what you set most", "segments", "the forecast", "reading the file", "large files and clusters"):
        assert f"{group}" in text
