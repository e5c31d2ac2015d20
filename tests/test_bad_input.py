"""Bad input: each file a real export might be gets a correct result or one clear message.

Every case here is a row of the README's "Bad input" table. Files are built in
the test; none is committed.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from conftest import cli_error
from segmentation import columns as c
from segmentation import config
from segmentation.__main__ import main
from segmentation.errors import InvoiceDataError
from segmentation.export import atomic_path, write_csv
from segmentation.reading.load import load_invoices

HEADER = list(c.INVOICE_COLUMNS)
#   InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country
ROWS = [
    ["536365", "85123A", "WHITE HANGING HEART", "6", "2010-12-01 08:26:00", "2.55", "17850", "United Kingdom"],
    ["536366", "22633", "HAND WARMER UNION JACK", "6", "2010-12-01 08:28:00", "1.85", "17851", "France"],
    ["C536379", "D", "Discount", "-1", "2010-12-01 09:41:00", "27.50", "14527", "United Kingdom"],
]


def write_table(path: Path, rows: list[list[str]], *, sep: str = ",", header: list[str] = HEADER,
                encoding: str = "utf-8", before: str = "") -> Path:
    lines = [sep.join(header), *(sep.join(row) for row in rows)]
    path.write_bytes((before + "\n".join(lines) + "\n").encode(encoding))
    return path


# --- files that are not invoice tables -------------------------------------------


def test_empty_file(tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "empty.csv: the file is empty (0 bytes)" in cli_error(path, tmp_path, capsys)


def test_header_only(tmp_path, capsys):
    path = write_table(tmp_path / "header_only.csv", [])
    assert "the header is there but there are no invoice lines" in cli_error(path, tmp_path, capsys)


@pytest.mark.parametrize(
    ("magic", "kind"),
    [(b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG image"), (b"%PDF-1.7\n%\xe2\xe3", "a PDF document")],
)
def test_image_or_pdf_renamed_csv(tmp_path, capsys, magic, kind):
    path = tmp_path / "invoices.csv"
    path.write_bytes(magic)
    assert f"is {kind}, not a table of invoice lines" in cli_error(path, tmp_path, capsys)


def test_zip_without_a_csv(tmp_path, capsys):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt.md", "nothing here")
        archive.writestr("logo.png", b"\x89PNG")
    message = cli_error(path, tmp_path, capsys)
    assert "the zip archive holds no CSV file (found: readme.txt.md, logo.png)" in message


def test_zip_with_two_csvs_asks_for_one(tmp_path):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("2010.csv", "a")
        archive.writestr("2011.csv", "b")
    with pytest.raises(InvoiceDataError, match="holds 2 CSV files"):
        load_invoices(path)


def test_damaged_workbook(tmp_path, capsys):
    path = tmp_path / "invoices.xlsx"
    path.write_text("this is not a workbook", encoding="utf-8")
    assert "cannot be read as an Excel workbook" in cli_error(path, tmp_path, capsys)


def test_missing_required_column_names_it_and_lists_found(tmp_path, capsys):
    header = [name for name in HEADER if name != c.UNIT_PRICE]
    path = write_table(tmp_path / "no_price.csv", [row[:5] + row[6:] for row in ROWS], header=header)
    message = cli_error(path, tmp_path, capsys)
    assert "missing column(s) UnitPrice" in message
    assert "found: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, CustomerID, Country" in message


# --- layouts that load -------------------------------------------------------------


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_other_separators_are_detected(tmp_path, sep, name):
    path = write_table(tmp_path / f"{name}.csv", ROWS, sep=sep)
    pd.testing.assert_frame_equal(load_invoices(path), load_invoices(write_table(tmp_path / "comma.csv", ROWS)))


def test_decimal_commas(tmp_path):
    rows = [row[:5] + [row[5].replace(".", ",")] + row[6:] for row in ROWS]
    invoices = load_invoices(write_table(tmp_path / "decimal_comma.csv", rows, sep=";"))
    assert invoices[c.UNIT_PRICE].tolist() == [2.55, 1.85, 27.5]


def test_decimal_commas_with_thousands_points(tmp_path):
    rows = [ROWS[0][:5] + ["1.234,50"] + ROWS[0][6:], ROWS[1][:5] + ["2,55"] + ROWS[1][6:]]
    invoices = load_invoices(write_table(tmp_path / "eu.csv", rows, sep=";"))
    assert invoices[c.UNIT_PRICE].tolist() == [1234.5, 2.55]


def test_mixed_decimal_conventions_are_refused(tmp_path):
    rows = [ROWS[0][:5] + ["2,55"] + ROWS[0][6:], ROWS[1][:5] + ["1.85"] + ROWS[1][6:]]
    message = r"UnitPrice writes decimals both with a comma \('2,55'\) and with a point \('1.85'\)"
    with pytest.raises(InvoiceDataError, match=message):
        load_invoices(write_table(tmp_path / "mixed.csv", rows, sep=";"))


def test_prices_with_a_currency_sign(tmp_path):
    rows = [ROWS[0][:5] + ['"£2.55"'] + ROWS[0][6:], ROWS[1][:5] + ['"£1,234.50"'] + ROWS[1][6:]]
    invoices = load_invoices(write_table(tmp_path / "pounds.csv", rows))
    assert invoices[c.UNIT_PRICE].tolist() == [2.55, 1234.5]


def test_title_rows_above_the_header_in_a_csv(tmp_path):
    path = write_table(tmp_path / "titled.csv", ROWS, before="Sales export\nPeriod: December 2010\n\n")
    invoices = load_invoices(path)
    assert invoices[c.INVOICE].tolist() == ["536365", "536366", "C536379"]


def test_gzip_named_csv_is_read(tmp_path):
    plain = write_table(tmp_path / "plain.csv", ROWS)
    disguised = tmp_path / "disguised.csv"
    disguised.write_bytes(gzip.compress(plain.read_bytes()))
    pd.testing.assert_frame_equal(load_invoices(disguised), load_invoices(plain))


def test_text_in_quantity(tmp_path, capsys):
    rows = [ROWS[0], ROWS[1][:3] + ["six"] + ROWS[1][4:], ROWS[2]]
    message = cli_error(write_table(tmp_path / "qty.csv", rows), tmp_path, capsys)
    assert "column Quantity has 1 value(s) that are not numbers ('six') at row(s) 3" in message


def test_unparseable_dates_report_count_and_first_rows(tmp_path, capsys):
    rows = [row[:4] + [date] + row[5:] for row, date in zip(ROWS, ["soon", "2010-12-01 08:28:00", "n/a"], strict=True)]
    message = cli_error(write_table(tmp_path / "dates.csv", rows), tmp_path, capsys)
    assert "column InvoiceDate has 2 value(s) that are not dates ('soon', 'n/a') at row(s) 2, 4" in message


def test_day_first_dates_load_as_with_their_format(tmp_path):
    dates = ["13/12/2010 08:26", "1/12/2010 08:28", "2/12/2010 09:41"]
    rows = [row[:4] + [date] + row[5:] for row, date in zip(ROWS, dates, strict=True)]
    path = write_table(tmp_path / "dayfirst.csv", rows)
    invoices = load_invoices(path)
    assert invoices[c.INVOICE_DATE].dt.month.tolist() == [12, 12, 12]
    pd.testing.assert_frame_equal(invoices, load_invoices(path, date_format="%d/%m/%Y %H:%M"))


def test_ambiguous_dates_get_the_files_own_values_and_a_format_for_each_order(tmp_path, capsys):
    dates = ["01.12.2010 09:53:00", "02.12.2010 10:01:00", "03.12.2010 08:15:00"]  # no day above 12
    rows = [row[:4] + [date] + row[5:] for row, date in zip(ROWS, dates, strict=True)]
    path = write_table(tmp_path / "export.csv", rows)
    message = cli_error(path, tmp_path, capsys)
    assert message.startswith(f"error: {path}: column InvoiceDate has no date with a day above 12, so its dates "
                              "could be day-first or month-first ('01.12.2010 09:53:00', '02.12.2010 10:01:00', "
                              "'03.12.2010 08:15:00'); if the day comes first pass --date-format '%d.%m.%Y %H:%M:%S' "
                              "(in Python: date_format='%d.%m.%Y %H:%M:%S'); if the month comes first")
    invoices = load_invoices(path, date_format="%d.%m.%Y %H:%M:%S")
    assert invoices[c.INVOICE_DATE].dt.day.tolist() == [1, 2, 3]


def test_a_date_format_that_does_not_match_gets_the_one_that_does(tmp_path, capsys):
    dates = ["01.12.2010 09:53:00", "13.12.2010 10:01:00", "03.12.2010 08:15:00"]
    rows = [row[:4] + [date] + row[5:] for row, date in zip(ROWS, dates, strict=True)]
    path = write_table(tmp_path / "export.csv", rows)
    message = cli_error(path, tmp_path, capsys, "--date-format", "%d/%m/%Y %H:%M")
    assert message == (
        f"error: {path}: column InvoiceDate has 3 value(s) that do not match date_format '%d/%m/%Y %H:%M' "
        "('01.12.2010 09:53:00', '13.12.2010 10:01:00', '03.12.2010 08:15:00') at row(s) 2, 3, 4; the column "
        "reads with --date-format '%d.%m.%Y %H:%M:%S' (in Python: date_format='%d.%m.%Y %H:%M:%S')."
    )
    pd.testing.assert_frame_equal(load_invoices(path), load_invoices(path, date_format="%d.%m.%Y %H:%M:%S"))


def test_day_first_and_month_first_dates_in_one_column(tmp_path, capsys):
    dates = ["13/12/2010 08:26", "12/13/2010 08:28", "1/12/2010 09:41"]
    rows = [row[:4] + [date] + row[5:] for row, date in zip(ROWS, dates, strict=True)]
    message = cli_error(write_table(tmp_path / "both.csv", rows), tmp_path, capsys)
    assert "so day-first ('13/12/2010 08:26' at row(s) 2)" in message
    assert "so month-first ('12/13/2010 08:28' at row(s) 3); no one order reads them all" in message


def test_mixed_date_formats_in_one_column(tmp_path):
    dates = ["2010-12-01 08:26:00", "12/13/2010 8:28", "12/1/2010 9:41"]
    rows = [row[:4] + [date] + row[5:] for row, date in zip(ROWS, dates, strict=True)]
    invoices = load_invoices(write_table(tmp_path / "mixed_dates.csv", rows))
    assert invoices[c.INVOICE_DATE].tolist() == list(
        pd.to_datetime(["2010-12-01 08:26", "2010-12-13 08:28", "2010-12-01 09:41"])
    )


def test_customer_id_as_float_text_and_with_spaces(tmp_path):
    rows = [row[:6] + [cid] + row[7:] for row, cid in zip(ROWS, ["17850.0", " 17851 ", ""], strict=True)]
    invoices = load_invoices(write_table(tmp_path / "ids.csv", rows))
    assert invoices[c.CUSTOMER_ID].tolist()[:2] == [17850, 17851]
    assert invoices[c.CUSTOMER_ID].isna().tolist() == [False, False, True]


def test_headers_in_other_case_with_spaces_and_bom(tmp_path):
    header = ["\ufeffINVOICENO", " stock code ", "description", "Quantity ", "invoice_date", "Unit Price",
              "Customer ID", "country"]
    invoices = load_invoices(write_table(tmp_path / "headers.csv", ROWS, header=header))
    assert list(invoices.columns) == HEADER and len(invoices) == 3


# --- workbooks -------------------------------------------------------------------------


def _frame(rows: list[list[str]], header: list[str] = HEADER) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=header)
    return frame.assign(Quantity=frame["Quantity"].astype(int))


def test_workbook_sheet_with_any_name_is_read(tmp_path):
    path = tmp_path / "book.xlsx"
    _frame(ROWS).to_excel(path, sheet_name="Export 2010", index=False)
    assert len(load_invoices(path)) == 3


def test_workbook_sheets_with_different_headers_and_a_notes_sheet(tmp_path):
    path = tmp_path / "book.xlsx"
    ii_header = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"Notes": ["exported by the till"]}).to_excel(writer, sheet_name="Notes", index=False)
        _frame(ROWS[:2]).to_excel(writer, sheet_name="2010", index=False)
        _frame(ROWS[2:], ii_header).to_excel(writer, sheet_name="2011", index=False)
    invoices = load_invoices(path)
    assert invoices[c.INVOICE].tolist() == ["536365", "536366", "C536379"]
    assert invoices[c.UNIT_PRICE].tolist() == [2.55, 1.85, 27.5]


def test_workbook_with_a_title_row_above_the_header(tmp_path):
    path = tmp_path / "titled.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame([["Online shop - invoice lines"]]).to_excel(writer, sheet_name="Sales", index=False, header=False)
        _frame(ROWS).to_excel(writer, sheet_name="Sales", index=False, startrow=2)
    invoices = load_invoices(path)
    assert invoices[c.STOCK_CODE].tolist() == ["85123A", "22633", "D"]


def test_workbook_error_names_sheet_and_excel_row(tmp_path):
    path = tmp_path / "bad.xlsx"
    rows = [ROWS[0], ROWS[1][:3] + ["6"] + ROWS[1][4:5] + ["free"] + ROWS[1][6:]]
    _frame(rows).to_excel(path, sheet_name="Sales", index=False)
    message = r"UnitPrice has 1 value\(s\) that are not numbers \('free'\) at row\(s\) Sales!3"
    with pytest.raises(InvoiceDataError, match=message):
        load_invoices(path)


# --- files that load but cannot be segmented ----------------------------------------


def test_every_line_a_cancellation(tmp_path, capsys):
    rows = [["C" + row[0].lstrip("C")] + row[1:3] + ["-" + row[3].lstrip("-")] + row[4:] for row in ROWS]
    message = cli_error(write_table(tmp_path / "refunds.csv", rows), tmp_path, capsys)
    assert "no purchase lines after cleaning (3 lines read, 3 kept, all returns or cancellations)" in message


def test_fewer_customers_than_k(tmp_path, capsys):
    message = cli_error(write_table(tmp_path / "few.csv", ROWS[:2]), tmp_path, capsys)
    assert "only 2 customer(s) can be clustered on Total_Bill_Size, too few for 3 clusters" in message


def test_every_customer_with_the_same_spend(tmp_path, capsys):
    rows = [[str(536365 + i), "85123A", "HEART", "1", "2010-12-01 08:26:00", "5.00", str(17850 + i), "France"]
            for i in range(5)]
    message = cli_error(write_table(tmp_path / "same.csv", rows), tmp_path, capsys)
    assert "only 1 distinct value(s) of Total_Bill_Size among 5 customers" in message


# --- outputs ---------------------------------------------------------------------------


def test_cli_refuses_to_overwrite_its_input(tmp_path, capsys):
    path = write_table(tmp_path / "customers.csv", ROWS)
    before = path.read_bytes()
    assert main([str(path), "--out", str(tmp_path)]) == 2
    assert "would overwrite the input file" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_cli_refuses_to_write_beside_the_committed_sample(capsys):
    before = config.SAMPLE_PATH.read_bytes()
    assert main([str(config.SAMPLE_PATH), "--out", str(config.DATA_DIR)]) == 2
    assert "not written beside the committed sample" in capsys.readouterr().err
    assert config.SAMPLE_PATH.read_bytes() == before
    assert not (config.DATA_DIR / "customers.csv").exists()


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "customers.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half a fi", encoding="utf-8")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["customers.csv"]


def test_write_csv_replaces_the_whole_file(tmp_path):
    target = write_csv(pd.DataFrame({"a": [1, 2]}), tmp_path / "t.csv", index=False)
    assert target.read_text(encoding="utf-8") == "a\n1\n2\n"


def test_loading_never_modifies_the_input(tmp_path):
    path = write_table(tmp_path / "input.csv", ROWS, sep=";")
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    load_invoices(path)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


def test_notebook_shows_the_message_without_a_traceback():
    error = InvoiceDataError("f.csv: column Quantity has 1 value(s) that are not numbers")
    assert error._render_traceback_() == [
        "InvoiceDataError: f.csv: column Quantity has 1 value(s) that are not numbers"
    ]


# --- memory: only the columns used are read ---------------------------------------------


def test_columns_that_are_not_used_are_not_read(tmp_path):
    wide_header = HEADER + [f"extra_{i}" for i in range(30)]
    wide_rows = [row + ["x" * 200] * 30 for row in ROWS]
    wide = load_invoices(write_table(tmp_path / "wide.csv", wide_rows, header=wide_header))
    narrow = load_invoices(write_table(tmp_path / "narrow.csv", ROWS))
    pd.testing.assert_frame_equal(wide, narrow)
