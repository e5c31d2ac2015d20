"""Engines: where batches of invoice lines are worked on. One step, two runners.

The algorithm is written once, in the stage modules, and put together here:
:func:`summarise_batch` is the one step run on every batch of lines, whatever
lines it holds: it cleans them (:func:`clean.clean_invoices`) and reduces the
kept lines to sums per customer and product, customer and day, customer and
country (:func:`features.line_sums`). :func:`combine_batches` adds the
batches' ledger counts and their sums (:class:`stream.SumStore`) and makes the
ledger and the customer table. The duplicate rule needs every copy of a line:
a runner either keeps copies in one batch or passes the earlier batches' line
hashes along (:func:`stream_batches`).

An engine is a value that says where the batches go:

- :class:`PandasEngine` streams a file through the step batch by batch on
  this machine (:func:`stream_batches`);
- :class:`DaskEngine` reads a file, a glob or a folder with Dask, cuts the
  lines into partitions that hold every copy of each line and runs the step
  on each partition on a Dask cluster (:mod:`segmentation.dask_engine`).
"""

from __future__ import annotations

import collections
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.clean import DUPLICATE, INPUT, LineHashes, clean_invoices, ledger_from_counts, pounds, row_hashes
from segmentation.errors import InvoiceDataError
from segmentation.features import CustomerPieces, LineSums, features_from_pieces, line_sums
from segmentation.load import invoice_batches
from segmentation.stream import SumStore

logger = logging.getLogger(__name__)

#: The engines' names, as the command line's ``--engine`` takes them.
ENGINES = ("pandas", "dask")
#: Lines at the end of a batch kept to settle at once the repeats of them in the next batch.
NEIGHBOURS = 4096
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

    @property
    def before(self) -> pd.Timestamp:
        """The start of the period of the same length just before ``as_of`` (the naive forecast's
        "as many purchases as in the last ``horizon_days``")."""
        return self.as_of - pd.Timedelta(days=self.horizon_days)


def last_window(last_invoice_date: pd.Timestamp, *, horizon_days: int = config.HORIZON_DAYS) -> OutcomeWindow:
    """The latest complete outcome window of data whose last line is dated ``last_invoice_date``:
    ``as_of`` is ``horizon_days`` before the day after that line."""
    data_end = pd.Timestamp(last_invoice_date).normalize() + pd.Timedelta(days=1)
    return OutcomeWindow(data_end - pd.Timedelta(days=horizon_days), horizon_days)


@dataclass(frozen=True)
class Batch:
    """One batch of lines, worked on: the cleaning counts (``clean.CleanResult.counts``),
    the :class:`~segmentation.features.LineSums` of its kept lines (None when no line was
    kept), with an outcome window the sums of its lines in the window and in the period of the
    same length before it, the first and last kept InvoiceDate, and the lines held back as
    repeats of an earlier batch's lines."""

    counts: pd.DataFrame
    sums: LineSums | None
    outcome: LineSums | None = None
    previous: LineSums | None = None
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None
    held: pd.DataFrame | None = None


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
    #: With an :class:`OutcomeWindow`: the same of the lines in the ``horizon_days`` before ``as_of``.
    previous: pd.DataFrame | None = None
    #: The InvoiceDate of the first and the last kept line (of the whole file, a window's lines included).
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None


