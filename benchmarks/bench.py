"""``make bench``: the customer feature stage against other ways of computing it.

Run from the repository root as ``python -m benchmarks.bench`` (or ``python benchmarks/bench.py``);
it is not part of the installed package.

Two stages are measured:

- ``features``: clean invoice lines already in memory -> the customer feature
  table. Engines: this package (``build_customer_features``), the naive idiom
  (``groupby().agg(lambda x: x.mode()[0])`` and other per-group Python
  functions), DuckDB SQL over the same frame, and Polars on the same lines
  converted to a Polars frame beforehand.
- ``pipeline``: a Parquet file on disk -> cleaning -> the feature table. Engines:
  this package (``load_invoices`` + ``clean_invoices`` + features), DuckDB and
  Polars reading the same file with the same cleaning rules.

Every engine computes the same table with the rules of ``segmentation.clean`` and
``segmentation.features`` (product lines, purchase occasions, returns counted up
to what was paid) and the same tie-breaks. Money is summed in whole micro-pounds
and each sum is rounded once to whole pence in integer arithmetic, so results are checked exactly equal to
this package's, dtypes included, before any timing is reported. DuckDB and
Polars read the Parquet file's text as stored: the loader's trimming of
surrounding spaces is not repeated (the synthetic files have none). Each (stage,
engine, input) runs in its own process, so peak memory (resident set size above
what the process held before the stage, sampled every few milliseconds) is not
inflated by earlier runs; wall time is the median of several runs.

DuckDB, Polars and psutil come from ``requirements-bench.txt``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.clean import clean_invoices
from segmentation.export import write_csv
from segmentation.features import (
    GROSS_MICROS,
    LINES,
    PRODUCT_CODE_PATTERN,
    build_customer_features,
    features_from_summaries,
    is_product,
    summarise_lines,
)
from segmentation.load import load_invoices
from segmentation.synthetic import write_synthetic_parquet

BENCH_DIR = config.PROCESSED_DIR / "bench"
SYNTHETIC_SIZES = {"1M": 1_000_000, "5M": 5_000_000, "20M": 20_000_000}
SYNTHETIC_SEED = 2026
#: The naive idiom runs a Python function per customer (minutes on millions of lines): the real file only.
NAIVE_MAX_LINES = 600_000
_SAMPLE_S = 0.005


# --- the same table, four ways -----------------------------------------------------


def features_naive(invoices: pd.DataFrame) -> pd.DataFrame:
    """The per-group Python-function idiom of most public notebooks, with this package's rules."""
    purchases = invoices[invoices[c.QUANTITY] > 0]
    summaries = summarise_lines(invoices)
    table = features_from_summaries(summaries)
    location = purchases.astype({c.COUNTRY: "str"}).groupby(c.CUSTOMER_ID)[c.COUNTRY].agg(
        lambda x: x.mode()[0]
    )
    names = invoices.dropna(subset=[c.DESCRIPTION]).astype({c.STOCK_CODE: "str", c.DESCRIPTION: "str"})
    descriptions = names.groupby(c.STOCK_CODE)[c.DESCRIPTION].agg(lambda x: x.mode()[0])
    products = purchases[is_product(purchases[c.STOCK_CODE]).to_numpy()].astype({c.STOCK_CODE: "str"})
    top = products.groupby(c.CUSTOMER_ID).apply(_top_code_of_one_customer, include_groups=False)
    table[c.MOST_COMMON_LOCATION] = location.reindex(table.index).astype("str")
    table[c.TOP_ITEM_CODE] = top.reindex(table.index).astype("str")
    table[c.TOP_ITEM] = table[c.TOP_ITEM_CODE].map(descriptions).astype("str")
    return table


def _top_code_of_one_customer(lines: pd.DataFrame) -> str:
    per_code = lines.groupby(c.STOCK_CODE)[c.QUANTITY].agg(["size", "sum"]).reset_index()
    per_code = per_code.sort_values(["size", "sum", c.STOCK_CODE], ascending=[False, False, True])
    return per_code[c.STOCK_CODE].iloc[0]


