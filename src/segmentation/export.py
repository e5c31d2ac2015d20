"""Write result tables: atomically, with the same bytes for the same table."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def write_csv(table: pd.DataFrame, path: str | Path, *, index: bool = True) -> Path:
    """Write ``table`` as UTF-8 CSV to ``path`` via a temporary file and a rename.

    A failure never leaves a half-written file at ``path``. Dates are written
    as ``YYYY-MM-DD HH:MM:SS`` and line endings are ``\\n``, so the same table
    gives the same bytes on every run and platform.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            table.to_csv(stream, index=index, date_format=DATE_FORMAT, lineterminator="\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