def summarise_batch(invoices: pd.DataFrame, *, window: OutcomeWindow | None = None,
                    hashes: np.ndarray | None = None, repeats_earlier: np.ndarray | None = None) -> Batch:
    """The one step both engines run on each batch of invoice lines (canonical columns):
    clean it and reduce the kept lines to :class:`~segmentation.features.LineSums`.

    With ``window``, the sums are of the lines before ``window.as_of`` and
    ``outcome`` holds those of the lines in the window (``previous`` those of the
    lines in the period of the same length before ``as_of``); lines after it are
    cleaned and counted, and used for nothing else. ``hashes`` and
    ``repeats_earlier`` are for a batch of a stream: see :func:`clean.clean_invoices`.
    """
    cleaning = clean_invoices(invoices, hashes=hashes, repeats_earlier=repeats_earlier)
    kept = cleaning.invoices
    dates = kept[c.INVOICE_DATE]
    first, last = (dates.min(), dates.max()) if len(kept) else (None, None)
    if window is None:
        return Batch(counts=cleaning.counts, sums=_sums_of(kept), first_date=first, last_date=last,
                     held=cleaning.held)
    return Batch(
        counts=cleaning.counts,
        sums=_sums_of(kept[(dates < window.as_of).to_numpy()]),
        outcome=_sums_of(kept[((dates >= window.as_of) & (dates < window.end)).to_numpy()]),
        previous=_sums_of(kept[((dates >= window.before) & (dates < window.as_of)).to_numpy()]),
        first_date=first,
        last_date=last,
        held=cleaning.held,
    )


def _sums_of(lines: pd.DataFrame) -> LineSums | None:
    return line_sums(lines) if len(lines) else None


def stream_batches(source: Iterable[pd.DataFrame], *, window: OutcomeWindow | None = None,
                   progress: Progress | None = None, workers: int = 1) -> Iterator[Batch]:
    """:func:`summarise_batch` of each batch of ``source`` in turn, the duplicate rule kept exact
    across batches.

    ``workers`` threads read and summarise batches side by side; the check
    against earlier batches then runs batch by batch in file order. A line
    whose hash matches a line of an earlier batch is held back as a duplicate
    (its batch is summarised again without it). Copies are mostly neighbours,
    so held lines are first compared with the last :data:`NEIGHBOURS` lines of
    the batch before: a line that equals one there is settled at once. Once
    every batch is read, if any line is still held, ``source`` is read again
    and the lines with those hashes are compared value by value: a held line
    that equals no earlier line is given back in one more batch.
    """
    earlier = LineHashes()
    held, previous = [], None
    for invoices, hashes, batch in _in_order(source, partial(_first_look, window=window), workers):
        with_customer = invoices[c.CUSTOMER_ID].notna().to_numpy()
        repeats = earlier.contains(hashes) & with_customer
        earlier.add(hashes[with_customer])
        if repeats.any():
            batch = summarise_batch(invoices, window=window, hashes=hashes, repeats_earlier=repeats)
            unsettled = _not_in(batch.held, previous)
            if len(unsettled):
                held.append(unsettled)
        if progress is not None:
            progress.advance(len(invoices))
        previous = invoices.tail(NEIGHBOURS)
        del invoices, hashes
        yield batch
    if held:
        restored = _not_repeats(pd.concat(held), source)
        if len(restored):
            yield _given_back(restored, window=window)


def _first_look(invoices: pd.DataFrame, *, window: OutcomeWindow | None) -> tuple[np.ndarray, Batch]:
    """A batch's line hashes and its :func:`summarise_batch` as if no earlier batch repeated its lines."""
    hashes = row_hashes(invoices)
    return hashes, summarise_batch(invoices, window=window, hashes=hashes)


def _in_order(source: Iterable[pd.DataFrame], work: Callable[[pd.DataFrame], tuple[np.ndarray, Batch]],
              workers: int) -> Iterator[tuple[pd.DataFrame, np.ndarray, Batch]]:
    """(batch, *work(batch)) for each batch of ``source`` in order; ``workers`` threads each take the
    next batch and work on it, so reading and working overlap and run side by side."""
    batches, lock = iter(source), threading.Lock()
    numbers = itertools.count()

    def task() -> tuple[int, tuple | None]:
        with lock:
            number, invoices = next(numbers), next(batches, None)
        return number, None if invoices is None else (invoices, *work(invoices))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segmentation-batch") as pool:
        pending = collections.deque(pool.submit(task) for _ in range(workers))
        done: dict[int, tuple | None] = {}
        for wanted in itertools.count():
            while wanted not in done:
                number, result = pending.popleft().result()
                done[number] = result
                pending.append(pool.submit(task))
            result = done.pop(wanted)
            if result is None:
                for future in pending:
                    future.cancel()
                return
            yield result


