"""The output folder as one unit: safe CSV text, a run swapped in whole, run.json, refusals, a full
disk, Ctrl-C and killed or concurrent runs."""

from __future__ import annotations

import csv
import errno
import fcntl
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from segmentation import columns as c
from segmentation import config
from segmentation.__main__ import main
from segmentation.export import neutralise_formulas, remove_leftovers
from segmentation.presentation import plots

#: Text that a spreadsheet or a reader breaking rows at CR or LF could run as a formula or split.
DANGEROUS = ["x\r=2+2", "a\n=1", "b\r\n+1", "c,=d", 'say "hi", =1', " =1+1", "\t=1", "\x00=1", "\u00a0+1",
             "@SUM(A1)", "\u200b-1", "=cmd|' /C calc'!A0"]
#: Segment names of a user's map, as dangerous.
MAP_NAMES = ("=Top+1", " @mid", "-low x")  # one line each: a map refuses names with line breaks
FORMULA_STARTS = ("=", "+", "-", "@")
SPEND_RUN_FILES = {"customers.csv", "ledger.csv", "clusters.csv", "customer_segments.csv", "run.json", "model.json",
                   *plots.FIGURE_FILES}
#: The forecast's lists, beside those, in a run on data with enough repeat customers (the sample).
FORECAST_LIST_FILES = {"contact_list.csv", "slipping_away.csv"}


def write_invoices(path: Path, texts: list[str] = DANGEROUS) -> Path:
    """One customer per text, buying on 1 to 4 days one product described by it, in a country named by it."""
    rows = [{"InvoiceNo": f"{n}{day}", "StockCode": f"{85100 + n}A", "Description": text, "Quantity": n + 1,
             "InvoiceDate": pd.Timestamp("2011-01-03") + pd.Timedelta(days=7 * day + n),
             "UnitPrice": 1.5 * (n + 1), "CustomerID": 100 + n, "Country": text}
            for n, text in enumerate(texts) for day in range(n % 4 + 1)]
    pd.DataFrame(rows).to_parquet(path)
    return path


def write_segment_map(path: Path) -> Path:
    top, mid, low = (json.dumps(name) for name in MAP_NAMES)  # a JSON string is a TOML basic string
    path.write_text(f"[[segment]]\nname = {top}\nr = [4, 5]\nfm = [1, 2, 3, 4, 5]\n"
                    f"[[segment]]\nname = {mid}\nr = [3]\nfm = [1, 2, 3, 4, 5]\n"
                    f"[[segment]]\nname = {low}\nr = [1, 2]\nfm = [1, 2, 3, 4, 5]\n", encoding="utf-8")
    return path


def escaped(text: str) -> str:
    return neutralise_formulas(pd.DataFrame({"text": [text]}))["text"].iloc[0]


def starts_a_formula(text: str) -> bool:
    """Whether ``text``, past whitespace and control characters, starts with = + - @ (numbers aside)."""
    head = text
    while head and (head[0].isspace() or unicodedata.category(head[0]) in ("Cc", "Cf")):
        head = head[1:]
    try:
        float(head)
        return False
    except ValueError:
        return head.startswith(FORMULA_STARTS)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f"{out.name}.tmp-"))


# --- escaping ------------------------------------------------------------------------------


def test_neutralise_formulas_looks_past_whitespace_control_characters_and_line_breaks():
    table = pd.DataFrame({"text": [" =1+1", "\t=1", "\x00=1", "\u00a0+1", "\u200b@x", "x\r=2", "a\r\n -1", "ok\n",
                                   " plain", "-"]},
                         index=pd.Index(["=i", "j", "k", "l", "m", "n", "o", "p", "q", "r"], name="id"))
    safe = neutralise_formulas(table)
    assert safe["text"].tolist() == ["' =1+1", "'\t=1", "'\x00=1", "'\u00a0+1", "'\u200b@x", "x\r'=2", "a\r\n' -1",
                                     "ok\n", " plain", "'-"]
    assert safe.index.tolist()[:2] == ["'=i", "j"]


def test_every_output_quotes_line_breaks_and_no_row_or_cell_starts_a_formula(tmp_path):
    source, out = write_invoices(tmp_path / "in.parquet"), tmp_path / "out"
    segment_map = write_segment_map(tmp_path / "map.toml")
    assert main([str(source), "--out", str(out), "--features", "rfm", "--k", "2", "--rfm-k", "2",
                 "--segment-map", str(segment_map), "--as-of", "2011-01-20", "--horizon-days", "10"]) == 0
    tables = sorted(out.glob("*.csv"))
    assert {path.name for path in tables} == {"customers.csv", "ledger.csv", "clusters.csv",
                                              "customer_segments.csv", "validation.csv"}
    for path in tables:
        raw = path.read_text(encoding="utf-8")
        physical_rows = re.split(r"\r\n|\r|\n", raw)
        assert not [row for row in physical_rows if starts_a_formula(row)], path.name
        cells = [cell for row in read_rows(path) for cell in row.values()]
        assert not [cell for cell in cells if starts_a_formula(cell)], path.name
    for row in read_rows(out / "customers.csv"):  # the loader may strip surrounding whitespace
        text = DANGEROUS[int(row[c.CUSTOMER_ID]) - 100]
        assert row[c.TOP_ITEM] in {escaped(text), escaped(text.strip())}
        assert row[c.MOST_COMMON_LOCATION] in {escaped(text), escaped(text.strip())}
    names = set(map(escaped, MAP_NAMES))
    assert {row[c.RFM_SEGMENT] for row in read_rows(out / "customer_segments.csv")} <= names | {""}
    assert names & {row[c.SEGMENT] for row in read_rows(out / "validation.csv")}


