"""Engines: where the rules of :mod:`segmentation.rules.rulebook` run. One rulebook, three runners.

The rules are written once, as SQL, and run by embedded DuckDB. A runner
decides which lines each run of them sees and adds the results up:
:func:`summarise` applies the rulebook to one relation of lines that holds
every copy of each of its lines and every line of each of its customers (a
whole file, or one partition), giving a :class:`Summary`: the ledger's counts
and the customers' :class:`~segmentation.rules.rulebook.Pieces`. :func:`combine`
adds summaries up and makes the ledger and the customer table.

An engine is a value that says where the lines go:

- :class:`DuckDBEngine` (the default) reads a file's cells into DuckDB on
  this machine, reads each distinct cell once by the loader's rules and looks
  every line's cells up among those readings, on every core, spilling to disk
  above its memory limit;
- :class:`DaskEngine` reads a file, a glob or a folder with Dask, cuts the
  lines into partitions that hold every copy of each line and every line of
  each customer, and runs the rulebook on each partition on a Dask cluster
  (:mod:`segmentation.engines.dask_engine`);
- :class:`SparkEngine` reads a file, a glob or a folder with Spark, on this
  machine or a cluster, and runs the rulebook's statements, translated to Spark
  SQL, over all the lines at once (:mod:`segmentation.engines.spark_engine`).
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd
import pyarrow as pa

from segmentation import columns as c
from segmentation import config
from segmentation.errors import InvoiceDataError
from segmentation.reading import load
from segmentation.reading.load import invoice_batches
from segmentation.rules import rulebook
from segmentation.rules.clean import ledger_from_counts, pounds
from segmentation.rules.rulebook import KEPT, Pieces

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

#: The engines' names, as the command line's ``--engine`` takes them.
ENGINES = ("duckdb", "dask", "spark")
#: Inputs above this size get one progress line per stage on the DuckDB engine.
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


@dataclass(frozen=True)
class Summary:
    """The rulebook applied to one relation of lines (a file, or a partition of whole customers):
    the ledger's counts (``clean.CleanResult.counts``), the :class:`~segmentation.rules.rulebook.Pieces` of the
    kept lines (with an outcome window: of the lines before it, ``outcome`` those of the lines in it and
    ``previous`` those of the period of the same length before it) and the first and last kept InvoiceDate."""

    counts: pd.DataFrame
    pieces: Pieces
    outcome: Pieces | None = None
    previous: Pieces | None = None
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None


def _timestamp(moment: pd.Timestamp) -> str:
    return f"TIMESTAMP_NS '{pd.Timestamp(moment).isoformat(sep=' ')}'"


def summarise(db: duckdb.DuckDBPyConnection, lines: str, *, window: OutcomeWindow | None = None) -> Summary:
    """The :class:`Summary` of the relation ``lines`` (canonical columns) on the connection ``db``.

    The relation must hold every copy of each of its lines (the duplicate rule)
    and every line of each of its customers (the per-customer features). With
    ``window``, lines after it are cleaned and counted, and used for nothing else.
    """
    db.execute("CREATE OR REPLACE TEMP TABLE classified AS " + rulebook.CLASSIFY.format(lines=lines, first_line=""))
    counts = rulebook.ledger_counts(db)
    kept = f"(SELECT * FROM classified WHERE step = '{KEPT}')"
    first, last = db.sql(f"SELECT min(CAST(InvoiceDate AS TIMESTAMP_NS)), max(CAST(InvoiceDate AS TIMESTAMP_NS)) "
                         f"FROM {kept}").fetchall()[0]
    first, last = (None, None) if first is None else (pd.Timestamp(first), pd.Timestamp(last))

    def between(start: pd.Timestamp | None, end: pd.Timestamp) -> Pieces:
        since = "" if start is None else f"InvoiceDate >= {_timestamp(start)} AND "
        return rulebook.pieces_of(db, f"(SELECT * FROM {kept} WHERE {since}InvoiceDate < {_timestamp(end)})")

    if window is None:
        return Summary(counts, rulebook.pieces_of(db, kept), first_date=first, last_date=last)
    return Summary(counts, between(None, window.as_of), outcome=between(window.as_of, window.end),
                   previous=between(window.before, window.as_of), first_date=first, last_date=last)


def summarise_lines(invoices: pd.DataFrame, *, window: OutcomeWindow | None = None,
                    threads: int | None = config.DUCKDB_THREADS) -> Summary:
    """:func:`summarise` of lines in memory (a Dask partition, on one thread, or lines already loaded)."""
    with rulebook.connection(threads=threads) as db:
        db.register("lines", rulebook.arrow_lines(invoices))
        return summarise(db, "lines", window=window)


def combine(
    summaries: Iterable[Summary],
    *,
    source: Path,
    spend: Literal["net", "gross"] = "net",
    snapshot_date: pd.Timestamp | str | None = None,
    window: OutcomeWindow | None = None,
) -> CustomerTable:
    """The ledger and the customer table of the lines of every summary (partitions of whole customers).

    With ``window`` (the one the summaries were made with), the table is of the
    lines before ``window.as_of`` with Recency_Days counted to it, and
    ``outcome`` is the table of the window's lines.
    """
    summaries = list(summaries)
    ledger = ledger_from_counts(pd.concat([summary.counts for summary in summaries]))
    firsts = [summary.first_date for summary in summaries if summary.first_date is not None]
    lasts = [summary.last_date for summary in summaries if summary.last_date is not None]
    if window is not None:
        _check_window(window, firsts, lasts, source=source)
        snapshot_date = window.as_of
    pieces = rulebook.stack_pieces(summary.pieces for summary in summaries)
    bought = pieces.customers["has_purchase"].to_numpy() if not pieces.empty else None
    _require_purchases(bought is not None and bool(bought.any()), ledger, source=source, window=window)
    outcome = previous = None
    if window is not None:
        outcome, previous = (rulebook.features(rulebook.stack_pieces(getattr(summary, name) for summary in summaries),
                                               spend=spend)
                             for name in ("outcome", "previous"))
    return CustomerTable(
        customers=rulebook.features(pieces, spend=spend, snapshot_date=snapshot_date),
        ledger=ledger,
        returns_matched=float(pounds(int(pieces.customers["counted_micros"].sum()))),
        returns_unmatched=float(pounds(int(pieces.customers["unmatched_micros"].sum()))),
        return_only_customers=int((~bought).sum()),
        outcome=outcome,
        previous=previous,
        first_date=min(firsts) if firsts else None,
        last_date=max(lasts) if lasts else None,
    )


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
class DuckDBEngine:
    """The lines of a file read into DuckDB on this machine (the default).

    DuckDB scans a Parquet file itself; the loader parses a CSV file
    ``batch_lines`` lines at a time and hands DuckDB its text cells as Arrow as
    it goes. Each distinct cell of each column is read once by the loader's
    rules (:func:`load.read_cells`) and every line looks its cells up among
    those readings. A Parquet file of other column types is read by the loader
    in batches (:func:`load.invoice_batches`), an Excel workbook whole.
    DuckDB runs the rulebook on ``threads``
    threads (default: every core) within ``memory_limit`` (DuckDB's syntax,
    e.g. ``"2GiB"``; None: DuckDB's own default, 80 % of the memory), spilling
    above it into ``temp_directory`` (default: a temporary folder removed when
    the run ends). ``progress`` shows a progress bar on stderr when it is a terminal.
    """

    batch_lines: int = config.BATCH_LINES
    threads: int | None = config.DUCKDB_THREADS
    memory_limit: str | None = config.DUCKDB_MEMORY_LIMIT
    temp_directory: str | Path | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.memory_limit in (None, config.DUCKDB_MEMORY_LIMIT):
            return  # nothing to check: DuckDB is imported only when the rules run
        import duckdb

        try:
            rulebook.connect(threads=self.threads, memory_limit=self.memory_limit).close()
        except duckdb.Error:
            raise InvoiceDataError(
                f"--memory-limit: {self.memory_limit!r} is not an amount of memory; give one such as 4GiB or "
                "500MB (memory_limit= in Python)."
            ) from None

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
        table = load.cell_readable(path)
        if table is not None:
            return self._customer_table_of_file(table, spend=spend, snapshot_date=snapshot_date,
                                                date_format=date_format, window=window)
        source = invoice_batches(path, sheet=sheet, date_format=date_format, batch_lines=self.batch_lines)
        report = path.is_file() and path.stat().st_size > LARGE_INPUT_BYTES
        progress = Progress("lines", total=source.lines, shown=self.progress, logged=report)
        failure: list[BaseException] = []

        def arrow_batches() -> Iterator[pa.RecordBatch]:  # the file is read only as DuckDB pulls them
            for invoices in source:
                yield from rulebook.arrow_lines(invoices).to_batches()

        batches = _pulled(arrow_batches(), progress, failure)

        with self._connection() as db:
            db.register("incoming", pa.RecordBatchReader.from_batches(rulebook.ARROW_SCHEMA, batches))
            try:
                # stored first, as it streams in: the rules then run on every core (a query on the stream
                # itself runs at the pace of its one reading thread); DuckDB spills the table if it must
                db.execute("CREATE TEMP TABLE lines AS SELECT * FROM incoming")
                summary = summarise(db, "lines", window=window)
            except Exception:
                if failure:
                    raise failure[0] from None
                raise
            finally:
                progress.close()
        with Progress.of("customers", total=None, shown=False, logged=report):
            return combine([summary], source=path, spend=spend, snapshot_date=snapshot_date, window=window)

    def _customer_table_of_file(
        self, table: load.TableFormat, *, spend: Literal["net", "gross"], snapshot_date: pd.Timestamp | str | None,
        date_format: str | None, window: OutcomeWindow | None,
    ) -> CustomerTable:
        """:meth:`customer_table` of a file read cell by distinct cell (see :func:`load.cell_readable`):
        DuckDB reads a Parquet file's cells itself, a text file's as the loader parses them; each distinct
        cell of each column is read once by the loader's rule, and DuckDB looks every line's cells up
        among those readings on every core."""
        import duckdb

        path = table.path
        report = path.stat().st_size > LARGE_INPUT_BYTES
        progress = Progress("lines", total=None, shown=self.progress and table.kind == load.TEXT, logged=report)
        failure: list[BaseException] = []

        with self._connection() as db:
            try:
                if not _lines_of_plain_csv(db, table, date_format=date_format):
                    _cells_of_file(db, table, _pulled(load.raw_cells(table, batch_lines=self.batch_lines),
                                                      progress, failure))
                    progress.close()
                    _store_lines(db, table, date_format=date_format)
                summary = summarise(db, "lines", window=window)
                largest, count = db.sql("SELECT max(abs(CAST(Quantity AS DOUBLE) * UnitPrice)), sum(copies) "
                                        "FROM classified").fetchall()[0]
            except duckdb.InterruptException:
                raise
            except (InvoiceDataError, duckdb.Error) as error:
                if failure and not isinstance(failure[0], InvoiceDataError):
                    raise failure[0] from None  # Ctrl-C, or a fault of the reading itself
                load.refuse_as_loaded(path, date_format=date_format)  # its message, which names the rows
                raise (failure[0] if failure else error) from None
            finally:
                progress.close()
            load.require_lines_in_range(largest, int(count or 0), source=path, date_format=date_format)
        with Progress.of("customers", total=None, shown=False, logged=report):
            return combine([summary], source=path, spend=spend, snapshot_date=snapshot_date, window=window)

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with tempfile.TemporaryDirectory(prefix="segmentation-duckdb-") as scratch:
            with rulebook.connection(threads=self.threads, memory_limit=self.memory_limit,
                                     temp_directory=self.temp_directory or scratch) as db:
                yield db

    def customer_table_of_lines(
        self,
        invoices: pd.DataFrame,
        *,
        source: str | Path,
        spend: Literal["net", "gross"] = "net",
        window: OutcomeWindow | None = None,
    ) -> CustomerTable:
        """:meth:`customer_table` of invoice lines already loaded from ``source`` (canonical columns)."""
        return combine([summarise_lines(invoices, window=window)], source=Path(source), spend=spend, window=window)


def _pulled(batches: Iterable[pa.RecordBatch], progress: Progress,
            failure: list[BaseException]) -> Iterator[pa.RecordBatch]:
    """``batches`` as DuckDB pulls them, counted by ``progress``; an error raised while making one is kept in
    ``failure`` as well, to be raised as it is (DuckDB, which pulls them, would wrap it)."""
    try:
        for batch in batches:
            yield batch
            progress.advance(batch.num_rows)
    except BaseException as error:
        failure.append(error)
        raise


def _cells_of_file(db: duckdb.DuckDBPyConnection, table: load.TableFormat,
                   text_cells: Iterator[pa.RecordBatch]) -> None:
    """The relation ``cells`` on ``db``: the file's cells in canonical columns, a Parquet file's as DuckDB
    reads them (a view), a text file's as ``text_cells`` (:func:`load.raw_cells`) gives them (a table)."""
    if table.kind == load.PARQUET:
        by_canonical = {canonical: name for name, canonical in table.renames.items()}
        named = ", ".join('"' + by_canonical[column].replace('"', '""') + f'" AS {column}'
                          for column in c.INVOICE_COLUMNS)
        db.execute(f"CREATE TEMP VIEW cells AS SELECT {named} FROM read_parquet({_literal(table.path)})")
    else:
        db.register("incoming_cells", pa.RecordBatchReader.from_batches(load.RAW_TEXT_SCHEMA, text_cells))
        db.execute("CREATE TEMP TABLE cells AS SELECT * FROM incoming_cells")
        db.unregister("incoming_cells")


def _lines_of_plain_csv(db: duckdb.DuckDBPyConnection, table: load.TableFormat, *, date_format: str | None) -> bool:
    """Where :func:`load.plain_csv` allows, the table ``lines`` on ``db`` from the cells DuckDB's own CSV
    reader parses (on every core), and True; False, with nothing made, where it does not allow, where
    DuckDB's reader fails or gives other than one row per line, or where a cell is refused (DuckDB kept a
    blank line as a row, say): the loader's parser then reads the file, as :func:`load.raw_cells`."""
    import duckdb

    plain = load.plain_csv(table)
    if plain is None:
        return False
    positions, lines = plain
    types = ", ".join(f"'c{number}': 'VARCHAR'" for number in range(len(table.columns)))
    named = ", ".join(f"c{position} AS {column}"
                      for position, column in zip(positions, c.INVOICE_COLUMNS, strict=True))
    options = (f"columns = {{{types}}}, header = false, skip = 1, delim = {_literal(table.delimiter)}, "
               "quote = '\"', escape = '\"', auto_detect = false, strict_mode = true, null_padding = true, "
               f"nullstr = '', allow_quoted_nulls = true, encoding = 'utf-8', "
               f"compression = '{table.compression or 'none'}'")
    try:
        db.execute(f"CREATE TEMP TABLE cells AS SELECT {named} FROM read_csv({_literal(table.path)}, {options})")
        if db.sql("SELECT count(*) FROM cells").fetchall()[0][0] == lines:
            _store_lines(db, table, date_format=date_format)
            return True
    except duckdb.InterruptException:
        raise
    except (duckdb.Error, InvoiceDataError):
        pass
    db.execute("DROP TABLE IF EXISTS cells; DROP TABLE IF EXISTS lines")
    return False


def _literal(text: object) -> str:
    """``text`` as a SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def _store_lines(db: duckdb.DuckDBPyConnection, table: load.TableFormat, *, date_format: str | None) -> None:
    """The table ``lines`` on ``db``, in canonical columns, from the relation ``cells`` (dropped once read):
    the distinct cells of each column read by :func:`load.read_cells`, and those readings joined to every
    line that holds them. Stored, so that DuckDB spills it above its memory limit."""
    columns, joins = [], []
    for number, column in enumerate(c.INVOICE_COLUMNS):
        counted = db.sql(f"SELECT {column} AS cell, count(*) AS lines FROM cells GROUP BY ALL").to_arrow_table()
        cells = counted.column("cell").combine_chunks()
        readings = load.read_cells(column, cells, source=table.path, date_format=date_format,
                                   lines=counted.column("lines").to_numpy())
        if cells.type == readings.type and cells.equals(readings):  # each cell reads as itself: no look-up
            columns.append(f"cells.{column} AS {column}")
            continue
        db.register(f"reading_{number}", pa.table({"cell": cells, "value": readings}))
        columns.append(f"reading_{number}.value AS {column}")
        joins.append(f"LEFT JOIN reading_{number} ON cells.{column} IS NOT DISTINCT FROM reading_{number}.cell")
    db.execute(f"CREATE TEMP TABLE lines AS SELECT {', '.join(columns)} FROM cells {' '.join(joins)}")
    db.execute(f"DROP {'VIEW' if table.kind == load.PARQUET else 'TABLE'} cells")


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
        from segmentation.engines import dask_engine

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
        from segmentation.engines import dask_engine

        batches = dask_engine.map_batches(
            source, partial(summarise_lines, window=window, threads=1), date_format=date_format,
            scheduler=self.scheduler, worker_memory=self.worker_memory, scheduler_timeout=self.scheduler_timeout,
            progress=self.progress,
        )
        return combine(batches, source=Path(source), spend=spend, snapshot_date=snapshot_date, window=window)


@dataclass(frozen=True)
class SparkEngine:
    """Lines read and worked on by Spark: every core of this machine (``local[*]``, the default), a
    cluster (``master``: ``spark://host:7077``, ``yarn``, ``k8s://…``), or the application of a running
    ``session`` (a notebook's ``spark``; ``master`` is then not used, and the session is not stopped).

    Spark reads the files; the rulebook's statements run as Spark SQL over all
    the lines; what comes back is one row per customer. A ``spark://`` master
    must accept a connection within ``master_timeout`` seconds. A master that
    cannot work is refused when the engine is made (InvoiceDataError).
    """

    master: str = config.SPARK_MASTER
    master_timeout: float = config.SPARK_MASTER_TIMEOUT
    session: SparkSession | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        from segmentation.engines import spark_engine

        if self.session is None:
            spark_engine.check_master(self.master, timeout=self.master_timeout)

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
        """Read ``source`` (a CSV or Parquet file, a glob or a folder of them), clean it and build the
        customer table. ``sheet`` is not used (Excel is not read). Text dates must be ISO 8601 or given
        ``date_format``: month-first detection needs the whole column."""
        from segmentation.engines import spark_engine

        with self._application() as application, spark_engine.as_one_line(source):
            spark = spark_engine.rules_session(application)
            spark_engine.read_invoices(spark, source, date_format=date_format).createOrReplaceTempView("lines")
            db = spark_engine.SparkSQL(spark)
            try:
                summary = summarise(db, "lines", window=window)
            finally:
                db.release()
        return combine([summary], source=Path(source), spend=spend, snapshot_date=snapshot_date, window=window)

    @contextmanager
    def _application(self) -> Iterator[SparkSession]:
        """The caller's session, or one of this engine's own on ``master``, stopped after the block."""
        from segmentation.engines import spark_engine

        if self.session is not None:
            yield self.session
            return
        with tempfile.TemporaryDirectory(prefix="segmentation-spark-") as scratch, \
                spark_engine.session(self.master, Path(scratch)) as spark:
            yield spark


Engine = DuckDBEngine | DaskEngine | SparkEngine


def engine_named(name: str, *, scheduler: str | None = None, worker_memory: str = config.DASK_WORKER_MEMORY,
                 scheduler_timeout: float = config.DASK_SCHEDULER_TIMEOUT, memory_limit: str | None = None,
                 temp_directory: str | Path | None = None, spark_master: str | None = None) -> Engine:
    """The engine called ``name`` (one of :data:`ENGINES`); the Dask options go to the Dask engine,
    ``memory_limit`` and ``temp_directory`` to DuckDB, ``spark_master`` to Spark."""
    if name == "duckdb":
        return DuckDBEngine(memory_limit=memory_limit or config.DUCKDB_MEMORY_LIMIT, temp_directory=temp_directory)
    if name == "dask":
        return DaskEngine(scheduler=scheduler, worker_memory=worker_memory, scheduler_timeout=scheduler_timeout)
    if name == "spark":
        return SparkEngine(master=spark_master or config.SPARK_MASTER)
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
