"""The Spark engine gives the DuckDB engine's ledger and customer table, on Spark in local mode (Java 17).

Most tests share one Spark application (``spark``, two local threads), as a
notebook's ``spark`` would be shared; the command-line tests start their own,
as a user's run does.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import sample_in_three_layouts
from segmentation import columns as c
from segmentation import config
from segmentation.__main__ import main
from segmentation.engines import spark_engine
from segmentation.engines.runners import DuckDBEngine, OutcomeWindow, SparkEngine
from segmentation.errors import InvoiceDataError
from segmentation.rules import rulebook
from test_engines import assert_engine_matches_duckdb, tables

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
    reason="the Spark engine needs Java 17 or newer (Debian: apt install openjdk-17-jre-headless)",
)

# Fewer examples than the Dask engine's: each runs about twenty Spark jobs.
SPARK_SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 10)),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """One local Spark application for the module, started by the package's own :func:`spark_engine.session`."""
    handler = signal.getsignal(signal.SIGINT)
    with spark_engine.session("local[2]", tmp_path_factory.mktemp("spark")) as session:
        assert signal.getsignal(signal.SIGINT) is handler  # this process's Ctrl-C handler is kept
        yield session


def assert_same_tables(result, expected, *, window: bool = False) -> None:
    pd.testing.assert_frame_equal(result.ledger, expected.ledger)
    pd.testing.assert_frame_equal(result.customers, expected.customers)
    assert (result.returns_matched, result.returns_unmatched, result.return_only_customers) == (
        expected.returns_matched, expected.returns_unmatched, expected.return_only_customers)
    assert (result.first_date, result.last_date) == (expected.first_date, expected.last_date)
    if window:
        pd.testing.assert_frame_equal(result.outcome, expected.outcome)
        pd.testing.assert_frame_equal(result.previous, expected.previous)


def test_to_spark_writes_duckdb_s_own_words_in_spark_s():
    statement = ("SELECT round_even(x / 1e6, 2) AS a, CAST(d AS TIMESTAMP_NS) AS t, sum(q * p) AS s, q // 7 AS w "
                 "FROM t ORDER BY a")
    assert spark_engine.to_spark(statement) == (
        "SELECT BROUND(x / 1e6, 2) AS a, CAST(d AS TIMESTAMP_NTZ) AS t, SUM(CAST(q * p AS DECIMAL(38, 0))) AS s, "
        "q DIV 7 AS w FROM t ORDER BY a NULLS LAST"  # DuckDB puts missing values last, Spark first
    )


@SPARK_SETTINGS
@given(tables, st.integers(min_value=1, max_value=3), st.sampled_from(["net", "gross"]))
def test_duckdb_and_spark_engines_give_the_same_ledger_and_customers(spark, rows, n_files, spend):
    assert_engine_matches_duckdb(SparkEngine(session=spark), rows, n_files, spend)


def test_spark_matches_duckdb_on_the_real_year_with_an_outcome_window(spark):
    window = OutcomeWindow(pd.Timestamp("2010-09-01"), horizon_days=90)
    result = SparkEngine(session=spark).customer_table(config.REAL_DATA_PATH, window=window)
    expected = DuckDBEngine().customer_table(config.REAL_DATA_PATH, window=window)
    assert len(expected.customers) > 3000 and len(expected.outcome) > 1000
    assert_same_tables(result, expected, window=True)


def test_the_caller_s_session_keeps_its_settings(spark):
    before = {name: spark.conf.get(name) for name in ("spark.sql.shuffle.partitions", "spark.sql.ansi.enabled")}
    SparkEngine(session=spark).customer_table(config.SAMPLE_PATH)
    assert {name: spark.conf.get(name) for name in before} == before
    assert not spark.catalog.tableExists("lines")


def test_a_semicolon_gzip_export_in_windows_1252_with_decimal_commas_and_a_quoted_line_break(spark, tmp_path):
    text = (
        "Invoice;StockCode;Description;Quantity;InvoiceDate;Price;Customer ID;Country\n"
        '489434;85048;"CAFÉ LIGHTS\nSET OF 2";24;2009-12-01 07:45:00;6,95;13085;United Kingdom\n'
        "489434;79323P;PINK CHERRY LIGHTS;12;2009-12-01 07:45:00;6,75;13085;United Kingdom\n"
        "489435;22350;CAT BOWL;12;2009-12-01 07:46:00;2,10;13086;France\n"
        "489435;22350;CAT BOWL;12;2009-12-01 07:46:00;2,10;13086;France\n"
        '489435;22351;"";30;2009-12-01 07:46:00;0,10;13086;France\n'
        "C489436;22350;CAT BOWL;-2;2009-12-02 09:00:00;2,10;13086;France\n"
    )
    path = tmp_path / "export.csv.gz"
    path.write_bytes(gzip.compress(text.encode("cp1252")))
    result = SparkEngine(session=spark).customer_table(path)
    expected = DuckDBEngine().customer_table(path)
    assert expected.customers.loc[13085, c.TOTAL_BILL_SIZE] == pytest.approx(24 * 6.95 + 12 * 6.75)
    assert expected.customers.loc[13085, c.TOP_ITEM] == "CAFÉ LIGHTS\nSET OF 2"
    assert_same_tables(result, expected)