# --- the folder as one unit ------------------------------------------------------------------


def test_a_run_replaces_the_whole_folder_and_records_its_input_and_options(tmp_path):
    source, out = write_invoices(tmp_path / "in.parquet"), tmp_path / "out"
    assert main([str(source), "--out", str(out), "--features", "rfm", "--k", "auto", "--rfm-k", "2"]) == 0
    assert (out / plots.K_DIAGNOSTICS).is_file() and (out / plots.SEGMENT_PROFILES).is_file()
    assert main([str(source), "--out", str(out), "--k", "2", "--rfm-k", "2"]) == 0
    assert {path.name for path in out.iterdir()} == SPEND_RUN_FILES  # nothing of the RFM run survives
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["input"] == "in.parquet" and record["input_sha256"] == sha256(source)
    assert record["options"]["k"] == 2 and record["options"]["features"] == "spend"
    assert record["version"] and record["finished_at"].endswith("+00:00")
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert main([str(source), "--out", str(out), "--k", "2", "--rfm-k", "2"]) == 0
    changed = {path.name for path in out.iterdir() if path.read_bytes() != before[path.name]}
    assert changed <= {"run.json"}
    assert leftovers(out) == []


def test_leftovers_of_killed_runs_are_removed_and_a_live_runs_folder_is_kept(tmp_path):
    source, out = write_invoices(tmp_path / "in.parquet"), tmp_path / "out"
    dead, live = tmp_path / "out.tmp-dead", tmp_path / "out.tmp-live"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "customers.csv").write_text("half", encoding="utf-8")
    (tmp_path / "other.tmp-x").mkdir()  # another folder's, not ours
    holder = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert main([str(source), "--out", str(out), "--k", "2", "--rfm-k", "2"]) == 0
        assert leftovers(out) == ["out.tmp-live"] and (tmp_path / "other.tmp-x").is_dir()
    finally:
        os.close(holder)
    assert remove_leftovers(out) == [live]


@pytest.mark.parametrize("folder", ["figures", "figures/mine", "src", "notebooks/x", "tests", "data", "docs", "."])
def test_project_folders_and_folders_of_tracked_files_are_refused(folder, capsys):
    target = config.PROJECT_ROOT / folder
    existed = target.exists()
    assert main([str(config.SAMPLE_PATH), "--out", str(target)]) == 2
    assert "not written beside the committed sample and project files" in capsys.readouterr().err
    assert target.exists() == existed
    assert not [p for p in target.parent.iterdir() if ".tmp-" in p.name]


