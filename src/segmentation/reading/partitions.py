"""Files read in parts by an engine beyond one machine (Dask, Spark): which files, and each part converted.

The engine reads the raw columns of one file, a glob or a folder itself, each
file as :func:`segmentation.reading.load.sniff` finds it laid out (:func:`layouts`);
every part is then converted to canonical columns by the loader's own code
(:func:`canonical_part`), so the two engines and the loader read a value the
same way. This module holds no rule and imports neither engine.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

import pandas as pd

from segmentation import columns as c
from segmentation.errors import InvoiceDataError
from segmentation.reading import load


def input_files(source: str | Path) -> list[Path]:
    """The files of ``source``: a file, a glob, or every CSV/Parquet file in a folder (sorted)."""
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]+):/", str(source))  # a Path has one slash left of s3://
    if scheme and not Path(source).exists():
        raise InvoiceDataError(
            f"{source}: {scheme[1]}:// addresses are not read; the engines read files of a file system this "
            "machine mounts (and, on a cluster, every worker at the same path): mount it, or copy the files."
        )
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.lower().endswith(load.CSV_SUFFIXES + load.PARQUET_SUFFIXES))
    elif path.is_file():
        files = [path]
    else:
        files = sorted(Path(p) for p in glob.glob(str(source)))
    if not files:
        raise InvoiceDataError(f"{source}: no CSV or Parquet file found; give a file, a glob or a folder.")
    kinds = {f.name.lower().endswith(load.PARQUET_SUFFIXES) for f in files}
    if len(kinds) > 1:
        raise InvoiceDataError(f"{source}: mixes CSV and Parquet files; give files of one kind.")
    return files


def layouts(source: str | Path) -> list[list[load.TableFormat]]:
    """The files of ``source`` (:func:`input_files`) grouped by layout, as :func:`segmentation.reading.load.sniff`
    finds each one's: the files of a group have the same kind, header, separator, encoding, compression
    and title rows, so an engine reads them together and takes their columns by name. Groups come in the
    order of their first file."""
    groups: dict[tuple, list[load.TableFormat]] = {}
    for file in input_files(source):
        table = load.sniff(file)
        key = (table.kind, table.columns, table.delimiter, table.encoding, table.compression, table.header_row)
        groups.setdefault(key, []).append(table)
    return list(groups.values())


def canonical_meta() -> pd.DataFrame:
    """An empty part in canonical columns, text as plain text."""
    return pd.DataFrame(
        {
            c.INVOICE: pd.Series(dtype="str"), c.STOCK_CODE: pd.Series(dtype="str"),
            c.DESCRIPTION: pd.Series(dtype="str"), c.QUANTITY: pd.Series(dtype="Int64"),
            c.INVOICE_DATE: pd.Series(dtype="datetime64[ns]"), c.UNIT_PRICE: pd.Series(dtype="float64"),
            c.CUSTOMER_ID: pd.Series(dtype="Int64"), c.COUNTRY: pd.Series(dtype="str"),
        }
    )


def canonical_part(raw: pd.DataFrame, *, source: str, date_format: str, engine: str = "dask") -> pd.DataFrame:
    """One part of the raw columns (already renamed to canonical names) in canonical columns, text kept as
    text (parts' categories would not agree). A value the loader refuses is refused here with the loader's
    message; its rows are counted from the part's own start, which the message says."""
    if raw.empty:
        return canonical_meta()
    try:
        frame = load.to_canonical(raw, source=Path(source), date_format=date_format, categorical=False)
    except InvoiceDataError as error:  # a part's rows are numbered from its own start, not the file's
        raise InvoiceDataError(
            f"{str(error).rstrip('.')} (rows counted from the start of one partition of the input: run "
            f"without --engine {engine} for the file's line numbers)."
        ) from None
    return frame.astype({name: "str" for name in c.TEXT_COLUMNS})
