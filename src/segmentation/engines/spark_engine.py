"""The Spark engine's runner: the rulebook's statements run by Spark, on this machine or a cluster.

Input: one file, a glob (``exports/2011-*.parquet``) or a folder of CSV or
Parquet files, each laid out as :func:`segmentation.reading.load.sniff` finds it
(files laid out alike are read together). Spark reads the raw
columns; each part is converted by the loader's own code
(:func:`segmentation.reading.partitions.canonical_part`, in the executors' Python).
The rulebook's statements, written for DuckDB, are translated to Spark SQL by
SQLGlot (:func:`to_spark`) and run by Spark over all the lines at once:
Spark's grouping brings every copy of a line and every line of a customer
together, whichever machine read them. This module holds no rule; the
statements and their order are :func:`segmentation.engines.runners.summarise`'s, run
through :class:`SparkSQL`.

What comes back to this machine is one row per customer and per (StockCode,
Description), the same :class:`~segmentation.rules.rulebook.Pieces` as DuckDB's,
from which :func:`segmentation.engines.runners.combine` makes the customer table.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import signal
import socket
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from segmentation import columns as c
from segmentation import config
from segmentation.errors import InvoiceDataError
from segmentation.reading import load, partitions
from segmentation.rules import rulebook

if TYPE_CHECKING:
    from pyspark import SparkContext
    from pyspark.sql import DataFrame, SparkSession

#: Spark's own name of each encoding the loader recognises (Java's charsets).
_JAVA_ENCODINGS = {"utf-8-sig": "UTF-8", "cp1252": "windows-1252", "latin-1": "ISO-8859-1"}
#: The compressions Spark's text reader opens by itself, from the file name.
_SPARK_COMPRESSIONS = (None, "gzip", "bz2")
#: A master URL: ``local``, ``local[N]``, ``local[*]``, ``local[N,F]``, ``spark://host:port[,host:port]``,
#: ``yarn``, ``k8s://…``.
_LOCAL_MASTER = re.compile(r"local(\[(\*|[1-9]\d*)(,[1-9]\d*)?\])?")
_STANDALONE_MASTER = re.compile(r"spark://(?P<hosts>[^\s/]+)")
_OTHER_MASTER = re.compile(r"yarn|k8s://\S+")
_HOST_PORT = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*)):(?P<port>\d{1,5})")
#: The DDL of the lines Spark hands the rulebook: the canonical columns, InvoiceDate without a time zone.
_SPARK_TYPES = {c.QUANTITY: "bigint", c.CUSTOMER_ID: "bigint", c.UNIT_PRICE: "double", c.INVOICE_DATE: "timestamp_ntz"}
_LINES_DDL = ", ".join(f"{name} {_SPARK_TYPES.get(name, 'string')}" for name in c.INVOICE_COLUMNS)
#: The same as Arrow: Spark keeps timestamps to the microsecond.
_LINES_ARROW = pa.schema([pa.field(f.name, pa.timestamp("us") if f.name == c.INVOICE_DATE else f.type)
                          for f in rulebook.ARROW_SCHEMA])


# --- the statements in Spark SQL --------------------------------------------------------


@functools.lru_cache(maxsize=256)
def to_spark(statement: str) -> str:
    """A rulebook statement (DuckDB SQL) in Spark SQL, translated by SQLGlot.

    Three things are DuckDB's own and are written here in Spark's terms:
    ``round_even`` is Spark's ``bround`` (half to even); ``TIMESTAMP_NS`` is a
    ``TIMESTAMP_NTZ`` (Spark keeps microseconds, and no time zone: the
    session's zone is UTC); and every ``sum`` is taken of DECIMAL(38, 0),
    since DuckDB sums integers into 128 bits and Spark into 64 (the ledger's
    total is checked against ``config.MAX_TOTAL_MICROS`` after it is summed).
    """
    import sqlglot
    from sqlglot import exp

    def respell(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.lower() == "round_even":
            return exp.Anonymous(this="BROUND", expressions=node.expressions)
        if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.TIMESTAMP_NS:
            return exp.DataType.build("TIMESTAMP_NTZ")
        if isinstance(node, exp.Sum):
            return exp.Sum(this=exp.Cast(this=node.this, to=exp.DataType.build("DECIMAL(38, 0)")))
        return node

    return sqlglot.parse_one(statement, read="duckdb").transform(respell).sql(dialect="spark")


class SparkSQL:
    """The part of a DuckDB connection :func:`segmentation.engines.runners.summarise` uses, on a Spark session:
    ``execute`` of ``CREATE OR REPLACE TEMP TABLE name AS query`` (a view of the query, kept by Spark
    in memory and on disk) and ``sql(query)`` with ``fetchall`` and ``to_arrow_table``."""

    _CREATE = re.compile(r"\s*CREATE OR REPLACE TEMP TABLE (?P<name>\w+) AS (?P<query>.*)", re.DOTALL)

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._kept: list[DataFrame] = []

    def execute(self, statement: str) -> None:
        from pyspark import StorageLevel

        match = self._CREATE.fullmatch(statement)
        if match is None:
            raise ValueError(f"the Spark engine runs CREATE OR REPLACE TEMP TABLE … AS …, not {statement[:60]!r}")
        frame = self.spark.sql(to_spark(match["query"])).persist(StorageLevel.MEMORY_AND_DISK)
        frame.createOrReplaceTempView(match["name"])
        self._kept.append(frame)

    def sql(self, query: str) -> _Result:
        return _Result(self.spark.sql(to_spark(query)))

    def release(self) -> None:
        """Drop what :meth:`execute` kept."""
        for frame in self._kept:
            frame.unpersist()
        self._kept.clear()


class _Result:
    def __init__(self, frame: DataFrame) -> None:
        self.frame = frame

    def fetchall(self) -> list[tuple]:
        return [tuple(row) for row in self.frame.collect()]

    def to_arrow_table(self) -> pa.Table:
        return self.frame.toArrow()


# --- reading ------------------------------------------------------------------------------


def read_invoices(spark: SparkSession, source: str | Path, *, date_format: str | None = None) -> DataFrame:
    """The invoice lines of every file of ``source`` as a Spark frame in canonical columns.

    Headers are matched as by :func:`segmentation.reading.load.load_invoices`, file by
    file: files laid out alike are read together
    (:func:`segmentation.reading.partitions.layouts`), and their columns are taken by
    name. Every part is converted by the loader's code, in the executors.
    Text dates must be ISO 8601, or given ``date_format``: month-first
    detection needs the whole column and is not done per part. A CSV file is
    read with quoted line breaks allowed, so one file is one task; many files
    are read in parallel.
    """
    frames = [_read_layout(spark, tables, source=source, date_format=date_format)
              for tables in partitions.layouts(source)]
    return functools.reduce(lambda one, other: one.union(other), frames)


def _read_layout(spark: SparkSession, tables: list[load.TableFormat], *, source: str | Path,
                 date_format: str | None) -> DataFrame:
    """The lines of files laid out alike (``tables``), converted to the canonical columns."""
    table, names = tables[0], [str(t.path) for t in tables]
    wanted = list(table.renames)
    if table.kind == load.PARQUET:
        raw = spark.read.parquet(*names).select(*(f"`{name}`" for name in wanted))
    else:
        _check_text_layout(table)
        raw = (spark.read.option("header", True).option("sep", table.delimiter)
               .option("encoding", _JAVA_ENCODINGS.get(table.encoding or "utf-8-sig", "UTF-8"))
               .option("multiLine", True).option("quote", '"').option("escape", '"')
               .option("inferSchema", False).option("mode", "FAILFAST").csv(names))
        if len(raw.columns) != len(table.columns):
            raise InvoiceDataError(
                f"{table.path}: Spark reads {len(raw.columns)} columns in the header where the loader reads "
                f"{len(table.columns)}; run without --engine spark."
            )
        positions = [table.columns.index(name) for name in wanted]
        raw = raw.toDF(*(f"_{i}" for i in range(len(raw.columns)))).select(*(f"_{i}" for i in positions))
    convert = functools.partial(_convert_batches, canonical=[table.renames[name] for name in wanted],
                                source=str(source), date_format=date_format or "ISO8601")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # PySpark's "does not yet fully support pandas >= 3"
        return raw.mapInArrow(convert, _LINES_DDL)


def _check_text_layout(table: load.TableFormat) -> None:
    if table.compression not in _SPARK_COMPRESSIONS:
        raise InvoiceDataError(
            f"{table.path}: the Spark engine reads .csv, .csv.gz, .csv.bz2 and Parquet, not "
            f"{table.compression} files; decompress it, or run without --engine spark."
        )
    if table.header_row:
        raise InvoiceDataError(
            f"{table.path}: the header is on line {table.header_line}, below {table.header_row} title row(s), "
            "and Spark reads the header from the first line; delete the title rows, or run without --engine spark."
        )


def _convert_batches(batches: Iterator[pa.RecordBatch], *, canonical: list[str], source: str,
                     date_format: str) -> Iterator[pa.RecordBatch]:
    """Each batch of raw columns in canonical columns, by :func:`segmentation.reading.partitions.canonical_part`
    (run in Spark's Python workers). Spark reads an empty CSV field, quoted or not, as missing, as the
    loader does."""
    for batch in batches:
        raw = batch.to_pandas()
        raw.columns = canonical
        frame = partitions.canonical_part(raw, source=source, date_format=date_format, engine="spark")
        if frame.empty:
            continue
        yield from rulebook.arrow_lines(frame).cast(_LINES_ARROW).to_batches()


# --- the session -------------------------------------------------------------------------------


def check_master(master: str, *, timeout: float = config.SPARK_MASTER_TIMEOUT) -> None:
    """Refuse a ``master`` that is not a Spark master URL, or a standalone master (``spark://``) that no
    server answers at within ``timeout`` seconds: one InvoiceDataError, never a wait for Spark's retries."""
    if _LOCAL_MASTER.fullmatch(master) or _OTHER_MASTER.fullmatch(master):
        return
    standalone = _STANDALONE_MASTER.fullmatch(master)
    hosts = [_HOST_PORT.fullmatch(part) for part in standalone["hosts"].split(",")] if standalone else [None]
    if not all(hosts) or not all(1 <= int(h["port"]) <= 65535 for h in hosts):
        raise InvoiceDataError(
            f"--spark-master: {master!r} is not a Spark master URL; give local[*], local[N], "
            "spark://HOST:PORT, yarn or k8s://HOST:PORT (master= in Python)."
        )
    for found in hosts:
        try:
            socket.create_connection((found["ipv6"] or found["host"], int(found["port"])), timeout=timeout).close()
        except OSError as error:
            reason = (f"no answer within {timeout:g} s" if isinstance(error, TimeoutError)
                      else (error.strerror or type(error).__name__).lower())
            raise InvoiceDataError(
                f"--spark-master: cannot connect to {master} ({reason}); check that "
                "the Spark master runs and that the address and port are right (a master listens on 7077)."
            ) from None


@contextmanager
def session(master: str, scratch: Path) -> Iterator[SparkSession]:
    """A Spark session on ``master``, stopped at the end of the block; where this process already runs
    Spark on ``master``, a session of that application, left running.

    Spark's scratch files go to ``scratch``; the rules' Python runs in this
    interpreter on a local master. What the Java process prints (its log) goes
    to ``scratch/spark.log``, not to the terminal; a Spark that cannot start
    is one InvoiceDataError quoting that log's last error. This process's
    Ctrl-C handler is kept (PySpark would install its own).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # PySpark's "does not yet fully support pandas >= 3"
        from pyspark.sql import SparkSession

    _quiet_py4j()
    running = _running_context()
    if running is not None:  # Spark runs one application per process: use it, and leave it running
        if running.master != master:
            raise InvoiceDataError(
                f"--spark-master: this process already runs Spark on {running.master}, not {master}, and Spark runs "
                "one application per process; give its session (SparkEngine(session=spark)) or stop it first."
            )
        yield SparkSession(running)
        return
    local = bool(_LOCAL_MASTER.fullmatch(master))
    builder = (SparkSession.builder.master(master).appName("segmentation")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.local.dir", str(scratch))
               .config("spark.sql.warehouse.dir", str(scratch / "warehouse")))
    if local:
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    python = {"PYSPARK_PYTHON": sys.executable} if local and "PYSPARK_PYTHON" not in os.environ else {}
    log = scratch / "spark.log"
    handler = signal.getsignal(signal.SIGINT)
    try:
        with _output_to(log), _environment(python), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            spark = builder.getOrCreate()
    except Exception as error:
        raise InvoiceDataError(
            f"--engine spark: Spark did not start on {master} ({_last_line(log) or _reason(error)}); "
            "Spark needs Java 17 or newer (java on PATH, or JAVA_HOME), and a master that accepts this "
            "application."
        ) from None
    finally:
        if signal.getsignal(signal.SIGINT) is not handler:
            signal.signal(signal.SIGINT, handler)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()


def _quiet_py4j() -> None:
    """Nothing py4j logs reaches this process's log, for the rest of its life: its connection notes
    ("Closing down clientserver connection") and the tracebacks it logs when Ctrl-C interrupts a call
    to Java or the connection's shutdown, some to its own logger and some to the root logger. What
    goes wrong in Java reaches the caller as an exception, which :func:`as_one_line` words."""
    logging.getLogger("py4j").setLevel(logging.CRITICAL + 1)
    root = logging.getLogger()
    if _not_from_py4j not in root.filters:
        root.addFilter(_not_from_py4j)


def _not_from_py4j(record: logging.LogRecord) -> bool:
    """False for a record logged from py4j's own code through the root logger."""
    return f"{os.sep}py4j{os.sep}" not in record.pathname


def _running_context() -> SparkContext | None:
    """The Spark application this process already runs (a notebook's), if any."""
    from pyspark import SparkContext

    return SparkContext._active_spark_context


def rules_session(spark: SparkSession) -> SparkSession:
    """A session of ``spark``'s application for one run of the rules: its own temporary views and SQL
    settings, so that a session of the caller's (a notebook's ``spark``) is left as it was.

    Time stamps are read and written in UTC without a zone, arithmetic is
    ANSI (an overflow is an error, not a wrapped number), and a local master
    shuffles into ``config.SPARK_LOCAL_SHUFFLE_PER_CORE`` partitions per core
    rather than Spark's 200, whose per-task cost dominates a run on one machine.
    """
    rules = spark.newSession()
    rules.conf.set("spark.sql.session.timeZone", "UTC")
    rules.conf.set("spark.sql.timestampType", "TIMESTAMP_NTZ")
    rules.conf.set("spark.sql.ansi.enabled", "true")
    rules.conf.set("spark.sql.legacy.javaCharsets", "true")  # windows-1252 exports: Spark 4 reads 7 charsets only
    master = spark.sparkContext.master
    if _LOCAL_MASTER.fullmatch(master):
        rules.conf.set("spark.sql.shuffle.partitions", str(config.SPARK_LOCAL_SHUFFLE_PER_CORE * _local_cores(master)))
    return rules


def _local_cores(master: str) -> int:
    """The threads a local master runs tasks on: N of ``local[N]``, every core for ``local[*]``."""
    found = _LOCAL_MASTER.fullmatch(master)
    threads = found[2] if found and found[2] else "1" if master == "local" else "*"
    return (os.cpu_count() or 1) if threads == "*" else int(threads)


@contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """This process's standard output and error (file descriptors 1 and 2) sent to ``log`` for the block:
    the Java process started in it keeps them for its life."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log, "ab") as file:
        os.dup2(file.fileno(), 1)
        os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` set in the environment for the block (PySpark reads PYSPARK_PYTHON when it starts)."""
    os.environ.update(values)
    try:
        yield
    finally:
        for name in values:
            os.environ.pop(name, None)


def _last_line(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if "ERROR" in line or "Exception" in line or "Error" in line]
    return (errors or lines or [""])[-1][:300]


@contextmanager
def as_one_line(source: str | Path) -> Iterator[None]:
    """Any failure of the Spark run as one InvoiceDataError naming ``source``.

    The input's own errors pass through, also when a Python worker raised
    them (Spark hands them back as text, of which the message is kept). Any
    other error of Spark's is one line with its type and first line.
    """
    try:
        yield
    except InvoiceDataError:
        raise
    except Exception as error:
        text = str(error)
        found = re.findall(r"InvoiceDataError: (.+)", text)
        if found:
            raise InvoiceDataError(found[-1].strip()) from None
        raise InvoiceDataError(
            f"{source}: the Spark engine could not read or work on the input ({_reason(error)}); check "
            "the files (one may be damaged), or run one file without --engine spark for a precise message."
        ) from None


def _reason(error: BaseException) -> str:
    """An error's type and the first line of its message (a Spark error's, without the JVM's stack)."""
    text = str(error).strip()
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(error).__name__}: {line[:300]}" if line else type(error).__name__

