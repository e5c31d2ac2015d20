"""The DuckDB engine streams the loader's batches into one query, and the rulebook's results add up over
partitions of whole customers: any batch size, any line order, any partition, memory held or spilled to
disk, the same ledger and customers as all lines at once."""

from __future__ import annotations

import csv
import gzip
import tempfile
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
from segmentation import config
from segmentation.engines import runners
from segmentation.engines.runners import DuckDBEngine, OutcomeWindow, combine, summarise_lines
from segmentation.errors import InvoiceDataError
from segmentation.reading import load
from segmentation.reading.load import invoice_batches, load_invoices
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


def as_text(lines: pd.DataFrame) -> pd.DataFrame:
    """Canonical lines with text columns as plain text, so that batches' categories compare."""
    return lines.astype({name: "str" for name in c.TEXT_COLUMNS})


def streamed(path: Path, batch_lines: int) -> pd.DataFrame:
    return pd.concat([as_text(batch) for batch in invoice_batches(path, batch_lines=batch_lines)],
                     ignore_index=True)


def write_text_table(rows: list[tuple[str, ...]], path: Path) -> Path:
    """``rows`` of cells as written, under the Online Retail header: a CSV, or a Parquet file of text."""
    header = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
              "Country"]
    if path.suffix == ".parquet":
        pq.write_table(pa.table({name: pa.array([row[i] for row in rows], pa.string())
                                 for i, name in enumerate(header)}), path, row_group_size=3)
        return path
    with path.open("w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([header, *rows])
    return path


def test_csv_and_parquet_files_stream_in_batches(tmp_path, real_file):
    lines = invoice_lines([("536001", "85123A", "HEART", 6, "2010-12-01 08:26", 2.55, 12346, "France")] * 10)
    dated = tmp_path / "dated.parquet"
    pq.write_table(pa.Table.from_pandas(lines, preserve_index=False), dated)
    text = write_text_table([("536001", "85123A", "HEART", "6", "13/12/2010 08:26", "2.55", "12346", "France")] * 10,
                            tmp_path / "lines.csv")
    gzipped = tmp_path / "lines.csv.gz"
    gzipped.write_bytes(gzip.compress(text.read_bytes()))
    text_parquet = write_text_table([("536001", "85123A", "HEART", "6", "2010-12-01 08:26", "2,55", "12346",
                                      "France")] * 10, tmp_path / "text.parquet")
    for path in (dated, text, gzipped, text_parquet):
        batches = list(invoice_batches(path, batch_lines=4))
        assert len(batches) >= 3 and max(len(batch) for batch in batches) <= 4, path.name  # Parquet: by row group
        assert [number for batch in batches for number in batch.index] == list(range(1, 11))
        pd.testing.assert_frame_equal(streamed(path, 4), as_text(load_invoices(path)), check_exact=True)
    assert invoice_batches(dated).lines == invoice_batches(text_parquet).lines == 10
    assert invoice_batches(text).lines is None  # known once read
    assert invoice_batches(real_file).lines == 525_461  # InvoiceDate stored as text streams too


def test_a_reading_that_a_later_batch_decides_holds_in_every_batch(tmp_path, caplog):
    """Day-first is told only by the last line's 13th, decimal commas only by its "2,55"; the first
    batches alone would be refused as ambiguous, and would read "1.234" as 1.234 rather than 1234."""
    rows = [("536001", "85123A", "HEART", "1", "01/12/2010 08:26", "1.234", "12346", "France"),
            ("536001", "22423", "CAKESTAND", "2", "02/12/2010 08:26", "3", "12346", "France"),
            ("536002", "85123A", "HEART", "6", "05/11/2010 09:00", "1.000,5", "12347", "EIRE"),
            ("536003", "85123A", "HEART", "6", "13/12/2010 09:00", "2,55", "12347", "EIRE")]
    for path in (write_text_table(rows, tmp_path / "lines.csv"), write_text_table(rows, tmp_path / "lines.parquet")):
        caplog.clear()
        with caplog.at_level("INFO", logger="segmentation.reading.load"):
            lines = streamed(path, 1)
        assert lines[c.UNIT_PRICE].tolist() == [1234.0, 3.0, 1000.5, 2.55]
        assert lines[c.INVOICE_DATE].dt.strftime("%Y-%m-%d").tolist() == [
            "2010-12-01", "2010-12-02", "2010-11-05", "2010-12-13"]
        said = [record.getMessage() for record in caplog.records]
        assert said.count(f"{path.name}: InvoiceDate read day-first ('13/12/2010 09:00' cannot be month-first)") == 1
        assert said.count(f"{path.name}: column UnitPrice read with decimal commas") == 1
        pd.testing.assert_frame_equal(lines, as_text(load_invoices(path)), check_exact=True)


def test_a_refused_csv_gives_the_message_of_the_whole_file_naming_its_line(tmp_path, caplog):
    rows = [("536001", "85123A", "HEART", "6", "2010-12-01 08:26", "2.55", "12346", "France")] * 300
    rows[212] = ("536001", "85123A", "HEART", "6", "2010-12-01 08:26", "£2.5x", "12346", "France")
    path = write_text_table(rows, tmp_path / "lines.csv")
    with pytest.raises(InvoiceDataError) as whole:
        load_invoices(path)
    assert "row(s) 214" in str(whole.value)  # line 214: the header is line 1
    caplog.clear()
    with caplog.at_level("INFO", logger="segmentation.reading.load"), pytest.raises(InvoiceDataError) as refused:
        streamed(path, 50)
    assert str(refused.value) == str(whole.value)
    assert [record.getMessage() for record in caplog.records] == [
        "lines.csv: text decoded as UTF-8, comma-separated"]  # the second reading says nothing more


def test_a_file_that_changes_between_the_two_readings_is_refused(tmp_path, monkeypatch):
    rows = [("536001", "85123A", "HEART", "6", "2010-12-01 08:26", "2.55", "12346", "France")] * 6
    path = write_text_table(rows, tmp_path / "lines.csv")
    changed = rows[:4] + [("536001", "85123A", "HEART", "6", "2010-12-01 08:26", "9.99", "12346", "France")] * 2
    first_reading = load._known_cells

    def then_changed(*args, **kwargs):
        known = first_reading(*args, **kwargs)
        write_text_table(changed, path)
        return known

    monkeypatch.setattr(load, "_known_cells", then_changed)
    with pytest.raises(InvoiceDataError, match=r"changed while it was read \(data row 5 holds a value"):
        streamed(path, 2)


#: Date and price layouts of whole files: day-first, month-first, ISO, dotted with a two-digit year; prices
#: with decimal points (currency signs, thousands commas) or decimal commas (thousands points).
DATE_LAYOUTS = ["{d:02}/{m:02}/2010 08:26", "{m}/{d}/2010 8:26", "2010-{m:02}-{d:02} 09:00", "{d:02}.{m:02}.10"]
PRICES = {"point": ["2.55", "£1.25", "1,234.50", "0", "-1", "3"], "comma": ["2,55", "1.234,50", "0", "3", "1.234"]}


@st.composite
def messy_files(draw) -> list[tuple[str, ...]]:
    """The cells of a file as an export writes them: padded codes, Excel's "17850.0", thousands separators, one
    date layout (some lines ISO), one price convention; now and then one cell that is wrong."""
    layout, prices = draw(st.sampled_from(DATE_LAYOUTS)), PRICES[draw(st.sampled_from(sorted(PRICES)))]
    rows = draw(st.lists(st.tuples(
        st.sampled_from(["536001", "536002", " 536003", "C536004", "536005.0"]),
        st.sampled_from(["85123A", "22423", " POST ", "M", ""]),
        st.sampled_from(["HEART", " CAKESTAND ", "Bouteille été", "", "\tDOORMAT\u00a0"]),
        st.sampled_from(["6", " 12 ", "-2", "1,000", "3.0", "1"]),
        st.tuples(st.integers(1, 28), st.integers(1, 12), st.integers(0, 4).map(lambda n: n == 0))  # ISO now and then
          .map(lambda date: (DATE_LAYOUTS[2] if date[2] else layout).format(d=date[0], m=date[1])),
        st.sampled_from(prices),
        st.sampled_from(["12346", "12347.0", " 12348 ", ""]),
        st.sampled_from(["United Kingdom", "France", ""]),
    ), min_size=1, max_size=12))
    wrong = draw(st.none() | st.tuples(st.integers(0, len(rows) - 1), st.sampled_from([
        (3, "x"), (3, ""), (3, "2.5"), (4, "soon"), (4, ""), (4, "31/02/2010 10:00"), (5, ""), (5, "inf"),
        (5, "2,55"), (5, "1.5"), (6, "-1"), (6, "1e30")])))
    if wrong is not None:
        (row, (column, cell)) = wrong
        rows[row] = (*rows[row][:column], cell, *rows[row][column + 1:])
    return rows


@PROPERTY_SETTINGS
@given(messy_files(), st.integers(min_value=1, max_value=5), st.sampled_from(["lines.csv", "lines.parquet"]))
def test_batches_read_any_messy_file_as_the_whole_file_does_or_refuse_it_alike(rows, batch_lines, name):
    with tempfile.TemporaryDirectory() as folder:
        path = write_text_table(rows, Path(folder) / name)
        try:
            whole = as_text(load_invoices(path))
        except InvoiceDataError as error:
            with pytest.raises(InvoiceDataError) as refused:
                streamed(path, batch_lines)
            assert str(refused.value) == str(error)
            return
        pd.testing.assert_frame_equal(streamed(path, batch_lines), whole, check_exact=True)


def same_or_refused_alike(path: Path) -> None:
    """The DuckDB engine's table of the file at ``path`` is that of its lines loaded whole, or both refuse
    it with one message."""
    try:
        whole = DuckDBEngine(progress=False).customer_table_of_lines(load_invoices(path), source=path)
    except InvoiceDataError as error:
        with pytest.raises(InvoiceDataError) as refused:
            DuckDBEngine(progress=False).customer_table(path)
        assert str(refused.value) == str(error)
        return
    same_result(DuckDBEngine(progress=False).customer_table(path), whole)


@PROPERTY_SETTINGS
@given(messy_files(), st.sampled_from(["lines.csv", "lines.parquet", "lines.csv.gz"]))
def test_the_engine_reads_each_distinct_cell_of_a_file_as_the_whole_file_is_read(rows, name):
    with tempfile.TemporaryDirectory() as folder:
        path = write_text_table(rows, Path(folder) / name.removesuffix(".gz"))
        if name.endswith(".gz"):
            path = path.rename(path.with_name(name))
            path.write_bytes(gzip.compress(path.read_bytes()))
        assert load.cell_readable(path) is not None  # read cell by distinct cell, not in batches
        same_or_refused_alike(path)


#: Cells of each invoice column, some with a separator, a quote or a line break inside.
CSV_CELLS = (["536001", "C536002", "536003"], ["85123A", "22423", "POST"],
             ["HEART", "A, B", '12" RULER', "TWO\nLINES", ""], ["6", "-2", "1"],
             ["2010-12-01 08:26", "2010-12-02 09:00"], ["2.55", "1.25"], ["12346", "12347", ""],
             ["France", "United Kingdom"])


def csv_cell(text: str, how: str) -> str:
    """``text`` as an export may write it: quoted as the CSV rules ask, padded, quoted after a space, as it
    is (a separator or quote unquoted), or with a quote after it (inches)."""
    quoted = '"' + text.replace('"', '""') + '"'
    needs_quotes = any(mark in text for mark in ',"\n')
    return {"plain": quoted if needs_quotes else text, "quoted": quoted, "padded": f" {text} ",
            "space before quote": f" {quoted}", "as it is": text, "quote after": f"{text}\""}[how]


@st.composite
def csv_texts(draw) -> bytes:
    """The bytes of a CSV export with what tells CSV readers apart: quoted separators, quotes and line
    breaks, padding, a space before a quote, blank and whitespace-only lines, ragged rows, CRLF, a BOM."""
    messy = draw(st.booleans())  # else only what CSV readers agree on, so that DuckDB's reader is tried and kept
    ways = ["plain", "plain", "quoted", "padded", *(["space before quote", "as it is", "quote after"] if messy else [])]
    rows = draw(st.lists(st.tuples(*(st.tuples(st.sampled_from([text for text in cells if messy or "\n" not in text]),
                                               st.sampled_from(ways)) for cells in CSV_CELLS)), min_size=1, max_size=8))
    lines = [",".join(csv_cell(text, how) for text, how in row) for row in rows]
    extras = draw(st.lists(st.tuples(st.integers(0, len(lines)), st.sampled_from(["", "   ", "ragged", "extra"])),
                           max_size=2 if messy else 0))
    for position, extra in extras:
        line = lines[min(position, len(lines) - 1)]
        lines.insert(position, {"ragged": line.rsplit(",", 1)[0], "extra": line + ",x"}.get(extra, extra))
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join([header, *lines]) + draw(st.sampled_from([ending, ""]))
    return (draw(st.sampled_from(["", "\ufeff"])) + text).encode("utf-8")


@PROPERTY_SETTINGS
@given(csv_texts())
def test_duckdbs_csv_reader_gives_what_the_loaders_parser_gives_or_is_not_used(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lines.csv"
        path.write_bytes(text)
        same_or_refused_alike(path)


def test_a_plain_csv_is_parsed_by_duckdbs_reader_and_one_it_reads_otherwise_by_the_loader(tmp_path, monkeypatch):
    rows = [("536001", "85123A", "A, B", "6", "2010-12-01 08:26", "2.55", "12346", "France"),
            ("536002", "22423", 'TWO\nLINES', "2", "2010-12-02 08:26", "12.75", "12347", "France")]
    plain = write_text_table(rows[:1] * 3, tmp_path / "plain.csv")
    joined = write_text_table(rows, tmp_path / "joined.csv")  # a quoted line break: two lines, one row
    parsed = []
    raw_cells = load.raw_cells
    monkeypatch.setattr(load, "raw_cells", lambda table, **options: parsed.append(table.path) or raw_cells(
        table, **options))
    spaced = tmp_path / "spaced.csv"  # a quote after a space is text to the loader's parser, a quote to DuckDB's
    spaced.write_text(plain.read_text(encoding="utf-8").replace(',"A, B",6,', ',HEART, "6",'), encoding="utf-8")
    for path in (plain, joined, spaced):
        same_or_refused_alike(path)
    assert parsed == [joined, spaced]
    with pytest.raises(InvoiceDataError, match=r"column Quantity has 3 value\(s\) that are not numbers"):
        DuckDBEngine(progress=False).customer_table(spaced)


def test_typed_parquet_columns_are_read_cell_by_distinct_cell_and_others_in_batches(tmp_path):
    lines = invoice_lines([("536001", "85123A", " HEART ", 6, "2010-12-01 08:26", 2.55, 12346, "France"),
                           ("C536002", "85123A", "HEART", -2, "2010-12-02 09:00", 2.55, 12346, "France"),
                           ("536003", "22423", "CAKESTAND", 1, "2010-12-03 10:00", 12.75, None, "")])
    typed = tmp_path / "typed.parquet"
    pq.write_table(pa.Table.from_pandas(lines, preserve_index=False), typed)
    floats = tmp_path / "float_ids.parquet"  # Online Retail II: Customer ID 12346.0, missing as NaN
    pq.write_table(pa.Table.from_pandas(lines.astype({c.CUSTOMER_ID: "float64"}), preserve_index=False), floats)
    zoned = tmp_path / "zoned.parquet"  # a time zone: read in batches
    pq.write_table(pa.Table.from_pandas(lines.assign(**{c.INVOICE_DATE: lines[c.INVOICE_DATE].dt.tz_localize(
        "UTC")}), preserve_index=False), zoned)
    assert load.cell_readable(typed) is not None and load.cell_readable(floats) is not None
    assert load.cell_readable(zoned) is None
    for path in (typed, floats, zoned):
        same_or_refused_alike(path)
    result = DuckDBEngine(progress=False).customer_table(typed)
    assert result.ledger.loc["missing_customer", c.LEDGER_ROWS] == 1
    assert result.customers.loc[12346, c.TOP_ITEM] == "HEART"  # " HEART " trimmed: one description
    assert result.customers.loc[12346, c.TOTAL_BILL_SIZE] == 6 * 2.55 - 2 * 2.55


def test_a_file_the_engine_reads_cell_by_cell_is_refused_with_the_whole_files_message(tmp_path):
    rows = [("536001", "85123A", "HEART", "6", "2010-12-01 08:26", "2.55", "12346", "France")] * 300
    rows[212] = ("536001", "85123A", "HEART", "6", "2010-12-01 08:26", "£2.5x", "12346", "France")
    rows[250] = ("536001", "85123A", "HEART", "600000000", "2010-12-01 08:26", "5000", "12346", "France")
    for name in ("lines.csv", "lines.parquet"):
        path = write_text_table(rows, tmp_path / name)
        with pytest.raises(InvoiceDataError, match=r"UnitPrice .*\(\'£2\.5x\'\) at row\(s\) 21[34]\b"):
            DuckDBEngine(progress=False).customer_table(path)
        path = write_text_table(rows[:212] + rows[213:], tmp_path / name)
        with pytest.raises(InvoiceDataError, match=r"worth £1,000,000,000 or more, first at row\(s\) 25[01]\b"):
            DuckDBEngine(progress=False).customer_table(path)
        path = write_text_table([], tmp_path / name)
        with pytest.raises(InvoiceDataError, match="the header is there but there are no invoice lines"):
            DuckDBEngine(progress=False).customer_table(path)


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
    progress = runners.Progress("lines", total=1000, shown=True, logged=False)
    progress.advance(400)
    progress.close()
    assert "400/1,000 lines" in terminal.text and "lines/s" in terminal.text
    monkeypatch.undo()
    quiet = runners.Progress("lines", total=1000, shown=True, logged=False)
    quiet.advance(400)
    quiet.close()
    assert capsys.readouterr().err == ""