_DUCKDB_FEATURES = r"""
WITH l AS (
    SELECT *, CAST(round_even(Quantity * UnitPrice * 1000000, 0) AS BIGINT) AS micros,
           coalesce(regexp_matches(StockCode, '^[0-9]{{5}}'), false) AS product
    FROM {source}
),
items AS (
    SELECT CustomerID, StockCode, any_value(product) AS product,
           count(*) FILTER (WHERE Quantity > 0) AS lines,
           coalesce(sum(Quantity) FILTER (WHERE Quantity > 0), 0) AS purchased,
           coalesce(sum(micros) FILTER (WHERE Quantity > 0), 0) AS bought_micros,
           coalesce(sum(-micros) FILTER (WHERE Quantity < 0), 0) AS returned_micros
    FROM l GROUP BY CustomerID, StockCode
),
cust AS (
    SELECT CustomerID, sum(bought_micros) AS gross_micros,
           coalesce(sum(bought_micros) FILTER (WHERE product), 0) AS product_micros,
           sum(least(returned_micros, bought_micros)) AS counted_micros,
           sum(returned_micros - least(returned_micros, bought_micros)) AS unmatched_micros,
           coalesce(sum(least(returned_micros, bought_micros)) FILTER (WHERE product), 0) AS product_counted_micros
    FROM items GROUP BY CustomerID HAVING sum(lines) > 0
),
occasions AS (
    SELECT CustomerID, date_trunc('day', InvoiceDate) AS day,
           min(InvoiceDate) FILTER (WHERE Quantity > 0) AS first_bought,
           max(InvoiceDate) FILTER (WHERE Quantity > 0) AS last_bought
    FROM l WHERE product GROUP BY CustomerID, day HAVING sum(micros) > 0
),
visits AS (
    SELECT CustomerID, count(*) AS frequency, min(first_bought) AS first_p, max(last_bought) AS last_p
    FROM occasions GROUP BY CustomerID
),
country AS (
    SELECT CustomerID, Country FROM (
        SELECT CustomerID, Country, row_number() OVER (
            PARTITION BY CustomerID ORDER BY count(*) DESC, Country ASC) AS r
        FROM l WHERE Quantity > 0 AND Country IS NOT NULL GROUP BY CustomerID, Country
    ) WHERE r = 1
),
descr AS (
    SELECT StockCode, Description FROM (
        SELECT StockCode, Description, row_number() OVER (
            PARTITION BY StockCode ORDER BY count(*) DESC, Description ASC) AS r
        FROM l WHERE StockCode IS NOT NULL AND Description IS NOT NULL GROUP BY StockCode, Description
    ) WHERE r = 1
),
top AS (
    SELECT CustomerID, StockCode FROM (
        SELECT CustomerID, StockCode, row_number() OVER (
            PARTITION BY CustomerID ORDER BY lines DESC, purchased DESC, StockCode ASC) AS r
        FROM items WHERE lines > 0 AND product
    ) WHERE r = 1
),
snapshot AS (SELECT date_trunc('day', max(InvoiceDate)) + INTERVAL 1 DAY AS day FROM l),
money AS (
    SELECT *, (gross_micros + 5000) // 10000 AS gross, (counted_micros + 5000) // 10000 AS returned
    FROM cust
)
SELECT money.CustomerID,
       CAST(gross - returned AS DOUBLE) / 100 AS Total_Bill_Size,
       CAST(gross AS DOUBLE) / 100 AS Gross_Spend,
       CAST(returned AS DOUBLE) / 100 AS Returned_Amount,
       CAST((unmatched_micros + 5000) // 10000 AS DOUBLE) / 100 AS Unmatched_Returns,
       CAST((product_micros + 5000) // 10000 - (product_counted_micros + 5000) // 10000 AS DOUBLE) / 100
           AS Product_Spend,
       first_p AS First_Purchase, last_p AS Last_Purchase,
       date_diff('day', date_trunc('day', first_p), date_trunc('day', last_p)) AS Purchase_Interval_Days,
       coalesce(frequency, 0) AS Frequency,
       date_diff('day', date_trunc('day', last_p), (SELECT day FROM snapshot)) AS Recency_Days,
       country.Country AS Most_Common_Location,
       descr.Description AS Top_Item,
       top.StockCode AS Top_Item_Code
FROM money
LEFT JOIN visits USING (CustomerID)
LEFT JOIN country USING (CustomerID)
LEFT JOIN top USING (CustomerID)
LEFT JOIN descr ON descr.StockCode = top.StockCode
ORDER BY money.CustomerID
"""