def _not_in(held: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """The ``held`` lines that equal no line of ``previous`` (earlier lines)."""
    if previous is None:
        return held
    alike = previous[np.isin(row_hashes(previous), row_hashes(held))]
    repeats = pd.concat([alike, held]).duplicated(keep="first").to_numpy()[len(alike):]
    return held[~repeats]


def _not_repeats(held: pd.DataFrame, source: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The ``held`` lines (row numbers as index) that equal no earlier line of ``source``."""
    wanted = np.unique(row_hashes(held))
    alike = []
    for invoices in source:
        hashes = row_hashes(invoices)
        found = np.isin(hashes, wanted) & invoices[c.CUSTOMER_ID].notna().to_numpy()
        if found.any():
            alike.append(invoices[found])
    lines = pd.concat(alike).sort_index(kind="stable")
    repeats = lines.index[lines.duplicated(keep="first").to_numpy()]
    return held[~held.index.isin(repeats)]


def _given_back(lines: pd.DataFrame, *, window: OutcomeWindow | None) -> Batch:
    """The batch of held lines that repeat no earlier line: their counts move from the duplicate
    rule to the rules after it (the lines were counted as read already)."""
    batch = summarise_batch(lines, window=window)
    counts = batch.counts.copy()
    counts.loc[INPUT] = 0
    counts.loc[DUPLICATE] = -batch.counts.loc[INPUT]
    return Batch(counts=counts, sums=batch.sums, outcome=batch.outcome, previous=batch.previous,
                 first_date=batch.first_date, last_date=batch.last_date)


def combine_batches(
    batches: Iterable[Batch],
    *,
    source: Path,
    spend: Literal["net", "gross"] = "net",
    snapshot_date: pd.Timestamp | str | None = None,
    window: OutcomeWindow | None = None,
    progress: Progress | None = None,
) -> CustomerTable:
    """The ledger and the customer table of all the batches' lines, whichever lines each holds.

    The batches' sums are added up in a :class:`~segmentation.stream.SumStore`
    as they come, so ``batches`` may be a stream longer than memory. With
    ``window`` (the one the batches were made with), the table is of the lines
    before ``window.as_of`` with Recency_Days counted to it, and ``outcome`` is
    the table of the window's lines. ``progress`` (that of reading ``batches``) is closed once
    they are read.
    """
    store, outcome_store, previous_store = SumStore(), SumStore(), SumStore()
    counts, firsts, lasts = [], [], []
    try:
        for batch in batches:
            counts.append(batch.counts)
            store.add(batch.sums)
            outcome_store.add(batch.outcome)
            previous_store.add(batch.previous)
            if batch.first_date is not None:
                firsts.append(batch.first_date)
                lasts.append(batch.last_date)
    finally:
        if progress is not None:
            progress.close()
    with Progress.of("customers", total=None, shown=False, logged=progress is not None and progress.logged):
        return _customer_table(store, outcome_store, previous_store, counts=counts, firsts=firsts, lasts=lasts,
                               source=source, spend=spend, snapshot_date=snapshot_date, window=window)


def _customer_table(store: SumStore, outcome_store: SumStore, previous_store: SumStore, *,
                    counts: list[pd.DataFrame],
                    firsts: list[pd.Timestamp], lasts: list[pd.Timestamp], source: Path,
                    spend: Literal["net", "gross"], snapshot_date: pd.Timestamp | str | None,
                    window: OutcomeWindow | None) -> CustomerTable:
    """:func:`combine_batches` once every batch is in the stores."""
    ledger = ledger_from_counts(pd.concat(counts))
    if window is not None:
        _check_window(window, firsts, lasts, source=source)
        snapshot_date = window.as_of
    pieces = store.pieces()
    _require_purchases(pieces is not None and len(pieces.customers) > 0, ledger, source=source, window=window)
    outcome = previous = None
    if window is not None:
        outcome, previous = (_window_table(found, pieces, spend=spend)
                             for found in (outcome_store.pieces(), previous_store.pieces()))
    return CustomerTable(
        customers=features_from_pieces(pieces, spend=spend, snapshot_date=snapshot_date),
        ledger=ledger,
        returns_matched=float(pounds(pieces.counted_micros)),
        returns_unmatched=float(pounds(pieces.unmatched_micros)),
        return_only_customers=len(pieces.return_only_customers),
        outcome=outcome,
        previous=previous,
        first_date=min(firsts) if firsts else None,
        last_date=max(lasts) if lasts else None,
    )


def _window_table(found: CustomerPieces | None, pieces: CustomerPieces, *,
                  spend: Literal["net", "gross"]) -> pd.DataFrame:
    """The feature table of a window's lines (``found``); with no line in it, the columns of the table of
    ``pieces`` and no row."""
    if found is None:
        return features_from_pieces(pieces, spend=spend).iloc[:0]
    return features_from_pieces(found, spend=spend)


def _check_window(window: OutcomeWindow, firsts: list[pd.Timestamp], lasts: list[pd.Timestamp], *,
                  source: Path) -> None:
    """Refuse a window that does not lie inside the data: features need lines before it, and
    an outcome cut short by the end of the data would undercount what customers did next."""
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
    """The lines streamed through :func:`summarise_batch` a batch at a time (the default).

    A Parquet file with dated InvoiceDates is read ``batch_lines`` lines at a
    time, ``threads`` batches read and summarised side by side (see
    :func:`stream_batches`); memory grows with the batches in flight and the
    per-customer sums, not with the lines. Other files are read whole and are
    one batch.
    ``progress`` shows a progress bar per stage on stderr when it is a terminal.
    """

    batch_lines: int = config.BATCH_LINES
    threads: int = 2
    progress: bool = True

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
        source = invoice_batches(path, sheet=sheet, date_format=date_format, batch_lines=self.batch_lines)
        report = path.is_file() and path.stat().st_size > LARGE_INPUT_BYTES
        progress = Progress("lines", total=source.lines, shown=self.progress, logged=report)
        batches = stream_batches(source, window=window, progress=progress, workers=self.threads)
        return combine_batches(batches, source=path, spend=spend, snapshot_date=snapshot_date, window=window,
                               progress=progress)

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


class Progress:
    """A progress bar on stderr for one stage: lines done, of how many, and lines per second.

    Drawn only when stderr is a terminal (and ``shown``); with ``logged`` the
    stage's wall time is also logged at INFO when it ends.
    """

    def __init__(self, stage: str, *, total: int | None, shown: bool, logged: bool) -> None:
        self.stage, self.total, self.done = stage, total, 0
        self._shown = shown and sys.stderr.isatty()
        self.logged = logged
        self._closed = False
        self._started = self._drawn = time.perf_counter()

    @classmethod
    @contextmanager
    def of(cls, stage: str, *, total: int | None, shown: bool, logged: bool) -> Iterator[Progress]:
        progress = cls(stage, total=total, shown=shown, logged=logged)
        try:
            yield progress
        finally:
            progress.close()

    def advance(self, lines: int) -> None:
        self.done += lines
        if self._shown and time.perf_counter() - self._drawn > 0.2:
            self._draw()

    def _draw(self, end: str = "") -> None:
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        rate = f"{self.done / elapsed / 1e6:.2f}M lines/s"
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            text = f"{self.stage:<6} [{bar:<30}] {self.done:,}/{self.total:,} lines  {rate}"
        else:
            text = f"{self.stage:<6} {self.done:,} lines  {rate}"
        sys.stderr.write(f"\r{text}{end}")
        sys.stderr.flush()
        self._drawn = time.perf_counter()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._shown and self.done:
            self._draw(end="\n")
        if self.logged:
            logger.info("%-9s %6.1f s", self.stage, time.perf_counter() - self._started)


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