def test_the_money_rule_rounds_half_micro_pounds_to_even_in_spark_as_in_duckdb(spark):
    lines = pd.DataFrame({c.QUANTITY: [-1, 1, 1, 1, 1, 3, 3, 7],
                          c.UNIT_PRICE: [1.25e-5, 5e-7, 1.5e-6, 2.5e-6, 1.25e-5, 5e-7, 1.25e-5, 2.55]})
    query = f"SELECT {rulebook.LINE_MICROS} AS micros FROM lines ORDER BY Quantity, UnitPrice"
    # -12.5, 0.5, 1.5, 2.5, 12.5, 1.5, 37.5 and 17850000.000000002 micro-pounds, halves to the even neighbour
    expected = [-12, 0, 2, 2, 12, 2, 38, 17_850_000]
    assert [micros for (micros,) in duckdb.sql(query).fetchall()] == expected
    rules = spark_engine.rules_session(spark)
    rules.createDataFrame(list(lines.itertuples(index=False)), "Quantity bigint, UnitPrice double"
                          ).createOrReplaceTempView("lines")
    assert [row.micros for row in rules.sql(spark_engine.to_spark(query)).collect()] == expected


def test_a_folder_of_exports_laid_out_three_ways_gives_the_sample_s_table(spark, tmp_path):
    folder = sample_in_three_layouts(tmp_path)
    assert_same_tables(SparkEngine(session=spark).customer_table(folder),
                       DuckDBEngine().customer_table(config.SAMPLE_PATH))


def test_month_first_dates_need_date_format_and_then_match(spark, tmp_path):
    lines = pd.read_csv(config.SAMPLE_PATH, dtype=str, keep_default_na=False).iloc[:2000]
    lines[c.INVOICE_DATE] = pd.to_datetime(lines[c.INVOICE_DATE]).dt.strftime("%m/%d/%Y %H:%M")
    path = tmp_path / "us.csv"
    lines.to_csv(path, index=False)
    engine = SparkEngine(session=spark)
    with pytest.raises(InvoiceDataError, match=r"column InvoiceDate .* --date-format '%m/%d/%Y %H:%M' .*partition"):
        engine.customer_table(path)
    assert_same_tables(engine.customer_table(path, date_format="%m/%d/%Y %H:%M"),
                       DuckDBEngine().customer_table(path))


