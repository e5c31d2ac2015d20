"""Loading the copies of Online Retail people have, in both schemas and every format."""

from __future__ import annotations

import gzip
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from segmentation import columns as c
from segmentation.errors import InvoiceDataError
from segmentation.reading.load import load_invoices, parse_invoice_dates, sniff

ONLINE_RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
ONLINE_RETAIL_II_HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"

# The widely shared Online Retail CSV: latin-1, "£" in text, unpadded month-first dates.
LATIN1_CSV = (
    ONLINE_RETAIL_HEADER + "\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
    "536370,POST,POSTAGE £ CHARGE,3,12/1/2010 8:45,18,12583,France\n"
    "C536379,D,Discount,-1,12/13/2010 9:41,27.5,14527,United Kingdom\n"
    "536381,22139,RETROSPOT TEA SET CERAMIC 11 PC ,23,1/4/2011 16:00,4.25,,Côte d'Ivoire\n"
)

ONLINE_RETAIL_II_CSV = (
    ONLINE_RETAIL_II_HEADER + "\n"
    "489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom\n"
    "C489449,22087,PAPER BUNTING WHITE LACE,-12,2009-12-01 10:33:00,2.95,16321.0,Australia\n"
    "489436,21755,LOVE BUILDING BLOCK WORD,18,2009-12-01 09:06:00,5.45,,United Kingdom\n"
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_latin1_csv_with_pound_sign_and_month_first_dates(tmp_path):
    invoices = load_invoices(write(tmp_path / "Online_Retail.csv", LATIN1_CSV, "latin-1"))
    assert list(invoices.columns) == list(c.INVOICE_COLUMNS)
    assert invoices.loc[1, c.DESCRIPTION] == "POSTAGE £ CHARGE"
    assert invoices.loc[3, c.COUNTRY] == "Côte d'Ivoire"
    assert invoices.loc[3, c.DESCRIPTION] == "RETROSPOT TEA SET CERAMIC 11 PC"  # trailing space gone
    assert list(invoices[c.INVOICE_DATE]) == list(
        pd.to_datetime(["2010-12-01 08:26", "2010-12-01 08:45", "2010-12-13 09:41", "2011-01-04 16:00"])
    )
    assert invoices.loc[2, c.INVOICE] == "C536379"


def test_online_retail_ii_csv_maps_to_canonical_names(tmp_path):
    invoices = load_invoices(write(tmp_path / "online_retail_II.csv", ONLINE_RETAIL_II_CSV))
    assert list(invoices.columns) == list(c.INVOICE_COLUMNS)
    assert invoices[c.CUSTOMER_ID].dtype == "Int64"
    assert invoices[c.CUSTOMER_ID].tolist()[:2] == [13085, 16321]
    assert invoices[c.CUSTOMER_ID].isna().tolist() == [False, False, True]
    assert invoices[c.UNIT_PRICE].tolist() == [6.95, 2.95, 5.45]
    assert invoices[c.QUANTITY].dtype == "Int64"
    assert invoices.loc[0, c.INVOICE_DATE] == pd.Timestamp("2009-12-01 07:45:00")


def test_headers_match_ignoring_case_spaces_and_bom(tmp_path):
    header = "\ufeff invoice , STOCKCODE,description,QUANTITY, Invoice Date ,price,customer_id,COUNTRY"
    body = "\n489434,85048,BALL,12,2009-12-01 07:45:00,6.95,13085,United Kingdom\n"
    invoices = load_invoices(write(tmp_path / "odd_headers.csv", header + body))
    assert list(invoices.columns) == list(c.INVOICE_COLUMNS)
    assert invoices.loc[0, c.CUSTOMER_ID] == 13085


def test_utf8_with_bom_is_read_as_utf8(tmp_path):
    text = ONLINE_RETAIL_HEADER + "\n1,85123A,CAFÉ £ MUG,1,2010-12-01 08:26,2.5,1,España\n"
    invoices = load_invoices(write(tmp_path / "bom.csv", "\ufeff" + text))
    assert invoices.loc[0, c.DESCRIPTION] == "CAFÉ £ MUG"
    assert invoices.loc[0, c.COUNTRY] == "España"


def test_extra_columns_are_not_read(tmp_path, caplog):
    text = "Channel," + ONLINE_RETAIL_HEADER + ",Notes\nweb,1,85123A,MUG,1,2010-12-01 08:26,2.5,1,Spain,gift\n"
    with caplog.at_level("INFO"):
        invoices = load_invoices(write(tmp_path / "extra.csv", text))
    assert list(invoices.columns) == list(c.INVOICE_COLUMNS)
    assert invoices.loc[0, c.STOCK_CODE] == "85123A"
    assert "columns not used: Channel, Notes" in caplog.text


def test_missing_column_is_named_with_the_columns_found(tmp_path):
    text = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,CustomerID,Country\n"
    with pytest.raises(InvoiceDataError, match=r"missing column\(s\) UnitPrice .*found: InvoiceNo"):
        load_invoices(write(tmp_path / "no_price.csv", text))


def test_compressed_csv_and_zip_load_like_the_plain_file(tmp_path):
    plain = load_invoices(write(tmp_path / "retail.csv", ONLINE_RETAIL_II_CSV))
    gz = tmp_path / "retail.csv.gz"
    gz.write_bytes(gzip.compress(ONLINE_RETAIL_II_CSV.encode()))
    zipped = tmp_path / "retail.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("retail.csv", ONLINE_RETAIL_II_CSV)
    pd.testing.assert_frame_equal(load_invoices(gz), plain)
    pd.testing.assert_frame_equal(load_invoices(zipped), plain)


def test_parquet_of_online_retail_ii_loads(tmp_path):
    raw = pd.read_csv(write(tmp_path / "r.csv", ONLINE_RETAIL_II_CSV))
    raw.to_parquet(tmp_path / "retail.parquet")
    invoices = load_invoices(tmp_path / "retail.parquet")
    assert invoices[c.CUSTOMER_ID].tolist()[:2] == [13085, 16321]
    assert invoices.loc[1, c.INVOICE] == "C489449"
    assert invoices.loc[0, c.STOCK_CODE] == "85048"


def _workbook(path: Path) -> Path:
    """Two sheets like the Online Retail II workbook, numeric invoice numbers and codes."""
    first = pd.DataFrame(
        {
            "Invoice": [489434, 489434, "C489449"],
            "StockCode": [85048, "79323P", 22087],
            "Description": ["BALL", "LIGHTS", "BUNTING"],
            "Quantity": [12, 12, -12],
            "InvoiceDate": pd.to_datetime(["2009-12-01 07:45", "2009-12-01 07:45", "2009-12-01 10:33"]),
            "Price": [6.95, 6.75, 2.95],
            "Customer ID": [13085.0, 13085.0, 16321.0],
            "Country": ["United Kingdom", "United Kingdom", "Australia"],
        }
    )
    second = first.assign(Invoice=[536365, 536365, "C536379"])
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        first.to_excel(writer, sheet_name="Year 2009-2010", index=False)
        second.to_excel(writer, sheet_name="Year 2010-2011", index=False)
    return path


def test_xlsx_reads_every_sheet_with_numeric_codes_as_text(tmp_path):
    invoices = load_invoices(_workbook(tmp_path / "online_retail_II.xlsx"))
    assert len(invoices) == 6
    assert invoices[c.INVOICE].tolist() == ["489434", "489434", "C489449", "536365", "536365", "C536379"]
    assert invoices[c.STOCK_CODE].tolist()[:3] == ["85048", "79323P", "22087"]
    assert invoices[c.CUSTOMER_ID].tolist()[:3] == [13085, 13085, 16321]
    assert invoices.loc[2, c.INVOICE_DATE] == pd.Timestamp("2009-12-01 10:33")
    assert invoices[c.INVOICE_DATE].dtype == "datetime64[ns]"


def test_xlsx_sheet_option_reads_one_sheet(tmp_path):
    invoices = load_invoices(_workbook(tmp_path / "wb.xlsx"), sheet="Year 2010-2011")
    assert invoices[c.INVOICE].tolist() == ["536365", "536365", "C536379"]


def test_xlsx_unknown_sheet_is_a_clear_error(tmp_path):
    with pytest.raises(InvoiceDataError, match="no sheet named 'Year 2012'"):
        load_invoices(_workbook(tmp_path / "wb.xlsx"), sheet="Year 2012")


def test_day_first_dates_load_without_a_format(tmp_path):
    text = ONLINE_RETAIL_HEADER + (
        "\n1,85123A,MUG,1,13/1/2011 08:26,2.5,1,Spain\n"  # 13 can only be a day: the column is day-first
        "2,85123A,MUG,1,1/2/2011 08:26,2.5,1,Spain\n"
    )
    invoices = load_invoices(write(tmp_path / "dayfirst.csv", text))
    assert list(invoices[c.INVOICE_DATE]) == list(pd.to_datetime(["2011-01-13 08:26", "2011-02-01 08:26"]))


def test_ambiguous_dates_ask_for_a_format(tmp_path):
    text = ONLINE_RETAIL_HEADER + (
        "\n1,85123A,MUG,1,1/2/2011 08:26,2.5,1,Spain\n"
        "2,85123A,MUG,1,3/4/2011 08:26,2.5,1,Spain\n"
    )
    with pytest.raises(InvoiceDataError, match=r"could be day-first or month-first \('1/2/2011 08:26', '3/4/2011 "
                       r"08:26'\); if the day comes first pass --date-format '%d/%m/%Y %H:%M'"):
        load_invoices(write(tmp_path / "ambiguous.csv", text))


def test_date_format_option_reads_day_first_dates(tmp_path):
    text = ONLINE_RETAIL_HEADER + (
        "\n1,85123A,MUG,1,13/1/2011 08:26,2.5,1,Spain\n"
        "2,85123A,MUG,1,1/2/2011 08:26,2.5,1,Spain\n"
    )
    invoices = load_invoices(write(tmp_path / "dayfirst.csv", text), date_format="%d/%m/%Y %H:%M")
    assert list(invoices[c.INVOICE_DATE]) == list(pd.to_datetime(["2011-01-13 08:26", "2011-02-01 08:26"]))


def test_unparseable_dates_are_counted_with_their_rows(tmp_path):
    text = ONLINE_RETAIL_HEADER + (
        "\n1,85123A,MUG,1,2011-01-13 08:26,2.5,1,Spain\n"
        "2,85123A,MUG,1,yesterday,2.5,1,Spain\n"
    )
    with pytest.raises(
        InvoiceDataError,
        match=r"InvoiceDate has 1 value\(s\) that are not dates \('yesterday'\) at row\(s\) 3",
    ):
        load_invoices(write(tmp_path / "bad_dates.csv", text))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["12/1/2010 8:26", "12/31/2010 23:59"], ["2010-12-01 08:26", "2010-12-31 23:59"]),
        (["12/1/10 8:26", "1/13/11 9:00"], ["2010-12-01 08:26", "2011-01-13 09:00"]),
        (["2010-12-01T08:26:00", "2010-12-31 23:59:59"], ["2010-12-01 08:26", "2010-12-31 23:59:59"]),
    ],
)
def test_recognised_date_text(raw, expected):
    parsed = parse_invoice_dates(pd.Series(raw, dtype="str"), source="f.csv")
    assert list(parsed) == list(pd.to_datetime(expected, format="ISO8601"))