_DUCKDB_CLEAN = """
(SELECT * FROM (SELECT DISTINCT * FROM read_parquet('{path}') WHERE CustomerID IS NOT NULL)
 WHERE NOT UnitPrice <= 0 AND NOT Quantity = 0
   AND NOT (coalesce(lower(left(InvoiceNo, 1)) = 'c', false) AND Quantity > 0)
   AND NOT coalesce(lower(left(StockCode, 4)) = 'test', false))
"""


def features_duckdb(invoices: pd.DataFrame) -> pd.DataFrame:
    """DuckDB SQL over the in-memory frame of clean lines."""
    import duckdb

    lines = invoices.astype({name: "str" for name in c.TEXT_COLUMNS})  # noqa: F841 - scanned by name
    return _tidy(duckdb.sql(_DUCKDB_FEATURES.format(source="lines")).df())


def pipeline_duckdb(path: Path) -> pd.DataFrame:
    """DuckDB from the Parquet file: the cleaning rules in SQL, then the features."""
    import duckdb

    source = _DUCKDB_CLEAN.format(path=str(path).replace("'", "''"))
    return _tidy(duckdb.sql(_DUCKDB_FEATURES.format(source=source)).df())


def features_polars(lines) -> pd.DataFrame:  # lines: a polars DataFrame or LazyFrame
    """Polars on the clean lines (converted to Polars before timing)."""
    import polars as pl

    q, cid, code, date = pl.col(c.QUANTITY), pl.col(c.CUSTOMER_ID), pl.col(c.STOCK_CODE), pl.col(c.INVOICE_DATE)
    micros = pl.col("micros")
    priced = lines.lazy().with_columns(
        (q * pl.col(c.UNIT_PRICE) * 1_000_000).round(0).cast(pl.Int64).alias("micros"),
        code.str.contains(PRODUCT_CODE_PATTERN).fill_null(False).alias("product"),
    )
    bought = priced.filter(q > 0)
    items = (
        priced.group_by([c.CUSTOMER_ID, c.STOCK_CODE]).agg(
            pl.col("product").first(),
            (q > 0).sum().alias(LINES),
            q.filter(q > 0).sum().alias("purchased"),
            micros.filter(q > 0).sum().alias("bought"),
            (-micros).filter(q < 0).sum().alias("returned"),
        )
        .with_columns(pl.min_horizontal("returned", "bought").alias("counted"))
    )
    product = pl.col("product")
    cust = items.group_by(c.CUSTOMER_ID).agg(
        pl.col(LINES).sum(),
        pl.col("bought").sum().alias(GROSS_MICROS),
        pl.col("bought").filter(product).sum().alias("product_micros"),
        pl.col("counted").sum().alias("counted_micros"),
        (pl.col("returned") - pl.col("counted")).sum().alias("unmatched_micros"),
        pl.col("counted").filter(product).sum().alias("product_counted_micros"),
    ).filter(pl.col(LINES) > 0)
    visits = (
        priced.filter(product).group_by([c.CUSTOMER_ID, date.dt.truncate("1d").alias("day")]).agg(
            micros.sum().alias("net"), date.filter(q > 0).min().alias("first"), date.filter(q > 0).max().alias("last")
        )
        .filter(pl.col("net") > 0)
        .group_by(c.CUSTOMER_ID).agg(
            pl.len().cast(pl.Int64).alias(c.FREQUENCY),
            pl.col("first").min().alias(c.FIRST_PURCHASE),
            pl.col("last").max().alias(c.LAST_PURCHASE),
        )
    )
    country = (
        bought.filter(pl.col(c.COUNTRY).is_not_null()).group_by([c.CUSTOMER_ID, c.COUNTRY]).agg(pl.len().alias(LINES))
        .sort([c.CUSTOMER_ID, LINES, c.COUNTRY], descending=[False, True, False])
        .group_by(c.CUSTOMER_ID, maintain_order=True).first()
        .select(cid, pl.col(c.COUNTRY).alias(c.MOST_COMMON_LOCATION))
    )
    descr = (
        priced.filter(code.is_not_null() & pl.col(c.DESCRIPTION).is_not_null())
        .group_by([c.STOCK_CODE, c.DESCRIPTION]).agg(pl.len().alias(LINES))
        .sort([c.STOCK_CODE, LINES, c.DESCRIPTION], descending=[False, True, False])
        .group_by(c.STOCK_CODE, maintain_order=True).first()
        .select(code, pl.col(c.DESCRIPTION).alias(c.TOP_ITEM))
    )
    top = (
        items.filter((pl.col(LINES) > 0) & product)
        .sort([c.CUSTOMER_ID, LINES, "purchased", c.STOCK_CODE], descending=[False, True, True, False])
        .group_by(c.CUSTOMER_ID, maintain_order=True).first()
        .select(cid, code.alias(c.TOP_ITEM_CODE))
    )
    snapshot = priced.select((date.max().dt.truncate("1d") + pl.duration(days=1)).alias("snapshot"))
    gross, returned = _polars_pence(pl.col(GROSS_MICROS)), _polars_pence(pl.col("counted_micros"))
    first_day, last_day = pl.col(c.FIRST_PURCHASE).dt.truncate("1d"), pl.col(c.LAST_PURCHASE).dt.truncate("1d")
    table = (
        cust.join(visits, on=c.CUSTOMER_ID, how="left").join(country, on=c.CUSTOMER_ID, how="left")
        .join(top, on=c.CUSTOMER_ID, how="left")
        .join(descr, left_on=c.TOP_ITEM_CODE, right_on=c.STOCK_CODE, how="left")
        .join(snapshot, how="cross")
        .with_columns(
            _polars_pounds(gross - returned).alias(c.TOTAL_BILL_SIZE), _polars_pounds(gross).alias(c.GROSS_SPEND),
            _polars_pounds(returned).alias(c.RETURNED_AMOUNT),
            _polars_pounds(_polars_pence(pl.col("unmatched_micros"))).alias(c.UNMATCHED_RETURNS),
            _polars_pounds(_polars_pence(pl.col("product_micros")) - _polars_pence(pl.col("product_counted_micros")))
            .alias(c.PRODUCT_SPEND),
            pl.col(c.FREQUENCY).fill_null(0),
            (last_day - first_day).dt.total_days().alias(c.PURCHASE_INTERVAL_DAYS),
            (pl.col("snapshot") - last_day).dt.total_days().alias(c.RECENCY_DAYS),
        )
        .sort(c.CUSTOMER_ID)
        .select(c.CUSTOMER_ID, *c.FEATURES)
    )
    return _tidy(table.collect().to_pandas())


