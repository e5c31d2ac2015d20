"""Read invoice-line files into one frame with canonical columns.

This is the only module that reads input files. Whatever the file called its
columns ("Online Retail" or "Online Retail II" names, any case, spaces, a BOM),
the frame that comes back has the columns of :data:`columns.INVOICE_COLUMNS`
first, in that order, with these types:

========== ===============================================================
InvoiceNo   text ("536365", "C536379"; numbers read from Excel become text)
StockCode   text ("85123A", "22423")
Description text, surrounding spaces removed; missing stays missing
Quantity    Int64
InvoiceDate datetime64 (no time zone)
UnitPrice   float64
CustomerID  Int64, missing where the line has no customer (17850.0 -> 17850)
Country     text
========== ===============================================================

Any other columns of the file follow, untouched. One row is one invoice line.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation.errors import InvoiceDataError

log = logging.getLogger(__name__)

#: Encodings tried in order for text files; latin-1 decodes any byte.
CSV_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "cp1252", "latin-1")
_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "cp1252": "cp1252 (Windows-1252)", "latin-1": "latin-1 (ISO-8859-1)"}
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
CSV_SUFFIXES = (".csv", ".txt", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".zip", ".gz")
PARQUET_SUFFIXES = (".parquet", ".pq")

_SLASH_DATE = re.compile(
    r"^(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-](?P<year>\d{4}|\d{2})"
    r"(?:[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?$"
)
_ERROR_ROWS_SHOWN = 5


def load_invoices(
    path: str | Path, *, sheet: str | None = None, date_format: str | None = None
) -> pd.DataFrame:
    """Read an invoice-line file (CSV, Excel or Parquet) into canonical columns.

    Parameters
    ----------
    path
        ``.csv`` (also ``.csv.gz`` and ``.zip`` holding one CSV), ``.xlsx`` or
        ``.parquet``. Text is decoded as UTF-8 (with or without BOM), else
        cp1252, else latin-1; the encoding used is logged.
    sheet
        Excel only: the sheet to read. By default every sheet is read and the
        sheets are stacked in workbook order.
    date_format
        A ``strftime`` format for InvoiceDate text, e.g. ``"%d/%m/%Y %H:%M"``.
        Without it ISO dates and month-first dates (``12/1/2010 8:26``) are
        recognised; day-first or ambiguous dates raise an error that asks for it.

    Returns
    -------
    pandas.DataFrame
        One row per invoice line, columns as in the module docstring. Row order
        is the file's order; the index is a fresh ``RangeIndex``.

    Raises
    ------
    InvoiceDataError
        The file is missing, of an unknown type, lacks a required column, or a
        value cannot be read; the message names the file, column and fix.
    """
    path = Path(path)
    if not path.is_file():
        raise InvoiceDataError(f"{path}: no such file; check the path and try again.")
    raw = _read_raw(path, sheet=sheet)
    return _to_canonical(raw, source=path, date_format=date_format)


def _read_raw(path: Path, *, sheet: str | None) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return pd.read_parquet(path)
    if name.endswith(EXCEL_SUFFIXES):
        return _read_excel(path, sheet=sheet)
    if name.endswith(CSV_SUFFIXES):
        return _read_csv(path)
    raise InvoiceDataError(
        f"{path}: unknown file type {''.join(path.suffixes) or '(none)'}; "
        "give a .csv, .csv.gz, .zip, .xlsx or .parquet file."
    )


def _read_csv(path: Path) -> pd.DataFrame:
    """Read every cell as text, trying the encodings of ``CSV_ENCODINGS`` in turn."""
    for encoding in CSV_ENCODINGS:
        try:
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                encoding=encoding,
                compression="infer",
            )
        except UnicodeDecodeError:
            continue
        log.info("%s: text decoded as %s", path.name, _ENCODING_NAMES[encoding])
        return frame
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _read_excel(path: Path, *, sheet: str | None) -> pd.DataFrame:
    """Read one sheet, or every sheet stacked in workbook order."""
    try:
        sheets = pd.read_excel(
            path, sheet_name=sheet if sheet is not None else None, engine="calamine", dtype=object
        )
    except ValueError as error:
        if sheet is not None and "not found" in str(error).lower():
            raise InvoiceDataError(
                f"{path}: no sheet named {sheet!r}; leave out sheet= to read every sheet."
            ) from None
        raise
    if isinstance(sheets, pd.DataFrame):
        return sheets
    frames = []
    for sheet_name, frame in sheets.items():
        if frame.empty:
            continue
        missing = _missing_columns(frame.columns)
        if missing:
            raise InvoiceDataError(
                f"{path}, sheet {sheet_name!r}: missing column(s) {', '.join(missing)} "
                f"(found: {', '.join(map(str, frame.columns))}); pass sheet= to read one sheet."
            )
        frames.append(frame.rename(columns=_canonical_names(frame.columns)))
    if not frames:
        raise InvoiceDataError(f"{path}: every sheet is empty; give a workbook with invoice lines.")
    log.info("%s: read %d sheet(s)", path.name, len(frames))
    return pd.concat(frames, ignore_index=True)


def _canonical_names(names: pd.Index) -> dict[object, str]:
    """Map each header that is an alias of a canonical column to that column."""
    renames: dict[object, str] = {}
    for name in names:
        canonical = c.ALIASES.get(c.normalise_header(name))
        if canonical is not None and canonical not in renames.values():
            renames[name] = canonical
    return renames


def _missing_columns(names: pd.Index) -> list[str]:
    found = set(_canonical_names(names).values())
    return [column for column in c.INVOICE_COLUMNS if column not in found]


def _to_canonical(raw: pd.DataFrame, *, source: Path, date_format: str | None) -> pd.DataFrame:
    missing = _missing_columns(raw.columns)
    if missing:
        raise InvoiceDataError(
            f"{source}: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(str, raw.columns))}); rename the columns to the "
            f"Online Retail names {', '.join(c.INVOICE_COLUMNS)}."
        )
    frame = raw.rename(columns=_canonical_names(raw.columns))
    extras = [column for column in frame.columns if column not in c.INVOICE_COLUMNS]
    out = pd.DataFrame(
        {
            c.INVOICE: _code_text(frame[c.INVOICE]),
            c.STOCK_CODE: _code_text(frame[c.STOCK_CODE]),
            c.DESCRIPTION: _text(frame[c.DESCRIPTION]),
            c.QUANTITY: _whole_numbers(frame[c.QUANTITY], source=source, column=c.QUANTITY),
            c.INVOICE_DATE: parse_invoice_dates(
                frame[c.INVOICE_DATE], source=source, date_format=date_format
            ),
            c.UNIT_PRICE: _numbers(frame[c.UNIT_PRICE], source=source, column=c.UNIT_PRICE),
            c.CUSTOMER_ID: _whole_numbers(
                frame[c.CUSTOMER_ID], source=source, column=c.CUSTOMER_ID, allow_missing=True
            ),
            c.COUNTRY: _text(frame[c.COUNTRY]),
        }
    )
    return pd.concat([out, frame[extras]], axis=1).reset_index(drop=True)


def _text(values: pd.Series) -> pd.Series:
    """Text with surrounding spaces removed; empty text becomes missing."""
    text = values.astype("str").str.strip()
    return text.mask(values.isna() | (text == ""))


def _code_text(values: pd.Series) -> pd.Series:
    """Codes as text; whole numbers read from Excel (536365.0) lose the ``.0``."""
    if values.dtype == object or pd.api.types.is_numeric_dtype(values):
        values = values.map(_whole_number_text, na_action="ignore")
    return _text(values)


def _whole_number_text(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def _row_numbers(mask: pd.Series) -> str:
    rows = (np.flatnonzero(mask.to_numpy()) + 2)[:_ERROR_ROWS_SHOWN]
    return ", ".join(map(str, rows))


def _numbers(
    values: pd.Series, *, source: Path, column: str, allow_missing: bool = False
) -> pd.Series:
    """Numbers from numeric or text cells; a cell that is not a number is an error.

    Text is stripped first (" 17850 " and "17850.0" are numbers). Empty cells
    are an error unless ``allow_missing``.
    """
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
    else:
        text = values.astype("str").str.strip().mask(values.isna())
        text = text.mask(text == "")
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = numbers.isna() & text.notna()
        if bad.any():
            examples = ", ".join(repr(v) for v in text[bad].unique()[:3])
            raise InvoiceDataError(
                f"{source}: column {column} has {int(bad.sum())} value(s) that are not numbers "
                f"({examples}) at data row(s) {_row_numbers(bad)} (row 1 is the header); "
                "fix or remove those rows."
            )
    if not allow_missing and numbers.isna().any():
        blank = numbers.isna()
        raise InvoiceDataError(
            f"{source}: column {column} is empty in {int(blank.sum())} row(s), first at "
            f"row(s) {_row_numbers(blank)} (row 1 is the header); fill in or remove those rows."
        )
    return numbers


def _whole_numbers(
    values: pd.Series, *, source: Path, column: str, allow_missing: bool = False
) -> pd.Series:
    """Whole numbers as Int64 (17850.0 -> 17850); a fractional value is an error."""
    numbers = _numbers(values, source=source, column=column, allow_missing=allow_missing)
    fractional = numbers.notna() & (numbers != np.round(numbers))
    if fractional.any():
        raise InvoiceDataError(
            f"{source}: column {column} must hold whole numbers; {int(fractional.sum())} "
            f"value(s) are fractional, first at row(s) {_row_numbers(fractional)}."
        )
    return numbers.astype("Int64")


def parse_invoice_dates(
    values: pd.Series, *, source: Path | str, date_format: str | None = None
) -> pd.Series:
    """Parse InvoiceDate cells into ``datetime64``; never guess a day-first date.

    Cells that already hold dates (Excel, Parquet) are kept. Text is parsed with
    ``date_format`` when given; otherwise as ISO 8601 (``2009-12-01 07:45:00``)
    or, for ``a/b/yyyy [h:mm[:ss]]`` text, as month-first when some ``b`` is
    above 12 and no ``a`` is. Day-first or ambiguous text raises
    :class:`InvoiceDataError` asking for ``date_format``.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values.dt.tz_localize(None) if values.dt.tz is not None else values
        return _require_all_dates(dates.astype("datetime64[ns]"), values, source=source)
    if values.dtype == object and values.map(_is_timestamp, na_action="ignore").all():
        return _require_all_dates(pd.to_datetime(values).astype("datetime64[ns]"), values, source=source)
    text = values.astype("str").str.strip().mask(values.isna())
    if date_format is not None:
        dates = pd.to_datetime(text, format=date_format, errors="coerce")
        return _require_all_dates(dates, text, source=source, date_format=date_format)
    parts = text.str.extract(_SLASH_DATE)
    if parts["a"].notna().any():
        return _require_all_dates(_month_first_dates(parts, source=source), text, source=source)
    dates = pd.to_datetime(text, format="ISO8601", errors="coerce")
    return _require_all_dates(dates, text, source=source)


