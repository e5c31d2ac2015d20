"""Write result files: atomically, with the same bytes for the same content.

A single file is replaced in one rename (:func:`atomic_path`); a folder of
results is built beside its target and swapped in as a whole
(:func:`output_folder`), so that no reader ever sees half of a run or a mix of
two runs.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import shutil
import signal
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation.errors import InvoiceDataError

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: First characters that make a spreadsheet read a cell as a formula, found after
#: any leading whitespace or control characters (``' =1+1'``, ``'\x00=1'``).
FORMULA_PREFIXES = ("=", "+", "-", "@")
#: Characters that start a cell a spreadsheet may re-parse: quoted even when no formula follows.
REPARSED_PREFIXES = ("\t", "\r")
#: What is put in front of such a text cell so that it stays text.
FORMULA_ESCAPE = "'"
#: Unicode categories skipped before looking for a formula start, beside whitespace:
#: control characters (``\x00``) and invisible format characters (zero-width space, BOM).
_SKIPPED_CATEGORIES = ("Cc", "Cf")
#: What marks the temporary folder of a run beside its output folder: ``<out>.tmp-<random>``.
TEMPORARY_FOLDER_MARK = ".tmp-"


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
    """Write ``table`` as UTF-8 CSV to ``path`` atomically, safe to open in a spreadsheet.

    Text cells and text index labels pass through :func:`neutralise_formulas`.
    A field holding a carriage return, a line feed, the separator or a quote is
    quoted, so no reader that breaks rows at CR or LF sees a row start inside a
    cell. Dates are written as ``YYYY-MM-DD HH:MM:SS`` and rows end in ``\\n``,
    so the same table gives the same bytes on every run and platform.
    """
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8", newline="") as handle:
        # the csv module quotes fields holding a character of the row terminator: CRLF quotes CR and LF
        neutralise_formulas(table).to_csv(_RowsEndingInLineFeed(handle), index=index, date_format=DATE_FORMAT,
                                          lineterminator="\r\n")
    return Path(path)


class _RowsEndingInLineFeed:
    """A text file that is given CSV rows ending in CRLF and writes them ending in LF.

    A CRLF outside quotes ends a row (a field holding CR or LF is quoted); one
    inside quotes belongs to a cell and is kept. Every ``"`` toggles between
    inside and outside, doubled quotes in a cell included.
    """

    def __init__(self, handle) -> None:
        self._handle = handle
        self._in_quotes = False

    def write(self, text: str) -> int:
        pieces = text.split('"')
        for outside in range(int(self._in_quotes), len(pieces), 2):
            pieces[outside] = pieces[outside].replace("\r\n", "\n")
        self._in_quotes ^= len(pieces) % 2 == 0
        return self._handle.write('"'.join(pieces))


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text cells cannot be read as spreadsheet formulas.

    One row of ``table`` is one row of the file it will be written to. Each line
    of a text cell (the cell itself, and the text after each line break in it)
    whose first character other than whitespace and control characters is
    ``=``, ``+``, ``-`` or ``@``, or which starts with a tab or a carriage
    return, gets a leading ``'`` (``=HYPERLINK(...)`` → ``'=HYPERLINK(...)``,
    ``' =1'`` → ``"' =1"``, ``'x\\r=2'`` → ``"x\\r'=2"``). Text columns (object or
    string dtype) and text index levels are touched; numbers, dates and missing
    cells keep their values, a negative number stays a number. The rule runs
    once per distinct text of a column that holds one of those characters, not
    once per cell.
    """
    text_columns = [name for name in table.columns if _is_text(table[name])]
    safe = table.assign(**{name: _neutralise_values(table[name]) for name in text_columns})
    return safe.set_axis(_neutralise_index(table.index), axis="index")


def _is_text(values: pd.Series | pd.Index) -> bool:
    return pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)


def _neutralise_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        levels = [index.get_level_values(level) for level in range(index.nlevels)]
        return pd.MultiIndex.from_arrays([_neutralise_index(level) for level in levels], names=index.names)
    return _neutralise_values(index) if _is_text(index) else index


#: A text holding none of these characters has no line that starts a formula or is re-parsed.
_RULE_CHARACTERS = re.compile("[" + re.escape("".join(FORMULA_PREFIXES + REPARSED_PREFIXES)) + "]")


def _neutralise_values(values: pd.Series | pd.Index) -> pd.Series | pd.Index:
    """``values`` with :func:`_neutralise_cell` applied to each cell: to each distinct text, and to
    only those holding a character of ``_RULE_CHARACTERS``; missing cells and non-text cells kept.

    A categorical's categories, and a column of text beside other values, go through ``map``.
    """
    if pd.api.types.infer_dtype(values, skipna=True) != "string":
        return values.map(_neutralise_cell)
    codes, distinct = pd.factorize(values)
    distinct = np.asarray(distinct, dtype=object)
    suspects = np.flatnonzero([_RULE_CHARACTERS.search(text) is not None for text in distinct])
    escaped = np.array([_neutralise_cell(text) for text in distinct[suspects]], dtype=object)
    changed = escaped != distinct[suspects]
    if not changed.any():
        return values
    distinct[suspects[changed]] = escaped[changed]
    cells = np.where(codes >= 0, distinct[codes], np.asarray(values, dtype=object))
    if isinstance(values, pd.Index):
        return pd.Index(cells, dtype=values.dtype, name=values.name)
    return pd.Series(cells, index=values.index, dtype=values.dtype, name=values.name)