def test_a_folder_holding_other_files_is_refused_and_left_alone(tmp_path, capsys):
    source, out = write_invoices(tmp_path / "in.parquet"), tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    (out / "customers.csv").write_text("old", encoding="utf-8")
    assert main([str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.txt" in err and "new or empty folder" in err
    assert sorted(p.name for p in out.iterdir()) == ["customers.csv", "notes.txt"]


def test_an_output_folder_that_cannot_be_created_is_one_line_before_any_work(tmp_path, capsys, monkeypatch):
    from segmentation import __main__ as cli

    monkeypatch.setattr(cli, "segment_file", lambda *args, **kwargs: pytest.fail("work started"))
    blocker = tmp_path / "a_file"
    blocker.write_text("", encoding="utf-8")
    assert main([str(config.SAMPLE_PATH), "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {blocker / 'out'}: cannot create the output folder") and err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_parent_is_one_line_naming_the_folder(tmp_path, capsys):
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o555)
    try:
        assert main([str(config.SAMPLE_PATH), "--out", str(parent / "out")]) == 2
    finally:
        parent.chmod(0o755)
    err = capsys.readouterr().err
    assert "cannot create the output folder" in err and str(parent / "out") in err and err.count("\n") == 1


def test_a_full_disk_is_one_line_and_leaves_the_previous_run(tmp_path, capsys, monkeypatch):
    source, out = write_invoices(tmp_path / "in.parquet"), tmp_path / "out"
    assert main([str(source), "--out", str(out), "--k", "2", "--rfm-k", "2"]) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    capsys.readouterr()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(plots, "save_figure", full)
    assert main([str(source), "--out", str(out), "--k", "2", "--rfm-k", "2"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {out}: cannot write the results (No space left on device), so the folder is left as "
                   "it was; free some space or choose another --out folder.\n")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert leftovers(out) == []


@pytest.mark.parametrize("where", ["segment_file", "write_csv"])
def test_ctrl_c_is_one_line_exit_130_and_leaves_the_previous_run(tmp_path, capsys, monkeypatch, where):
    from segmentation import __main__ as cli

    source, out = write_invoices(tmp_path / "in.parquet"), tmp_path / "out"
    assert main([str(source), "--out", str(out), "--k", "2", "--rfm-k", "2"]) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    capsys.readouterr()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, where, interrupted)
    assert main([str(source), "--out", str(out), "--k", "2", "--rfm-k", "2"]) == 130
    assert capsys.readouterr().err == f"interrupted; {out} is unchanged\n"
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert leftovers(out) == []


#: A command run as a shell runs it, with Ctrl-C pressed at ``sys.argv[1]``: inside a DuckDB query, inside Python
#: that DuckDB calls (a function of the query), or once the run is over, while Python shuts down.
CTRL_C_DRIVER = """
import atexit, os, signal, sys, threading, time
from segmentation import __main__ as cli
from segmentation.rules import rulebook

where, source, out = sys.argv[1:]
segment_file = cli.segment_file

def ctrl_c(x: int) -> int:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(2)
    return x

def interrupted_segment_file(*args, **kwargs):
    db = rulebook.connect()  # the package's statements run on its connections
    if where == "query":
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        db.sql("SELECT count(*) FROM range(1000000000000) t(x) WHERE x % 7 = 3").fetchall()
    if where == "python called by a query":
        db.create_function("ctrl_c", ctrl_c)
        db.sql("SELECT ctrl_c(1)").fetchall()
    return segment_file(*args, **kwargs)

cli.segment_file = interrupted_segment_file
if where == "shutdown":
    atexit.register(ctrl_c, 0)
sys.argv = ["segmentation", source, "--out", out, "--k", "2", "--rfm-k", "2", "--no-forecast"]
raise SystemExit(cli.run())
"""


@pytest.mark.parametrize("where", ["query", "python called by a query", "shutdown"])
def test_ctrl_c_wherever_duckdb_or_python_takes_it_is_one_line_and_130(tmp_path, where):
    """DuckDB turns a Ctrl-C inside a query into its own error; Python dies of one while it shuts down."""
    source, out = write_invoices(tmp_path / "in.parquet"), tmp_path / "out"
    assert main([str(source), "--out", str(out), "--k", "2", "--rfm-k", "2", "--no-forecast"]) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    result = subprocess.run([sys.executable, "-c", CTRL_C_DRIVER, where, str(source), str(out)],
                            capture_output=True, text=True, timeout=120, check=False)
    after = {path.name: path.read_bytes() for path in out.iterdir()}
    if where == "shutdown":  # the run had finished: its output stands, and the exit status says so
        assert (result.returncode, result.stderr) == (0, "")
        assert after.keys() == before.keys()  # a new run, the same tables
        after.pop("run.json"), before.pop("run.json")
    else:
        assert (result.returncode, result.stderr) == (130, f"interrupted; {out} is unchanged\n")
    assert after == before
    assert leftovers(out) == []


@pytest.mark.parametrize(("date_format", "message"), [
    ("%Q", "'Q' is a bad directive"),
    ("%H:%M", "does not read a day, a month and a year"),
])
def test_a_bad_date_format_is_a_usage_error_before_any_work(tmp_path, date_format, message):
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "segmentation", str(config.SAMPLE_PATH), "--out", str(out),
                             "--date-format", date_format], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]  # argparse puts its usage above
    assert "--date-format" in last and message in last and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


# --- killed, interrupted and concurrent runs ----------------------------------------------------


def start_run(out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "segmentation", str(config.SAMPLE_PATH), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def assert_one_complete_run(out: Path, expected: dict[str, bytes]) -> None:
    """``out`` holds every file of a run on the sample, each table as a complete run writes it."""
    assert {path.name for path in out.iterdir()} == SPEND_RUN_FILES | FORECAST_LIST_FILES
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["input_sha256"] == sha256(config.SAMPLE_PATH)
    for name, content in expected.items():
        assert (out / name).read_bytes() == content, name


@pytest.mark.slow
def test_killed_interrupted_and_concurrent_runs_leave_one_complete_run(tmp_path):
    out = tmp_path / "out"
    first = start_run(out)
    assert first.communicate(timeout=120) and first.returncode == 0
    expected = {name: (out / name).read_bytes() for name in SPEND_RUN_FILES | FORECAST_LIST_FILES
                if name.endswith(".csv")}
    delays = random.Random(7)
    for how in (signal.SIGKILL, signal.SIGINT) * 3:
        before = leftovers(out)  # a killed run's, until a run gets far enough to remove it
        process = start_run(out)
        time.sleep(delays.uniform(0.3, 4.5))
        process.send_signal(how)
        _, err = process.communicate(timeout=120)
        if how == signal.SIGINT and process.returncode != 0:
            assert process.returncode == 130 and err.count("\n") == 1 and err.startswith("interrupted"), err
            assert set(leftovers(out)) <= set(before)
        assert_one_complete_run(out, expected)
    pair = [start_run(out), start_run(out)]
    results = [process.communicate(timeout=120) for process in pair]
    assert [process.returncode for process in pair] == [0, 0], results
    assert_one_complete_run(out, expected)
    assert leftovers(out) == []
