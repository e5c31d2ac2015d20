"""Engines: where batches of invoice lines are worked on. One algorithm, two runners.

The algorithm is written once, in the stage modules, and put together here:
:func:`summarise_batch` cleans a batch of lines (:func:`clean.clean_invoices`)
and reduces the kept lines to per-customer pieces
(:func:`features.customer_pieces`); :func:`combine_batches` adds the batches'
ledger counts and stacks their pieces into the ledger and the customer table.
A batch must hold every copy of each of its lines (for the duplicate rule) and
every line of each of its customers.

An engine is a value that says where the batches go:

- :class:`PandasEngine` reads the file into memory and runs it as one batch;
- :class:`DaskEngine` reads a file, a glob or a folder with Dask, cuts the
  lines into partitions that keep the two promises above and runs one batch
  per partition on a Dask cluster (:mod:`segmentation.dask_engine`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.clean import clean_invoices, ledger_from_counts, pounds
from segmentation.errors import InvoiceDataError
from segmentation.features import CustomerPieces, combine_pieces, customer_pieces, features_from_pieces, summarise_lines
from segmentation.load import load_invoices

logger = logging.getLogger(__name__)

#: The engines' names, as the command line's ``--engine`` takes them.
ENGINES = ("pandas", "dask")
#: Inputs above this size get one progress line per stage on the pandas engine.
LARGE_INPUT_BYTES = 50 * 2**20


@dataclass(frozen=True)
class Batch:
    """One batch of lines, worked on: the cleaning counts (``clean.CleanResult.counts``)
    and the pieces of its customers (None when no line was kept)."""

    counts: pd.DataFrame
    pieces: CustomerPieces | None


@dataclass(frozen=True)
class CustomerTable:
    """What an engine makes of a file: the feature table (one row per customer who bought
    something), the cleaning ledger, the pounds of returns counted against purchases and
    left unmatched, and the number of customers with return lines only (not in the table)."""

    customers: pd.DataFrame
    ledger: pd.DataFrame
    returns_matched: float
    returns_unmatched: float
    return_only_customers: int = 0


def summarise_batch(invoices: pd.DataFrame) -> Batch:
    """Clean a batch of invoice lines (canonical columns) and reduce it to its customers' pieces."""
    cleaning = clean_invoices(invoices)
    kept = cleaning.invoices
    pieces = customer_pieces(summarise_lines(kept)) if len(kept) else None
    return Batch(counts=cleaning.counts, pieces=pieces)


def combine_batches(
    batches: list[Batch],
    *,
    source: Path,
    spend: Literal["net", "gross"] = "net",
    snapshot_date: pd.Timestamp | str | None = None,
) -> CustomerTable:
    """The ledger and the customer table of all the batches' lines (no customer in two batches)."""
    ledger = ledger_from_counts(pd.concat([batch.counts for batch in batches]))
    found = [batch.pieces for batch in batches if batch.pieces is not None]
    pieces = combine_pieces(found) if found else None
    _require_purchases(pieces is not None and len(pieces.customers) > 0, ledger, source=source)
    return CustomerTable(
        customers=features_from_pieces(pieces, spend=spend, snapshot_date=snapshot_date),
        ledger=ledger,
        returns_matched=float(pounds(pieces.counted_micros)),
        returns_unmatched=float(pounds(pieces.unmatched_micros)),
        return_only_customers=len(pieces.return_only_customers),
    )


@dataclass(frozen=True)
class PandasEngine:
    """All lines in memory, one batch (the default)."""

    def customer_table(
        self,
        path: str | Path,
        *,
        spend: Literal["net", "gross"] = "net",
        snapshot_date: pd.Timestamp | str | None = None,
        sheet: str | None = None,
        date_format: str | None = None,
    ) -> CustomerTable:
        """Read ``path`` (see :func:`load.load_invoices`), clean it and build the customer table."""
        path = Path(path)
        report = path.is_file() and path.stat().st_size > LARGE_INPUT_BYTES
        with _stage("load", report=report):
            invoices = load_invoices(path, sheet=sheet, date_format=date_format)
        with _stage("clean", report=report):
            batch = summarise_batch(invoices)
            del invoices
        with _stage("features", report=report):
            return combine_batches([batch], source=path, spend=spend, snapshot_date=snapshot_date)


@dataclass(frozen=True)
class DaskEngine:
    """Lines read and worked on in partitions by a Dask cluster, for files larger than memory.

    ``scheduler`` is the address of a running cluster (``tcp://host:8786``);
    without it a local cluster is started with one single-threaded worker per
    core, each limited to ``worker_memory``. ``progress`` shows Dask's
    progress bar.
    """

    scheduler: str | None = None
    worker_memory: str = config.DASK_WORKER_MEMORY
    progress: bool = True

    def customer_table(
        self,
        source: str | Path,
        *,
        spend: Literal["net", "gross"] = "net",
        snapshot_date: pd.Timestamp | str | None = None,
        sheet: str | None = None,
        date_format: str | None = None,
    ) -> CustomerTable:
        """Read ``source`` (a CSV or Parquet file, a glob or a folder of them), clean it and build
        the customer table. ``sheet`` is not used (Excel is not read). Text dates must be ISO 8601
        or given ``date_format``: month-first detection needs the whole column."""
        from segmentation import dask_engine

        batches = dask_engine.map_batches(
            source, summarise_batch, date_format=date_format, scheduler=self.scheduler,
            worker_memory=self.worker_memory, progress=self.progress,
        )
        return combine_batches(batches, source=Path(source), spend=spend, snapshot_date=snapshot_date)


Engine = PandasEngine | DaskEngine


def engine_named(name: str, *, scheduler: str | None = None,
                 worker_memory: str = config.DASK_WORKER_MEMORY) -> Engine:
    """The engine called ``name`` (one of :data:`ENGINES`); the Dask options go to the Dask engine."""
    if name == "pandas":
        return PandasEngine()
    if name == "dask":
        return DaskEngine(scheduler=scheduler, worker_memory=worker_memory)
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {name!r}")


@contextmanager
def _stage(name: str, *, report: bool) -> Iterator[None]:
    """Log one line with the stage's wall time (when ``report``)."""
    started = time.perf_counter()
    yield
    if report:
        logger.info("%-9s %6.1f s", name, time.perf_counter() - started)


def _require_purchases(has_purchases: bool, ledger: pd.DataFrame, *, source: Path) -> None:
    """Refuse input with no purchase line left after cleaning (only returns, say)."""
    if not has_purchases:
        raise InvoiceDataError(
            f"{source}: no purchase lines after cleaning ({int(ledger.loc['input', c.LEDGER_ROWS]):,} lines "
            f"read, {int(ledger.loc['kept', c.LEDGER_ROWS]):,} kept, all returns or cancellations); a "
            "segmentation needs customers who bought something — check that the input holds sales, "
            "not only refunds."
        )
