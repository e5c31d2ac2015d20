"""Tests for ``segmentation.reading.download`` against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from segmentation.reading.download import (
    ONLINE_RETAIL_FILENAME,
    DownloadError,
    download_online_retail,
    main,
)

WORKBOOK_BYTES = b"PK-not-really-a-workbook\x00\x01\x02 but bytes all the same"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging each request to stderr."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served_dir(tmp_path: Path) -> Path:
    """The folder the local server serves files from."""
    folder = tmp_path / "served"
    folder.mkdir()
    return folder


@pytest.fixture
def server_url(served_dir: Path) -> Iterator[str]:
    """Base URL (no trailing slash) of an HTTP server serving ``served_dir``."""
    handler = functools.partial(_QuietHandler, directory=str(served_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def dest_dir(tmp_path: Path) -> Path:
    """An empty destination folder, separate from the served one."""
    folder = tmp_path / "raw"
    folder.mkdir()
    return folder


@pytest.fixture
def refused_url() -> str:
    """A URL on 127.0.0.1 whose port has nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/online+retail.zip"


def _write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_with_workbook_is_extracted_with_same_bytes(
    served_dir: Path, server_url: str, dest_dir: Path
) -> None:
    _write_zip(served_dir / "online+retail.zip", {ONLINE_RETAIL_FILENAME: WORKBOOK_BYTES})

    path = download_online_retail(dest_dir, url=f"{server_url}/online+retail.zip", timeout=5)

    assert path == dest_dir / ONLINE_RETAIL_FILENAME
    assert path.read_bytes() == WORKBOOK_BYTES
    assert sorted(p.name for p in dest_dir.iterdir()) == [ONLINE_RETAIL_FILENAME]


def test_missing_dest_dir_is_created(served_dir: Path, server_url: str, tmp_path: Path) -> None:
    _write_zip(served_dir / "data.zip", {ONLINE_RETAIL_FILENAME: WORKBOOK_BYTES})
    dest = tmp_path / "data" / "raw"

    path = download_online_retail(dest, url=f"{server_url}/data.zip", timeout=5)

    assert path.read_bytes() == WORKBOOK_BYTES


def test_csv_member_in_a_subfolder_is_extracted_under_its_base_name(
    served_dir: Path, server_url: str, dest_dir: Path
) -> None:
    _write_zip(
        served_dir / "data.zip",
        {"README.txt": b"hello", "nested/online_retail.csv": b"InvoiceNo,Quantity\n1,2\n"},
    )

    path = download_online_retail(dest_dir, url=f"{server_url}/data.zip", timeout=5)

    assert path == dest_dir / "online_retail.csv"
    assert path.read_bytes() == b"InvoiceNo,Quantity\n1,2\n"


def test_existing_file_is_returned_without_network(dest_dir: Path, refused_url: str) -> None:
    existing = dest_dir / ONLINE_RETAIL_FILENAME
    existing.write_bytes(b"already here")

    path = download_online_retail(dest_dir, url=refused_url, timeout=1)

    assert path == existing
    assert path.read_bytes() == b"already here"


def test_force_downloads_again_over_existing_file(
    served_dir: Path, server_url: str, dest_dir: Path
) -> None:
    (dest_dir / ONLINE_RETAIL_FILENAME).write_bytes(b"stale")
    _write_zip(served_dir / "online+retail.zip", {ONLINE_RETAIL_FILENAME: WORKBOOK_BYTES})

    path = download_online_retail(
        dest_dir, url=f"{server_url}/online+retail.zip", timeout=5, force=True
    )

    assert path.read_bytes() == WORKBOOK_BYTES
    assert sorted(p.name for p in dest_dir.iterdir()) == [ONLINE_RETAIL_FILENAME]


def test_http_404_raises_one_line_error_naming_url_and_leaves_nothing(
    server_url: str, dest_dir: Path
) -> None:
    url = f"{server_url}/missing.zip"

    with pytest.raises(DownloadError, match="404") as excinfo:
        download_online_retail(dest_dir, url=url, timeout=5)

    message = str(excinfo.value)
    assert url in message
    assert "by hand" in message
    assert "\n" not in message
    assert list(dest_dir.iterdir()) == []


def test_refused_connection_raises_download_error_and_leaves_nothing(
    dest_dir: Path, refused_url: str
) -> None:
    with pytest.raises(DownloadError, match="by hand") as excinfo:
        download_online_retail(dest_dir, url=refused_url, timeout=5)

    assert refused_url in str(excinfo.value)
    assert list(dest_dir.iterdir()) == []


def test_body_that_is_not_a_zip_raises_and_leaves_nothing(
    served_dir: Path, server_url: str, dest_dir: Path
) -> None:
    (served_dir / "online+retail.zip").write_text("<html>Service unavailable</html>")

    with pytest.raises(DownloadError, match="not a zip archive"):
        download_online_retail(dest_dir, url=f"{server_url}/online+retail.zip", timeout=5)

    assert list(dest_dir.iterdir()) == []


def test_zip_without_spreadsheet_raises_and_leaves_nothing(
    served_dir: Path, server_url: str, dest_dir: Path
) -> None:
    _write_zip(served_dir / "online+retail.zip", {"README.txt": b"no data here"})

    with pytest.raises(DownloadError, match=r"no \.xlsx or \.csv file.*README\.txt"):
        download_online_retail(dest_dir, url=f"{server_url}/online+retail.zip", timeout=5)

    assert list(dest_dir.iterdir()) == []


def test_main_prints_path_and_returns_0_on_success(
    served_dir: Path, server_url: str, dest_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_zip(served_dir / "online+retail.zip", {ONLINE_RETAIL_FILENAME: WORKBOOK_BYTES})

    status = main(["--dest", str(dest_dir), "--url", f"{server_url}/online+retail.zip"])

    captured = capsys.readouterr()
    assert status == 0
    assert captured.out.strip() == str(dest_dir / ONLINE_RETAIL_FILENAME)
    assert captured.err == ""


def test_main_returns_2_and_prints_one_line_to_stderr_on_failure(
    server_url: str, dest_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{server_url}/missing.zip"

    status = main(["--dest", str(dest_dir), "--url", url, "--force"])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert url in captured.err
    assert "Traceback" not in captured.err
    assert list(dest_dir.iterdir()) == []
