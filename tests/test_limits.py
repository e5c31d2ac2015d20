"""Limits of the Dask engine and of clustering: each gives one line on stderr and exit code 2, never a hang."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest
from distributed import LocalCluster

from segmentation import config
from segmentation.__main__ import main
from segmentation.engines.runners import DaskEngine
from segmentation.errors import InvoiceDataError

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def _one_error_line(capfd) -> str:
    """The run's stderr, which must be exactly one line starting ``error: ``."""
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def _listening(reply: bytes | None) -> str:
    """The address of a TCP server on 127.0.0.1 that accepts and sends ``reply`` (None: says nothing)."""
    server = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve() -> None:
        while True:
            conn, _ = server.accept()
            held.append(conn)  # kept open: the client must give up by itself
            if reply is not None:
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return f"tcp://127.0.0.1:{server.getsockname()[1]}"


def _http_server() -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.RequestHandlerClass.log_message = lambda *args: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"tcp://127.0.0.1:{server.server_address[1]}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "invoices.csv"
    path.write_text(HEADER + "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n")
    return path


# --- the scheduler's address and connection ---------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("refused", "cannot connect to tcp://127.0.0.1:"),
        ("silent", "accepts connections but does not answer as a Dask scheduler within 1 s"),
        ("garbage", "accepts connections but does not answer as a Dask scheduler within 1 s"),
        ("http", "accepts connections but does not answer as a Dask scheduler within 1 s"),
    ],
)
def test_a_scheduler_that_is_not_there_or_not_dask_is_one_line_within_the_timeout(kind, expected, sample, tmp_path,
                                                                                   capfd):
    address = {
        "refused": lambda: f"tcp://127.0.0.1:{_free_port()}",
        "silent": lambda: _listening(None),
        "garbage": lambda: _listening(b"220 mail.example.com ESMTP ready\r\n" * 20),
        "http": _http_server,
    }[kind]()
    started = time.perf_counter()
    assert main([str(sample), "--out", str(tmp_path / "out"), "--engine", "dask", "--scheduler", address,
                 "--scheduler-timeout", "1"]) == 2
    assert time.perf_counter() - started < 10
    err = _one_error_line(capfd)
    assert err.startswith("error: --scheduler: ") and expected in err and address in err, err
    assert not (tmp_path / "out").exists()


def test_an_unroutable_scheduler_is_one_line_within_the_timeout(sample, tmp_path, capfd):
    started = time.perf_counter()
    assert main([str(sample), "--out", str(tmp_path / "out"), "--engine", "dask",
                 "--scheduler", "tcp://10.255.255.1:8786", "--scheduler-timeout", "1"]) == 2
    assert time.perf_counter() - started < 10
    # a network that drops the packets times out; one that intercepts them accepts, and no scheduler answers
    assert _one_error_line(capfd).startswith("error: --scheduler: ")


