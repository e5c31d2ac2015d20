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
from functools import partial
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
class OutcomeWindow:
    """A check of the segments against what customers did next.

    Features are built only from lines dated before ``as_of`` (Recency_Days
    counted to ``as_of``); the outcome is each customer's purchases in
    [``as_of``, ``as_of`` + ``horizon_days``).
    """

    as_of: pd.Timestamp
    horizon_days: int = config.HORIZON_DAYS

    @property
    def end(self) -> pd.Timestamp:
        """The first moment after the window."""
        return self.as_of + pd.Timedelta(days=self.horizon_days)


def last_window(last_invoice_date: pd.Timestamp, *, horizon_days: int = config.HORIZON_DAYS) -> OutcomeWindow:
    """The latest complete outcome window of data whose last line is dated ``last_invoice_date``:
    ``as_of`` is ``horizon_days`` before the day after that line."""
    data_end = pd.Timestamp(last_invoice_date).normalize() + pd.Timedelta(days=1)
    return OutcomeWindow(data_end - pd.Timedelta(days=horizon_days), horizon_days)


@dataclass(frozen=True)
class Batch:
    """One batch of lines, worked on: the cleaning counts (``clean.CleanResult.counts``),
    the pieces of its customers (None when no line was kept), with an outcome window
    the pieces of their lines in the window, and the first and last kept InvoiceDate."""

    counts: pd.DataFrame
    pieces: CustomerPieces | None
    outcome: CustomerPieces | None = None
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None


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
    #: With an :class:`OutcomeWindow`: the feature table of the lines in the window (Frequency is
    #: occasions in it, Total_Bill_Size net spend in it); customers who bought nothing there are absent.
    outcome: pd.DataFrame | None = None


def summarise_batch(invoices: pd.DataFrame, *, window: OutcomeWindow | None = None) -> Batch:
    """Clean a batch of invoice lines (canonical columns) and reduce it to its customers' pieces.

    With ``window``, the pieces are of the lines before ``window.as_of`` and
    ``outcome`` holds those of the lines in the window; lines after it are
    cleaned and counted, and used for nothing else.
    """
    cleaning = clean_invoices(invoices)
    kept = cleaning.invoices
    dates = kept[c.INVOICE_DATE]
    first, last = (dates.min(), dates.max()) if len(kept) else (None, None)
    if window is None:
        return Batch(counts=cleaning.counts, pieces=_pieces_of(kept), first_date=first, last_date=last)
    return Batch(
        counts=cleaning.counts,
        pieces=_pieces_of(kept[(dates < window.as_of).to_numpy()]),
        outcome=_pieces_of(kept[((dates >= window.as_of) & (dates < window.end)).to_numpy()]),
        first_date=first,
        last_date=last,
    )


def _pieces_of(lines: pd.DataFrame) -> CustomerPieces | None:
    return customer_pieces(summarise_lines(lines)) if len(lines) else None


def combine_batches(
    batches: list[Batch],
    *,
    source: Path,
    spend: Literal["net", "gross"] = "net",
    snapshot_date: pd.Timestamp | str | None = None,
    window: OutcomeWindow | None = None,
) -> CustomerTable:
    """The ledger and the customer table of all the batches' lines (no customer in two batches).

    With ``window`` (the one the batches were made with), the table is of the
    lines before ``window.as_of`` with Recency_Days counted to it, and
    ``outcome`` is the table of the window's lines.
    """
    ledger = ledger_from_counts(pd.concat([batch.counts for batch in batches]))
    if window is not None:
        _check_window(window, batches, source=source)
        snapshot_date = window.as_of
    pieces = _combine([batch.pieces for batch in batches])
    _require_purchases(pieces is not None and len(pieces.customers) > 0, ledger, source=source, window=window)
    outcome = None
    if window is not None:
        found = _combine([batch.outcome for batch in batches])
        outcome = (features_from_pieces(found, spend=spend) if found is not None
                   else features_from_pieces(pieces, spend=spend).iloc[:0])
    return CustomerTable(
        customers=features_from_pieces(pieces, spend=spend, snapshot_date=snapshot_date),
        ledger=ledger,
        returns_matched=float(pounds(pieces.counted_micros)),
        returns_unmatched=float(pounds(pieces.unmatched_micros)),
        return_only_customers=len(pieces.return_only_customers),
        outcome=outcome,
    )


def _combine(pieces: list[CustomerPieces | None]) -> CustomerPieces | None:
    found = [piece for piece in pieces if piece is not None]
    return combine_pieces(found) if found else None