def _neutralise_cell(value: object) -> object:
    if not isinstance(value, str):
        return value
    return "".join(_neutralise_line(line) for line in value.splitlines(keepends=True))


def _neutralise_line(line: str) -> str:
    head = line.lstrip()
    while head and unicodedata.category(head[0]) in _SKIPPED_CATEGORIES:
        head = head[1:].lstrip()
    if head.startswith(FORMULA_PREFIXES) or line.startswith(REPARSED_PREFIXES):
        return FORMULA_ESCAPE + line
    return line


def write_customer_segments(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a table of customers (``pipeline.customer_segments_table``, the forecast's lists; one row
    per customer) as CSV, safe to open (:func:`write_csv`), the forecast at ``columns.FORECAST_DECIMALS``."""
    return write_csv(table.round({name: places for name, places in c.FORECAST_DECIMALS.items()
                                  if name in table.columns}), path)


@contextmanager
def output_folder(target: str | Path) -> Iterator[Path]:
    """Yield a new, empty folder beside ``target``; when the block succeeds it replaces ``target`` whole.

    The new folder is ``<target>.tmp-<random>`` in the same parent, locked
    (``flock``) for as long as this process holds it, so that the next run can
    tell a leftover of a killed run from a live one; leftovers are removed first.
    On success the new folder and ``target`` are exchanged in one step and the
    old results removed: a reader, a crash or a second run sees either the old
    folder or the new one, never a mix, and nothing of an earlier run survives
    beside the new files. Of several runs at once the last to finish wins. When
    the block fails or is interrupted, the new folder is removed and ``target``
    is left as it was; an interrupt (Ctrl-C) during the exchange waits for it.

    Raises
    ------
    InvoiceDataError
        When the folder cannot be created (a read-only parent, a full disk).
    """
    target = Path(target).resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(target)
        staging, lock = _new_locked_folder(target)
    except OSError as error:
        raise InvoiceDataError(
            f"{target}: cannot create the output folder ({error.strerror or error}); "
            "choose a folder you can write to with --out."
        ) from error
    try:
        yield staging
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)
        with _uninterrupted():
            _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        os.close(lock)


def cannot_write(folder: str | Path, error: OSError) -> InvoiceDataError:
    """The one line for an ``OSError`` (a full disk, a quota) while a run writes into ``folder``."""
    return InvoiceDataError(
        f"{folder}: cannot write the results ({error.strerror or error}), so the folder is left as it was; "
        "free some space or choose another --out folder."
    )


def remove_leftovers(target: str | Path) -> list[Path]:
    """Remove the temporary folders of ``target`` (``<target>.tmp-*``) that no live run holds; return them.

    A run holds its folder's lock until it ends, so a folder whose lock can be
    taken was left by a run that was killed.
    """
    target = Path(target)
    prefix = f"{target.name}{TEMPORARY_FOLDER_MARK}"
    removed = []
    for candidate in sorted(target.parent.iterdir()):
        if not candidate.name.startswith(prefix) or candidate.is_symlink() or not candidate.is_dir():
            continue
        try:
            descriptor = os.open(candidate, os.O_RDONLY)
        except OSError:  # removed meanwhile by another run
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
        except BlockingIOError:  # a live run's
            pass
        finally:
            os.close(descriptor)
    return removed


def _new_locked_folder(target: Path) -> tuple[Path, int]:
    """A new ``<target>.tmp-<random>`` folder and an open descriptor holding its lock."""
    while True:
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{target.name}{TEMPORARY_FOLDER_MARK}"))
        try:
            descriptor = os.open(staging, os.O_RDONLY)
        except FileNotFoundError:  # another run took it for a leftover before the lock: make another
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            if _is_at(descriptor, staging):
                return staging, descriptor
        except BaseException:
            os.close(descriptor)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        os.close(descriptor)


def _is_at(descriptor: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(descriptor), os.stat(path))
    except FileNotFoundError:
        return False


def _swap_in(staging: Path, target: Path) -> None:
    """Put ``staging`` in place of ``target`` and remove what ``target`` held."""
    while True:
        try:
            _exchange(staging, target)
        except FileNotFoundError:  # no earlier results
            try:
                os.rename(staging, target)
                return
            except OSError as error:
                if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):  # else a parallel run just put its own
                    raise
        else:
            shutil.rmtree(staging, ignore_errors=True)  # the old results, now at the temporary name
            return


#: ``renameat2`` flag: exchange two paths atomically (Linux 3.15+, on ext4, xfs, btrfs, tmpfs, overlayfs…).
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)


def _exchange(first: Path, second: Path) -> None:
    """Swap two folders: in one step where the system can (``renameat2``), else in three renames."""
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), str(second))
    if not second.exists():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(second))
    aside = first.with_name(f"{first.name}-old")
    os.rename(second, aside)
    os.rename(first, second)
    os.rename(aside, first)


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """Run the block to its end: a Ctrl-C (SIGINT) during it is ignored. Only the main thread handles signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