# --- day-first and month-first text: the order read from the column ----------------------------


def _dated_csv(path: Path, dates: list[str]) -> Path:
    """A CSV of one mug line per date, invoice numbers 1, 2, …; line numbers in messages are 2, 3, …"""
    lines = [f"{number},85123A,MUG,1,{date},2.5,17850,Spain" for number, date in enumerate(dates, start=1)]
    return write(path, "\n".join([ONLINE_RETAIL_HEADER, *lines]) + "\n")


def _format_for(order: str, message: str) -> str:
    """The --date-format an error message proposes if the ``order`` ("day", "month") comes first."""
    return re.search(rf"if the {order} comes first pass --date-format '([^']+)'", message).group(1)


def test_dot_separated_day_first_dates_with_seconds_load_without_a_format(tmp_path, caplog):
    # 13.12.2010 can only be 13 December: the column is day-first, so 01.12.2010 is 1 December
    path = _dated_csv(tmp_path / "export.csv", ["01.12.2010 09:53:00", "13.12.2010 10:01:30", "02.01.2011 08:00:00"])
    with caplog.at_level("INFO", logger="segmentation.reading.load"):
        invoices = load_invoices(path)
    assert invoices[c.INVOICE_DATE].tolist() == [pd.Timestamp("2010-12-01 09:53:00"),
                                                 pd.Timestamp("2010-12-13 10:01:30"),
                                                 pd.Timestamp("2011-01-02 08:00:00")]
    assert "export.csv: InvoiceDate read day-first ('13.12.2010 10:01:30' cannot be month-first)" in caplog.text


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        # dashes, day-first: 25 can only be a day
        (["01-12-2010 09:53", "25-12-2010 17:30"], ["2010-12-01 09:53", "2010-12-25 17:30"]),
        # slashes, day-first, no seconds, unpadded
        (["5/1/2011 8:26", "31/1/2011 16:00"], ["2011-01-05 08:26", "2011-01-31 16:00"]),
        # no time at all, day-first
        (["01/12/2010", "14/12/2010"], ["2010-12-01", "2010-12-14"]),
        # dots, month-first: 31 can only be a day, so 12.01.2010 is 1 December
        (["12.01.2010 09:00", "12.31.2010 18:45"], ["2010-12-01 09:00", "2010-12-31 18:45"]),
        # two-digit years, day-first; 99 is 1999 as %y reads it
        (["13.02.11", "01.03.99"], ["2011-02-13", "1999-03-01"]),
    ],
)
def test_numeric_dates_load_in_the_order_the_column_shows(tmp_path, dates, expected):
    invoices = load_invoices(_dated_csv(tmp_path / "dates.csv", dates))
    assert invoices[c.INVOICE_DATE].tolist() == [pd.Timestamp(text) for text in expected]


