"""Write result files: atomically, with the same bytes for the same content."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


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
