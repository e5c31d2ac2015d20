"""The Dask engine: the same customer feature table from files larger than memory.

Input: one file, a glob (``exports/2011-*.parquet``) or a folder of CSV or
Parquet files, all with the same columns. Output: the same feature table as
:func:`segmentation.features.build_customer_features` after
:func:`segmentation.clean.clean_invoices`, and the same ledger — same rules,
same tie-breaks, because every rule that needs one customer's lines together
runs the pandas code of :mod:`segmentation.features` on partitions that hold
whole customers.

How the work scales: reading, the row-wise cleaning rules and the sums grow
with lines and run in parallel on every worker; the duplicate rule and the
per-customer steps shuffle data between workers (they grow with lines and
with (customer, product) pairs); what reaches the client is one row per
customer and per product. Workers spill to disk when they reach their memory
limit, so the lines need not fit in memory.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dask.dataframe as dd
import pandas as pd

from segmentation import columns as c
from segmentation import load
from segmentation.clean import MICROS_PER_POUND, RULES, pounds
from segmentation.errors import InvoiceDataError
from segmentation.features import (
    COUNTED,
    GROSS_MICROS,
    LINES,
    PURCHASED_QUANTITY,
    RETURNED_MICROS,
    RETURNED_QUANTITY,
    assemble_features,
    customer_returns,
    describe_stock_codes,
    most_common_country,
    snapshot_for,
    top_items,
)

#: Worker memory limit of the local cluster started when no scheduler is given.
DEFAULT_WORKER_MEMORY = "4GiB"
_MICROS = "micros"


@dataclass(frozen=True)
class DaskResult:
    """The feature table (one row per customer) and the cleaning ledger (one row per step)."""

    customers: pd.DataFrame
    ledger: pd.DataFrame
    returns_matched: float
    returns_unmatched: float
    seconds: float


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


# --- cleaning, with the ledger --------------------------------------------------------


def _micros(lines: dd.DataFrame) -> dd.Series:
    """Quantity x UnitPrice of each line in whole micro-pounds, as ``clean.line_amount_micros``."""
    amount = lines[c.QUANTITY].astype("float64") * lines[c.UNIT_PRICE] * MICROS_PER_POUND
    return amount.round().astype("int64")


def _clean(lines: dd.DataFrame) -> tuple[dd.DataFrame, list[tuple[str, dd.Series]]]:
    """The kept lines and, per ledger step, the lines it concerns (rules in ``clean.RULES`` order)."""
    with_customer = lines[lines[c.CUSTOMER_ID].notnull()]
    distinct = with_customer.drop_duplicates(split_out=True)
    priced = distinct[distinct[c.UNIT_PRICE] > 0]
    nonzero = priced[priced[c.QUANTITY] != 0]
    cancelled = nonzero[c.INVOICE].str.upper().str.startswith("C") & (nonzero[c.QUANTITY] > 0)
    kept = nonzero[~cancelled]
    steps = [
        ("input", lines),
        ("missing_customer", lines[lines[c.CUSTOMER_ID].isnull()]),
        ("duplicate", None),  # with_customer minus distinct, computed from the two totals
        ("non_positive_price", distinct[distinct[c.UNIT_PRICE] <= 0]),
        ("zero_quantity", priced[priced[c.QUANTITY] == 0]),
        ("inconsistent_cancellation", nonzero[cancelled]),
        ("kept", kept),
    ]
    assert [name for name, *_ in RULES] == [name for name, _ in steps[1:-1]]
    totals = [(name, part) for name, part in steps if part is not None]
    totals += [("_with_customer", with_customer), ("_distinct", distinct)]
    return kept, [(name, part.shape[0], _micros(part).abs().sum()) for name, part in totals]


def _ledger(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    counts = dict(counts)
    with_customer, distinct = counts.pop("_with_customer"), counts.pop("_distinct")
    duplicate = (with_customer[0] - distinct[0], with_customer[1] - distinct[1])
    meanings = {name: f"removed: {meaning}" for name, _, meaning in RULES}
    order = ["input", *(name for name, _, _ in RULES), "kept"]
    rows = []
    for step in order:
        rows_count, micros = duplicate if step == "duplicate" else counts[step]
        meaning = {"input": "lines read", "kept": "lines kept for the analysis"}.get(step, meanings.get(step))
        rows.append({c.LEDGER_STEP: step, c.LEDGER_ROWS: int(rows_count),
                     c.LEDGER_AMOUNT: float(pounds(int(micros))), c.LEDGER_MEANING: meaning})
    return pd.DataFrame(rows).set_index(c.LEDGER_STEP)


# --- features -----------------------------------------------------------------------------


def _item_sums(kept: dd.DataFrame) -> dd.DataFrame:
    """Per (customer, StockCode) sums of ``kept`` (which carries its line micro-pounds), shuffled by customer."""
    quantity = kept[c.QUANTITY].astype("int64")
    micros = kept[_MICROS]
    bought = quantity > 0
    parts = kept[[c.CUSTOMER_ID, c.STOCK_CODE]].assign(
        **{
            LINES: bought.astype("int64"),
            PURCHASED_QUANTITY: quantity.where(bought, 0),
            RETURNED_QUANTITY: (-quantity).where(~bought, 0),
            RETURNED_MICROS: (-micros).where(~bought, 0),
        }
    )
    sums = parts.groupby([c.CUSTOMER_ID, c.STOCK_CODE]).sum(split_out=True).reset_index()
    return sums.shuffle(on=c.CUSTOMER_ID)


def _per_customer_items(items: pd.DataFrame) -> pd.DataFrame:
    """Returns counted/unmatched and the top product code of the customers in one partition."""
    items = items.set_index([c.CUSTOMER_ID, c.STOCK_CODE]).sort_index()
    returns = customer_returns(items)
    codes = top_items(items, pd.Series(dtype="str"))[c.TOP_ITEM_CODE]
    return returns.join(codes, how="outer")


def _per_customer_country(countries: pd.DataFrame) -> pd.DataFrame:
    return most_common_country(countries.set_index([c.CUSTOMER_ID, c.COUNTRY])).to_frame()


def build_customer_features_dask(
    source: str | Path,
    *,
    spend: str = "net",
    snapshot_date: pd.Timestamp | str | None = None,
    date_format: str | None = None,
    scheduler: str | None = None,
    worker_memory: str = DEFAULT_WORKER_MEMORY,
    progress: bool = True,
) -> DaskResult:
    """Clean and build customer features for ``source`` with Dask.

    ``scheduler`` is the address of a running Dask cluster
    (``tcp://host:8786``); without it a local cluster is started with one
    single-threaded worker per core, each limited to ``worker_memory``.
    """
    started = time.perf_counter()
    lines = read_invoices(source, date_format=date_format)
    kept, totals = _clean(lines)
    kept = kept.assign(**{_MICROS: _micros(kept)})
    purchases = kept[kept[c.QUANTITY] > 0]
    spend_dates = purchases.groupby(c.CUSTOMER_ID).agg(
        {_MICROS: "sum", c.INVOICE_DATE: ["min", "max"]}, split_out=True
    )
    frequency = purchases[[c.CUSTOMER_ID, c.INVOICE]].drop_duplicates().groupby(c.CUSTOMER_ID).size()
    descriptions = kept[kept[c.DESCRIPTION].notnull()].groupby([c.STOCK_CODE, c.DESCRIPTION]).size()
    countries = purchases.groupby([c.CUSTOMER_ID, c.COUNTRY]).size().rename(LINES).reset_index()
    locations = countries.shuffle(on=c.CUSTOMER_ID).map_partitions(
        _per_customer_country, meta=pd.DataFrame({c.COUNTRY: pd.Series(dtype="str")},
                                                 index=pd.Index([], dtype="Int64", name=c.CUSTOMER_ID)))
    item_meta = pd.DataFrame(
        {COUNTED: pd.Series(dtype="float64"), c.UNMATCHED_RETURNS: pd.Series(dtype="float64"),
         c.TOP_ITEM_CODE: pd.Series(dtype="str")},
        index=pd.Index([], dtype="Int64", name=c.CUSTOMER_ID),
    )
    per_item = _item_sums(kept).map_partitions(_per_customer_items, meta=item_meta)
    last_date = kept[c.INVOICE_DATE].max()
    scalars = [value for _, rows, micros in totals for value in (rows, micros)]
    wanted = [*scalars, spend_dates, frequency, descriptions, locations, per_item, last_date]
    with _cluster(scheduler, worker_memory) as client:
        computed = _compute(client, wanted, progress)
    values, (spend_dates, frequency, descriptions, locations, per_item, last_date) = (
        computed[: len(scalars)], computed[len(scalars):])
    ledger = _ledger({name: (values[2 * i], values[2 * i + 1]) for i, (name, _, _) in enumerate(totals)})
    spend_dates.columns = [GROSS_MICROS, c.FIRST_PURCHASE, c.LAST_PURCHASE]
    customers = spend_dates.assign(**{c.FREQUENCY: frequency.reindex(spend_dates.index)})
    names = describe_stock_codes(descriptions.rename(LINES).to_frame())
    codes = per_item[c.TOP_ITEM_CODE].dropna()
    top = pd.DataFrame({c.TOP_ITEM: codes.map(names), c.TOP_ITEM_CODE: codes})
    table = assemble_features(
        customers,
        returns=per_item[[COUNTED, c.UNMATCHED_RETURNS]],
        locations=locations[c.COUNTRY],
        top_items=top,
        snapshot=snapshot_for(last_date, snapshot_date),
        spend=spend,  # type: ignore[arg-type]
    )
    return DaskResult(
        customers=table,
        ledger=ledger,
        returns_matched=float(per_item[COUNTED].sum()),
        returns_unmatched=float(per_item[c.UNMATCHED_RETURNS].sum()),
        seconds=time.perf_counter() - started,
    )


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


def _compute(client, wanted: list, progress: bool) -> list:  # noqa: ANN001 - a distributed.Client
    from distributed import progress as show_progress

    futures = client.compute(wanted, sync=False)
    if progress:
        show_progress(futures)
        print(flush=True)
    return client.gather(futures)