def test_day_first_dates_load_as_their_strptime_format_reads_them(tmp_path):
    path = _dated_csv(tmp_path / "dates.csv", ["01.12.10 09:53", "13.12.10 10:01", "02.01.70 08:00"])
    pd.testing.assert_frame_equal(load_invoices(path), load_invoices(path, date_format="%d.%m.%y %H:%M"))


def test_ambiguous_dates_quote_the_file_and_propose_formats_that_load_it(tmp_path):
    # every day is 12 or less: 01.12.2010 is 1 December or 12 January
    dates = ["01.12.2010 09:53:00", "02.12.2010 10:01:00", "01.12.2010 09:53:00", "03.12.2010 08:15:00",
             "04.12.2010 11:00:00"]
    path = _dated_csv(tmp_path / "export.csv", dates)
    with pytest.raises(InvoiceDataError) as refused:
        load_invoices(path)
    message = str(refused.value)
    assert message == (
        f"{path}: column InvoiceDate has no date with a day above 12, so its dates could be day-first or "
        "month-first ('01.12.2010 09:53:00', '02.12.2010 10:01:00', '03.12.2010 08:15:00'); "
        "if the day comes first pass --date-format '%d.%m.%Y %H:%M:%S' "
        "(in Python: date_format='%d.%m.%Y %H:%M:%S'); "
        "if the month comes first pass --date-format '%m.%d.%Y %H:%M:%S' "
        "(in Python: date_format='%m.%d.%Y %H:%M:%S')."
    )
    day_first = load_invoices(path, date_format=_format_for("day", message))[c.INVOICE_DATE]
    month_first = load_invoices(path, date_format=_format_for("month", message))[c.INVOICE_DATE]
    assert day_first.tolist() == [pd.Timestamp(t) for t in ["2010-12-01 09:53", "2010-12-02 10:01",
                                                            "2010-12-01 09:53", "2010-12-03 08:15",
                                                            "2010-12-04 11:00"]]
    assert month_first.tolist() == [pd.Timestamp(t) for t in ["2010-01-12 09:53", "2010-02-12 10:01",
                                                              "2010-01-12 09:53", "2010-03-12 08:15",
                                                              "2010-04-12 11:00"]]


