"""The Dask engine's runner: read files larger than memory, cut them into batches, run them.

Input: one file, a glob (``exports/2011-*.parquet``) or a folder of CSV or
Parquet files, all with the same columns, laid out as :func:`segmentation.load.sniff`
finds the first one. This module holds no rule: it reads the lines into a Dask
frame, shuffles them so that every partition holds all lines of its customers
and every copy of its lines, and applies the per-batch step it is given
(:func:`segmentation.engines.summarise_batch`) to each partition on a Dask
cluster. The step's results come back to the client, one per partition.

How the work scales: reading and the per-batch step grow with lines and run
in parallel on every worker; the shuffle moves every line once between
workers. What reaches the client is one row per customer and per (partition,
product). Workers spill to disk when they reach their memory limit, so the
lines need not fit in memory.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation import config, load
from segmentation.errors import InvoiceDataError

T = TypeVar("T")
_KEY = "_batch_key"


def map_batches(
    source: str | Path,
    step: Callable[[pd.DataFrame], T],
    *,
    date_format: str | None = None,
    scheduler: str | None = None,
    worker_memory: str = config.DASK_WORKER_MEMORY,
    progress: bool = True,
) -> list[T]:
    """``step`` applied to each batch of the invoice lines of ``source``, on a Dask cluster.

    A batch is one partition of :func:`whole_customers`; the results come back
    in partition order. ``scheduler`` is the address of a running Dask cluster
    (``tcp://host:8786``); without it a local cluster is started with one
    single-threaded worker per core, each limited to ``worker_memory``.
    """
    lines = whole_customers(read_invoices(source, date_format=date_format))
    with _cluster(scheduler, worker_memory) as client:
        # the graph is built here, so that the shuffle is planned for the cluster (peer-to-peer, spilling)
        batches = [dask.delayed(step)(partition) for partition in lines.to_delayed()]
        return _compute(client, batches, progress)


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


def input_files(source: str | Path) -> list[Path]:
    """The files of ``source``: a file, a glob, or every CSV/Parquet file in a folder (sorted)."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.lower().endswith(load.CSV_SUFFIXES + load.PARQUET_SUFFIXES))
    elif path.is_file():
        files = [path]
    else:
        files = sorted(Path(p) for p in glob.glob(str(source)))
    if not files:
        raise InvoiceDataError(f"{source}: no CSV or Parquet file found; give a file, a glob or a folder.")
    kinds = {f.name.lower().endswith(load.PARQUET_SUFFIXES) for f in files}
    if len(kinds) > 1:
        raise InvoiceDataError(f"{source}: mixes CSV and Parquet files; give files of one kind.")
    return files


def read_invoices(source: str | Path, *, date_format: str | None = None) -> dd.DataFrame:
    """Invoice lines of every file of ``source`` as a Dask frame in canonical columns.

    Headers are matched as by :func:`segmentation.load.load_invoices` (read
    from the first file); every partition is converted by the same code, with
    text kept as text. Text dates must be ISO 8601, or given ``date_format``:
    month-first detection needs the whole column and is not done per partition.
    """
    files = input_files(source)
    table = load.sniff(files[0])
    renames = table.renames
    if table.kind == load.PARQUET:
        lines = dd.read_parquet([str(f) for f in files], columns=list(renames), split_row_groups=True)
    else:
        lines = _read_text_files(files, table)
    lines = lines.rename(columns=renames)[list(c.INVOICE_COLUMNS)]
    meta = _canonical_meta()
    return lines.map_partitions(
        _canonical_partition, source=str(source), date_format=date_format or "ISO8601", meta=meta
    )


def _read_text_files(files: list[Path], table: load.TableFormat) -> dd.DataFrame:
    """Every text file read as ``table`` (the first file's layout) says, all columns as text."""
    if table.compression == "zip":
        raise InvoiceDataError(f"{table.path}: the Dask engine reads .csv, .csv.gz and Parquet, not .zip; unzip it.")
    return dd.read_csv(
        [str(f) for f in files], sep=table.delimiter, skiprows=table.header_row, usecols=list(table.renames),
        dtype=str, keep_default_na=False, na_values=[""], encoding=table.encoding,
        compression=table.compression, blocksize=None if table.compression else "64MB",
    )


def _canonical_meta() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c.INVOICE: pd.Series(dtype="str"), c.STOCK_CODE: pd.Series(dtype="str"),
            c.DESCRIPTION: pd.Series(dtype="str"), c.QUANTITY: pd.Series(dtype="Int64"),
            c.INVOICE_DATE: pd.Series(dtype="datetime64[ns]"), c.UNIT_PRICE: pd.Series(dtype="float64"),
            c.CUSTOMER_ID: pd.Series(dtype="Int64"), c.COUNTRY: pd.Series(dtype="str"),
        }
    )


def _canonical_partition(raw: pd.DataFrame, *, source: str, date_format: str) -> pd.DataFrame:
    if raw.empty:
        return _canonical_meta()
    frame = load.to_canonical(raw, source=Path(source), date_format=date_format, categorical=False)
    return frame.astype({name: "str" for name in c.TEXT_COLUMNS})


@contextmanager
def _cluster(scheduler: str | None, worker_memory: str) -> Iterator[object]:
    """A client of the given cluster, or of a local one started (and stopped) here."""
    from distributed import Client, LocalCluster

    # the scheduler of a local cluster logs each shuffle's start and end as a warning
    logging.getLogger("distributed.shuffle._scheduler_plugin").setLevel(logging.ERROR)
    if scheduler is not None:
        with Client(scheduler) as client:
            print(f"Dask cluster {scheduler}; dashboard: {client.dashboard_link}", flush=True)
            yield client
        return
    with LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, memory_limit=worker_memory,
                      dashboard_address=":0", processes=True) as cluster, Client(cluster) as client:
        yield client


def _compute(client, wanted: list, progress: bool) -> list:  # client: a distributed.Client
    from distributed import progress as show_progress

    futures = client.compute(wanted, sync=False)
    if progress:
        show_progress(futures)
        print(flush=True)
    return client.gather(futures)
