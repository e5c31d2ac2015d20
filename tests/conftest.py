"""Shared fixtures: tiny invoice tables written inline, and the real file if present."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from segmentation import columns as c
from segmentation import config

#: The bundled real 2009-2010 file (committed, so the real-data tests run in every clone).
REAL_FILE = config.REAL_DATA_PATH


def pytest_configure(config: pytest.Config) -> None:
    """Send the figures of notebook runs under nbval to a scratch folder, not to figures/."""
    os.environ["SEGMENTATION_FIGURES_DIR"] = tempfile.mkdtemp(prefix="segmentation-figures-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(os.environ.pop("SEGMENTATION_FIGURES_DIR", ""), ignore_errors=True)


@pytest.fixture(autouse=True)
def _scratch_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test caches parsed Excel files in a folder of its own."""
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path_factory.mktemp("cache"))


def invoice_lines(rows: list[tuple]) -> pd.DataFrame:
    """Canonical invoice lines from tuples in ``columns.INVOICE_COLUMNS`` order.

    InvoiceDate may be given as text; CustomerID as an int or None.
    """
    frame = pd.DataFrame(rows, columns=list(c.INVOICE_COLUMNS))
    return frame.assign(
        **{
            c.INVOICE: frame[c.INVOICE].astype("str"),
            c.STOCK_CODE: frame[c.STOCK_CODE].astype("str"),
            c.DESCRIPTION: frame[c.DESCRIPTION].astype("str"),
            c.QUANTITY: frame[c.QUANTITY].astype("Int64"),
            c.INVOICE_DATE: pd.to_datetime(frame[c.INVOICE_DATE]).astype("datetime64[ns]"),
            c.UNIT_PRICE: frame[c.UNIT_PRICE].astype("float64"),
            c.CUSTOMER_ID: frame[c.CUSTOMER_ID].astype("Int64"),
            c.COUNTRY: frame[c.COUNTRY].astype("str"),
        }
    )


def customers_with_spend(spend: list[float]) -> pd.DataFrame:
    """A customer table of Total_Bill_Size alone, CustomerIDs 1, 2, … in the order given."""
    index = pd.Index(range(1, len(spend) + 1), dtype="Int64", name=c.CUSTOMER_ID)
    return pd.DataFrame({c.TOTAL_BILL_SIZE: spend}, index=index)


@pytest.fixture
def real_file() -> Path:
    return REAL_FILE


def cli_error(path: str | Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """Run the CLI on ``path`` (and ``extra`` options); assert exit code 2 and one stderr line without
    traceback; return that line."""
    from segmentation.__main__ import main

    code = main([str(path), "--out", str(tmp_path / "out"), *extra])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def three_customer_file(folder: Path) -> Path:
    """The lines of the sample's first three customers (with an ID), as a CSV in ``folder``."""
    lines = pd.read_csv(config.SAMPLE_PATH, dtype=str, keep_default_na=False)
    ids = lines["CustomerID"][lines["CustomerID"] != ""].unique()[:3]
    path = folder / "three.csv"
    lines[lines["CustomerID"].isin(ids)].to_csv(path, index=False)
    return path


def sample_in_three_layouts(folder: Path) -> Path:
    """The bundled sample cut into three files of ``folder``, each laid out as another shop's export might be:
    the sample's own columns; the columns in another order with one more; and a gzip file separated by
    semicolons, in windows-1252, with decimal commas."""
    lines = pd.read_csv(config.SAMPLE_PATH, dtype=str, keep_default_na=False)
    first, second, third = lines.iloc[:12_000], lines.iloc[12_000:24_000].copy(), lines.iloc[24_000:].copy()
    first.to_csv(folder / "a.csv", index=False)
    second.insert(2, "Notes", "checked")
    second[list(reversed(second.columns))].to_csv(folder / "b.csv", index=False)
    third[c.UNIT_PRICE] = third[c.UNIT_PRICE].str.replace(".", ",", regex=False)
    with gzip.open(folder / "c.csv.gz", "wt", encoding="cp1252", newline="") as file:
        third.to_csv(file, index=False, sep=";")
    return folder