@pytest.mark.parametrize("dates", [
    ["1/2/2011", "3/4/2011"],
    ["1-2-11 8:26", "3-4-11 8:26", "12-12-11 23:59"],
    ["01.02.2011T08:26", "03.04.2011T09:00"],
])
def test_a_proposed_format_read_back_from_the_message_loads_every_row(tmp_path, dates):
    path = _dated_csv(tmp_path / "short.csv", dates)
    with pytest.raises(InvoiceDataError, match="could be day-first or month-first") as refused:
        load_invoices(path)
    for order in ("day", "month"):
        invoices = load_invoices(path, date_format=_format_for(order, str(refused.value)))
        assert len(invoices) == len(dates) and invoices[c.INVOICE_DATE].notna().all()


def test_ambiguous_dates_beside_other_text_name_the_rows_no_format_reads(tmp_path):
    path = _dated_csv(tmp_path / "mixed.csv", ["01/12/2010 09:53", "2010-12-02 10:00:00", "02/12/2010 11:00"])
    with pytest.raises(InvoiceDataError) as refused:
        load_invoices(path)
    assert str(refused.value) == (
        f"{path}: column InvoiceDate has no date with a day above 12, so its dates could be day-first or "
        "month-first ('01/12/2010 09:53', '02/12/2010 11:00'); neither '%d/%m/%Y %H:%M' (day first) nor "
        "'%m/%d/%Y %H:%M' (month first) reads 1 value(s) ('2010-12-02 10:00:00') at row(s) 3: fix those rows, "
        "then give the format of the order the file uses with --date-format (in Python: date_format=)."
    )


