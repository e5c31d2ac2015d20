"""Damaged and unusual files: one clear line each, never a library traceback, a hang or a wrong row.

Every file is built in the test: containers cut in half or with bytes changed,
duplicate columns, odd whitespace in title rows, blank lines and quoted line
breaks before a bad row, devices and pipes, decompression bombs, and a damaged
cache entry of a parsed workbook.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import logging
import lzma
import os
import signal
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import cli_error
from segmentation import columns as c
from segmentation import config
from segmentation.errors import InvoiceDataError
from segmentation.reading.load import load_invoices

HEADER = ",".join(c.INVOICE_COLUMNS)
#   InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country
LINES = [
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
    "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,17851,France",
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom",
]
BAD_QUANTITY = "536367,22632,HAND WARMER RED,six,2010-12-01 08:34:00,1.85,17852,France"


def csv_bytes(lines: int = 300) -> bytes:
    """A valid CSV of ``lines`` invoice lines, long enough that half of any container is damaged."""
    rows = [f"{536365 + i},85123A,HEART {i},6,2010-12-01 08:26:00,2.55,{17850 + i % 40},United Kingdom"
            for i in range(lines)]
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def zipped(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("invoices.csv", data)
    return buffer.getvalue()


def parquet(data: bytes) -> bytes:
    buffer = io.BytesIO()
    pd.read_csv(io.BytesIO(data), dtype=str).to_parquet(buffer)
    return buffer.getvalue()


def workbook(data: bytes) -> bytes:
    buffer = io.BytesIO()
    pd.read_csv(io.BytesIO(data), dtype=str).to_excel(buffer, index=False)
    return buffer.getvalue()


#: Name of each container and how to make it from CSV bytes.
CONTAINERS: dict[str, Callable[[bytes], bytes]] = {
    "invoices.csv.gz": gzip.compress,
    "invoices.csv.bz2": bz2.compress,
    "invoices.csv.xz": lzma.compress,
    "invoices.zip": zipped,
    "invoices.parquet": parquet,
    "invoices.xlsx": workbook,
}


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def corrupted(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(byte ^ 0xFF for byte in data[middle : middle + 16]) + data[middle + 16 :]


def error_of(path: Path, **options: object) -> str:
    """The message loading ``path`` raises; it must be one line."""
    with pytest.raises(InvoiceDataError) as raised:
        load_invoices(path, **options)
    message = str(raised.value)
    assert "\n" not in message, message
    return message


@contextlib.contextmanager
def no_hang(seconds: int = 20) -> Iterator[None]:
    """Fail instead of hanging when the code under test blocks."""
    def hung(signum, frame):
        raise AssertionError(f"still running after {seconds} s: blocked")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- damaged containers ------------------------------------------------------------


@pytest.mark.parametrize("damage", [truncated, corrupted], ids=["cut in half", "bytes changed"])
@pytest.mark.parametrize("name", list(CONTAINERS))
def test_a_damaged_container_is_one_line(tmp_path, name, damage):
    path = tmp_path / name
    path.write_bytes(damage(CONTAINERS[name](csv_bytes())))
    message = error_of(path)
    assert message.startswith(f"{path}: the file is damaged (") and message.endswith("); export it again."), message


@pytest.mark.parametrize("name", list(CONTAINERS))
def test_an_empty_container_file_is_empty(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    assert "the file is empty (0 bytes)" in error_of(path)


@pytest.mark.parametrize("name", ["invoices.csv.gz", "invoices.csv.bz2", "invoices.csv.xz", "invoices.zip"])
def test_a_container_of_nothing_says_so(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(CONTAINERS[name](b""))
    assert f"{path}: holds nothing once decompressed (0 bytes)" in error_of(path)


def test_a_fake_workbook_is_not_called_damaged(tmp_path):
    path = tmp_path / "invoices.xlsx"
    path.write_bytes(zipped(csv_bytes(3)))  # an intact zip archive, but no workbook inside
    assert "cannot be read as an Excel workbook" in error_of(path)


# --- duplicate columns ---------------------------------------------------------------


def test_a_column_given_twice_in_a_csv_is_named(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text(HEADER + ",Quantity\n" + "\n".join(line + ",7" for line in LINES) + "\n", encoding="utf-8")
    message = error_of(path)
    assert "2 columns name Quantity (Quantity in column 4, Quantity in column 9)" in message
    assert message.endswith("; keep one of them and delete or rename the others.")


def test_two_spellings_of_one_column_are_named(tmp_path):
    path = tmp_path / "spellings.csv"
    path.write_text("Invoice," + HEADER + "\n" + "\n".join(f"{line.split(',')[0]},{line}" for line in LINES) + "\n",
                    encoding="utf-8")
    assert "2 columns name InvoiceNo (Invoice in column 1, InvoiceNo in column 2)" in error_of(path)


def test_a_column_given_twice_in_a_workbook_names_the_sheet(tmp_path):
    path = tmp_path / "twice.xlsx"
    frame = pd.read_csv(io.StringIO("\n".join([HEADER, *LINES])), dtype=str).assign(Price="1.00")
    frame.to_excel(path, sheet_name="Sales", index=False)
    message = error_of(path)
    assert f"{path}, sheet 'Sales': 2 columns name UnitPrice (UnitPrice in column 6, Price in column 9)" in message


def test_a_column_given_twice_in_parquet_is_named(tmp_path):
    path = tmp_path / "twice.parquet"
    frame = pd.read_csv(io.StringIO("\n".join([HEADER, *LINES])), dtype=str)
    arrays = [pa.array(frame[name]) for name in frame.columns] + [pa.array(frame[c.QUANTITY])]
    pq.write_table(pa.Table.from_arrays(arrays, names=[*frame.columns, c.QUANTITY]), path)
    assert "2 columns name Quantity (Quantity in column 4, Quantity in column 9)" in error_of(path)


# --- title rows with odd whitespace ----------------------------------------------------------


@pytest.mark.parametrize("space", ["\f", "\v", "\u2028", "\u2029", "\x85", "\x1c"],
                         ids=["form feed", "vertical tab", "line separator", "paragraph separator", "NEL", "FS"])
def test_a_title_row_with_odd_whitespace_is_skipped(tmp_path, space):
    path = tmp_path / "titled.csv"
    path.write_text(f"Sales export{space}December 2010\n" + "\n".join([HEADER, *LINES]) + "\n", encoding="utf-8")
    invoices = load_invoices(path)
    assert invoices[c.INVOICE].tolist() == ["536365", "536366", "C536379"]


def test_odd_whitespace_in_a_title_row_leaves_error_rows_right(tmp_path):
    path = tmp_path / "titled.csv"
    path.write_text("Sales\u2028export\f2010\n" + "\n".join([HEADER, LINES[0], BAD_QUANTITY]) + "\n",
                    encoding="utf-8")
    assert "('six') at row(s) 4;" in error_of(path)


# --- rows are the lines an editor shows ------------------------------------------------------


def test_error_rows_count_blank_lines_and_quoted_line_breaks(tmp_path):
    quoted = LINES[1].replace("HAND WARMER UNION JACK", '"HAND WARMER\nUNION JACK"')
    text = "\n".join([
        "Sales export",      # 1
        "",                  # 2
        HEADER,              # 3
        LINES[0],            # 4
        "",                  # 5
        quoted,              # 6 and 7
        "   ",               # 8
        BAD_QUANTITY,        # 9
        LINES[2],            # 10
    ]) + "\n"
    path = tmp_path / "gaps.csv"
    path.write_text(text, encoding="utf-8")
    assert "('six') at row(s) 9;" in error_of(path)
    path.write_bytes(text.replace("\n", "\r\n").encode())
    assert "('six') at row(s) 9;" in error_of(path)
    path.write_bytes(gzip.compress(text.encode()))
    assert "('six') at row(s) 9;" in error_of(path)


def test_a_quoted_line_break_in_a_title_row_counts(tmp_path):
    path = tmp_path / "title.csv"
    path.write_text('"Sales export\nDecember 2010"\n' + "\n".join([HEADER, LINES[0], BAD_QUANTITY]), encoding="utf-8")
    assert "('six') at row(s) 5;" in error_of(path)


def test_rows_of_a_plain_file_are_its_lines(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("\n".join([HEADER, LINES[0], LINES[1], BAD_QUANTITY, LINES[2]]), encoding="utf-8")
    assert "('six') at row(s) 4;" in error_of(path)


# --- devices, pipes and FIFOs -----------------------------------------------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused_without_reading_it(tmp_path, capsys, device):
    with no_hang():
        message = cli_error(device, tmp_path, capsys)
    assert message == f"error: {device}: is a device, not a file; give the path of an invoice file."


def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path):
    fifo = tmp_path / "invoices.csv"
    os.mkfifo(fifo)
    with no_hang():
        message = error_of(fifo)
    assert message.startswith(f"{fifo}: is a named pipe (FIFO), not a file;")


def test_a_pipe_with_data_is_refused(tmp_path):
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, "\n".join([HEADER, *LINES]).encode())
        with no_hang():
            message = error_of(Path(f"/dev/fd/{read_end}"))
    finally:
        os.close(read_end)
        os.close(write_end)
    assert f"/dev/fd/{read_end}: is a pipe, not a file; save what it gives to a file" in message


# --- decompression bombs ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["invoices.csv.gz", "invoices.csv.bz2", "invoices.csv.xz", "invoices.zip"])
def test_a_decompression_bomb_is_stopped(tmp_path, monkeypatch, name):
    monkeypatch.setattr(config, "MAX_DECOMPRESSED_BYTES", 1 << 20)
    path = tmp_path / name
    path.write_bytes(CONTAINERS[name]((HEADER + "\n" + LINES[0] + "\n" * (8 << 20)).encode()))
    assert path.stat().st_size < 64 << 10
    message = error_of(path)
    assert f"{path}: decompresses to more than 1 MiB" in message
    assert "config.MAX_DECOMPRESSED_BYTES" in message


def test_a_workbook_that_inflates_past_the_bound_is_stopped_before_parsing(tmp_path, monkeypatch):
    path = tmp_path / "invoices.xlsx"
    path.write_bytes(workbook(csv_bytes(3000)))
    monkeypatch.setattr(config, "MAX_DECOMPRESSED_BYTES", 64 << 10)
    monkeypatch.setattr(pd, "read_excel", lambda *args, **kwargs: pytest.fail("the workbook was parsed"))
    assert f"{path}: decompresses to more than 64 KiB" in error_of(path)


def test_a_file_within_the_bound_loads(tmp_path, monkeypatch):
    data = csv_bytes()
    monkeypatch.setattr(config, "MAX_DECOMPRESSED_BYTES", len(data))
    path = tmp_path / "invoices.csv.gz"
    path.write_bytes(gzip.compress(data))
    assert len(load_invoices(path)) == 300


# --- the cache of parsed workbooks -------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [truncated, corrupted, lambda data: parquet(csv_bytes(2))],
    ids=["cut in half", "bytes changed", "another table"],
)
def test_a_damaged_cache_entry_is_rebuilt(tmp_path, caplog, damage):
    path = tmp_path / "invoices.xlsx"
    path.write_bytes(workbook(csv_bytes(40)))
    first = load_invoices(path)
    [cached] = config.CACHE_DIR.glob("*.parquet")
    cached.write_bytes(damage(cached.read_bytes()))
    with caplog.at_level(logging.INFO, logger="segmentation.reading.load"):
        again = load_invoices(path)
    pd.testing.assert_frame_equal(again, first)
    assert [r.message for r in caplog.records if "damaged" in r.message] == [
        f"{path.name}: its cached copy {cached.name} is damaged; parsing the workbook again"
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="segmentation.reading.load"):
        pd.testing.assert_frame_equal(load_invoices(path), first)
    assert "read from its cached copy" in caplog.text


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_one_line(tmp_path):
    path = tmp_path / "invoices.csv"
    path.write_text("\n".join([HEADER, *LINES]), encoding="utf-8")
    path.chmod(0)
    assert error_of(path) == f"{path}: cannot be opened (Permission denied); check its permissions."
