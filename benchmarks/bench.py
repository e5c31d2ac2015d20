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

Every engine computes the same table, with the same tie-breaks; results are
checked equal to this package's before any timing is reported. Each (stage,
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
_TOLERANCE = 0.011  # money is rounded to pence; sums in another order may differ by a cent


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


_DUCKDB_FEATURES = """
WITH l AS (
    SELECT *, CAST(round(Quantity * UnitPrice * 1000000) AS BIGINT) AS micros FROM {source}
),
cust AS (
    SELECT CustomerID, sum(micros) AS gross_micros, min(InvoiceDate) AS first_p,
           max(InvoiceDate) AS last_p, count(DISTINCT InvoiceNo) AS frequency
    FROM l WHERE Quantity > 0 GROUP BY CustomerID
),
items AS (
    SELECT CustomerID, StockCode,
           sum(CASE WHEN Quantity > 0 THEN 1 ELSE 0 END) AS lines,
           sum(CASE WHEN Quantity > 0 THEN Quantity ELSE 0 END) AS purchased,
           sum(CASE WHEN Quantity < 0 THEN -Quantity ELSE 0 END) AS returned_q,
           sum(CASE WHEN Quantity < 0 THEN -micros ELSE 0 END) AS returned_micros
    FROM l GROUP BY CustomerID, StockCode
),
ret AS (
    SELECT CustomerID,
           sum(returned_micros / 1e6 * least(1.0, purchased / returned_q)) AS counted,
           sum(returned_micros / 1e6 - returned_micros / 1e6 * least(1.0, purchased / returned_q)) AS unmatched
    FROM items WHERE returned_q > 0 GROUP BY CustomerID
),
country AS (
    SELECT CustomerID, Country FROM (
        SELECT CustomerID, Country, row_number() OVER (
            PARTITION BY CustomerID ORDER BY count(*) DESC, Country ASC) AS r
        FROM l WHERE Quantity > 0 GROUP BY CustomerID, Country
    ) WHERE r = 1
),
descr AS (
    SELECT StockCode, Description FROM (
        SELECT StockCode, Description, row_number() OVER (
            PARTITION BY StockCode ORDER BY count(*) DESC, Description ASC) AS r
        FROM l WHERE Description IS NOT NULL GROUP BY StockCode, Description
    ) WHERE r = 1
),
top AS (
    SELECT CustomerID, StockCode FROM (
        SELECT CustomerID, StockCode, row_number() OVER (
            PARTITION BY CustomerID ORDER BY lines DESC, purchased DESC, StockCode ASC) AS r
        FROM items WHERE lines > 0 AND regexp_matches(StockCode, '^[0-9]{{5}}')
    ) WHERE r = 1
),
snapshot AS (SELECT date_trunc('day', max(InvoiceDate)) + INTERVAL 1 DAY AS day FROM l)
SELECT cust.CustomerID,
       round(cust.gross_micros / 1e6, 2) - round(coalesce(ret.counted, 0), 2) AS Total_Bill_Size,
       round(cust.gross_micros / 1e6, 2) AS Gross_Spend,
       round(coalesce(ret.counted, 0), 2) AS Returned_Amount,
       round(coalesce(ret.unmatched, 0), 2) AS Unmatched_Returns,
       cust.first_p AS First_Purchase, cust.last_p AS Last_Purchase,
       date_diff('day', date_trunc('day', cust.first_p), date_trunc('day', cust.last_p)) AS Purchase_Interval_Days,
       cust.frequency AS Frequency,
       date_diff('day', date_trunc('day', cust.last_p), (SELECT day FROM snapshot)) AS Recency_Days,
       country.Country AS Most_Common_Location,
       descr.Description AS Top_Item,
       top.StockCode AS Top_Item_Code
FROM cust
LEFT JOIN ret USING (CustomerID)
LEFT JOIN country USING (CustomerID)
LEFT JOIN top USING (CustomerID)
LEFT JOIN descr ON descr.StockCode = top.StockCode
ORDER BY cust.CustomerID
"""