def test_a_column_with_day_first_and_month_first_dates_is_refused_naming_both(tmp_path):
    # 13/12 has its day first, 12/13 its day second: no one order reads both
    path = _dated_csv(tmp_path / "both.csv", ["13/12/2010 09:53", "01/12/2010 10:00", "12/13/2010 11:00",
                                              "14/12/2010 12:00"])
    with pytest.raises(InvoiceDataError) as refused:
        load_invoices(path)
    assert str(refused.value) == (
        f"{path}: column InvoiceDate has dates whose first number is above 12, so day-first "
        "('13/12/2010 09:53', '14/12/2010 12:00' at row(s) 2, 5), and dates whose second number is, so "
        "month-first ('12/13/2010 11:00' at row(s) 4); no one order reads them all: fix those rows so that "
        "the column writes its dates one way."
    )


def test_a_date_format_that_does_not_match_is_answered_with_one_that_does(tmp_path):
    path = _dated_csv(tmp_path / "export.csv", ["01.12.2010 09:53:00", "13.12.2010 10:01:00"])
    with pytest.raises(InvoiceDataError) as refused:
        load_invoices(path, date_format="%d/%m/%Y %H:%M")
    message = str(refused.value)
    assert message.endswith(
        "at row(s) 2, 3; the column reads with --date-format '%d.%m.%Y %H:%M:%S' "
        "(in Python: date_format='%d.%m.%Y %H:%M:%S')."
    )
    proposed = re.search(r"--date-format '([^']+)'", message).group(1)
    pd.testing.assert_frame_equal(load_invoices(path, date_format=proposed), load_invoices(path))


def test_an_impossible_day_in_a_day_first_column_is_named_with_its_row(tmp_path):
    path = _dated_csv(tmp_path / "feb.csv", ["13.02.2011 09:00", "30.02.2011 10:00"])
    with pytest.raises(InvoiceDataError, match=r"1 value\(s\) that are not dates \('30.02.2011 10:00'\) at row\(s\) 3"):
        load_invoices(path)


def test_customer_id_written_as_float_text_or_with_spaces(tmp_path):
    text = ONLINE_RETAIL_HEADER + (
        "\n1,85123A,MUG,1,2010-12-01 08:26,2.5,17850.0,Spain\n"
        "2,85123A,MUG,1,2010-12-01 08:26,2.5, 17851 ,Spain\n"
    )
    invoices = load_invoices(write(tmp_path / "ids.csv", text))
    assert invoices[c.CUSTOMER_ID].tolist() == [17850, 17851]


