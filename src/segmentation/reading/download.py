"""Fetch the UCI "Online Retail" workbook into ``data/raw/``.

Run as ``python -m segmentation.reading.download``. Only the standard library is used,
so the download works before any analysis dependency is installed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

from segmentation import config

#: The UCI Machine Learning Repository archive of the "Online Retail" data set.
ONLINE_RETAIL_URL = "https://archive.ics.uci.edu/static/public/352/online+retail.zip"
#: The workbook inside that archive; its presence in ``dest_dir`` skips the download.
ONLINE_RETAIL_FILENAME = "Online Retail.xlsx"
#: Extensions of the archive member that is extracted.
SPREADSHEET_SUFFIXES = (".xlsx", ".csv")

_CHUNK_BYTES = 1 << 20
_USER_AGENT = "segmentation-download/1.0 (+python urllib)"
_FAILURES = (
    OSError,  # URLError, HTTPError, timeouts, refused connections, disk errors
    ValueError,  # malformed URL, _ArchiveError
    EOFError,
    NotImplementedError,  # unsupported zip compression
    zipfile.BadZipFile,
    zlib.error,
    http.client.HTTPException,
)


class DownloadError(RuntimeError):
    """The data set could not be fetched or unpacked.

    The message is one line: which URL failed, why, and how to get the file by
    hand instead.
    """


class _ArchiveError(ValueError):
    """The downloaded body is not a zip archive holding a spreadsheet."""


def download_online_retail(
    dest_dir: Path = config.RAW_DIR,
    *,
    url: str = ONLINE_RETAIL_URL,
    timeout: float = 60.0,
    force: bool = False,
) -> Path:
    """Download the Online Retail archive and extract its spreadsheet.

    Parameters
    ----------
    dest_dir : Path
        Folder the spreadsheet is written to; created if missing.
    url : str
        Address of a zip archive holding one ``.xlsx`` or ``.csv`` member.
    timeout : float
        Seconds to wait on the connection and on each read.
    force : bool
        Download again even if ``dest_dir / ONLINE_RETAIL_FILENAME`` exists.

    Returns
    -------
    Path
        ``dest_dir / <member name>``: the extracted spreadsheet, or the
        existing ``ONLINE_RETAIL_FILENAME`` when it is already there and
        ``force`` is false (no network access then).

    Raises
    ------
    DownloadError
        On any HTTP or network failure, a body that is not a zip archive, or an
        archive without a spreadsheet. No partial file is left in ``dest_dir``.
    """
    dest_dir = Path(dest_dir)
    existing = dest_dir / ONLINE_RETAIL_FILENAME
    if existing.is_file() and not force:
        return existing
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        with _temporary_file(dest_dir, suffix=".zip") as (archive_path, archive):
            _fetch(url, archive, timeout=timeout)
            archive.close()
            return _extract_spreadsheet(archive_path, dest_dir)
    except _FAILURES as exc:
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # its response holds the socket open until closed
        raise DownloadError(_message(url, _describe(exc), dest_dir)) from exc


def _fetch(url: str, out: IO[bytes], *, timeout: float) -> None:
    """Stream the body at ``url`` into ``out``; HTTP errors raise ``HTTPError``."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        shutil.copyfileobj(response, out, _CHUNK_BYTES)


def _extract_spreadsheet(archive_path: Path, dest_dir: Path) -> Path:
    """Extract the first spreadsheet member of a zip atomically into ``dest_dir``."""
    if not zipfile.is_zipfile(archive_path):
        raise _ArchiveError("the response is not a zip archive")
    with zipfile.ZipFile(archive_path) as archive:
        member = _find_spreadsheet_member(archive.namelist())
        target = dest_dir / PurePosixPath(member).name
        with _temporary_file(dest_dir, suffix=target.suffix) as (tmp_path, out):
            with archive.open(member) as source:
                shutil.copyfileobj(source, out, _CHUNK_BYTES)
            out.close()
            os.replace(tmp_path, target)
    return target


def _find_spreadsheet_member(names: Sequence[str]) -> str:
    """The first archive member ending in one of ``SPREADSHEET_SUFFIXES``."""
    for name in names:
        path = PurePosixPath(name)
        if name.endswith("/") or "__MACOSX" in path.parts or path.name.startswith("."):
            continue
        if path.suffix.lower() in SPREADSHEET_SUFFIXES:
            return name
    found = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") or "nothing"
    wanted = " or ".join(SPREADSHEET_SUFFIXES)
    raise _ArchiveError(f"the archive holds no {wanted} file (found: {found})")


@contextmanager
def _temporary_file(folder: Path, *, suffix: str) -> Iterator[tuple[Path, IO[bytes]]]:
    """A new hidden ``*.part`` file in ``folder``, removed on exit unless moved away."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".download-", suffix=suffix + ".part")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            yield path, out
    finally:
        path.unlink(missing_ok=True)


def _describe(exc: BaseException) -> str:
    """A short, single-line reason for a low-level failure."""
    reason = getattr(exc, "reason", None)
    code = getattr(exc, "code", None)
    if code is not None:
        return f"HTTP {code} {reason or ''}"
    if reason is not None:
        return str(reason)
    return str(exc) or type(exc).__name__


def _message(url: str, reason: str, dest_dir: Path) -> str:
    """The one-line message of a ``DownloadError``."""
    one_line = " ".join(reason.split())
    return (
        f"could not download {url}: {one_line}; "
        f"download it by hand from {url} and put '{ONLINE_RETAIL_FILENAME}' in {dest_dir}/"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: download the data set and print the path of the spreadsheet.

    Returns 0 on success and 2 when the download fails; the failure is one line
    on standard error.
    """
    parser = argparse.ArgumentParser(
        prog="python -m segmentation.reading.download",
        description="Download the UCI Online Retail data set into data/raw/.",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=config.RAW_DIR,
        help="folder to write into (default: %(default)s)",
    )
    parser.add_argument(
        "--url", default=ONLINE_RETAIL_URL, help="zip archive to fetch (default: %(default)s)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds per network operation (default: %(default)s)",
    )
    parser.add_argument(
        "--force", action="store_true", help="download even if the file is already there"
    )
    args = parser.parse_args(argv)
    try:
        path = download_online_retail(
            args.dest, url=args.url, timeout=args.timeout, force=args.force
        )
    except DownloadError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