def _polars_pence(micros):
    """Micro-pounds (an Int64 Polars expression) to whole pence, halves up, as ``clean.pence``."""
    return (micros + 5_000) // 10_000


def _polars_pounds(pence):
    """Whole pence (an Int64 Polars expression) to pounds, the float numpy's ``pence / 100`` gives.

    Polars divides a column by a scalar through its reciprocal, which can miss the correctly
    rounded quotient by an ulp; a Decimal division is exact, and its cast to Float64 is that quotient.
    """
    import polars as pl

    return (pence.cast(pl.Decimal(38, 2)) / 100).cast(pl.Float64)


def pipeline_polars(path: Path) -> pd.DataFrame:
    """Polars from the Parquet file: the cleaning rules as lazy filters, then the features."""
    import polars as pl

    q, price = pl.col(c.QUANTITY), pl.col(c.UNIT_PRICE)

    def starts_with(column: str, prefix: str):  # any case; a missing text starts with nothing
        return (pl.col(column).str.slice(0, len(prefix)).str.to_lowercase() == prefix).fill_null(False)

    lines = (
        pl.scan_parquet(path).filter(pl.col(c.CUSTOMER_ID).is_not_null()).unique(maintain_order=False)
        .filter(
            ~(price <= 0) & ~(q == 0) & ~(starts_with(c.INVOICE, "c") & (q > 0)) & ~starts_with(c.STOCK_CODE, "test")
        )
    )
    # Collected once: left lazy, several branches of the features read and cleaned the file again.
    return features_polars(lines.collect())