def test_text_in_a_number_column_names_column_value_and_row(tmp_path):
    text = ONLINE_RETAIL_HEADER + (
        "\n1,85123A,MUG,1,2010-12-01 08:26,2.5,1,Spain\n"
        "2,85123A,MUG,six,2010-12-01 08:26,2.5,1,Spain\n"
    )
    with pytest.raises(
        InvoiceDataError,
        match=r"bad_qty.csv: column Quantity has 1 value\(s\) that are not numbers \('six'\) at row\(s\) 3",
    ):
        load_invoices(write(tmp_path / "bad_qty.csv", text))


def test_missing_file_and_unknown_type_are_clear_errors(tmp_path):
    with pytest.raises(InvoiceDataError, match="no such file"):
        load_invoices(tmp_path / "absent.csv")
    with pytest.raises(InvoiceDataError, match="unknown file type .json"):
        load_invoices(write(tmp_path / "invoices.json", "{}"))


def test_loading_does_not_modify_the_file(tmp_path):
    path = write(tmp_path / "retail.csv", LATIN1_CSV, "latin-1")
    before = path.read_bytes()
    load_invoices(path)
    assert path.read_bytes() == before


def test_xlsx_is_parsed_once_then_read_from_its_cache(tmp_path, monkeypatch):
    path = _workbook(tmp_path / "online_retail_II.xlsx")
    first = load_invoices(path)

    def no_excel(*args, **kwargs):
        raise AssertionError("the workbook was parsed again")

    monkeypatch.setattr(pd, "read_excel", no_excel)
    pd.testing.assert_frame_equal(load_invoices(path), first)
    with pytest.raises(InvoiceDataError, match="parsed again"):
        load_invoices(path, sheet="Year 2010-2011")  # other options: another cache entry


def test_changed_xlsx_is_parsed_again(tmp_path):
    path = _workbook(tmp_path / "book.xlsx")
    load_invoices(path)
    pd.DataFrame({"InvoiceNo": [1], "StockCode": ["22111"], "Description": ["BOTTLE"], "Quantity": [3],
                  "InvoiceDate": [pd.Timestamp("2011-01-05 10:00")], "UnitPrice": [4.95],
                  "CustomerID": [12346], "Country": ["Spain"]}).to_excel(path, index=False)
    assert load_invoices(path)[c.COUNTRY].tolist() == ["Spain"]


def test_sniff_describes_a_gzipped_semicolon_file_with_a_title_row(tmp_path):
    text = "Sales export\n" + ONLINE_RETAIL_II_CSV.replace(",", ";")
    path = tmp_path / "sales.csv.gz"
    path.write_bytes(gzip.compress(text.encode("cp1252")))
    table = sniff(path)
    assert (table.kind, table.compression, table.delimiter, table.header_row) == ("text", "gzip", ";", 1)
    assert table.encoding == "utf-8-sig"  # plain ASCII decodes as UTF-8
    assert table.renames["Customer ID"] == c.CUSTOMER_ID and table.renames["Price"] == c.UNIT_PRICE


def test_sniff_reads_a_parquet_schema_and_refuses_missing_columns(tmp_path):
    path = tmp_path / "lines.parquet"
    pd.DataFrame({"Invoice": ["1"], "StockCode": ["A"]}).to_parquet(path)
    with pytest.raises(InvoiceDataError, match="missing column"):
        sniff(path)
    lines = load_invoices(write(tmp_path / "lines.csv", ONLINE_RETAIL_II_CSV))
    lines.to_parquet(path)
    table = sniff(path)
    assert table.kind == "parquet" and set(table.renames.values()) == set(c.INVOICE_COLUMNS)


def test_a_column_with_no_text_at_all_is_read_as_missing(tmp_path):
    text = ONLINE_RETAIL_II_HEADER + "\n" + "489434,85048,,12,2009-12-01 07:45:00,6.95,13085,United Kingdom\n"
    invoices = load_invoices(write(tmp_path / "lines.csv", text))
    assert invoices[c.DESCRIPTION].isna().all() and invoices[c.STOCK_CODE].tolist() == ["85048"]