_DUCKDB_CLEAN = """
(SELECT * FROM (SELECT DISTINCT * FROM read_parquet('{path}') WHERE CustomerID IS NOT NULL)
 WHERE UnitPrice > 0 AND Quantity <> 0 AND NOT (upper(InvoiceNo) LIKE 'C%' AND Quantity > 0))
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

    q, p, cid, code = pl.col(c.QUANTITY), pl.col(c.UNIT_PRICE), pl.col(c.CUSTOMER_ID), pl.col(c.STOCK_CODE)
    priced = lines.lazy().with_columns((q * p * 1_000_000).round(0).cast(pl.Int64).alias("micros"))
    bought = priced.filter(q > 0)
    cust = bought.group_by(c.CUSTOMER_ID).agg(
        pl.col("micros").sum().alias(GROSS_MICROS),
        pl.col(c.INVOICE_DATE).min().alias(c.FIRST_PURCHASE),
        pl.col(c.INVOICE_DATE).max().alias(c.LAST_PURCHASE),
        pl.col(c.INVOICE).n_unique().alias(c.FREQUENCY),
    )
    items = priced.group_by([c.CUSTOMER_ID, c.STOCK_CODE]).agg(
        (q > 0).sum().alias(LINES),
        pl.when(q > 0).then(q).otherwise(0).sum().alias("purchased"),
        pl.when(q < 0).then(-q).otherwise(0).sum().alias("returned_q"),
        pl.when(q < 0).then(-pl.col("micros")).otherwise(0).sum().alias("returned_micros"),
    )
    value = pl.col("returned_micros") / 1e6
    counted = value * pl.min_horizontal(pl.lit(1.0), pl.col("purchased") / pl.col("returned_q"))
    ret = items.filter(pl.col("returned_q") > 0).group_by(c.CUSTOMER_ID).agg(
        counted.sum().alias("counted"), (value - counted).sum().alias("unmatched")
    )
    country = (
        bought.group_by([c.CUSTOMER_ID, c.COUNTRY]).agg(pl.len().alias(LINES))
        .sort([c.CUSTOMER_ID, LINES, c.COUNTRY], descending=[False, True, False])
        .group_by(c.CUSTOMER_ID, maintain_order=True).first()
        .select(cid, pl.col(c.COUNTRY).alias(c.MOST_COMMON_LOCATION))
    )
    descr = (
        priced.filter(pl.col(c.DESCRIPTION).is_not_null()).group_by([c.STOCK_CODE, c.DESCRIPTION])
        .agg(pl.len().alias(LINES))
        .sort([c.STOCK_CODE, LINES, c.DESCRIPTION], descending=[False, True, False])
        .group_by(c.STOCK_CODE, maintain_order=True).first()
        .select(code, pl.col(c.DESCRIPTION).alias(c.TOP_ITEM))
    )
    top = (
        items.filter((pl.col(LINES) > 0) & code.str.contains(r"^\d{5}"))
        .sort([c.CUSTOMER_ID, LINES, "purchased", c.STOCK_CODE], descending=[False, True, True, False])
        .group_by(c.CUSTOMER_ID, maintain_order=True).first()
        .select(cid, code.alias(c.TOP_ITEM_CODE))
    )
    day = pl.col(c.INVOICE_DATE).max().dt.truncate("1d") + pl.duration(days=1)
    snapshot = priced.select(day.alias("snapshot"))
    gross = (pl.col(GROSS_MICROS) / 1e6).round(2)
    returned = pl.col("counted").fill_null(0.0).round(2)
    table = (
        cust.join(ret, on=c.CUSTOMER_ID, how="left").join(country, on=c.CUSTOMER_ID, how="left")
        .join(top, on=c.CUSTOMER_ID, how="left")
        .join(descr, left_on=c.TOP_ITEM_CODE, right_on=c.STOCK_CODE, how="left")
        .join(snapshot, how="cross")
        .with_columns(
            (gross - returned).alias(c.TOTAL_BILL_SIZE), gross.alias(c.GROSS_SPEND),
            returned.alias(c.RETURNED_AMOUNT),
            pl.col("unmatched").fill_null(0.0).round(2).alias(c.UNMATCHED_RETURNS),
            (pl.col(c.LAST_PURCHASE).dt.truncate("1d") - pl.col(c.FIRST_PURCHASE).dt.truncate("1d"))
            .dt.total_days().alias(c.PURCHASE_INTERVAL_DAYS),
            (pl.col("snapshot") - pl.col(c.LAST_PURCHASE).dt.truncate("1d")).dt.total_days().alias(c.RECENCY_DAYS),
        )
        .sort(c.CUSTOMER_ID)
        .select(c.CUSTOMER_ID, *c.FEATURES)
    )
    return _tidy(table.collect().to_pandas())


def pipeline_polars(path: Path) -> pd.DataFrame:
    """Polars from the Parquet file: the cleaning rules as lazy filters, then the features."""
    import polars as pl

    q, invoice = pl.col(c.QUANTITY), pl.col(c.INVOICE)
    lines = (
        pl.scan_parquet(path).filter(pl.col(c.CUSTOMER_ID).is_not_null()).unique(maintain_order=False)
        .filter((pl.col(c.UNIT_PRICE) > 0) & (q != 0) & ~(invoice.str.to_uppercase().str.starts_with("C") & (q > 0)))
    )
    return features_polars(lines)


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
                        pd.testing.assert_frame_equal(table, reference, check_dtype=False, atol=_TOLERANCE)
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