def pipeline_pandas(path: Path) -> pd.DataFrame:
    """This package from the Parquet file: load, clean, features."""
    return build_customer_features(clean_invoices(load_invoices(path)).invoices)


def _tidy(table: pd.DataFrame) -> pd.DataFrame:
    """Another engine's result in this package's layout, for comparison."""
    table = table.set_index(c.CUSTOMER_ID)
    table.index = table.index.astype("Int64")
    for name in (c.MOST_COMMON_LOCATION, c.TOP_ITEM, c.TOP_ITEM_CODE):
        table[name] = table[name].astype("str")
    for name in (c.FIRST_PURCHASE, c.LAST_PURCHASE):
        table[name] = pd.to_datetime(table[name]).astype("datetime64[ns]")
    for name in (c.PURCHASE_INTERVAL_DAYS, c.RECENCY_DAYS):
        table[name] = table[name].astype("Int64")
    table[c.FREQUENCY] = table[c.FREQUENCY].astype("int64")
    return table[list(c.FEATURES)].sort_index()


# --- measuring -----------------------------------------------------------------------

FEATURE_ENGINES: dict[str, Callable] = {
    "segmentation (pandas)": build_customer_features,
    "naive per-group lambdas": features_naive,
    "DuckDB": features_duckdb,
    "Polars": features_polars,
}
PIPELINE_ENGINES: dict[str, Callable] = {
    "segmentation (pandas)": pipeline_pandas,
    "DuckDB": pipeline_duckdb,
    "Polars": pipeline_polars,
}