def test_the_scheduler_timeout_has_a_default_and_must_be_positive(capsys):
    assert DaskEngine(scheduler="tcp://127.0.0.1:8786").scheduler_timeout == config.DASK_SCHEDULER_TIMEOUT
    with pytest.raises(InvoiceDataError, match="scheduler-timeout"):
        DaskEngine(scheduler="tcp://127.0.0.1:8786", scheduler_timeout=0)
    with pytest.raises(SystemExit) as exit_:
        main(["invoices.csv", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:8786", "--scheduler-timeout", "-1"])
    assert exit_.value.code == 2
    assert "--scheduler-timeout: the timeout must be a number of seconds above 0" in capsys.readouterr().err


def test_a_scheduler_timeout_without_a_scheduler_is_refused(sample, tmp_path, capsys):
    assert main([str(sample), "--out", str(tmp_path), "--engine", "dask", "--scheduler-timeout", "3"]) == 2
    assert capsys.readouterr().err == "error: --scheduler-timeout needs --scheduler\n"


@pytest.mark.parametrize("address", ["foo bar", "tcp://", "tcp://host", "tcp://host:99999", "http//host:8786",
                                     "tcp://ho st:8786"])
def test_a_scheduler_address_that_is_not_one_is_refused_before_any_work(address, tmp_path, capsys):
    # the input does not exist: the option is checked first
    assert main([str(tmp_path / "missing.csv"), "--out", str(tmp_path / "out"), "--engine", "dask",
                 "--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: --scheduler: {address!r} is not a Dask scheduler address; give one as "
                   "tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786 (scheduler= in Python).\n")


@pytest.mark.parametrize("address", ["tcp://10.0.0.5:8786", "tls://scheduler.internal:8786", "10.0.0.5:8786",
                                     "tcp://[::1]:8786"])
def test_scheduler_addresses_dask_takes_are_accepted(address):
    assert DaskEngine(scheduler=address).scheduler == address


# --- worker memory ----------------------------------------------------------------


@pytest.mark.parametrize(("memory", "expected"), [
    ("abc", "'abc' is not a size; give one such as 4GiB or 512MiB"),
    ("", "'' is not a size"),
    ("4 parsecs", "'4 parsecs' is not a size"),
    ("10MiB", "'10MiB' (10.00 MiB) is below the 256MiB a worker needs; give 256MiB or more"),
    ("0", "is below the 256MiB a worker needs"),
])
def test_worker_memory_that_is_not_a_size_or_too_small_is_refused_before_any_work(memory, expected, tmp_path,
                                                                                  capsys):
    assert main([str(tmp_path / "missing.csv"), "--out", str(tmp_path / "out"), "--engine", "dask",
                 "--worker-memory", memory]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --worker-memory: ") and expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_worker_memory_without_the_dask_engine_is_refused(sample, tmp_path, capsys):
    assert main([str(sample), "--out", str(tmp_path), "--worker-memory", "1GiB"]) == 2
    assert capsys.readouterr().err == "error: --worker-memory needs --engine dask\n"


def test_worker_memory_at_the_minimum_is_accepted():
    assert DaskEngine(worker_memory=config.DASK_MIN_WORKER_MEMORY).worker_memory == config.DASK_MIN_WORKER_MEMORY


# --- bad input found by a worker --------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as local:
        yield local


@pytest.mark.parametrize(("line", "expected"), [
    ("536366,85123A,HEART,6,not a date,2.55,17851,United Kingdom",
     "column InvoiceDate has 1 value(s) that do not match date_format 'ISO8601' ('not a date')"),
    ("536366,85123A,HEART,six,2010-12-01 08:26:00,2.55,17851,United Kingdom",
     "column Quantity has 1 value(s) that are not numbers ('six')"),
])
def test_bad_input_found_by_a_worker_is_the_one_line_alone(line, expected, cluster, sample, tmp_path, capfd):
    path = tmp_path / "bad.csv"
    path.write_text(sample.read_text() + line + "\n")
    capfd.readouterr()
    assert main([str(path), "--out", str(tmp_path / "out"), "--engine", "dask",
                 "--scheduler", cluster.scheduler_address]) == 2
    err = _one_error_line(capfd)
    assert err.startswith(f"error: {path}: {expected}"), err
    assert "rows counted from the start of one partition" in err  # not the file's line numbers: says so


def test_a_local_cluster_worker_that_finds_bad_input_logs_nothing(sample, tmp_path, capfd):
    """Workers of the local cluster run in processes of their own, writing to the same stderr."""
    path = tmp_path / "bad.csv"
    path.write_text(sample.read_text() + "536366,85123A,HEART,6,not a date,2.55,17851,United Kingdom\n")
    capfd.readouterr()
    assert main([str(path), "--out", str(tmp_path / "out"), "--engine", "dask", "--worker-memory", "512MiB"]) == 2
    assert _one_error_line(capfd).startswith(f"error: {path}: column InvoiceDate has 1 value(s)")


# --- clustering limits ------------------------------------------------------------


def _customers_file(tmp_path, n: int):
    """``n`` customers, customer i buying on i + 1 days, each a different amount."""
    lines = [f"5{i}{day}00,85123A,HEART,{3 * (i + 1)},2010-12-0{day + 1} 08:26:00,2.55,{17850 + i},United Kingdom\n"
             for i in range(n) for day in range(i + 1)]
    path = tmp_path / f"customers_{n}.csv"
    path.write_text(HEADER + "".join(lines))
    return path


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize(("options", "option"), [(["--k", "auto"], "--k"), (["--k", "elbow"], "--k"),
                                                 (["--k", "1", "--rfm-k", "auto"], "--rfm-k")])
def test_choosing_k_among_too_few_customers_is_one_line_naming_the_option(n, options, option, tmp_path, capsys):
    assert main([str(_customers_file(tmp_path, n)), "--out", str(tmp_path / "out"), *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: only {n} customer(s) can be clustered on ") and err.count("\n") == 1, err
    assert f"too few to choose k (that needs 3); give a number of clusters (CLI: {option} 1)" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("n", [1, 2])
def test_one_or_two_customers_run_with_one_cluster_of_each_kind(n, tmp_path):
    out = tmp_path / "out"
    assert main([str(_customers_file(tmp_path, n)), "--out", str(out), "--k", "1", "--rfm-k", "1"]) == 0
    segments = (out / "customer_segments.csv").read_text().splitlines()
    assert len(segments) == 1 + n  # the spend clusters beside the others follow the run's --k 1


@pytest.mark.parametrize("options", [["--k", "auto"], ["--k", "elbow"], ["--rfm-k", "auto"]])
def test_choosing_k_among_three_customers_scans_k_2(options, tmp_path):
    assert main([str(_customers_file(tmp_path, 3)), "--out", str(tmp_path / "out"), *options]) == 0


@pytest.mark.parametrize("options", [["--k", "11", "--features", "rfm"], ["--rfm-k", "11"]])
def test_more_rfm_clusters_than_the_map_has_names_is_one_line(options, tmp_path, capsys):
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path / "out"), *options]) == 2
    assert capsys.readouterr().err == (
        "error: 11 RFM clusters, but the segment map names only 10 segments; ask for at most 10 clusters "
        "(CLI: --rfm-k, or --k with --features rfm) or give a map with more segments (--segment-map).\n")
    assert not (tmp_path / "out").exists()


def test_twelve_spend_clusters_draw_every_figure_in_twelve_colours(tmp_path):
    from matplotlib.collections import PathCollection
    from matplotlib.colors import to_hex

    from segmentation.presentation import plots

    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path), "--k", "12"]) == 0
    assert {path.name for path in tmp_path.glob("*.png")} == set(plots.FIGURE_FILES)
    from segmentation.analysis.pipeline import segment_file

    run = segment_file(config.SAMPLE_PATH, k=12)
    figure = plots.plot_customer_segments(run.customers, run.clustering)
    colours = {collection.get_label(): {to_hex(rgba) for rgba in collection.get_facecolors()}
               for ax in figure.axes for collection in ax.collections
               if isinstance(collection, PathCollection) and "(n=" in collection.get_label()}
    by_segment = {label.split(" (n=")[0].split(": ", 1)[1]: found for label, found in colours.items()}
    assert set(by_segment) == set(run.clustering.centroids["Segment"])
    assert all(len(found) == 1 for found in by_segment.values())
    assert len(set().union(*by_segment.values())) == 12


