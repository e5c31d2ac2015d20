"""InvoiceDate text is parsed once per distinct text: the same dates, log counts and errors as line by line."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from segmentation.errors import InvoiceDataError
from segmentation.reading.load import parse_invoice_dates


def test_repeated_texts_give_the_dates_of_each_line():
    texts = ["2010-12-01 08:26:00", "12/13/2010 9:05", "2010-12-01 08:26:00", " 12/13/2010 9:05 ",
             "2010-12-02T10:00+01:00"] * 5
    dates = parse_invoice_dates(pd.Series(texts, dtype="str"), source="f.csv")
    assert dates.dtype == "datetime64[ns]"
    expected = [pd.Timestamp("2010-12-01 08:26"), pd.Timestamp("2010-12-13 09:05"), pd.Timestamp("2010-12-01 08:26"),
                pd.Timestamp("2010-12-13 09:05"), pd.Timestamp("2010-12-02 10:00")] * 5
    assert dates.tolist() == expected


def test_the_log_counts_lines_not_distinct_texts(caplog):
    texts = ["2010-12-01 08:26:00"] * 7 + ["12/13/2010 9:05"] * 3
    with caplog.at_level(logging.INFO, logger="segmentation.reading.load"):
        parse_invoice_dates(pd.Series(texts, dtype="str"), source="f.csv")
    assert "mixes ISO (7) and month-first (3) dates" in caplog.text


def test_a_bad_text_repeated_is_named_at_every_row():
    texts = ["2010-12-01 08:26:00"] * 4 + ["not a date", "2010-12-01 08:26:00", "not a date"]
    with pytest.raises(InvoiceDataError, match=r"2 value\(s\) that are not dates \('not a date'\) at row\(s\) 4, 6"):
        parse_invoice_dates(pd.Series(texts, dtype="str"), source="f.csv")


def test_day_first_texts_repeated_give_the_dates_of_each_line():
    texts = ["13/12/2010 9:05", "01/12/2010 9:05"] * 3
    dates = parse_invoice_dates(pd.Series(texts, dtype="str"), source="f.csv")
    assert dates.tolist() == [pd.Timestamp("2010-12-13 09:05"), pd.Timestamp("2010-12-01 09:05")] * 3


def test_ambiguous_texts_repeated_quote_each_distinct_text_once():
    texts = ["01/12/2010 9:05", "02/12/2010 9:05"] * 3
    with pytest.raises(InvoiceDataError, match=r"could be day-first or month-first \('01/12/2010 9:05', "
                       r"'02/12/2010 9:05'\);"):
        parse_invoice_dates(pd.Series(texts, dtype="str"), source="f.csv")


def test_the_log_counts_day_first_lines_beside_iso_ones(caplog):
    texts = ["2010-12-01 08:26:00"] * 7 + ["13.12.2010 09:05:00"] * 2 + ["01.12.2010 09:05:00"]
    with caplog.at_level(logging.INFO, logger="segmentation.reading.load"):
        dates = parse_invoice_dates(pd.Series(texts, dtype="str"), source="f.csv")
    assert "mixes ISO (7) and day-first (3) dates ('13.12.2010 09:05:00' cannot be month-first)" in caplog.text
    assert dates.iloc[-1] == pd.Timestamp("2010-12-01 09:05")


def test_a_bad_text_repeated_in_an_ambiguous_column_is_named_at_every_row():
    texts = ["01/12/2010 9:05"] * 4 + ["soon", "01/12/2010 9:05", "soon"]
    with pytest.raises(InvoiceDataError, match=r"reads 2 value\(s\) \('soon'\) at row\(s\) 4, 6: fix those rows"):
        parse_invoice_dates(pd.Series(texts, dtype="str"), source="f.csv")