class _PeakMemory:
    """Peak resident memory above the level at start, sampled in a background thread."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self._stop = threading.Event()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(_SAMPLE_S)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def megabytes(self) -> float:
        return (self.peak - self.baseline) / 2**20


def _worker(stage: str, engine: str, source: str, repeats: int, result_path: str) -> dict:
    """Run one engine on one input ``repeats`` times in this process; save its first result."""
    if stage == "features":
        invoices = clean_invoices(load_invoices(source)).invoices
        argument = invoices
        if engine == "Polars":
            import polars as pl

            argument = pl.from_pandas(invoices.astype({name: "str" for name in c.TEXT_COLUMNS}))
        function = FEATURE_ENGINES[engine]
    else:
        argument, function = Path(source), PIPELINE_ENGINES[engine]
    times, peaks = [], []
    for run in range(repeats):
        with _PeakMemory() as memory:
            started = time.perf_counter()
            table = function(argument)
            times.append(time.perf_counter() - started)
        peaks.append(memory.megabytes)
        if run == 0:
            table.to_pickle(result_path)
        del table
    return {"median_s": statistics.median(times), "peak_mb": max(peaks), "runs": repeats}


def _measure(stage: str, engine: str, source: Path, repeats: int, workdir: Path) -> tuple[dict, pd.DataFrame]:
    result_path = workdir / f"{stage}-{engine.split()[0]}-{source.stem}.pkl"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", stage, engine, str(source),
               str(repeats), str(result_path)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1]), pd.read_pickle(result_path)


def _inputs(sizes: list[str], real_file: Path) -> list[tuple[str, Path, int]]:
    """(name, path, lines) of every input: the real file if present, then synthetic Parquet files."""
    inputs = []
    if real_file.exists():
        name = "real 2009-2010" if real_file.resolve() == config.REAL_DATA_PATH.resolve() else f"real {real_file.name}"
        inputs.append((name, real_file, len(load_invoices(real_file))))
    for name in sizes:
        path = BENCH_DIR / f"synthetic_{name}.parquet"
        if not path.exists():
            print(f"generating {path.relative_to(config.PROJECT_ROOT)} ...", flush=True)
            write_synthetic_parquet(path, n_lines=SYNTHETIC_SIZES[name], seed=SYNTHETIC_SEED)
        inputs.append((f"synthetic {name}", path, SYNTHETIC_SIZES[name]))
    return inputs


def run_benchmark(sizes: list[str], *, repeats: int, real_file: Path = config.REAL_DATA_PATH) -> pd.DataFrame:
    """Measure every (stage, engine, input); one row each, results checked equal first.

    ``real_file`` (any file ``load_invoices`` reads) is measured on the feature stage only; it is
    skipped when it does not exist.
    """
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        for input_name, path, n_lines in _inputs(sizes, real_file):
            stages = [("features", FEATURE_ENGINES)]
            if path != real_file:  # the real file's columns and text dates differ from the others'
                stages.append(("pipeline", PIPELINE_ENGINES))
            for stage, engines in stages:
                reference = None
                for engine in engines:
                    if engine.startswith("naive") and n_lines > NAIVE_MAX_LINES:
                        continue
                    stats, table = _measure(stage, engine, path, repeats, workdir)
                    if reference is None:
                        reference = table
                    else:
                        # sums are whole micro-pounds, pence rounded alike: equal exactly, values and dtypes
                        pd.testing.assert_frame_equal(table, reference, check_exact=True)
                    rows.append({"input": input_name, "lines": n_lines, "stage": stage, "engine": engine,
                                 "median_s": round(stats["median_s"], 3), "peak_mb": round(stats["peak_mb"])})
                    print(f"{input_name:>15} {stage:>8} {engine:>24} {stats['median_s']:8.3f} s "
                          f"{stats['peak_mb']:7.0f} MB", flush=True)
    table = pd.DataFrame(rows)
    ours = table[table["engine"] == "segmentation (pandas)"].set_index(["input", "stage"])["median_s"]
    table["time_vs_segmentation"] = (
        table["median_s"] / ours.reindex(pd.MultiIndex.from_frame(table[["input", "stage"]])).to_numpy()
    ).round(2)
    return table


def markdown_table(table: pd.DataFrame) -> str:
    """The results as the README shows them."""
    shown = table.assign(lines=table["lines"].map("{:,}".format)).rename(
        columns={"median_s": "median s", "peak_mb": "peak MB", "time_vs_segmentation": "time ÷ segmentation"}
    )
    return shown.to_markdown(index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="*", default=list(SYNTHETIC_SIZES), choices=list(SYNTHETIC_SIZES))
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per engine and input (median)")
    parser.add_argument("--real-file", type=Path, default=config.REAL_DATA_PATH,
                        help="a real invoice file measured on the feature stage (default: the bundled "
                             f"{config.display_path(config.REAL_DATA_PATH)}; skipped if it does not exist)")
    parser.add_argument("--worker", nargs=5, metavar=("STAGE", "ENGINE", "INPUT", "REPEATS", "RESULT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        stage, engine, source, repeats, result = args.worker
        print(json.dumps(_worker(stage, engine, source, int(repeats), result)))
        return 0
    table = run_benchmark(args.sizes, repeats=args.repeats, real_file=args.real_file)
    out = write_csv(table, BENCH_DIR / "bench.csv", index=False)
    (BENCH_DIR / "bench.md").write_text(markdown_table(table) + "\n", encoding="utf-8")
    print(table.to_string(index=False))
    print(f"wrote {out.relative_to(config.PROJECT_ROOT)} and bench.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