def test_a_bad_value_in_one_part_is_the_loader_s_message(spark, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    lines = pd.read_csv(config.SAMPLE_PATH, dtype=str, keep_default_na=False).iloc[:300]
    lines.iloc[:150].to_csv(folder / "a.csv", index=False)
    bad = lines.iloc[150:].copy()
    bad.iloc[7, bad.columns.get_loc("Quantity")] = "twelve"
    bad.to_csv(folder / "b.csv", index=False)
    with pytest.raises(InvoiceDataError) as caught:
        SparkEngine(session=spark).customer_table(folder)
    message = str(caught.value)
    assert "Quantity" in message and "'twelve'" in message and "run without --engine spark" in message
    assert "\n" not in message and "Traceback" not in message


def test_title_rows_above_the_header_and_zip_files_are_refused(spark, tmp_path):
    titled = tmp_path / "titled.csv"
    titled.write_text("Sales export\n\n" + config.SAMPLE_PATH.read_text(encoding="utf-8")[:5000].rsplit("\n", 1)[0])
    with pytest.raises(InvoiceDataError, match="header is on line 3.*delete the title rows"):
        SparkEngine(session=spark).customer_table(titled)
    zipped = tmp_path / "lines.zip"
    shutil.make_archive(str(zipped.with_suffix("")), "zip", config.SAMPLE_PATH.parent, config.SAMPLE_PATH.name)
    with pytest.raises(InvoiceDataError, match="not zip files; decompress it"):
        SparkEngine(session=spark).customer_table(zipped)


@pytest.mark.parametrize("master", ["local[x]", "local[0]", "mesos://host:5050", "spark://", "spark://host",
                                    "spark://host:99999", "10.0.0.5:7077"])
def test_a_master_that_is_not_a_spark_master_url_is_refused(master):
    with pytest.raises(InvoiceDataError, match=r"is not a Spark master URL; give local\[\*\]"):
        SparkEngine(master=master)


def test_a_standalone_master_that_does_not_answer_is_refused_at_once():
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(InvoiceDataError, match=rf"cannot connect to spark://127.0.0.1:{port} \(connection refused\)"):
        SparkEngine(master=f"spark://127.0.0.1:{port}", master_timeout=2)


def test_cli_spark_engine_writes_the_same_files_as_duckdb_on_the_real_year(tmp_path):
    assert main([str(config.REAL_DATA_PATH), "--out", str(tmp_path / "duckdb")]) == 0
    # a process of its own, as a user's run: this one already runs Spark (the module's application)
    spark_run = subprocess.run([sys.executable, "-m", "segmentation", str(config.REAL_DATA_PATH), "--out",
                                str(tmp_path / "spark"), "--engine", "spark"], capture_output=True, text=True,
                               check=False, timeout=600)
    assert spark_run.returncode == 0, spark_run.stderr
    assert spark_run.stderr == ""  # nothing of Spark's log on the terminal
    written = sorted(path.name for path in (tmp_path / "duckdb").iterdir())
    assert written == sorted(path.name for path in (tmp_path / "spark").iterdir())
    for name in written:
        if name != "run.json":  # which records the engine
            assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "duckdb" / name).read_bytes(), name


def test_a_running_spark_is_used_on_its_master_and_left_running(spark):
    expected = DuckDBEngine().customer_table(config.SAMPLE_PATH)
    assert_same_tables(SparkEngine(master="local[2]").customer_table(config.SAMPLE_PATH), expected)
    assert spark.range(3).count() == 3  # still running
    with pytest.raises(InvoiceDataError, match=r"already runs Spark on local\[2\], not local\[\*\].*session=spark"):
        SparkEngine().customer_table(config.SAMPLE_PATH)
    assert spark.range(3).count() == 3


def test_spark_master_without_spark_engine_is_refused(tmp_path, capsys):
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path / "out"), "--spark-master", "local[2]"]) == 2
    assert capsys.readouterr().err.strip() == "error: --spark-master needs --engine spark"
    assert not (tmp_path / "out").exists()


def test_spark_engine_without_pyspark_names_the_requirements(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # None: as if not installed
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path / "out"), "--engine", "spark"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --engine spark needs PySpark and SQLGlot: .venv/bin/pip install -r requirements-spark.txt"
    )


def test_a_spark_that_cannot_start_is_one_line(tmp_path):
    missing = tmp_path / "no-java"
    result = subprocess.run(
        [sys.executable, "-m", "segmentation", str(config.SAMPLE_PATH), "--out", str(tmp_path / "out"),
         "--engine", "spark"],
        capture_output=True, text=True, check=False, timeout=120, env={**os.environ, "JAVA_HOME": str(missing)},
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --engine spark: Spark did not start on local[*] (")
    assert line.endswith("Spark needs Java 17 or newer (java on PATH, or JAVA_HOME), and a master that accepts "
                         "this application.")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("address", ["s3a://bucket/exports/*.parquet", "hdfs:///exports/2011"])
def test_an_object_store_address_is_refused_with_what_to_do(spark, address):
    with pytest.raises(InvoiceDataError, match=r"(s3a|hdfs):// addresses are not read; .* mount it, or copy the files"):
        SparkEngine(session=spark).customer_table(address)


@pytest.mark.parametrize(("sign", "then"), [("spark.log", 1), ("blockmgr-*", 7)], ids=["starting", "at-work"])
def test_ctrl_c_during_a_spark_run_is_one_line_and_leaves_nothing_behind(tmp_path, sign, then):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "segmentation", str(config.REAL_DATA_PATH), "--out", str(out), "--engine", "spark"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(scratch)},
    )
    # the engine's scratch folder holds Spark's log as Spark starts, its block manager's folder once it runs
    deadline = time.monotonic() + 120
    while not list(scratch.glob(f"segmentation-spark-*/{sign}")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(then)
    assert process.poll() is None, "the run ended before Ctrl-C"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr == f"interrupted; {out} is unchanged\n"
    assert "Traceback" not in stdout and "KeyboardInterrupt" not in stdout, stdout
    assert not out.exists() and not list(scratch.iterdir())  # no Spark scratch folder left