def _is_timestamp(value: object) -> bool:
    return isinstance(value, (pd.Timestamp, np.datetime64)) or hasattr(value, "isoformat")


def _month_first_dates(parts: pd.DataFrame, *, source: Path | str) -> pd.Series:
    first = pd.to_numeric(parts["a"])
    second = pd.to_numeric(parts["b"])
    hint = (
        f"{source}: column {c.INVOICE_DATE} has dates like "
        f"'{parts['a'].dropna().iloc[0]}/{parts['b'].dropna().iloc[0]}/"
        f"{parts['year'].dropna().iloc[0]}'"
    )
    if (first > 12).any():
        raise InvoiceDataError(
            f"{hint} that are day-first; pass date_format='%d/%m/%Y %H:%M' "
            "(CLI: --date-format) matching the file."
        )
    if not (second > 12).any():
        raise InvoiceDataError(
            f"{hint} that could be month-first or day-first; pass date_format, e.g. "
            "'%m/%d/%Y %H:%M' or '%d/%m/%Y %H:%M' (CLI: --date-format)."
        )
    year = pd.to_numeric(parts["year"])
    year = year.where(year >= 100, year + 2000)
    return pd.to_datetime(
        pd.DataFrame(
            {
                "year": year,
                "month": first,
                "day": second,
                "hour": pd.to_numeric(parts["hour"]).fillna(0),
                "minute": pd.to_numeric(parts["minute"]).fillna(0),
                "second": pd.to_numeric(parts["second"]).fillna(0),
            }
        ),
        errors="coerce",
    )


def _require_all_dates(
    dates: pd.Series,
    original: pd.Series,
    *,
    source: Path | str,
    date_format: str | None = None,
) -> pd.Series:
    bad = dates.isna()
    if bad.any():
        blank = original.isna()
        shown = ", ".join(repr(v) for v in original[bad & ~blank].astype(str).unique()[:3])
        how = f"do not match date_format {date_format!r}" if date_format else "are not dates"
        raise InvoiceDataError(
            f"{source}: column {c.INVOICE_DATE} has {int(bad.sum())} value(s) that {how}"
            f"{f' ({shown})' if shown else ' (empty)'} at data row(s) {_row_numbers(bad)} "
            "(row 1 is the header); fix those rows or pass date_format (CLI: --date-format)."
        )
    return dates.astype("datetime64[ns]")