def test_rfm_on_a_file_where_no_customer_has_a_purchase_occasion_is_one_line(tmp_path, capsys):
    path = tmp_path / "postage.csv"
    lines = (f"{i},POST,POSTAGE,1,2010-12-0{i} 08:26:00,{10 + i}.00,{17850 + i},United Kingdom\n" for i in range(1, 5))
    path.write_text(HEADER + "".join(lines))
    assert main([str(path), "--out", str(tmp_path / "out"), "--features", "rfm", "--k", "2", "--rfm-k", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no customer can be clustered on Recency_Days, Frequency, Total_Bill_Size (no "
                          "purchase occasion") and err.count("\n") == 1, err


def test_rfm_clusters_are_named_from_the_users_map(tmp_path):
    user_map = tmp_path / "map.toml"
    user_map.write_text('[[segment]]\nname = "Keep"\nr = [3, 4, 5]\nfm = [1, 2, 3, 4, 5]\n'
                        '[[segment]]\nname = "Win back"\nr = [1, 2]\nfm = [1, 2, 3, 4, 5]\n', encoding="utf-8")
    out = tmp_path / "out"
    assert main([str(config.SAMPLE_PATH), "--out", str(out), "--features", "rfm", "--log", "--k", "2",
                 "--rfm-k", "2", "--segment-map", str(user_map)]) == 0
    clusters = (out / "clusters.csv").read_text()
    assert "Keep" in clusters and "Win back" in clusters


def test_a_damaged_file_further_into_a_folder_is_one_line_under_dask(cluster, sample, tmp_path, capfd):
    import gzip

    folder = tmp_path / "exports"
    folder.mkdir()
    text = sample.read_bytes()
    (folder / "a.csv.gz").write_bytes(gzip.compress(text))
    damaged = gzip.compress(text * 50)
    (folder / "b.csv.gz").write_bytes(damaged[: len(damaged) // 2])  # cut off: found when its layout is read
    capfd.readouterr()
    assert main([str(folder), "--out", str(tmp_path / "out"), "--engine", "dask",
                 "--scheduler", cluster.scheduler_address]) == 2
    err = _one_error_line(capfd)
    assert err.startswith(f"error: {folder}/b.csv.gz: the file is damaged (cut off before its end)"), err
    assert not (tmp_path / "out").exists()


def test_few_distinct_values_cluster_without_a_convergence_warning_or_are_refused():
    """pytest turns warnings into errors: KMeans never sees fewer distinct points than clusters."""
    import pandas as pd

    from segmentation import columns as c
    from segmentation.analysis.cluster import cluster_customers

    index = pd.Index(range(12), dtype="Int64", name=c.CUSTOMER_ID)
    three_kinds = pd.DataFrame({c.RECENCY_DAYS: pd.array([5] * 4 + [50] * 4 + [200] * 4, dtype="Int64"),
                                c.FREQUENCY: [3] * 4 + [1] * 8,
                                c.TOTAL_BILL_SIZE: [100.0] * 4 + [20.0] * 4 + [20.0000001] * 4}, index=index)
    assert cluster_customers(three_kinds, k=3, features=c.RFM_FEATURES, log=True).labels.value_counts().tolist() \
        == [4, 4, 4]
    one_spend = pd.DataFrame({c.TOTAL_BILL_SIZE: [10.0] * 6 + [10.0000001] * 6}, index=index)  # a rounding apart
    with pytest.raises(InvoiceDataError, match="only 1 distinct value"):
        cluster_customers(one_spend, k=2)


@pytest.mark.parametrize("memory", ["abc", "12 parsecs"])
def test_a_memory_limit_duckdb_cannot_read_is_one_line_before_any_work(tmp_path, capfd, memory):
    sample = tmp_path / "sample.csv"
    sample.write_text(HEADER + "536365,85123A,HEART,6,2010-12-01 08:26,2.55,17850,United Kingdom\n")
    assert main([str(sample), "--out", str(tmp_path / "out"), "--memory-limit", memory]) == 2
    err = _one_error_line(capfd)
    assert err.startswith(f"error: --memory-limit: {memory!r} is not an amount of memory"), err
    assert not (tmp_path / "out").exists()


def test_duckdb_options_are_refused_with_the_dask_engine(tmp_path, capsys):
    sample = tmp_path / "sample.csv"
    sample.write_text(HEADER + "536365,85123A,HEART,6,2010-12-01 08:26,2.55,17850,United Kingdom\n")
    assert main([str(sample), "--out", str(tmp_path), "--engine", "dask", "--memory-limit", "1GiB"]) == 2
    assert capsys.readouterr().err.startswith("error: --memory-limit and --temp-directory are for --engine duckdb")
