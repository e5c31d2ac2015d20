"""The customer feature table computed by other means than this package, for ``benchmarks.bench``.

Every engine here computes the same table with the rules of ``segmentation.reading.load``,
``segmentation.rules.clean`` and ``segmentation.rules.features`` (canonical columns, text trimmed
and empty text missing, the duplicate rule, product lines, purchase occasions,
returns counted up to what was paid) and the same tie-breaks. Money is summed in
whole micro-pounds and each sum is rounded once to whole pence in integer
arithmetic, so a result can be checked exactly equal to this package's.

Each engine comes in two parts: a preparation that turns its input into the
engine's own form (a DuckDB table, a Polars frame, a connection with its thread
count), done before any timer starts, and a computation that returns the table in
the engine's own form (an Arrow table, a Polars frame). ``*_to_pandas`` puts a
result in this package's layout for the comparison.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segmentation import columns as c
from segmentation.rules.features import PRODUCT_CODE_PATTERN, build_customer_features, is_product

if TYPE_CHECKING:
    import duckdb
    import polars as pl

# Columns of the Polars computation's intermediate tables.
GROSS_MICROS = "gross_micros"
LINES = "lines"


# --- the naive idiom ----------------------------------------------------------------


def features_naive(invoices: pd.DataFrame) -> pd.DataFrame:
    """The per-group Python-function idiom of most public notebooks, with this package's rules."""
    purchases = invoices[invoices[c.QUANTITY] > 0]
    table = build_customer_features(invoices)
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




# --- DuckDB -------------------------------------------------------------------------

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


#: The lines of a file in canonical columns, as ``segmentation.reading.load`` reads them.
_DUCKDB_CLEAN = """
(SELECT * FROM (SELECT DISTINCT * FROM ({canonical}) WHERE CustomerID IS NOT NULL)
 WHERE NOT UnitPrice <= 0 AND NOT Quantity = 0
   AND NOT (coalesce(lower(left(InvoiceNo, 1)) = 'c', false) AND Quantity > 0)
   AND NOT coalesce(lower(left(StockCode, 4)) = 'test', false))
"""


def is_csv(path: Path) -> bool:
    """Whether ``path`` is one of the benchmark's CSV copies (UTF-8, comma, header on the first line)."""
    return path.suffix.lower() == ".csv"


def file_columns(path: Path) -> dict[str, pa.Field]:
    """The file's field for each canonical column, matched by the loader's header aliases; a CSV file's
    fields are text."""
    if is_csv(path):
        with path.open(encoding="utf-8", newline="") as file:
            header = next(csv.reader(file))
        schema = pa.schema([pa.field(name, pa.string()) for name in header])
    else:
        schema = pq.read_schema(path)
    found = {c.ALIASES.get(c.normalise_header(field.name)): field for field in schema}
    return {name: found[name] for name in c.INVOICE_COLUMNS}


