"""The Dask engine's runner: read files larger than memory, cut them into batches, run them.

Input: one file, a glob (``exports/2011-*.parquet``) or a folder of CSV or
Parquet files, each laid out as :func:`segmentation.reading.load.sniff` finds it (files
laid out alike are read together). This module holds no rule: it reads the lines into a Dask
frame, shuffles them so that every partition holds all lines of its customers
and every copy of its lines, and applies the step it is given (the rulebook,
:func:`segmentation.engines.runners.summarise_lines`) to each partition on a Dask
cluster. The step's results come back to the client, one per partition.

How the work scales: reading and the step grow with lines and run in parallel
on every worker; the shuffle moves every line once between workers. What
reaches the client is one row per customer and per (partition, StockCode,
Description). Workers spill to disk when they reach their memory limit, so the
lines need not fit in memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.errors import InvoiceDataError
from segmentation.reading import load, partitions

T = TypeVar("T")
_KEY = "_batch_key"
#: A scheduler address: ``[scheme://]host:port``, host a name, an IPv4 address or an [IPv6] address.
#: The address of a scheduler in this process (a LocalCluster without processes): ``inproc://ip/pid/n``.
_INPROC_ADDRESS = re.compile(r"inproc://[^/\s]+/\d+/\d+")
_ADDRESS = re.compile(r"(?:(?:tcp|tls|ws|wss)://)?(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|"
                      r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)):(?P<port>\d{1,5})")


def map_batches(
    source: str | Path,
    step: Callable[[pd.DataFrame], T],
    *,
    date_format: str | None = None,
    scheduler: str | None = None,
    worker_memory: str = config.DASK_WORKER_MEMORY,
    scheduler_timeout: float = config.DASK_SCHEDULER_TIMEOUT,
    progress: bool = True,
) -> list[T]:
    """``step`` applied to each batch of the invoice lines of ``source``, on a Dask cluster.

    A batch is one partition of :func:`whole_customers`; the results come back
    in partition order. ``scheduler`` is the address of a running Dask cluster
    (``tcp://host:8786``), which must answer within ``scheduler_timeout``
    seconds; without it a local cluster is started with one single-threaded
    worker per core, each limited to ``worker_memory``. Distributed's own log
    lines are silenced for the run: an error in a batch (bad input) comes back
    as the exception alone.
    """
    with _as_one_line(source):
        lines = whole_customers(read_invoices(source, date_format=date_format))
        with _quiet_distributed(), _cluster(scheduler, worker_memory, scheduler_timeout) as client:
            # the graph is built here, so that the shuffle is planned for the cluster (peer-to-peer, spilling)
            batches = [dask.delayed(step)(partition) for partition in lines.to_delayed()]
            return _compute(client, batches, progress)


@contextmanager
def _as_one_line(source: str | Path) -> Iterator[None]:
    """Any failure of the Dask run as one InvoiceDataError naming ``source``.

    The input's own errors pass through. A library error from a worker (a
    damaged file further into a folder, a part that does not parse) or a worker
    that died (killed, most often for lack of memory) becomes one line with
    the error's type and first line, never a traceback from a worker.
    """
    from distributed.scheduler import KilledWorker

    try:
        yield
    except InvoiceDataError:
        raise
    except KilledWorker as error:
        raise InvoiceDataError(
            f"{source}: a Dask worker died while working on the input ({_first_line(error)}), most often for "
            "lack of memory; give each worker more (--worker-memory) or run on fewer files at once."
        ) from None
    except Exception as error:
        raise InvoiceDataError(
            f"{source}: the Dask engine could not read or work on the input ({type(error).__name__}: "
            f"{_first_line(error)}); check the files (one may be damaged), or run one file without "
            "--engine dask for a precise message."
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no message"


def whole_customers(lines: dd.DataFrame) -> dd.DataFrame:
    """``lines`` shuffled so that each partition holds every line of its customers and every copy of its lines.

    Lines are sent by CustomerID; a line without one by a hash of the whole
    line, so that its copies meet and such lines spread over the partitions.
    """
    key = lines.map_partitions(_batch_key, meta=pd.Series(dtype="uint64", name=_KEY))
    return lines.assign(**{_KEY: key}).shuffle(on=_KEY).drop(columns=_KEY)


def _batch_key(lines: pd.DataFrame) -> pd.Series:
    whole_line = pd.util.hash_pandas_object(lines, index=False).to_numpy()
    customer = lines[c.CUSTOMER_ID]
    ids = customer.to_numpy(dtype="int64", na_value=0).view("uint64")
    return pd.Series(np.where(customer.isna().to_numpy(), whole_line, ids), index=lines.index, name=_KEY)


def read_invoices(source: str | Path, *, date_format: str | None = None) -> dd.DataFrame:
    """Invoice lines of every file of ``source`` as a Dask frame in canonical columns.

    Headers are matched as by :func:`segmentation.reading.load.load_invoices`, file by
    file: files laid out alike are read together
    (:func:`segmentation.reading.partitions.layouts`), and their columns are taken by
    name. Every partition is converted by the same code, with text kept as
    text. Text dates must be ISO 8601, or given ``date_format``: month-first
    detection needs the whole column and is not done per partition.
    """
    frames = []
    for tables in partitions.layouts(source):
        table, files = tables[0], [t.path for t in tables]
        if table.kind == load.PARQUET:
            lines = dd.read_parquet([str(f) for f in files], columns=list(table.renames), split_row_groups=True)
        else:
            lines = _read_text_files(files, table)
        frames.append(lines.rename(columns=table.renames)[list(c.INVOICE_COLUMNS)])
    lines = frames[0] if len(frames) == 1 else dd.concat(frames)
    return lines.map_partitions(partitions.canonical_part, source=str(source), date_format=date_format or "ISO8601",
                                meta=partitions.canonical_meta())


def _read_text_files(files: list[Path], table: load.TableFormat) -> dd.DataFrame:
    """Every text file read as ``table`` (the first file's layout) says, all columns as text."""
    if table.compression == "zip":
        raise InvoiceDataError(f"{table.path}: the Dask engine reads .csv, .csv.gz and Parquet, not .zip; unzip it.")
    return dd.read_csv(
        [str(f) for f in files], sep=table.delimiter, skiprows=table.header_row, usecols=list(table.renames),
        dtype=str, keep_default_na=False, na_values=[""], encoding=table.encoding,
        compression=table.compression, blocksize=None if table.compression else "64MB",
    )


def check_scheduler_address(address: str) -> tuple[str, int] | None:
    """The host and port of a scheduler ``address`` (``[scheme://]host:port``; None for an ``inproc://``
    scheduler of this process), or an InvoiceDataError."""
    if _INPROC_ADDRESS.fullmatch(address):
        return None
    match = _ADDRESS.fullmatch(address)
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise InvoiceDataError(
            f"--scheduler: {address!r} is not a Dask scheduler address; give one as tcp://HOST:PORT, "
            "e.g. tcp://10.0.0.5:8786 (scheduler= in Python)."
        )
    return match["ipv6"] or match["host"], int(match["port"])


def worker_memory_bytes(text: str) -> int:
    """The bytes of a worker memory limit such as ``"4GiB"``; an InvoiceDataError below
    ``config.DASK_MIN_WORKER_MEMORY`` or when ``text`` is not a size."""
    from dask.utils import format_bytes, parse_bytes

    least = parse_bytes(config.DASK_MIN_WORKER_MEMORY)
    try:
        size = parse_bytes(text) if re.search(r"\d", text) else None  # dask reads "" and "MB" as 1 (MB)
    except (TypeError, ValueError):
        size = None
    if size is None:
        raise InvoiceDataError(
            f"--worker-memory: {text!r} is not a size; give one such as 4GiB or 512MiB (worker_memory= in Python)."
        )
    if size < least:
        raise InvoiceDataError(
            f"--worker-memory: {text!r} ({format_bytes(size)}) is below the {config.DASK_MIN_WORKER_MEMORY} a "
            f"worker needs; give {config.DASK_MIN_WORKER_MEMORY} or more (default {config.DASK_WORKER_MEMORY})."
        )
    return size


def check_scheduler(address: str, *, timeout: float) -> None:
    """Refuse a scheduler that cannot be reached, or does not answer as one, within ``timeout`` seconds.

    First a plain TCP connection (refused, dropped or unroutable: nothing
    listens there), then the scheduler is asked for its identity over Dask's
    own protocol with a deadline on the whole exchange: a server that accepts
    and says nothing or something else (a web server, another service) is not
    a scheduler. Either is one InvoiceDataError, never a hang.
    """
    host_port = check_scheduler_address(address)
    try:
        if host_port is not None:
            socket.create_connection(host_port, timeout=timeout).close()
    except OSError as error:
        reason = "no answer" if isinstance(error, TimeoutError) else (error.strerror or type(error).__name__).lower()
        raise InvoiceDataError(
            f"--scheduler: cannot connect to {address} ({reason} within {timeout:g} s); check that the scheduler "
            "runs and that the address and port are right, or wait longer with --scheduler-timeout."
        ) from None
    with ThreadPoolExecutor(max_workers=1) as thread:  # its own event loop, even inside Jupyter's
        try:
            identity = thread.submit(asyncio.run, _identity(address, timeout)).result()
        except Exception:  # no reply in time, or one Dask cannot read (a web page, a banner)
            identity = None
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        raise InvoiceDataError(
            f"--scheduler: {address} accepts connections but does not answer as a Dask scheduler within "
            f"{timeout:g} s; check the port (a scheduler listens on 8786 by default, its dashboard on 8787)."
        )


async def _identity(address: str, timeout: float) -> object:
    """The scheduler's identity (a dict with ``type``), asked within ``timeout`` seconds in all."""
    from distributed.comm import connect

    async def ask() -> object:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    return await asyncio.wait_for(ask(), timeout)


@contextmanager
def _quiet_distributed() -> Iterator[None]:
    """Distributed's loggers silenced (a failed task is logged with its traceback), restored after."""
    names = ["distributed", *(name for name in logging.root.manager.loggerDict if name.startswith("distributed."))]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def _cluster(scheduler: str | None, worker_memory: str, timeout: float) -> Iterator[object]:
    """A client of the given cluster (checked to answer within ``timeout`` s), or of a local one
    started (and stopped) here, whose workers log nothing below CRITICAL."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        check_scheduler(scheduler, timeout=timeout)
        with Client(scheduler, timeout=timeout) as client:
            print(f"Dask cluster {scheduler}; dashboard: {client.dashboard_link}", flush=True)
            yield client
        return
    with LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, memory_limit=worker_memory,
                      dashboard_address=":0", processes=True, silence_logs=logging.CRITICAL) as cluster, \
            Client(cluster) as client:
        yield client


def _compute(client, wanted: list, progress: bool) -> list:  # client: a distributed.Client
    from distributed import progress as show_progress

    futures = client.compute(wanted, sync=False)
    if progress:
        show_progress(futures)
        print(flush=True)
    return client.gather(futures)
