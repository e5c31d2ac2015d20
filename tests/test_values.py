"""Values checked where they are parsed: dates in a window, money that sums exactly, clean keys.

Each case is a small file written here; both engines read dates with the same
function, so a date the pandas engine refuses the Dask engine refuses too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import cli_error
from segmentation import columns as c
from segmentation import config
from segmentation.engines.runners import DuckDBEngine
from segmentation.errors import InvoiceDataError
from segmentation.reading.load import load_invoices
from segmentation.reading.partitions import canonical_part
from segmentation.rules.clean import clean_invoices, ledger_from_counts, line_amount_micros

HEADER = list(c.INVOICE_COLUMNS)
#   InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country
ROWS = [
    ["536365", "85123A", "WHITE HANGING HEART", "6", "2010-12-01 08:26:00", "2.55", "17850", "United Kingdom"],
    ["536366", "22633", "HAND WARMER UNION JACK", "6", "2010-12-01 08:28:00", "1.85", "17851", "France"],
    ["536367", "22634", "CHILDS BREAKFAST SET", "3", "2010-12-02 09:41:00", "9.95", "17852", "France"],
    ["536368", "22960", "JAM MAKING SET", "2", "2010-12-03 10:00:00", "4.25", "17853", "EIRE"],
]
QUANTITY, DATE, PRICE, CUSTOMER = 3, 4, 5, 6


def write_table(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(row) for row in [HEADER, *rows]) + "\n")
    return path


def with_value(column: int, value: str, *, row: int = 1) -> list[list[str]]:
    """ROWS with one cell changed (row 1 is the file's line 3)."""
    rows = [list(line) for line in ROWS]
    rows[row][column] = value
    return rows


# --- dates -----------------------------------------------------------------------------


@pytest.mark.parametrize("date", ["9999-12-31", "0001-01-01", "1677-01-01", "1899-12-31 23:59:59",
                                  "2101-01-01", "12/31/9999 10:00"])
def test_a_date_outside_the_window_is_refused_naming_value_and_line(tmp_path, capsys, date):
    path = write_table(tmp_path / "x.csv", with_value(DATE, date))
    message = cli_error(path, tmp_path, capsys)
    assert message == (
        f"error: {path}: column InvoiceDate has 1 value(s) outside 1900-01-01 … 2100-12-31 ({date!r}) "
        "at row(s) 3; fix the dates or remove those lines."
    )


def test_the_dask_engine_refuses_the_same_dates(tmp_path):
    raw = pd.DataFrame(with_value(DATE, "9999-12-31"), columns=HEADER, index=range(2, 6))
    with pytest.raises(InvoiceDataError, match=r"outside 1900-01-01 … 2100-12-31 \('9999-12-31'\) at row\(s\) 3"):
        canonical_part(raw, source="x.csv", date_format="ISO8601")


def test_the_window_edges_load(tmp_path):
    rows = with_value(DATE, "1900-01-01 00:00:00")
    rows[2][DATE] = "2100-12-31 23:59:59"
    dates = load_invoices(write_table(tmp_path / "edges.csv", rows))[c.INVOICE_DATE]
    assert dates.dtype == "datetime64[ns]"
    assert dates[1] == pd.Timestamp(config.FIRST_INVOICE_DATE)
    assert dates[2] == pd.Timestamp("2100-12-31 23:59:59")


def test_a_parquet_timestamp_outside_the_window_is_refused(tmp_path):
    frame = pd.DataFrame(ROWS, columns=HEADER).astype({c.QUANTITY: int, c.UNIT_PRICE: float, c.CUSTOMER_ID: int})
    frame[c.INVOICE_DATE] = pd.to_datetime(frame[c.INVOICE_DATE]).astype("datetime64[us]")
    frame.loc[1, c.INVOICE_DATE] = pd.Timestamp("2999-01-01")
    path = tmp_path / "far.parquet"
    frame.to_parquet(path, index=False)
    with pytest.raises(InvoiceDataError, match=r"outside 1900-01-01 … 2100-12-31 \('2999-01-01'\) at row\(s\) 2"):
        load_invoices(path)


# --- time zones: wall-clock times, the offset dropped ---------------------------------------


def test_mixed_utc_offsets_in_text_keep_the_clock_time(tmp_path):
    rows = with_value(DATE, "2010-12-01T08:00+01:00", row=0)
    rows[1][DATE] = "2010-12-01T08:00:30+00:00"
    rows[2][DATE] = "2010-12-02 00:30Z"
    rows[3][DATE] = "2010-12-03 10:00:00 -0500"
    dates = load_invoices(write_table(tmp_path / "offsets.csv", rows))[c.INVOICE_DATE]
    assert dates.tolist() == [pd.Timestamp(text) for text in
                              ["2010-12-01 08:00", "2010-12-01 08:00:30", "2010-12-02 00:30", "2010-12-03 10:00"]]


def test_offsets_in_the_dask_engine_and_with_a_date_format(tmp_path):
    raw = pd.DataFrame(with_value(DATE, "2010-12-01T08:00+01:00", row=0), columns=HEADER)
    raw.loc[1, c.INVOICE_DATE] = "2010-12-01T08:28:00+00:00"
    dask_dates = canonical_part(raw, source="x.csv", date_format="ISO8601")[c.INVOICE_DATE]
    rows = with_value(DATE, "01/12/2010 08:00+0100", row=0)
    rows[1][DATE] = "01/12/2010 08:28+0000"
    for row in rows[2:]:
        row[DATE] = "02/12/2010 09:41+0000"
    formatted = load_invoices(write_table(tmp_path / "f.csv", rows), date_format="%d/%m/%Y %H:%M%z")
    expected = pd.to_datetime(["2010-12-01 08:00", "2010-12-01 08:28"])
    assert dask_dates[:2].tolist() == list(expected)
    assert formatted[c.INVOICE_DATE][:2].tolist() == list(expected)


def test_a_time_zone_aware_parquet_column_keeps_its_clock_time(tmp_path):
    frame = pd.DataFrame(ROWS, columns=HEADER).astype({c.QUANTITY: int, c.UNIT_PRICE: float, c.CUSTOMER_ID: int})
    clock = pd.to_datetime(frame[c.INVOICE_DATE])
    frame[c.INVOICE_DATE] = clock.dt.tz_localize("Europe/Paris")
    path = tmp_path / "zoned.parquet"
    frame.to_parquet(path, index=False)
    assert load_invoices(path)[c.INVOICE_DATE].tolist() == clock.tolist()
    raw = pd.read_parquet(path)
    assert canonical_part(raw, source=str(path), date_format="ISO8601")[c.INVOICE_DATE].tolist() == (
        clock.tolist()
    )


# --- money ---------------------------------------------------------------------------------


@pytest.mark.parametrize("price", ["inf", "-inf", "1e400", "Infinity"])
def test_an_infinite_price_is_refused(tmp_path, capsys, price):
    message = cli_error(write_table(tmp_path / "inf.csv", with_value(PRICE, price)), tmp_path, capsys)
    assert f"column UnitPrice has 1 value(s) that are not finite numbers ({price!r}) at row(s) 3" in message


def test_nan_text_is_not_a_number(tmp_path, capsys):
    message = cli_error(write_table(tmp_path / "nan.csv", with_value(PRICE, "nan")), tmp_path, capsys)
    assert "column UnitPrice has 1 value(s) that are not numbers ('nan') at row(s) 3" in message


def test_a_line_worth_a_billion_pounds_is_refused_naming_its_row(tmp_path, capsys):
    message = cli_error(write_table(tmp_path / "big.csv", with_value(PRICE, "1e15")), tmp_path, capsys)
    assert message.endswith(
        "1 line(s) worth £1,000,000,000 or more, first at row(s) 3 (Quantity 6 x UnitPrice 1e+15); "
        "fix the quantity or price, or remove those lines."
    )


def test_a_line_just_under_the_bound_sums_exactly(tmp_path):
    rows = with_value(QUANTITY, "1000")
    rows[1][PRICE] = "999999.99"  # £999,999,990 on one line
    invoices = load_invoices(write_table(tmp_path / "large.csv", rows))
    assert line_amount_micros(invoices)[1] == 999_999_990 * 1_000_000
    ledger = clean_invoices(invoices).ledger
    assert ledger.loc["input", c.LEDGER_AMOUNT] == pytest.approx(999_999_990 + 15.30 + 29.85 + 8.50)


def test_lines_that_together_exceed_the_summable_total_are_refused(tmp_path):
    rows = [[f"5{i:05d}", "22633", "X", "1000", "2010-12-01 08:00:00", "999999.99", "17850", "UK"]
            for i in range(4700)]  # 4,700 lines of £999,999,990: £4.7 trillion
    with pytest.raises(InvoiceDataError, match=r"big\.csv: the lines' amounts .* add up to £4,699,999,953,000"):
        load_invoices(write_table(tmp_path / "big.csv", rows))


def test_batches_that_together_exceed_the_summable_total_are_refused(tmp_path):
    counts = clean_invoices(load_invoices(write_table(tmp_path / "x.csv", ROWS))).counts
    batch = counts.assign(micros=counts["micros"].where(counts.index != "input", 3 * 2**60))
    ledger_from_counts(batch)  # one batch fits
    with pytest.raises(InvoiceDataError, match="money sums can hold exactly"):
        ledger_from_counts(pd.concat([batch, batch]))  # two would wrap int64


def test_a_30_digit_quantity_is_refused(tmp_path, capsys):
    message = cli_error(write_table(tmp_path / "q.csv", with_value(QUANTITY, "1" + "0" * 29)), tmp_path, capsys)
    assert "column Quantity has 1 value(s) too large to be read exactly ('1" + "0" * 29 + "') at row(s) 3" in message


# --- customer IDs --------------------------------------------------------------------------


def test_a_customer_id_too_large_to_be_exact_is_refused(tmp_path, capsys):
    path = write_table(tmp_path / "ids.csv", with_value(CUSTOMER, "9007199254740993"))
    assert "column CustomerID has 1 value(s) too large to be read exactly ('9007199254740993') at row(s) 3" in (
        cli_error(path, tmp_path, capsys)
    )


def test_the_largest_exact_customer_id_loads(tmp_path):
    invoices = load_invoices(write_table(tmp_path / "ids.csv", with_value(CUSTOMER, "9007199254740991")))
    assert invoices[c.CUSTOMER_ID][1] == 2**53 - 1


def test_a_negative_customer_id_is_refused(tmp_path, capsys):
    message = cli_error(write_table(tmp_path / "neg.csv", with_value(CUSTOMER, "-1")), tmp_path, capsys)
    assert "column CustomerID has 1 negative value(s) ('-1') at row(s) 3; customer IDs are 0 or more" in message


# --- text keys -----------------------------------------------------------------------------


def test_padded_invoice_numbers_and_stock_codes_give_the_same_customers(tmp_path):
    padded = [[f" {row[0]} ", f"{row[1]} ", *row[2:]] for row in ROWS]
    padded[2][0] = "C536367 "
    padded[2][QUANTITY] = "-3"
    clean = [list(row) for row in ROWS]
    clean[2][0] = "C536367"
    clean[2][QUANTITY] = "-3"
    ours = DuckDBEngine().customer_table(write_table(tmp_path / "padded.csv", padded))
    theirs = DuckDBEngine().customer_table(write_table(tmp_path / "clean.csv", clean))
    pd.testing.assert_frame_equal(ours.customers, theirs.customers)
    pd.testing.assert_frame_equal(ours.ledger, theirs.ledger)
    loaded = load_invoices(tmp_path / "padded.csv")
    assert loaded[c.INVOICE].tolist()[:3] == ["536365", "536366", "C536367"]
    assert loaded[c.STOCK_CODE].tolist()[0] == "85123A"
