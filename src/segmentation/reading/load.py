"""Read invoice-line files into one frame with canonical columns.

This is the only module that reads input files. Whatever the file called its
columns ("Online Retail" or "Online Retail II" names, any case, spaces, a BOM),
the frame that comes back has exactly the columns of
:data:`columns.INVOICE_COLUMNS`, in that order, with these types:

=========== ===============================================================
InvoiceNo   text ("536365", "C536379"; numbers read from Excel become text)
StockCode   text ("85123A", "22423")
Description text, surrounding spaces removed; missing stays missing
Quantity    Int64
InvoiceDate datetime64 (no time zone)
UnitPrice   float64
CustomerID  Int64, missing where the line has no customer (17850.0 -> 17850)
Country     text
=========== ===============================================================

One row is one invoice line. Other columns of the file are not read (memory
stays proportional to the eight columns used); their names are logged.

What is recognised without options, and what is refused with one message that
names the file, the column, the rows and the fix, is listed in the README
("Bad input").
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import itertools
import logging
import lzma
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segmentation import columns as c
from segmentation import config
from segmentation.errors import InvoiceDataError

log = logging.getLogger(__name__)

#: Encodings tried in order for text files; latin-1 decodes any byte.
CSV_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "cp1252", "latin-1")
_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "cp1252": "cp1252 (Windows-1252)", "latin-1": "latin-1 (ISO-8859-1)"}
#: Field separators recognised in text files, preferred in this order on a tie.
CSV_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt", ".tsv", ".csv.gz", ".gz", ".zip", ".csv.bz2", ".csv.xz")

#: Version of the cached Excel parse; a change of the parsed layout bumps it (2: checksum beside each entry;
#: 3: text dates read in either order, two-digit years as %y reads them).
CACHE_FORMAT = 3
#: Rows searched for the header line (title rows above it are skipped).
HEADER_SEARCH_ROWS = 20
_SAMPLE_BYTES = 1 << 16
_ROWS_SHOWN = 5

# First bytes of file types that are not tables (or not the type the name says).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office file (.xls/.doc)"),
    (b"PAR1", "a Parquet file"),
)
_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"
_COMPRESSION_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (_ZIP_MAGIC, "zip"),
)
#: What reading a damaged container raises: truncated or changed gzip, bz2, xz and zip data.
_DAMAGED_CONTAINER_ERRORS = (EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, OSError)

#: A date written as numbers: day and month in either order, any of ``/ . -`` between them,
#: a two- or four-digit year, an optional time with optional seconds (``01.12.2010 09:53:00``).
_NUMERIC_DATE = re.compile(
    r"^(?P<a>\d{1,2})(?P<sep1>[/.\-])(?P<b>\d{1,2})(?P<sep2>[/.\-])(?P<year>\d{4}|\d{2})"
    r"(?:(?P<gap>[ T]+)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?$"
)
_ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T].*)?$")
_CURRENCY = re.compile(r"[£$€\s\u00a0]|GBP|EUR|USD")
_COMMA_DECIMAL = re.compile(r"^[+-]?\d{1,3}(\.\d{3})*,\d+$|^[+-]?\d+,\d+$")
_DOT_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def load_invoices(
    path: str | Path, *, sheet: str | None = None, date_format: str | None = None
) -> pd.DataFrame:
    """Read an invoice-line file (CSV, Excel or Parquet) into canonical columns.

    Parameters
    ----------
    path
        ``.csv`` (also ``.csv.gz``, ``.zip`` holding one CSV, ``;``/tab/``|``
        separated), ``.xlsx`` or ``.parquet``. Text is decoded as UTF-8 (with
        or without BOM), else cp1252, else latin-1; the encoding used is logged.
    sheet
        Excel only: the sheet to read. By default every sheet that has invoice
        columns is read and the sheets are stacked in workbook order.
    date_format
        A ``strftime`` format for InvoiceDate text, e.g. ``"%d/%m/%Y %H:%M"``.
        Without it ISO dates and day-first or month-first dates with ``/``,
        ``.`` or ``-`` (``12/1/2010 8:26``, ``01.12.2010 09:53:00``) are
        recognised, also mixed with ISO in one column, the order told by a day
        above 12 (see :func:`parse_invoice_dates`); a column with no day above
        12 raises an error that proposes it.

    Returns
    -------
    pandas.DataFrame
        One row per invoice line, columns as in the module docstring. Row order
        is the file's order; the index is a fresh ``RangeIndex``.

    Raises
    ------
    InvoiceDataError
        The file is missing, empty, not a regular file, damaged, not a table,
        lacks a required column or names one twice, or a value cannot be read;
        the message names the file, column and fix.
    """
    path = Path(path)
    _check_is_a_file(path)
    cached = _excel_cache_path(path, sheet=sheet, date_format=date_format)
    if cached is not None:
        invoices = _read_cache(cached, source=path)
        if invoices is not None:
            return invoices
    raw = _read_raw(path, sheet=sheet)
    if raw.empty:
        raise _no_lines(path)
    invoices = to_canonical(raw, source=path, date_format=date_format)
    if cached is not None:
        _write_cache(invoices, cached)
    return invoices


def invoice_batches(
    path: str | Path, *, sheet: str | None = None, date_format: str | None = None,
    batch_lines: int = config.BATCH_LINES,
) -> InvoiceBatches:
    """The lines of ``path`` as batches of canonical lines: the lines :func:`load_invoices` reads, read the
    same way and refused with the same messages, with memory that follows the batch rather than the file.

    A CSV (plain, compressed or zipped) or Parquet file is read in batches of at most ``batch_lines``
    lines, twice. Some columns are read as a whole column decides (InvoiceDate's day-month order, a
    decimal comma in Quantity, UnitPrice or CustomerID): where they hold text, the first pass gathers their
    distinct values, which the functions :func:`load_invoices` uses read once, and the second looks each
    batch's cells up among them; every other column is read batch by batch, as it is line by line. Memory
    follows the batch and those distinct values (about one date per invoice). A file that either pass
    refuses is read again whole by :func:`load_invoices`, so the message, row numbers included, is the one
    it gives. An Excel workbook is read whole, as one batch. Each batch's index numbers its rows from 1,
    counting data rows.
    """
    path = Path(path)
    _check_is_a_file(path)
    name = path.name.lower()
    if not name.endswith(PARQUET_SUFFIXES + CSV_SUFFIXES):
        return InvoiceBatches(path, lines=None, read=lambda: iter([load_invoices(path, sheet=sheet,
                                                                                date_format=date_format)]))
    table = sniff(path)
    lines = pq.ParquetFile(path).metadata.num_rows if table.kind == PARQUET else None
    return InvoiceBatches(path, lines=lines, read=partial(_streamed, table, date_format=date_format,
                                                          batch_lines=batch_lines))


#: The Parquet column types whose distinct cells a query engine hands over as pyarrow reads them, so that
#: :func:`read_cells` reads them as :func:`load_invoices` does (other types: read the file in batches).
_CELL_TYPES: tuple[Callable[[pa.DataType], bool], ...] = (
    pa.types.is_string, pa.types.is_large_string, pa.types.is_int64, pa.types.is_int32, pa.types.is_float64,
    lambda kind: pa.types.is_timestamp(kind) and kind.tz is None,
)


def cell_readable(path: str | Path) -> TableFormat | None:
    """The layout of ``path`` where its lines can be read as raw cells, each distinct cell then read once by
    :func:`read_cells`: a text file (its cells from :func:`raw_cells`) or a Parquet file whose invoice columns
    are text, 32/64-bit integers, float64 or timestamps without a time zone (a query engine reads its cells).
    Else None: read it with :func:`invoice_batches`."""
    path = Path(path)
    if not path.name.lower().endswith(PARQUET_SUFFIXES + CSV_SUFFIXES):
        return None
    table = sniff(path)
    if table.kind == PARQUET:
        schema = _parquet_schema(path)
        for name in table.renames:
            kind = schema.field(name).type
            kind = kind.value_type if pa.types.is_dictionary(kind) else kind
            if not any(is_type(kind) for is_type in _CELL_TYPES):
                return None
    _log_unused(table.columns, where=path.name)
    if table.kind == TEXT:
        log.info("%s: text decoded as %s, %s-separated", path.name, _ENCODING_NAMES[table.encoding],
                 table.separator_name)
    return table


def raw_cells(table: TableFormat, *, batch_lines: int = config.BATCH_LINES) -> Iterator[pa.RecordBatch]:
    """The cells of a text file's invoice columns as written (text; an empty cell missing), ``batch_lines``
    lines at a time, as Arrow batches with the canonical column names in canonical order."""
    for chunk in _text_chunks(table, list(c.INVOICE_COLUMNS), batch_lines=batch_lines):
        yield from pa.Table.from_pandas(chunk, schema=RAW_TEXT_SCHEMA, preserve_index=False).to_batches()


def plain_csv(table: TableFormat) -> tuple[tuple[int, ...], int] | None:
    """For a text file that a plain CSV reader can parse as :func:`raw_cells` does, the position of
    each invoice column in its header (canonical order) and its number of data lines; else None.

    Plain means UTF-8, plain or gzip-compressed, the header on the first line, lines ended by
    ``\\n`` or ``\\r\\n`` (no lone ``\\r``), and every quote at the start or end of a field or doubled
    (``"A, B"``, ``"12"" RULER"``): a quote after a space (`` "6"``) or inside a field (``12"``) is
    where CSV readers differ. Such a reader must also give exactly one row per line after the header
    (no quoted line break joined two lines, no blank line was skipped); a file where it does not is
    read by :func:`raw_cells`.
    """
    if table.kind != TEXT or table.encoding != "utf-8-sig" or table.compression not in (None, "gzip") \
            or table.header_row or table.header_line != 1:
        return None
    lines = _line_count(table, quotes_at_field_ends=True)
    if lines is None:
        return None
    by_canonical = {canonical: name for name, canonical in table.renames.items()}
    return tuple(table.columns.index(by_canonical[column]) for column in c.INVOICE_COLUMNS), lines - 1


#: The schema of :func:`raw_cells`.
RAW_TEXT_SCHEMA = pa.schema([(name, pa.string()) for name in c.INVOICE_COLUMNS])


def read_cells(column: str, cells: pa.Array, *, source: Path, date_format: str | None,
               lines: np.ndarray) -> pa.Array:
    """What each distinct cell of a file's ``column`` (canonical name) reads as, in the order given, as
    :func:`load_invoices` reads it: the same rule per cell and the same whole-column decisions
    (InvoiceDate's day-month order, a decimal comma), which see every distinct cell at once. ``lines``
    counts the lines that hold each cell (for the log). The Arrow type is :data:`columns`' canonical one
    for the column (text, int64, timestamp[ns], float64). Raises :class:`InvoiceDataError` for a cell
    that cannot be read, with the message's row numbers counting distinct cells, not lines: read the
    file with :func:`refuse_as_loaded` for the message that names the rows."""
    values = cells.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    if column in c.TEXT_COLUMNS:
        text = _plain_text(_code_values(values))
        return pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.string())
    readings = _column_readers(source=source, date_format=date_format)[column](values, lines=lines)
    if column == c.INVOICE_DATE:
        return pa.array(readings.astype("datetime64[ns]"), type=pa.timestamp("ns"))
    if column == c.UNIT_PRICE:
        return pa.array(readings.to_numpy(dtype="float64"), type=pa.float64())
    return pa.array(readings, type=pa.int64(), from_pandas=True)


def require_lines_in_range(largest_pounds: float | None, lines: int, *, source: Path,
                           date_format: str | None = None) -> None:
    """Refuse a file of ``lines`` invoice lines that has none, or whose largest |Quantity x UnitPrice|
    (``largest_pounds``, as float64) reaches ``config.MAX_LINE_POUNDS``, as :func:`load_invoices` refuses
    it: its message names the rows."""
    if lines and (largest_pounds is None or largest_pounds < config.MAX_LINE_POUNDS):
        return
    refuse_as_loaded(source, date_format=date_format)
    raise _no_lines(source) if not lines else InvoiceDataError(
        f"{source}: a line is worth £{config.MAX_LINE_POUNDS:,} or more; fix the quantity or price, or remove it."
    )


def refuse_as_loaded(path: Path, *, sheet: str | None = None, date_format: str | None = None) -> None:
    """Read ``path`` whole with :func:`load_invoices`, its log held back, for its refusal: where it refuses
    the file, its :class:`InvoiceDataError` (which names the rows) is raised; else nothing happens."""
    with _quiet():
        load_invoices(path, sheet=sheet, date_format=date_format)


@dataclass(frozen=True)
class InvoiceBatches:
    """Batches of canonical invoice lines of one file, read afresh each time it is iterated.

    ``lines`` is the number of lines when known before reading (a Parquet file's row count).
    """

    path: Path
    lines: int | None
    read: Callable[[], Iterator[pd.DataFrame]]

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return self.read()


@dataclass(frozen=True)
class _Known:
    """The distinct cells of a column, each once, and what each one reads as, to look a batch's cells up in."""

    cells: pd.Index
    readings: pd.Series

    def of(self, cells: pd.Series, *, source: Path) -> pd.Series:
        """What ``cells`` read as (one row a line)."""
        codes = self.cells.get_indexer(cells)
        if (codes < 0).any():
            raise InvoiceDataError(
                f"{source}: changed while it was read (data row {int(cells.index[codes < 0][0])} holds a value "
                "the first reading did not see); read it again once nothing writes to it."
            )
        return pd.Series(self.readings.array.take(codes), index=cells.index)


def _streamed(table: TableFormat, *, date_format: str | None, batch_lines: int) -> Iterator[pd.DataFrame]:
    """The batches of :func:`invoice_batches` for a text or Parquet file; see there."""
    path = table.path
    by_canonical = {canonical: name for name, canonical in table.renames.items()}
    _log_unused(table.columns, where=path.name)
    if table.kind == TEXT:
        log.info("%s: text decoded as %s, %s-separated", path.name, _ENCODING_NAMES[table.encoding],
                 table.separator_name)
        chunks = partial(_text_chunks, table, batch_lines=batch_lines)
        whole_column = list(WHOLE_COLUMN_READINGS)
    else:
        schema = _parquet_schema(path)
        chunks = partial(_parquet_chunks, table, schema=schema, batch_lines=batch_lines)
        whole_column = [column for column in WHOLE_COLUMN_READINGS
                        if _is_text_type(schema.field(by_canonical[column]).type)]
    try:
        known = _known_cells(path, chunks(whole_column), whole_column, date_format=date_format)
        empty = True
        for raw in chunks(list(c.INVOICE_COLUMNS)):
            canonical = to_canonical(raw, source=path, date_format=date_format, known=known)
            canonical.index = raw.index
            empty = empty and canonical.empty  # a header-only text file gives one empty chunk
            yield canonical
        if empty:
            raise _no_lines(path)
    except InvoiceDataError as refused:
        refuse_as_loaded(path, date_format=date_format)  # its message, where it refuses the file too
        raise refused from None


def _known_cells(path: Path, chunks: Iterator[pd.DataFrame], columns: list[str], *,
                 date_format: str | None) -> dict[str, _Known]:
    """The distinct cells of each of ``columns`` in ``chunks`` and what each reads as (the first pass)."""
    if not columns:
        return {}
    counts: dict[str, list[pd.Series]] = {column: [] for column in columns}
    dtypes: dict[str, object] = {}
    for raw in chunks:
        for column in columns:
            counts[column].append(raw[column].value_counts(dropna=False, sort=False))
            dtypes[column] = raw[column].dtype
    if not dtypes:
        return {}
    readers = _column_readers(source=path, date_format=date_format)
    known = {}
    for column in columns:
        lines = pd.concat(counts.pop(column)).groupby(level=0, dropna=False, sort=False).sum()
        cells = pd.Series(lines.index, dtype=dtypes[column])
        readings = readers[column](cells, lines=lines.to_numpy(dtype="int64"))
        known[column] = _Known(pd.Index(cells), readings.reset_index(drop=True))
    return known


def _is_text_type(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _text_chunks(table: TableFormat, columns: list[str], *, batch_lines: int) -> Iterator[pd.DataFrame]:
    """The data rows of a text file, ``batch_lines`` at a time: its ``columns`` (canonical names) as text;
    index: data rows numbered from 1."""
    by_canonical = {canonical: name for name, canonical in table.renames.items()}
    wanted = [by_canonical[column] for column in columns]
    try:
        with _open_text_bytes(table.path, table.compression) as stream, pd.read_csv(
            stream, usecols=wanted, chunksize=batch_lines, **_csv_options(table)
        ) as reader:
            first = 1
            for chunk in reader:
                chunk.index = pd.RangeIndex(first, first + len(chunk))
                first += len(chunk)
                yield chunk.rename(columns=table.renames)[columns]
    except pd.errors.ParserError as error:
        raise _unparsed(table.path, error) from None


def _parquet_chunks(table: TableFormat, columns: list[str], *, schema: pa.Schema,
                    batch_lines: int) -> Iterator[pd.DataFrame]:
    """The rows of a Parquet file, ``batch_lines`` at a time: its ``columns`` (canonical names), text
    columns as categories, integers as Int64; index: rows numbered from 1."""
    by_canonical = {canonical: name for name, canonical in table.renames.items()}
    wanted = [by_canonical[column] for column in columns]
    categories = [by_canonical[column] for column in columns
                  if column in c.TEXT_COLUMNS and _is_text_type(schema.field(by_canonical[column]).type)]
    try:
        parquet = pq.ParquetFile(table.path, read_dictionary=categories)
        first = 1
        for record_batch in parquet.iter_batches(batch_size=batch_lines, columns=wanted):
            frame = record_batch.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
            frame.index = pd.RangeIndex(first, first + len(frame))
            first += len(frame)
            del record_batch
            pa.default_memory_pool().release_unused()  # the batch's Arrow buffers back to the system
            yield frame.rename(columns=table.renames)[columns]
    except (pa.ArrowException, OSError) as error:  # pages cut off or changed: their decoding fails
        raise _damaged(table.path, error) from None


@contextmanager
def _quiet() -> Iterator[None]:
    """This module's log lines held back (a second reading would repeat them)."""
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def _no_lines(path: Path) -> InvoiceDataError:
    return InvoiceDataError(f"{path}: the header is there but there are no invoice lines; give a file with data rows.")


def _excel_cache_path(path: Path, *, sheet: str | None, date_format: str | None) -> Path | None:
    """Where the parsed lines of an Excel file are kept, keyed by the file's content.

    Parsing a workbook is the slowest step of a run; the canonical lines are
    saved as Parquet under ``data/processed/cache/`` and found again by the
    SHA-256 of the file's bytes (and the options and the cache format), so a
    changed file is parsed again and a renamed or moved one is not.
    """
    if not path.name.lower().endswith(EXCEL_SUFFIXES):
        return None
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    digest.update(f"|{sheet}|{date_format}|{CACHE_FORMAT}".encode())
    return config.CACHE_DIR / f"{digest.hexdigest()[:32]}.parquet"


def _checksum_path(cached: Path) -> Path:
    """Where the SHA-256 of a cache entry's bytes is kept, beside it."""
    return cached.with_name(f"{cached.name}.sha256")


def _read_cache(cached: Path, *, source: Path) -> pd.DataFrame | None:
    """The cached lines of ``source``, or None when there are none or they are damaged.

    An entry whose bytes do not match the checksum written beside it (cut off,
    bytes changed, another file put in its place), or that cannot be read, is
    removed, so that the workbook is parsed again and the entry rebuilt.
    """
    if not cached.exists():
        return None
    try:
        data = cached.read_bytes()
        intact = hashlib.sha256(data).hexdigest() == _checksum_path(cached).read_text(encoding="ascii").strip()
        invoices = pd.read_parquet(io.BytesIO(data)) if intact else None
    except (OSError, pa.ArrowException):
        invoices = None
    if invoices is None:
        log.info("%s: its cached copy %s is damaged; parsing the workbook again", source.name, cached.name)
        for stale in (cached, _checksum_path(cached)):
            stale.unlink(missing_ok=True)
        return None
    log.info("%s: read from its cached copy %s", source.name, cached.name)
    return invoices


def _write_cache(invoices: pd.DataFrame, cached: Path) -> None:
    """Save the parsed lines and their checksum; a cache that cannot be written only costs speed next time."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        invoices.to_parquet(buffer, index=False)
        data = buffer.getvalue()
        for target, content in ((cached, data), (_checksum_path(cached), hashlib.sha256(data).hexdigest().encode())):
            temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            temporary.write_bytes(content)
            os.replace(temporary, target)
    except OSError as error:
        log.info("cache not written (%s)", error)


#: What a path is when it is not a regular file, for messages.
_NOT_A_FILE: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_is_a_file(path: Path) -> None:
    """Refuse what is missing, empty, unreadable or not a regular file, without opening it first.

    Devices (``/dev/zero`` would be read forever), FIFOs (opening one without a
    writer blocks) and pipes (``<(cat file)``: read once, but a file is read
    several times) are told apart by ``stat`` alone and refused.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InvoiceDataError(f"{path}: no such file; check the path and try again.") from None
    except OSError as error:
        raise InvoiceDataError(f"{path}: cannot be opened ({error.strerror}); check the path and try again.") from None
    if stat.S_ISFIFO(info.st_mode):
        raise InvoiceDataError(_pipe_message(path))
    if not stat.S_ISREG(info.st_mode):
        what = next((name for is_kind, name in _NOT_A_FILE if is_kind(info.st_mode)), "not a regular file")
        raise InvoiceDataError(f"{path}: is {what}, not a file; give the path of an invoice file.")
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        raise InvoiceDataError(f"{path}: cannot be opened ({error.strerror}); check its permissions.") from None
    if info.st_size == 0:
        raise InvoiceDataError(f"{path}: the file is empty (0 bytes); export the invoice lines again.")


def _pipe_message(path: Path) -> str:
    """A FIFO created with ``mkfifo``, or a pipe a shell passes as ``/dev/fd/N``."""
    if path.parent == Path("/dev/fd") or str(path).startswith("/proc/"):
        return f"{path}: is a pipe, not a file; save what it gives to a file and give the path of that file."
    return f"{path}: is a named pipe (FIFO), not a file; give the path of an invoice file."


def _damaged(path: Path, error: BaseException) -> InvoiceDataError:
    """The one message for a file whose container (compression, archive, Parquet, workbook) is broken."""
    return InvoiceDataError(f"{path}: the file is damaged ({_damage(path, error)}); export it again.")


def _damage(path: Path, error: BaseException) -> str:
    """What is wrong with a damaged file, in a few words."""
    if isinstance(error, EOFError):
        return "cut off before its end"
    if isinstance(error, zipfile.BadZipFile) and not zipfile.is_zipfile(path):
        return "cut off: the zip directory at its end is missing"
    if path.name.lower().endswith(PARQUET_SUFFIXES) and not _tail(path).endswith(_PARQUET_MAGIC):
        return "cut off: the Parquet footer at its end is missing"
    return _first_line(error).rstrip(".")


def _read_raw(path: Path, *, sheet: str | None) -> pd.DataFrame:
    """The file's invoice columns, renamed to canonical names, all other columns dropped.

    The index holds each row's position in the file as a user would count it
    (line number for text, row number for a sheet), for error messages.
    """
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return _read_parquet(path)
    if name.endswith(EXCEL_SUFFIXES):
        return _read_excel(path, sheet=sheet)
    if name.endswith(CSV_SUFFIXES):
        return _read_csv(path)
    raise InvoiceDataError(
        f"{path}: unknown file type {''.join(path.suffixes) or '(none)'}; "
        "give a .csv, .csv.gz, .zip, .xlsx or .parquet file."
    )


# --- the layout of a file: sniff ------------------------------------------------

TEXT = "text"
PARQUET = "parquet"


@dataclass(frozen=True)
class TableFormat:
    """How one invoice file is laid out, as :func:`sniff` finds it from its first bytes and header.

    ``kind`` is ``"text"`` (CSV and its kin) or ``"parquet"``. ``columns`` is
    the file's header as written; :attr:`renames` maps the ones that name an
    invoice column to the canonical name. Text files also have their
    ``compression`` (``"gzip"``, ``"bz2"``, ``"xz"``, ``"zip"`` or None),
    ``encoding`` (one of :data:`CSV_ENCODINGS`), ``delimiter`` (one of
    :data:`CSV_DELIMITERS`), ``header_row`` (the number of title rows above the
    header, to skip; a blank line is a row) and ``header_line`` (the line an
    editor shows the header on, which differs where a title row holds a quoted
    line break).
    """

    path: Path
    kind: str
    columns: tuple[str, ...]
    compression: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int = 0
    header_line: int = 1

    @property
    def renames(self) -> dict[str, str]:
        """File column -> canonical column, for the columns the analysis reads (first spelling wins)."""
        return _canonical_names(self.columns)

    @property
    def separator_name(self) -> str:
        """The delimiter in words ("comma", "tab", "';'"), for messages."""
        return {"\t": "tab", ",": "comma"}.get(self.delimiter or ",", repr(self.delimiter))


def sniff(path: str | Path) -> TableFormat:
    """The layout of a text (CSV, compressed CSV) or Parquet invoice file, read from its first bytes.

    Raises :class:`InvoiceDataError` for a file that is missing, empty, not a
    table, of another type (Excel: read it with :func:`load_invoices`), or
    without the invoice columns; the message names the file and the fix.
    """
    path = Path(path)
    _check_is_a_file(path)
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        columns = tuple(_parquet_schema(path).names)
        _require_columns(list(columns), where=str(path))
        return TableFormat(path=path, kind=PARQUET, columns=columns)
    if name.endswith(CSV_SUFFIXES):
        return _sniff_text(path)
    raise InvoiceDataError(
        f"{path}: {''.join(path.suffixes) or 'a file without extension'} is not a text or Parquet table; "
        "give a .csv, .csv.gz or .parquet file."
    )


# --- headers -------------------------------------------------------------------


def _canonical_names(names: Iterable[object]) -> dict[object, str]:
    """Map each header that is an alias of a canonical column to that column (first wins)."""
    renames: dict[object, str] = {}
    for name in names:
        canonical = c.ALIASES.get(c.normalise_header(name))
        if canonical is not None and canonical not in renames.values():
            renames[name] = canonical
    return renames


def _missing_columns(names: Iterable[object]) -> list[str]:
    found = set(_canonical_names(names).values())
    return [column for column in c.INVOICE_COLUMNS if column not in found]


def _header_row(rows: list[list[object]]) -> int:
    """Index of the row that names the most invoice columns (0 when none does)."""
    scores = [len(_canonical_names(row)) for row in rows[:HEADER_SEARCH_ROWS]]
    if not scores or max(scores) == 0:
        return 0
    return scores.index(max(scores))


def _require_columns(names: list[object], *, where: str, hint: str = "") -> None:
    """Each invoice column named exactly once in the header ``names``."""
    missing = _missing_columns(names)
    if missing:
        found = ", ".join(str(name) for name in names if str(name).strip()) or "none"
        raise InvoiceDataError(
            f"{where}: missing column(s) {', '.join(missing)} (found: {found}){hint}; "
            f"name the columns {', '.join(c.INVOICE_COLUMNS)} (or the Online Retail II names)."
        )
    _refuse_duplicate_columns(names, where=where)


def _refuse_duplicate_columns(names: list[object], *, where: str) -> None:
    """Refuse a header that names one invoice column twice (``Quantity`` twice, or ``Invoice`` and ``InvoiceNo``)."""
    positions: dict[str, list[str]] = {}
    for number, name in enumerate(names, start=1):
        canonical = c.ALIASES.get(c.normalise_header(name))
        if canonical is not None:
            positions.setdefault(canonical, []).append(f"{str(name).strip()} in column {number}")
    for canonical, found in positions.items():
        if len(found) > 1:
            raise InvoiceDataError(
                f"{where}: {len(found)} columns name {canonical} ({', '.join(found)}); "
                "keep one of them and delete or rename the others."
            )


def _log_unused(names: Iterable[object], *, where: str) -> None:
    renames = _canonical_names(names)
    extras = [str(name) for name in names if name not in renames and str(name).strip()]
    if extras:
        log.info("%s: columns not used: %s", where, ", ".join(extras))


def _select(frame: pd.DataFrame, *, where: str) -> pd.DataFrame:
    """Keep the invoice columns, renamed and in canonical order; log what was left out."""
    _log_unused(frame.columns, where=where)
    renames = _canonical_names(frame.columns)
    by_canonical = {canonical: name for name, canonical in renames.items()}
    return pd.DataFrame(
        {column: frame[by_canonical[column]] for column in c.INVOICE_COLUMNS}, index=frame.index
    )


# --- parquet -------------------------------------------------------------------


def _parquet_schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except Exception as error:  # pyarrow raises several types for a non-parquet file
        if _head(path).startswith(_PARQUET_MAGIC):
            raise _damaged(path, error) from None
        raise InvoiceDataError(
            f"{path}: cannot be read as Parquet ({_first_line(error)}); check the file is a Parquet export."
        ) from None


def _read_parquet(path: Path) -> pd.DataFrame:
    renames = sniff(path).renames
    schema = _parquet_schema(path)
    _log_unused(schema.names, where=path.name)
    text_columns = [  # read as dictionary codes: memory follows the distinct values
        name for name, canonical in renames.items()
        if canonical in c.TEXT_COLUMNS
        and (pa.types.is_string(schema.field(name).type) or pa.types.is_large_string(schema.field(name).type))
    ]
    try:
        table = pq.read_table(path, columns=list(renames), read_dictionary=text_columns)
        # integers with gaps straight to Int64 (no float detour); free Arrow buffers as columns convert
        frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get, split_blocks=True,
                                self_destruct=True)
    except (pa.ArrowException, OSError) as error:  # pages cut off or changed: their decoding fails
        raise _damaged(path, error) from None
    del table
    pa.default_memory_pool().release_unused()
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return _select(frame, where=path.name)


# --- Excel ---------------------------------------------------------------------


def _read_excel(path: Path, *, sheet: str | None) -> pd.DataFrame:
    """Read one sheet, or every sheet with invoice columns, stacked in workbook order."""
    _check_archive(path)
    try:
        sheets = pd.read_excel(path, sheet_name=sheet if sheet is not None else None,
                               engine="calamine", header=None, dtype=object)
    except Exception as error:  # calamine's errors are not a public type
        if sheet is not None and "not found" in str(error).lower():
            raise InvoiceDataError(
                f"{path}: no sheet named {sheet!r}; leave out sheet= (CLI: --sheet) to read every sheet."
            ) from None
        raise InvoiceDataError(
            f"{path}: cannot be read as an Excel workbook ({_first_line(error)}); "
            "open it in a spreadsheet program and save it as .xlsx or .csv."
        ) from None
    if isinstance(sheets, pd.DataFrame):
        sheets = {sheet: sheets}
    frames = []
    for sheet_name, cells in sheets.items():
        frame = _sheet_table(cells, path=path, sheet_name=str(sheet_name), required=sheet is not None)
        if frame is not None:
            frames.append(frame)
    if not frames:
        raise InvoiceDataError(
            f"{path}: no sheet has invoice columns (sheets: {', '.join(map(str, sheets))}); "
            f"name the columns {', '.join(c.INVOICE_COLUMNS)}."
        )
    log.info("%s: read %d sheet(s)", path.name, len(frames))
    return pd.concat(frames)


def _sheet_table(
    cells: pd.DataFrame, *, path: Path, sheet_name: str, required: bool
) -> pd.DataFrame | None:
    """One sheet's invoice lines, or None for a sheet with no invoice column at all."""
    cells = cells.dropna(how="all")
    rows = cells.head(HEADER_SEARCH_ROWS).to_numpy().tolist()
    header_at = _header_row(rows)
    header = [value if pd.notna(value) else "" for value in rows[header_at]] if rows else []
    where = f"{path}, sheet {sheet_name!r}"
    if not required and not _canonical_names(header):
        log.info("%s: no invoice columns, sheet skipped", where)
        return None
    _require_columns(header, where=where)
    body = cells.iloc[header_at + 1 :]
    body.columns = header
    body.index = [f"{sheet_name}!{row + 1}" for row in body.index]  # the row number Excel shows
    return _select(body, where=f"{path.name}, sheet {sheet_name!r}")


def _check_archive(path: Path) -> None:
    """Read a zip-based workbook (.xlsx, .ods) through once before it is parsed.

    Every member is decompressed and its checksum checked, counting the bytes:
    a workbook cut off or with changed bytes is damaged, and one that inflates
    past ``config.MAX_DECOMPRESSED_BYTES`` is refused before the parser holds it.
    """
    if not _head(path).startswith(_ZIP_MAGIC):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            size = 0
            for member in archive.infolist():
                with archive.open(member) as stream:
                    while block := stream.read(1 << 20):
                        size += len(block)
                        if size > config.MAX_DECOMPRESSED_BYTES:
                            raise _too_large(path)
    except _DAMAGED_CONTAINER_ERRORS as error:
        raise _damaged(path, error) from None


# --- text ----------------------------------------------------------------------


def _read_csv(path: Path) -> pd.DataFrame:
    table = sniff(path)
    _log_unused(table.columns, where=path.name)
    frame = _parse_csv(table)
    log.info("%s: text decoded as %s, %s-separated", path.name, _ENCODING_NAMES[table.encoding],
             table.separator_name)
    frame.index = _line_numbers(table, len(frame))
    return _select(frame, where=path.name)


def _sniff_text(path: Path) -> TableFormat:
    head = _head(path)
    compression = _compression(path, head)
    _refuse_non_tables(path, head, compressed=compression is not None)
    text_sample = _decompressed_sample(path, compression)
    if compression is not None and not text_sample:
        raise InvoiceDataError(
            f"{path}: holds nothing once decompressed (0 bytes); export the invoice lines again."
        )
    _refuse_non_tables(path, text_sample)
    encoding = _encoding(path, compression)
    delimiter, records = _delimiter(text_sample.decode(encoding, errors="replace"))
    rows = [fields for _, fields in records]
    header_at = _header_row(rows)
    table = TableFormat(path=path, kind=TEXT, columns=tuple(rows[header_at] if rows else ()),
                        compression=compression, encoding=encoding, delimiter=delimiter, header_row=header_at,
                        header_line=records[header_at][0] if records else 1)
    _require_columns(list(table.columns), where=str(path), hint=f", read as {table.separator_name}-separated")
    return table


def _head(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(_SAMPLE_BYTES)


def _tail(path: Path) -> bytes:
    """The file's last few bytes (where Parquet and zip keep their directory)."""
    with path.open("rb") as stream:
        stream.seek(max(path.stat().st_size - 16, 0))
        return stream.read()


def _refuse_non_tables(path: Path, head: bytes, *, compressed: bool = False) -> None:
    """Refuse images, PDFs and other binary files whose name says CSV."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            raise InvoiceDataError(
                f"{path}: is {kind}, not a table of invoice lines; give a CSV, Excel or Parquet export."
            )
    if not compressed and b"\x00" in head[:4096]:
        raise InvoiceDataError(f"{path}: is a binary file, not a text table; give a CSV, Excel or Parquet export.")


def _compression(path: Path, head: bytes) -> str | None:
    """Compression told by the file's first bytes (a .csv that is really gzip is read too)."""
    for magic, kind in _COMPRESSION_MAGIC:
        if head.startswith(magic):
            return kind
    return None


def _zip_member(path: Path, archive: zipfile.ZipFile) -> str:
    """The one text table inside the zip ``archive`` read from ``path``."""
    names = [name for name in archive.namelist() if not name.endswith("/") and "__MACOSX" not in name]
    if any(name.startswith("xl/") for name in names):
        raise InvoiceDataError(f"{path}: is an Excel workbook; give it the .xlsx extension.")
    tables = [name for name in names if name.lower().endswith((".csv", ".txt", ".tsv"))]
    if len(tables) != 1:
        found = ", ".join(names[:5]) or "nothing"
        what = "no CSV file" if not tables else f"{len(tables)} CSV files"
        raise InvoiceDataError(
            f"{path}: the zip archive holds {what} (found: {found}); unzip it and give one CSV file."
        )
    return tables[0]


@contextmanager
def _open_text_bytes(path: Path, compression: str | None) -> Iterator[IO[bytes]]:
    """The file's bytes, decompressed (the one CSV inside a zip).

    Decompressed bytes are counted as they are read and stop with
    :class:`InvoiceDataError` past ``config.MAX_DECOMPRESSED_BYTES`` (a
    decompression bomb); a container found damaged while it is opened or read
    raises :class:`InvoiceDataError` too, whatever reads it.
    """
    try:
        with ExitStack() as stack:
            if compression is None:
                yield stack.enter_context(path.open("rb"))
                return
            if compression == "zip":
                archive = stack.enter_context(zipfile.ZipFile(path))
                stream = stack.enter_context(archive.open(_zip_member(path, archive)))
            else:
                opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[compression]
                stream = stack.enter_context(opener(path, "rb"))
            yield stack.enter_context(io.BufferedReader(_BoundedStream(stream, path=path)))
    except _DAMAGED_CONTAINER_ERRORS as error:
        raise _damaged(path, error) from None


class _BoundedStream(io.RawIOBase):
    """A decompressed stream that refuses to give more than ``config.MAX_DECOMPRESSED_BYTES``.

    The bytes are counted as they come out of the decompressor, so neither a
    size written in the archive's header nor the file's own size is trusted.
    """

    def __init__(self, stream: IO[bytes], *, path: Path) -> None:
        super().__init__()
        self._stream, self._path, self._size = stream, path, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self._stream.read(len(buffer))
        self._size += len(data)
        if self._size > config.MAX_DECOMPRESSED_BYTES:
            raise _too_large(self._path)
        buffer[: len(data)] = data
        return len(data)


def _too_large(path: Path) -> InvoiceDataError:
    return InvoiceDataError(
        f"{path}: decompresses to more than {_size_text(config.MAX_DECOMPRESSED_BYTES)}, the most read from "
        "a compressed file (config.MAX_DECOMPRESSED_BYTES); if the file is genuine, give it as a plain "
        "CSV or a Parquet file."
    )


def _size_text(size: int) -> str:
    """A byte count in words: ``2 GiB``, ``1 MiB``, ``512 KiB``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def _decompressed_sample(path: Path, compression: str | None) -> bytes:
    with _open_text_bytes(path, compression) as stream:
        return stream.read(_SAMPLE_BYTES)


def _encoding(path: Path, compression: str | None) -> str:
    """The first of ``CSV_ENCODINGS`` that decodes the whole file."""
    for encoding in CSV_ENCODINGS[:-1]:
        try:
            with _open_text_bytes(path, compression) as stream:
                text = io.TextIOWrapper(stream, encoding=encoding)
                while text.read(1 << 20):
                    pass
            return encoding
        except UnicodeDecodeError:
            continue
    return CSV_ENCODINGS[-1]


def _delimiter(text: str) -> tuple[str, list[tuple[int, list[str]]]]:
    """The separator whose split of the first records names the most invoice columns, and those records."""
    best, best_records, best_score = CSV_DELIMITERS[0], [], -1
    for delimiter in CSV_DELIMITERS:
        records = _first_records(text, delimiter)
        score = max((len(_canonical_names(fields)) for _, fields in records), default=0)
        if score > best_score:
            best, best_records, best_score = delimiter, records, score
    return best, best_records


def _first_records(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """The first ``HEADER_SEARCH_ROWS`` records of ``text``, each with the line it starts on.

    Records are split as pandas splits them: at ``\\n``, ``\\r\\n`` or ``\\r``
    outside quotes, never at a form feed, vertical tab or Unicode line
    separator (which ``str.splitlines`` would split at); a blank line is a record.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records, end = [], 0
    for fields in itertools.islice(reader, HEADER_SEARCH_ROWS):
        records.append((end + 1, fields))
        end = reader.line_num
    return records


def _csv_options(table: TableFormat) -> dict[str, object]:
    """How pandas reads the cells of a text file: every cell as text, an empty one missing."""
    return {"sep": table.delimiter, "skiprows": table.header_row, "dtype": str, "keep_default_na": False,
            "na_values": [""], "encoding": table.encoding, "skip_blank_lines": True}


def _parse_csv(table: TableFormat) -> pd.DataFrame:
    try:
        with _open_text_bytes(table.path, table.compression) as stream:
            return pd.read_csv(stream, usecols=list(table.renames), **_csv_options(table))
    except pd.errors.ParserError as error:
        raise _unparsed(table.path, error) from None


def _unparsed(path: Path, error: pd.errors.ParserError) -> InvoiceDataError:
    return InvoiceDataError(
        f"{path}: {_first_line(error)}; check that every line has the header's number of "
        "fields and that text containing the separator is quoted."
    )


# --- text: the line each row is on ------------------------------------------------


def _line_numbers(table: TableFormat, rows: int) -> pd.Index:
    """The line an editor shows each of the ``rows`` data rows of a text file on (the header is ``header_line``).

    Where every line after the header is one row, row i is on line
    ``header_line + i``; blank lines and line breaks inside quoted text take
    lines without giving a row, and then each row's line is found by reading
    the records once more.
    """
    first = table.header_line + 1
    if _line_count(table) == table.header_line + rows:
        return pd.RangeIndex(first, first + rows)
    lines = _record_lines(table)
    if len(lines) != rows:  # the csv module and pandas split this file differently: count rows instead
        log.info("%s: row numbers in messages count data rows, not lines", table.path.name)
        return pd.RangeIndex(first, first + rows)
    return pd.Index(lines)


def _line_count(table: TableFormat, *, quotes_at_field_ends: bool = False) -> int | None:
    """Lines of a text file (a last line without a line break included); None if a line ends in a lone ``\\r``,
    or, with ``quotes_at_field_ends``, where a quote is neither at a field's start or end nor doubled (see
    :func:`plain_csv`)."""
    boundaries = np.frombuffer(table.delimiter.encode() + b'\r\n"', dtype=np.uint8)
    count, last = 0, b"\n"
    with _open_text_bytes(table.path, table.compression) as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            if block.count(b"\r") != block.count(b"\r\n"):  # also a \r\n cut by the block end: count records
                return None
            if quotes_at_field_ends and b'"' in block:  # each quote with the bytes either side, across blocks
                data = np.frombuffer(last + block + (stream.peek(1)[:1] or b"\n"), dtype=np.uint8)
                quotes = np.flatnonzero(data[1:-1] == ord('"')) + 1
                if (~np.isin(data[quotes - 1], boundaries) & ~np.isin(data[quotes + 1], boundaries)).any():
                    return None
            count, last = count + block.count(b"\n"), block[-1:]
    return count + (last != b"\n")


def _record_lines(table: TableFormat) -> list[int]:
    """The line each data row starts on, read as pandas reads it (blank or whitespace-only lines are no row)."""
    lines, end = [], 0
    with _open_text_bytes(table.path, table.compression) as stream:
        text = io.TextIOWrapper(stream, encoding=table.encoding, errors="replace", newline="")
        reader = csv.reader(text, delimiter=table.delimiter)
        try:
            for number, fields in enumerate(reader):
                start, end = end + 1, reader.line_num
                if number > table.header_row and not _blank(fields):
                    lines.append(start)
        except csv.Error:  # a field longer than the csv module reads: no line numbers
            return []
    return lines


def _blank(fields: list[str]) -> bool:
    """A record pandas skips as a blank line: nothing, or nothing but spaces and tabs."""
    return len(fields) == 0 or (len(fields) == 1 and not fields[0].strip(" \t"))


# --- values --------------------------------------------------------------------

#: Whole numbers (Quantity, CustomerID) are refused above this size: 2^53 - 1, the largest below which
#: a float64 holds every whole number exactly.
MAX_WHOLE_NUMBER = 2**53 - 1


def to_canonical(
    raw: pd.DataFrame, *, source: Path, date_format: str | None, categorical: bool = True,
    known: dict[str, _Known] | None = None,
) -> pd.DataFrame:
    """Typed canonical columns from ``raw`` (already renamed to canonical names).

    With ``categorical=False`` text stays plain text: the Dask engine converts
    each partition on its own, and partitions' categories would not agree.
    The columns in ``known`` are looked up there (see :func:`invoice_batches`).
    """
    text = _text if categorical else _plain_text
    readers = _column_readers(source=source, date_format=date_format)

    def read(column: str) -> pd.Series:
        if known and column in known:
            return known[column].of(raw[column], source=source)
        return readers[column](raw[column])

    out = pd.DataFrame(
        {
            c.INVOICE: text(_code_values(raw[c.INVOICE])),
            c.STOCK_CODE: text(_code_values(raw[c.STOCK_CODE])),
            c.DESCRIPTION: text(raw[c.DESCRIPTION]),
            c.QUANTITY: read(c.QUANTITY),
            c.INVOICE_DATE: read(c.INVOICE_DATE),
            c.UNIT_PRICE: read(c.UNIT_PRICE),
            c.CUSTOMER_ID: read(c.CUSTOMER_ID),
            c.COUNTRY: text(raw[c.COUNTRY]),
        },
        index=raw.index,
    )
    _require_money_in_range(out, source=source)
    return out.reset_index(drop=True)


#: The columns whose reading the whole column decides (InvoiceDate's day-month order, a decimal comma).
WHOLE_COLUMN_READINGS: tuple[str, ...] = (c.QUANTITY, c.INVOICE_DATE, c.UNIT_PRICE, c.CUSTOMER_ID)


def _column_readers(*, source: Path, date_format: str | None) -> dict[str, Callable[..., pd.Series]]:
    """How each of :data:`WHOLE_COLUMN_READINGS` is read from its cells: one row a line, or each distinct
    cell once with ``lines`` counting the lines that hold it (for the log)."""
    return {
        c.QUANTITY: lambda cells, lines=None: _whole_numbers(cells, source=source, column=c.QUANTITY),
        c.INVOICE_DATE: lambda cells, lines=None: parse_invoice_dates(cells, source=source,
                                                                     date_format=date_format, lines=lines),
        c.UNIT_PRICE: lambda cells, lines=None: _numbers(cells, source=source, column=c.UNIT_PRICE),
        c.CUSTOMER_ID: lambda cells, lines=None: _customer_ids(cells, source=source),
    }


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _text(values: pd.Series) -> pd.Series:
    """Text as a categorical with sorted categories; surrounding spaces removed, empty -> missing.

    Only the distinct values are stripped, sorted and compared, so the cost
    follows the number of distinct texts, not of lines; sorted categories make
    code order alphabetical order (code point order, as Python compares text).
    """
    categorical = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    stripped = pd.Series(categorical.cat.categories.astype("str"), dtype="str").str.strip()
    texts = pa.array(stripped.mask(stripped == ""), type=pa.string())
    order = pc.sort_indices(texts).to_numpy()  # missing last; UTF-8 byte order = code point order
    ordered = texts.take(order)
    present = len(ordered) - ordered.null_count
    differs = pc.not_equal(ordered.slice(1, max(present - 1, 0)), ordered.slice(0, max(present - 1, 0)))
    new_category = np.concatenate((np.ones(min(present, 1), dtype=bool), differs.to_numpy(zero_copy_only=False)))
    # the old code -1 (missing) is the last entry, so missing stays missing even with no text at all
    new_code_of_old = np.full(len(texts) + 1, -1, dtype="int64")
    new_code_of_old[order[:present]] = np.cumsum(new_category) - 1
    categories = pd.Index(ordered.slice(0, present).filter(pa.array(new_category)), dtype="str")
    new_codes = new_code_of_old[categorical.cat.codes.to_numpy()]
    return pd.Series(pd.Categorical.from_codes(new_codes, dtype=pd.CategoricalDtype(categories), validate=False),
                     index=values.index)


def _plain_text(values: pd.Series) -> pd.Series:
    """Text with surrounding spaces removed; empty text becomes missing."""
    text = values.astype("str").str.strip()
    return text.mask(values.isna() | (text == ""))


def _code_values(values: pd.Series) -> pd.Series:
    """Codes ready to become text; whole numbers read from Excel (536365.0) lose the ``.0``."""
    if values.dtype == object or pd.api.types.is_numeric_dtype(values):
        return values.map(_whole_number_text, na_action="ignore")
    return values


def _whole_number_text(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def _examples(values: pd.Series, mask: pd.Series) -> str:
    """The first few distinct values where ``mask`` holds, as written, for an error message."""
    return ", ".join(repr(v) for v in values[mask.to_numpy(dtype=bool)].astype("str").unique()[:3])


def _rows(values: pd.Series, mask: pd.Series) -> str:
    """The first few row labels where ``mask`` holds, for an error message."""
    return ", ".join(map(str, values.index[mask.to_numpy(dtype=bool)][:_ROWS_SHOWN]))


def _numeric_text(text: pd.Series, *, source: Path, column: str) -> pd.Series:
    """Number text made parseable: currency signs and spaces dropped, separators normalised.

    ``£2.55`` -> ``2.55``; ``1,234.50`` -> ``1234.50``; where a column writes
    decimals with a comma (``2,55``, ``1.234,50``) and never with a point,
    commas are decimal marks. A column that uses both conventions is an error.
    """
    text = text.str.replace(_CURRENCY, "", regex=True)
    comma_decimal = text.str.match(_COMMA_DECIMAL).fillna(False).astype(bool)
    dot_thousands = text.str.match(_DOT_THOUSANDS).fillna(False).astype(bool)
    if comma_decimal.any():
        point_decimal = text.str.contains(r"^\s*[+-]?\d*\.\d+$", regex=True).fillna(False).astype(bool)
        point_decimal &= ~text.str.match(r"^[+-]?\d{1,3}(\.\d{3})+$").fillna(False).astype(bool)
        if point_decimal.any() or dot_thousands.any():
            raise InvoiceDataError(
                f"{source}: column {column} writes decimals both with a comma ({text[comma_decimal].iloc[0]!r}) "
                f"and with a point ({text[point_decimal | dot_thousands].iloc[0]!r}); use one convention."
            )
        log.info("%s: column %s read with decimal commas", source.name, column)
        return text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return text.where(~dot_thousands, text.str.replace(",", "", regex=False))


def _numbers(
    values: pd.Series, *, source: Path, column: str, allow_missing: bool = False
) -> pd.Series:
    """Numbers from numeric or text cells; a cell that is not a number is an error.

    Text is stripped first (" 17850 ", "17850.0", "£2.55" and "2,55" are
    numbers). Empty cells are an error unless ``allow_missing``.
    """
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
    else:
        text = values.astype("str").str.strip().mask(values.isna())
        text = text.mask(text == "")
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        if (numbers.isna() & text.notna()).any():  # not plain numbers: currency, separators, typos
            text = _numeric_text(text, source=source, column=column)
            numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = numbers.isna() & text.notna()
        if bad.any():
            raise InvoiceDataError(
                f"{source}: column {column} has {int(bad.sum())} value(s) that are not numbers "
                f"({_examples(values, bad)}) at row(s) {_rows(values, bad)}; fix or remove those rows."
            )
    _require_finite(numbers, values, source=source, column=column)
    if not allow_missing and numbers.isna().any():
        blank = numbers.isna()
        raise InvoiceDataError(
            f"{source}: column {column} is empty in {int(blank.sum())} row(s), first at "
            f"row(s) {_rows(values, blank)}; fill in or remove those rows."
        )
    return numbers


def _require_finite(numbers: pd.Series, values: pd.Series, *, source: Path, column: str) -> None:
    """Refuse infinite numbers ("inf", "1e400", or infinities stored in a Parquet or Excel file)."""
    infinite = pd.Series(np.isinf(numbers.to_numpy(dtype="float64", na_value=0.0)), index=values.index)
    if infinite.any():
        raise InvoiceDataError(
            f"{source}: column {column} has {int(infinite.sum())} value(s) that are not finite numbers "
            f"({_examples(values, infinite)}) at row(s) {_rows(values, infinite)}; fix or remove those rows."
        )


def _whole_numbers(
    values: pd.Series, *, source: Path, column: str, allow_missing: bool = False
) -> pd.Series:
    """Whole numbers as Int64 (17850.0 -> 17850); a fractional value is an error.

    Numbers are read as float64, which holds every whole number up to
    :data:`MAX_WHOLE_NUMBER` in size exactly; a larger one (a 30-digit
    quantity, a card number) is an error, so that no two values can be
    rounded into one.
    """
    numbers = _numbers(values, source=source, column=column, allow_missing=allow_missing)
    fractional = numbers.notna() & (numbers != np.round(numbers))
    if fractional.any():
        raise InvoiceDataError(
            f"{source}: column {column} must hold whole numbers; {int(fractional.sum())} "
            f"value(s) are fractional, first at row(s) {_rows(values, fractional)}."
        )
    too_large = numbers.abs() > MAX_WHOLE_NUMBER
    if too_large.any():
        raise InvoiceDataError(
            f"{source}: column {column} has {int(too_large.sum())} value(s) too large to be read exactly "
            f"({_examples(values, too_large)}) at row(s) {_rows(values, too_large)}; whole numbers must lie "
            f"within ±{MAX_WHOLE_NUMBER:,}; fix or remove those rows."
        )
    return numbers.astype("Int64")


def _customer_ids(values: pd.Series, *, source: Path) -> pd.Series:
    """CustomerID as Int64, missing where empty; a negative ID is an error.

    A negative number is no customer's ID but a sign of a sentinel or a typo
    (guest lines exported as -1 would otherwise become one huge customer); a
    line without a customer leaves the cell empty.
    """
    ids = _whole_numbers(values, source=source, column=c.CUSTOMER_ID, allow_missing=True)
    negative = (ids < 0).fillna(False).astype(bool)
    if negative.any():
        raise InvoiceDataError(
            f"{source}: column {c.CUSTOMER_ID} has {int(negative.sum())} negative value(s) "
            f"({_examples(values, negative)}) at row(s) {_rows(values, negative)}; customer IDs are 0 or "
            "more — leave the cell empty for a line without a customer."
        )
    return ids


def require_summable(total_micros: float, *, where: str) -> None:
    """Refuse lines whose |Quantity x UnitPrice| add up to ``config.MAX_TOTAL_MICROS`` or more.

    ``total_micros`` is that sum over one table of invoice lines (one row is
    one line), in micro-pounds, as a float64 or an exact int. Below the bound
    no int64 sum of money over any part of the lines can wrap round.
    """
    if total_micros >= config.MAX_TOTAL_MICROS:
        total, bound = total_micros / config.MICROS_PER_POUND, config.MAX_TOTAL_MICROS / config.MICROS_PER_POUND
        raise InvoiceDataError(
            f"{where}: the lines' amounts |Quantity x UnitPrice| add up to £{total:,.0f}, "
            f"more than the £{bound:,.0f} money sums can hold exactly; "
            "check Quantity and UnitPrice for typos (a missing decimal point) or split the file."
        )



def _require_money_in_range(lines: pd.DataFrame, *, source: Path) -> None:
    """Refuse a line whose |Quantity x UnitPrice| reaches ``config.MAX_LINE_POUNDS``, and lines whose
    amounts add up beyond what int64 micro-pounds hold (see :func:`require_summable`).

    One row of ``lines`` is one invoice line, index as in the file.
    """
    amounts = (lines[c.QUANTITY].astype("float64") * lines[c.UNIT_PRICE]).abs()
    too_large = amounts >= config.MAX_LINE_POUNDS
    if too_large.any():
        first = lines[too_large].iloc[0]
        raise InvoiceDataError(
            f"{source}: {int(too_large.sum())} line(s) worth £{config.MAX_LINE_POUNDS:,} or more, first at row(s) "
            f"{_rows(lines, too_large)} (Quantity {first[c.QUANTITY]} x UnitPrice {first[c.UNIT_PRICE]:g}); "
            "fix the quantity or price, or remove those lines."
        )
    require_summable(amounts.sum() * config.MICROS_PER_POUND, where=str(source))


# --- dates ---------------------------------------------------------------------


#: A UTC offset or "Z" after the time of day (``08:00+01:00``, ``08:00:00Z``, ``08:00 -0500``).
_UTC_OFFSET = re.compile(r"(?<=\d:\d\d)(?P<seconds>:\d\d(?:\.\d+)?)?\s*(?:Z|[+-]\d\d(?::?\d\d)?)$")
_DAY_FIRST, _MONTH_FIRST = "day-first", "month-first"


def parse_invoice_dates(
    values: pd.Series, *, source: Path | str, date_format: str | None = None, lines: np.ndarray | None = None
) -> pd.Series:
    """Parse InvoiceDate cells into ``datetime64[ns]``; one row is one line's cell.

    Cells that already hold dates (Excel, Parquet) are kept. Text is parsed with
    ``date_format`` when given. Otherwise each cell must be ISO 8601
    (``2009-12-01 07:45:00``) or ``a?b?year [h:mm[:ss]]`` with ``/``, ``.`` or
    ``-`` between the numbers (``12/1/2010 8:26``, ``01.12.2010 09:53:00``,
    ``01-12-10``), also mixed with ISO in one column. The order of day and
    month is the column's, told by a day above 12: day-first when some first
    number is 13 … 31 and no second number is, month-first the other way round
    (logged). A column where both occur, or neither (every day 12 or less), is
    refused with :class:`InvoiceDataError`; for the latter the message quotes
    the column's values and gives the ``date_format`` of each order, checked
    to read every value. A two-digit year is read as ``%y`` reads it (69 …
    99 are 1969 … 1999, 00 … 68 are 2000 … 2068).

    Times are the shop's wall-clock times: a UTC offset in text
    (``2010-12-01T08:00+01:00`` is 08:00) and the time zone of a Parquet
    timestamp column (its clock time in that zone) are dropped, never
    converted, in every format and both engines. Invoice days are calendar days
    in the shop's own time: converting to UTC would move a sale at 00:30+01:00
    to the day before, and one file may mix summer and winter offsets. A
    trailing ``%z`` in ``date_format`` is ignored for the same reason.

    Every date must lie in ``config.FIRST_INVOICE_DATE <= date <
    config.END_INVOICE_DATE``; one outside is an error naming the value and
    row (checked before the dates are stored in nanoseconds, so none wraps).

    Where ``values`` holds each distinct cell once, ``lines`` counts the lines
    that hold each one, for the log; an error then names positions in ``values``.
    """
    source = Path(source)
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values.dt.tz_localize(None) if values.dt.tz is not None else values
        return _require_all_dates(dates, values, source=source)
    if lines is not None:  # each distinct cell once
        dates, used_format = _parse_dates(values, source=source, date_format=date_format, lines=lines)
        return _require_all_dates(dates, values, source=source, date_format=used_format)
    codes, distinct = pd.factorize(values)
    if len(distinct) <= len(values) // 2:  # the lines of an invoice share its date: parse each text once
        try:
            once, used_format = _parse_dates(
                pd.Series(distinct, dtype=object if values.dtype == object else values.dtype),
                source=source, date_format=date_format, lines=np.bincount(codes[codes >= 0]),
            )
        except InvoiceDataError:
            pass  # parsed line by line below, so that the message names the rows
        else:
            parsed = once.to_numpy()
            dates = pd.Series(np.append(parsed, np.array(["NaT"], dtype=parsed.dtype))[codes], index=values.index)
            return _require_all_dates(dates, values, source=source, date_format=used_format)
    dates, used_format = _parse_dates(values, source=source, date_format=date_format)
    return _require_all_dates(dates, values, source=source, date_format=used_format)


def _parse_dates(
    values: pd.Series, *, source: Path, date_format: str | None, lines: np.ndarray | None = None
) -> tuple[pd.Series, str | None]:
    """:func:`parse_invoice_dates` of text cells, before the checks: the dates (NaT where a cell is
    not one) and the format used. ``lines`` counts the lines of each cell (for the log)."""
    lines = np.ones(len(values), dtype="int64") if lines is None else lines
    is_stamp = values.map(_is_timestamp, na_action="ignore").fillna(False).astype(bool)
    text = values.where(~is_stamp).astype("str").str.strip().mask(values.isna() | is_stamp)
    text = _without_offset(text)
    dates = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    if is_stamp.any():
        dates[is_stamp] = pd.to_datetime(values[is_stamp].astype(object).tolist())
    if date_format is not None:
        date_format = re.sub(r"\s*%z$", "", date_format)
        return dates.fillna(pd.to_datetime(text, format=date_format, errors="coerce")), date_format
    if not is_stamp.any():
        dates = pd.to_datetime(text, format="ISO8601", errors="coerce")
        if dates.notna().sum() == text.notna().sum():  # every cell ISO 8601: done
            return dates, None
        dates = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    iso = text.str.match(_ISO_DATE).fillna(False).astype(bool)
    if iso.any():
        dates[iso] = pd.to_datetime(text[iso], format="ISO8601", errors="coerce")
    parts = text.str.extract(_NUMERIC_DATE)
    numeric = parts["a"].notna()  # never ISO: those start with four digits
    if numeric.any():
        order, evidence = _day_month_order(values, parts, source=source)
        dates[numeric] = _numeric_dates(parts[numeric], order=order)
        if iso.any():
            log.info("%s: InvoiceDate mixes ISO (%d) and %s (%d) dates (%s)", source.name,
                     int(lines[iso.to_numpy()].sum()), order, int(lines[numeric.to_numpy()].sum()), evidence)
        else:
            log.info("%s: InvoiceDate read %s (%s)", source.name, order, evidence)
    return dates, None


def _is_timestamp(value: object) -> bool:
    return isinstance(value, (pd.Timestamp, np.datetime64)) or hasattr(value, "isoformat")


def _without_offset(text: pd.Series) -> pd.Series:
    return text.str.replace(_UTC_OFFSET, lambda match: match["seconds"] or "", regex=True)


def _day_month_order(values: pd.Series, parts: pd.DataFrame, *, source: Path) -> tuple[str, str]:
    """:data:`_DAY_FIRST` or :data:`_MONTH_FIRST` for the numeric dates of ``values``, and the
    value that tells it (for the log).

    One row of ``parts`` is one cell of ``values``: the groups of
    :data:`_NUMERIC_DATE`, NaN where the cell is not such a date. A first
    number of 13 … 31 beside a second of 12 or less can only be a day-first
    date, and the other way round; a column holding both, or neither, is refused.
    """
    first, second = pd.to_numeric(parts["a"]), pd.to_numeric(parts["b"])
    day_first = first.between(13, 31) & (second <= 12)
    month_first = second.between(13, 31) & (first <= 12)
    if day_first.any() and month_first.any():
        raise InvoiceDataError(
            f"{source}: column {c.INVOICE_DATE} has dates whose first number is above 12, so day-first "
            f"({_examples(values, day_first)} at row(s) {_rows(values, day_first)}), and dates whose second "
            f"number is, so month-first ({_examples(values, month_first)} at row(s) {_rows(values, month_first)}); "
            "no one order reads them all: fix those rows so that the column writes its dates one way."
        )
    if day_first.any():
        return _DAY_FIRST, f"{_first_value(values, day_first)} cannot be {_MONTH_FIRST}"
    if month_first.any():
        return _MONTH_FIRST, f"{_first_value(values, month_first)} cannot be {_DAY_FIRST}"
    raise _ambiguous_dates(values, parts, source=source)


def _ambiguous_dates(values: pd.Series, parts: pd.DataFrame, *, source: Path) -> InvoiceDataError:
    """The error for numeric dates none of which has a day above 12: it quotes the column's first
    values and gives the format of each order, each checked to read every cell of ``values``."""
    numeric = parts["a"].notna()
    head = (f"{source}: column {c.INVOICE_DATE} has no date with a day above 12, so its dates could be "
            f"day-first or month-first ({_examples(values, numeric)})")
    formats = _numeric_date_formats(parts[numeric].iloc[0])
    reading = _formats_reading_all(values, formats, source=source)
    if len(reading) == 2:
        return InvoiceDataError(
            f"{head}; if the day comes first pass {_date_format_option(formats[_DAY_FIRST])}; "
            f"if the month comes first pass {_date_format_option(formats[_MONTH_FIRST])}."
        )
    if reading:
        ((order, date_format),) = reading.items()
        return InvoiceDataError(f"{head}; only {order} reads every value: pass {_date_format_option(date_format)}.")
    unread = _unread_cells(values, formats[_DAY_FIRST], source=source)
    return InvoiceDataError(
        f"{head}; neither {formats[_DAY_FIRST]!r} (day first) nor {formats[_MONTH_FIRST]!r} (month first) "
        f"reads {int(unread.sum())} value(s) ({_examples(values, unread)}) at row(s) {_rows(values, unread)}: "
        "fix those rows, then give the format of the order the file uses with --date-format "
        "(in Python: date_format=)."
    )


def _numeric_date_formats(date: pd.Series) -> dict[str, str]:
    """The strptime format of each order for one numeric date (the groups of :data:`_NUMERIC_DATE`):
    ``01.12.2010 09:53:00`` -> ``%d.%m.%Y %H:%M:%S`` (day-first), ``%m.%d.%Y %H:%M:%S`` (month-first)."""
    year = "%Y" if len(date["year"]) == 4 else "%y"
    time = "" if pd.isna(date["hour"]) else f"{date['gap']}%H:%M" + ("" if pd.isna(date["second"]) else ":%S")
    return {_DAY_FIRST: f"%d{date['sep1']}%m{date['sep2']}{year}{time}",
            _MONTH_FIRST: f"%m{date['sep1']}%d{date['sep2']}{year}{time}"}


def _formats_reading_all(values: pd.Series, formats: dict[str, str], *, source: Path) -> dict[str, str]:
    """Those of ``formats`` (by order) that read every non-blank cell of ``values`` as ``date_format=``."""
    return {order: date_format for order, date_format in formats.items()
            if not _unread_cells(values, date_format, source=source).any()}


def _unread_cells(values: pd.Series, date_format: str, *, source: Path) -> pd.Series:
    """Which non-blank cells of ``values`` ``date_format`` does not read, as ``date_format=`` would."""
    dates, _ = _parse_dates(values, source=source, date_format=date_format)
    return dates.isna() & ~_blank_cells(values)


def _date_format_option(date_format: str) -> str:
    """The option giving ``date_format``, named for the command line first."""
    return f"--date-format '{date_format}' (in Python: date_format='{date_format}')"


def _numeric_dates(parts: pd.DataFrame, *, order: str) -> pd.Series:
    """The dates of numeric date text, one row per cell (the groups of :data:`_NUMERIC_DATE`),
    read in ``order``; NaT where the numbers make no date (``31.02.2010``)."""
    day, month = ("a", "b") if order == _DAY_FIRST else ("b", "a")
    year = pd.to_numeric(parts["year"])
    two_digits = parts["year"].str.len() == 2
    year = year.where(~two_digits, year + np.where(year < 69, 2000, 1900))  # as %y reads it
    return pd.to_datetime(
        pd.DataFrame(
            {
                "year": year,
                "month": pd.to_numeric(parts[month]),
                "day": pd.to_numeric(parts[day]),
                "hour": pd.to_numeric(parts["hour"]).fillna(0),
                "minute": pd.to_numeric(parts["minute"]).fillna(0),
                "second": pd.to_numeric(parts["second"]).fillna(0),
            }
        ),
        errors="coerce",
    )


def _blank_cells(values: pd.Series) -> pd.Series:
    return values.isna() | (values.astype("str").str.strip() == "")


def _first_value(values: pd.Series, mask: pd.Series) -> str:
    """The first value where ``mask`` holds, as written, for a message."""
    return repr(str(values[mask.to_numpy(dtype=bool)].iloc[0]))


def _require_all_dates(
    dates: pd.Series, original: pd.Series, *, source: Path, date_format: str | None = None
) -> pd.Series:
    bad = dates.isna().to_numpy()
    if bad.any():
        mask = pd.Series(bad, index=original.index)
        shown = ", ".join(repr(v) for v in original[mask & ~_blank_cells(original)].astype("str").unique()[:3])
        how = f"do not match date_format {date_format!r}" if date_format else "are not dates"
        raise InvoiceDataError(
            f"{source}: column {c.INVOICE_DATE} has {int(bad.sum())} value(s) that {how}"
            f"{f' ({shown})' if shown else ' (empty)'} at row(s) {_rows(original, mask)}; "
            f"{_date_format_advice(original, source=source) if date_format else _FIX_DATES}."
        )
    _require_dates_in_window(dates, original, source=source)
    return pd.Series(dates.to_numpy(dtype="datetime64[ns]"), index=dates.index)


_FIX_DATES = "fix those rows, or give their format with --date-format (in Python: date_format=)"


def _date_format_advice(original: pd.Series, *, source: Path) -> str:
    """What to do when a given date format does not read ``original`` (one cell a line): the
    numeric date formats that read every cell, if any does."""
    parts = _without_offset(original.astype("str").str.strip()).str.extract(_NUMERIC_DATE)
    numeric = parts["a"].notna()
    if not numeric.any():
        return _FIX_DATES
    reading = _formats_reading_all(original, _numeric_date_formats(parts[numeric].iloc[0]), source=source)
    if len(reading) == 2:
        return (f"the column reads day-first with {_date_format_option(reading[_DAY_FIRST])}, "
                f"month-first with {_date_format_option(reading[_MONTH_FIRST])}")
    if reading:
        (date_format,) = reading.values()
        return f"the column reads with {_date_format_option(date_format)}"
    return _FIX_DATES


def _require_dates_in_window(dates: pd.Series, original: pd.Series, *, source: Path) -> None:
    """Refuse dates outside ``config.FIRST_INVOICE_DATE`` … ``config.END_INVOICE_DATE`` (exclusive).

    ``dates`` may be in any unit (seconds to nanoseconds); one row is one line,
    ``original`` holds its cell as written.
    """
    first, end = pd.Timestamp(config.FIRST_INVOICE_DATE), pd.Timestamp(config.END_INVOICE_DATE)
    outside = ((dates < first) | (dates >= end)).to_numpy(dtype=bool)
    if outside.any():
        mask = pd.Series(outside, index=original.index)
        last = end - pd.Timedelta(days=1)
        raise InvoiceDataError(
            f"{source}: column {c.INVOICE_DATE} has {int(outside.sum())} value(s) outside "
            f"{first:%Y-%m-%d} … {last:%Y-%m-%d} ({_examples(original, mask)}) at row(s) "
            f"{_rows(original, mask)}; fix the dates or remove those lines."
        )