def duckdb_connection(threads: int) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection limited to ``threads`` threads."""
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"SET threads={int(threads)}").fetchall()
    return connection


def duckdb_threads(connection: duckdb.DuckDBPyConnection) -> int:
    """The thread count the connection runs with."""
    return int(connection.execute("SELECT current_setting('threads')").fetchall()[0][0])


def duckdb_lines_table(connection: duckdb.DuckDBPyConnection, invoices: pd.DataFrame) -> None:
    """Copy clean lines (this package's frame) into the DuckDB table ``lines``."""
    frame = invoices.astype({name: "str" for name in c.TEXT_COLUMNS})  # noqa: F841 - scanned by name
    connection.execute("CREATE TABLE lines AS SELECT * FROM frame").fetchall()


def features_duckdb(connection: duckdb.DuckDBPyConnection) -> pa.Table:
    """DuckDB SQL over the table ``lines`` of clean lines."""
    return connection.sql(_DUCKDB_FEATURES.format(source="lines")).to_arrow_table()


def pipeline_duckdb(connection: duckdb.DuckDBPyConnection, path: Path) -> pa.Table:
    """DuckDB from the Parquet or CSV file: the loader's and the cleaning rules in SQL, then the features."""
    source = _DUCKDB_CLEAN.format(canonical=_duckdb_canonical(path))
    return connection.sql(_DUCKDB_FEATURES.format(source=source)).to_arrow_table()


def _duckdb_canonical(path: Path) -> str:
    """A SELECT of the file's lines in canonical columns and types."""
    fields = file_columns(path)
    parts = []
    for name, field in fields.items():
        quoted = '"' + field.name.replace('"', '""') + '"'
        if name in c.TEXT_COLUMNS:
            expression = f"nullif(trim(CAST({quoted} AS VARCHAR)), '')"
        elif name == c.INVOICE_DATE:
            expression = quoted if pa.types.is_timestamp(field.type) else f"CAST({quoted} AS TIMESTAMP)"
        elif name == c.UNIT_PRICE:
            expression = f"CAST({quoted} AS DOUBLE)"
        else:
            expression = f"CAST({quoted} AS BIGINT)"
        parts.append(f"{expression} AS {name}")
    file = str(path).replace("'", "''")
    reader = (f"read_csv('{file}', header=true, all_varchar=true)" if is_csv(path)
              else f"read_parquet('{file}')")
    return f"SELECT {', '.join(parts)} FROM {reader}"


def duckdb_to_pandas(table: pa.Table) -> pd.DataFrame:
    """A DuckDB result in this package's layout."""
    return _tidy(table.to_pandas())


# --- Polars -------------------------------------------------------------------------


def polars_threads() -> int:
    """The size of Polars' thread pool (``POLARS_MAX_THREADS`` when set before the import)."""
    import polars as pl

    return pl.thread_pool_size()


def polars_lines(invoices: pd.DataFrame) -> pl.DataFrame:
    """Clean lines (this package's frame) as a Polars frame."""
    import polars as pl

    return pl.from_pandas(invoices.astype({name: "str" for name in c.TEXT_COLUMNS}))


def features_polars(lines: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Polars on clean lines."""
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
    return table.collect()


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



def pipeline_polars(path: Path) -> pl.DataFrame:
    """Polars from the Parquet or CSV file: the loader's and the cleaning rules as lazy filters, then the features."""
    import polars as pl

    q, price = pl.col(c.QUANTITY), pl.col(c.UNIT_PRICE)

    def starts_with(column: str, prefix: str) -> pl.Expr:  # any case; a missing text starts with nothing
        return (pl.col(column).str.slice(0, len(prefix)).str.to_lowercase() == prefix).fill_null(False)

    lines = (
        (pl.scan_csv(path, infer_schema=False) if is_csv(path) else pl.scan_parquet(path))
        .select(_polars_canonical(path))
        .filter(pl.col(c.CUSTOMER_ID).is_not_null()).unique(maintain_order=False)
        .filter(
            ~(price <= 0) & ~(q == 0) & ~(starts_with(c.INVOICE, "c") & (q > 0)) & ~starts_with(c.STOCK_CODE, "test")
        )
    )
    # Collected once: left lazy, several branches of the features read and cleaned the file again.
    return features_polars(lines.collect())


def _polars_canonical(path: Path) -> list[pl.Expr]:
    """Expressions giving the file's lines in canonical columns and types."""
    import polars as pl

    expressions = []
    for name, field in file_columns(path).items():
        column = pl.col(field.name)
        if name in c.TEXT_COLUMNS:
            text = column.cast(pl.String).str.strip_chars()
            expression = pl.when(text.str.len_bytes() > 0).then(text)
        elif name == c.INVOICE_DATE:
            expression = (column.cast(pl.Datetime("ns")) if pa.types.is_timestamp(field.type)
                          else column.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="ns"))
        elif name == c.UNIT_PRICE:
            expression = column.cast(pl.Float64)
        else:
            expression = column.cast(pl.Int64)
        expressions.append(expression.alias(name))
    return expressions


def polars_to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """A Polars result in this package's layout."""
    return _tidy(frame.to_pandas())


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

