"""Write result files: atomically, with the same bytes for the same content."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: First characters that make a spreadsheet read a cell as a formula (or, tab
#: and carriage return, start a cell it may re-parse).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: What is put in front of such a text cell so that it stays text.
FORMULA_ESCAPE = "'"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``.

    A failure inside the block removes the temporary file and leaves ``path``
    as it was, so no reader ever sees a half-written file. The new file gets
    the usual permissions (0666 less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_csv(table: pd.DataFrame, path: str | Path, *, index: bool = True) -> Path:
    """Write ``table`` as UTF-8 CSV to ``path`` atomically.

    Dates are written as ``YYYY-MM-DD HH:MM:SS`` and line endings are ``\\n``,
    so the same table gives the same bytes on every run and platform.
    """
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=index, date_format=DATE_FORMAT, lineterminator="\n",
                     encoding="utf-8")
    return Path(path)


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text cells cannot be read as spreadsheet formulas.

    A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading ``'`` (``=HYPERLINK(...)`` → ``'=HYPERLINK(...)``).
    Only text columns (object or string dtype) are touched: numbers, dates
    and missing cells keep their values, a negative number stays a number.
    """
    text_columns = [name for name in table.columns
                    if pd.api.types.is_object_dtype(table[name]) or pd.api.types.is_string_dtype(table[name])]
    return table.assign(**{name: table[name].map(_neutralise_cell) for name in text_columns})


def _neutralise_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return FORMULA_ESCAPE + value
    return value


def write_customer_segments(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a customer segments table (``pipeline.customer_segments_table``) as CSV, safe to open:
    text cells pass through :func:`neutralise_formulas`."""
    return write_csv(neutralise_formulas(table), path)