def _check_window(window: OutcomeWindow, batches: list[Batch], *, source: Path) -> None:
    """Refuse a window that does not lie inside the data: features need lines before it, and
    an outcome cut short by the end of the data would undercount what customers did next."""
    firsts = [batch.first_date for batch in batches if batch.first_date is not None]
    lasts = [batch.last_date for batch in batches if batch.last_date is not None]
    if not firsts:
        return  # no line kept: _require_purchases says so
    first, last = min(firsts), max(lasts)
    data_end = last.normalize() + pd.Timedelta(days=1)
    if window.as_of <= first:
        raise InvoiceDataError(
            f"{source}: --as-of {window.as_of:%Y-%m-%d} is not after the first purchase line "
            f"({first:%Y-%m-%d}); choose a date inside the data so that there is history to segment."
        )
    if window.end > data_end:
        latest = data_end - pd.Timedelta(days=window.horizon_days)
        raise InvoiceDataError(
            f"{source}: --as-of {window.as_of:%Y-%m-%d} plus {window.horizon_days} days ends on "
            f"{window.end:%Y-%m-%d}, after the data's last day ({last:%Y-%m-%d}); choose --as-of "
            f"{latest:%Y-%m-%d} or earlier, or fewer --horizon-days."
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
        window: OutcomeWindow | None = None,
    ) -> CustomerTable:
        """Read ``path`` (see :func:`load.load_invoices`), clean it and build the customer table
        (and the outcome table of ``window``, if given)."""
        path = Path(path)
        report = path.is_file() and path.stat().st_size > LARGE_INPUT_BYTES
        with _stage("load", report=report):
            invoices = load_invoices(path, sheet=sheet, date_format=date_format)
        with _stage("clean", report=report):
            batch = summarise_batch(invoices, window=window)
            del invoices
        with _stage("features", report=report):
            return combine_batches([batch], source=path, spend=spend, snapshot_date=snapshot_date, window=window)

    def customer_table_of_lines(
        self,
        invoices: pd.DataFrame,
        *,
        source: str | Path,
        spend: Literal["net", "gross"] = "net",
        window: OutcomeWindow | None = None,
    ) -> CustomerTable:
        """:meth:`customer_table` of invoice lines already loaded from ``source`` (canonical columns)."""
        return combine_batches([summarise_batch(invoices, window=window)], source=Path(source), spend=spend,
                               window=window)


@dataclass(frozen=True)
class DaskEngine:
    """Lines read and worked on in partitions by a Dask cluster, for files larger than memory.

    ``scheduler`` is the address of a running cluster (``tcp://host:8786``),
    which must answer within ``scheduler_timeout`` seconds; without it a local
    cluster is started with one single-threaded worker per core, each limited
    to ``worker_memory`` (at least ``config.DASK_MIN_WORKER_MEMORY``).
    ``progress`` shows Dask's progress bar. Options that cannot work are
    refused when the engine is made, before any work (InvoiceDataError).
    """

    scheduler: str | None = None
    worker_memory: str = config.DASK_WORKER_MEMORY
    progress: bool = True
    scheduler_timeout: float = config.DASK_SCHEDULER_TIMEOUT

    def __post_init__(self) -> None:
        from segmentation import dask_engine

        if self.scheduler is not None:
            dask_engine.check_scheduler_address(self.scheduler)
        dask_engine.worker_memory_bytes(self.worker_memory)
        if not self.scheduler_timeout > 0:
            raise InvoiceDataError(
                f"--scheduler-timeout: {self.scheduler_timeout!r} is not a number of seconds above 0; give one "
                f"such as {config.DASK_SCHEDULER_TIMEOUT:g} (scheduler_timeout= in Python)."
            )

    def customer_table(
        self,
        source: str | Path,
        *,
        spend: Literal["net", "gross"] = "net",
        snapshot_date: pd.Timestamp | str | None = None,
        sheet: str | None = None,
        date_format: str | None = None,
        window: OutcomeWindow | None = None,
    ) -> CustomerTable:
        """Read ``source`` (a CSV or Parquet file, a glob or a folder of them), clean it and build
        the customer table. ``sheet`` is not used (Excel is not read). Text dates must be ISO 8601
        or given ``date_format``: month-first detection needs the whole column."""
        from segmentation import dask_engine

        batches = dask_engine.map_batches(
            source, partial(summarise_batch, window=window), date_format=date_format, scheduler=self.scheduler,
            worker_memory=self.worker_memory, scheduler_timeout=self.scheduler_timeout, progress=self.progress,
        )
        return combine_batches(batches, source=Path(source), spend=spend, snapshot_date=snapshot_date,
                               window=window)


Engine = PandasEngine | DaskEngine


def engine_named(name: str, *, scheduler: str | None = None, worker_memory: str = config.DASK_WORKER_MEMORY,
                 scheduler_timeout: float = config.DASK_SCHEDULER_TIMEOUT) -> Engine:
    """The engine called ``name`` (one of :data:`ENGINES`); the Dask options go to the Dask engine."""
    if name == "pandas":
        return PandasEngine()
    if name == "dask":
        return DaskEngine(scheduler=scheduler, worker_memory=worker_memory, scheduler_timeout=scheduler_timeout)
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {name!r}")


@contextmanager
def _stage(name: str, *, report: bool) -> Iterator[None]:
    """Log one line with the stage's wall time (when ``report``)."""
    started = time.perf_counter()
    yield
    if report:
        logger.info("%-9s %6.1f s", name, time.perf_counter() - started)


def _require_purchases(has_purchases: bool, ledger: pd.DataFrame, *, source: Path,
                       window: OutcomeWindow | None = None) -> None:
    """Refuse input with no purchase line left after cleaning (only returns, say)."""
    if not has_purchases and window is not None and int(ledger.loc["kept", c.LEDGER_ROWS]):
        raise InvoiceDataError(
            f"{source}: no purchase line before --as-of {window.as_of:%Y-%m-%d}; choose a later date."
        )
    if not has_purchases:
        raise InvoiceDataError(
            f"{source}: no purchase lines after cleaning ({int(ledger.loc['input', c.LEDGER_ROWS]):,} lines "
            f"read, {int(ledger.loc['kept', c.LEDGER_ROWS]):,} kept, all returns or cancellations); a "
            "segmentation needs customers who bought something — check that the input holds sales, "
            "not only refunds."
        )
