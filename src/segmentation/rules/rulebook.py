"""The rules, written once as SQL and run by embedded DuckDB: cleaning with its ledger, and the features.

Every engine and every output uses these statements; an engine only decides
which lines a statement is given (a whole file, or one partition of lines that
holds every copy of each line and every line of each customer) and adds up
what the partitions return. There is no second implementation in the package.

The statements, in order:

- :data:`CLASSIFY`: the lines grouped into distinct lines (every canonical
  column equal), each with its number of ``copies`` and the first rule of
  :data:`segmentation.rules.clean.RULES` that removes it (``step``), or ``kept``.
  Copies after the first are the duplicate rule's; a line is counted under the
  first rule that removes it, so the ledger's rows add up.
- :data:`LEDGER`: rows and micro-pounds of |Quantity x UnitPrice| per step.
- :data:`CUSTOMER_PIECES`: one row per customer of the kept lines, with every
  feature that depends on that customer's lines alone (sums in micro-pounds,
  purchase occasions, most common country, top product code). Partitions that
  hold whole customers give disjoint rows.
- :data:`DESCRIPTION_COUNTS`: lines per (StockCode, Description); these add
  up across partitions.
- :data:`FEATURES`: the feature table from the pieces and the description
  counts of every partition: each product named, each sum rounded once to
  whole pence, Recency_Days counted to the snapshot.

Money is summed in whole micro-pounds (``config.MICROS_PER_POUND``) in
integer arithmetic; DuckDB sums integers exactly (into 128 bits), and the
ledger's total is checked to stay below ``config.MAX_TOTAL_MICROS``. Text is
compared byte by byte (UTF-8 order is code point order), so "alphabetically
first" is what Python's ``sorted`` says.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation import columns as c
from segmentation import config
from segmentation.reading.load import require_summable

if TYPE_CHECKING:
    import duckdb

#: A product is a StockCode that starts with five digits ("85123A", "22423");
#: POST, DOT, M, C2, BANK CHARGES, gift vouchers ... are not products.
PRODUCT_CODE_PATTERN = r"^[0-9]{5}"

#: Quantity x UnitPrice of a line in whole micro-pounds, rounded half to even (as ``numpy.round``).
#: Loading keeps every line under ``config.MAX_LINE_POUNDS`` (10^15 micro-pounds), so it fits a BIGINT.
LINE_MICROS = (f"CAST(round_even(CAST(Quantity AS DOUBLE) * UnitPrice * {config.MICROS_PER_POUND}, 0) "
               "AS BIGINT)")

#: Micro-pounds (a non-negative sum) to whole pence, halves rounded up: a sum is rounded once, from its
#: exact micro-pounds, so £1.015 is 102p on every platform (rounding the binary float 1.015 gives 101p).
_PENNY = config.MICROS_PER_POUND // 100


def _pence(micros: str) -> str:
    return f"(({micros}) + {_PENNY // 2}) // {_PENNY}"


def _starts_with(column: str, prefix: str) -> str:
    """True where the text starts with the lower-case ASCII ``prefix`` in any case; only the first
    ``len(prefix)`` characters are lower-cased, so no other letter can turn into one of the prefix's."""
    return f"coalesce(lower(left({column}, {len(prefix)})) = '{prefix}', false)"


#: The name of the rule that looks across lines: exact repeats of an earlier line (every canonical
#: column equal; the first copy is kept).
DUPLICATE = "duplicate"
#: The ledger's first and last steps: the lines read and the lines kept.
INPUT = "input"
KEPT = "kept"
#: Column of the ledger's counts: an amount in micro-pounds.
MICROS = "micros"

#: The cleaning rules, in the order they are applied: (name, the lines it removes as a SQL condition on
#: one line, the rule in words). A line is counted under the first rule that removes it; the duplicate
#: rule (no condition) is applied by grouping equal lines (:data:`CLASSIFY`).
RULES: tuple[tuple[str, str | None, str], ...] = (
    ("missing_customer", "CustomerID IS NULL", "CustomerID missing"),
    (DUPLICATE, None, "exact duplicate of an earlier line"),
    ("non_positive_price", "UnitPrice <= 0", "UnitPrice <= 0"),
    ("zero_quantity", "Quantity = 0", "Quantity = 0"),
    ("inconsistent_cancellation", f"{_starts_with('InvoiceNo', 'c')} AND Quantity > 0",
     'invoice starts with "C" but Quantity > 0'),
    ("test_line", _starts_with("StockCode", "test"), 'StockCode starts with "TEST" (test orders)'),
)


_COLUMNS = ", ".join(c.INVOICE_COLUMNS)
_STEP = "CASE " + " ".join(f"WHEN {condition} THEN '{name}'" for name, condition, _ in RULES if condition) + \
    f" ELSE '{KEPT}' END"
#: True where a line's StockCode names a product.
IS_PRODUCT = f"coalesce(regexp_matches(StockCode, '{PRODUCT_CODE_PATTERN}'), false)"
_IS_PRODUCT = IS_PRODUCT.replace("{", "{{").replace("}", "}}")  # kept through str.format

#: Distinct lines of ``{lines}`` (canonical columns; ``line_no`` too when ``{first_line}`` asks for it):
#: copies, micro-pounds of one copy, the step that removes the line (or ``kept``).
CLASSIFY = f"""
SELECT *, abs({LINE_MICROS}) AS abs_micros, {_STEP} AS step FROM (
    SELECT {_COLUMNS}, count(*) AS copies{{first_line}} FROM {{lines}} GROUP BY {_COLUMNS}
)
"""

#: Rows and micro-pounds per step, from the relation ``classified`` (:data:`CLASSIFY`).
LEDGER = f"""
SELECT '{INPUT}' AS step, sum(copies) AS rows, sum(copies * abs_micros) AS micros FROM classified
UNION ALL
SELECT 'missing_customer', sum(copies), sum(copies * abs_micros) FROM classified WHERE CustomerID IS NULL
UNION ALL
SELECT '{DUPLICATE}', sum(copies - 1), sum((copies - 1) * abs_micros) FROM classified WHERE CustomerID IS NOT NULL
UNION ALL
SELECT step, count(*), sum(abs_micros) FROM classified WHERE CustomerID IS NOT NULL GROUP BY step
"""

#: One row per customer of the kept lines ``{kept}``: what needs that customer's lines alone.
CUSTOMER_PIECES = f"""
WITH l AS (
    SELECT CustomerID, StockCode, Quantity, CAST(InvoiceDate AS TIMESTAMP_NS) AS InvoiceDate, Country,
           {LINE_MICROS} AS micros,
           {_IS_PRODUCT} AS product
    FROM {{kept}}
),
items AS (
    SELECT CustomerID, StockCode, bool_or(product) AS product,
           count(*) FILTER (WHERE Quantity > 0) AS lines,
           coalesce(sum(Quantity) FILTER (WHERE Quantity > 0), 0) AS purchased,
           coalesce(sum(micros) FILTER (WHERE Quantity > 0), 0) AS bought,
           coalesce(sum(-micros) FILTER (WHERE Quantity < 0), 0) AS returned,
           count(*) FILTER (WHERE Quantity < 0) > 0 AS has_return
    FROM l GROUP BY CustomerID, StockCode
),
money AS (
    SELECT CustomerID, bool_or(lines > 0) AS has_purchase,
           CAST(sum(bought) AS BIGINT) AS gross_micros,
           CAST(coalesce(sum(bought) FILTER (WHERE product), 0) AS BIGINT) AS product_micros,
           CAST(coalesce(sum(least(returned, bought)) FILTER (WHERE has_return), 0) AS BIGINT) AS counted_micros,
           CAST(coalesce(sum(returned - least(returned, bought)) FILTER (WHERE has_return), 0) AS BIGINT)
               AS unmatched_micros,
           CAST(coalesce(sum(least(returned, bought)) FILTER (WHERE has_return AND product), 0) AS BIGINT)
               AS product_counted_micros
    FROM items GROUP BY CustomerID
),
days AS (
    SELECT CustomerID,
           coalesce(sum(micros) FILTER (WHERE Quantity > 0), 0) AS bought,
           coalesce(sum(-micros) FILTER (WHERE Quantity < 0), 0) AS returned,
           min(InvoiceDate) FILTER (WHERE Quantity > 0) AS first_bought,
           max(InvoiceDate) FILTER (WHERE Quantity > 0) AS last_bought
    FROM l WHERE product GROUP BY CustomerID, date_trunc('day', InvoiceDate)
),
occasions AS (
    SELECT CustomerID, count(*) AS frequency, min(first_bought) AS first_purchase,
           max(last_bought) AS last_purchase
    FROM days WHERE bought > returned GROUP BY CustomerID
),
countries AS (
    SELECT CustomerID, Country AS country FROM (
        SELECT CustomerID, Country, row_number() OVER (
            PARTITION BY CustomerID ORDER BY count(*) DESC, Country ASC) AS r
        FROM l WHERE Quantity > 0 AND Country IS NOT NULL GROUP BY CustomerID, Country
    ) WHERE r = 1
),
top AS (
    SELECT CustomerID, StockCode AS top_code FROM (
        SELECT CustomerID, StockCode, row_number() OVER (
            PARTITION BY CustomerID ORDER BY lines DESC, purchased DESC, StockCode ASC) AS r
        FROM items WHERE lines > 0 AND product
    ) WHERE r = 1
)
SELECT money.*, CAST(coalesce(frequency, 0) AS BIGINT) AS frequency, first_purchase, last_purchase, country, top_code
FROM money
LEFT JOIN occasions USING (CustomerID)
LEFT JOIN countries USING (CustomerID)
LEFT JOIN top USING (CustomerID)
"""

#: Lines per (StockCode, Description) of the kept lines ``{kept}``.
DESCRIPTION_COUNTS = """
SELECT StockCode, Description, CAST(count(*) AS BIGINT) AS lines FROM {kept}
WHERE StockCode IS NOT NULL AND Description IS NOT NULL GROUP BY StockCode, Description
"""

#: Each StockCode's description: its most frequent Description in ``descriptions``
#: (:data:`DESCRIPTION_COUNTS`, added up here); ties go to the alphabetically first spelling.
NAMES = """
SELECT StockCode, Description FROM (
    SELECT StockCode, Description, row_number() OVER (
        PARTITION BY StockCode ORDER BY sum(lines) DESC, Description ASC) AS r
    FROM descriptions GROUP BY StockCode, Description
) WHERE r = 1
"""

#: The feature table from ``pieces`` (:data:`CUSTOMER_PIECES` of every partition) and ``descriptions``
#: (:data:`DESCRIPTION_COUNTS` of every partition, added up here); ``{snapshot}`` is a TIMESTAMP literal.
FEATURES = f"""
WITH names AS ({{names}}),
money AS (
    SELECT *, {_pence('gross_micros')} AS gross, {_pence('counted_micros')} AS returned
    FROM pieces WHERE has_purchase
)
SELECT CustomerID,
       CAST({{total}} AS DOUBLE) / 100 AS {c.TOTAL_BILL_SIZE},
       CAST(gross AS DOUBLE) / 100 AS {c.GROSS_SPEND},
       CAST(returned AS DOUBLE) / 100 AS {c.RETURNED_AMOUNT},
       CAST({_pence('unmatched_micros')} AS DOUBLE) / 100 AS {c.UNMATCHED_RETURNS},
       CAST({_pence('product_micros')} - {_pence('product_counted_micros')} AS DOUBLE) / 100 AS {c.PRODUCT_SPEND},
       CAST(first_purchase AS TIMESTAMP_NS) AS {c.FIRST_PURCHASE},
       CAST(last_purchase AS TIMESTAMP_NS) AS {c.LAST_PURCHASE},
       date_diff('day', date_trunc('day', first_purchase), date_trunc('day', last_purchase))
           AS {c.PURCHASE_INTERVAL_DAYS},
       frequency AS {c.FREQUENCY},
       date_diff('day', date_trunc('day', last_purchase), {{snapshot}}) AS {c.RECENCY_DAYS},
       country AS {c.MOST_COMMON_LOCATION},
       names.Description AS {c.TOP_ITEM},
       top_code AS {c.TOP_ITEM_CODE}
FROM money LEFT JOIN names ON names.StockCode = money.top_code
ORDER BY CustomerID
"""

#: Each customer's returns of each StockCode matched against their purchases of it (``{kept}``).
RETURNS = f"""
SELECT CustomerID, StockCode,
       CAST(-sum(Quantity) FILTER (WHERE Quantity < 0) AS BIGINT) AS returned_quantity,
       CAST(coalesce(sum(-micros) FILTER (WHERE Quantity < 0), 0) AS BIGINT) AS returned_micros,
       CAST(coalesce(sum(micros) FILTER (WHERE Quantity > 0), 0) AS BIGINT) AS bought_micros
FROM (SELECT *, {LINE_MICROS} AS micros FROM {{kept}})
GROUP BY CustomerID, StockCode HAVING count(*) FILTER (WHERE Quantity < 0) > 0
ORDER BY CustomerID, StockCode NULLS FIRST
"""


# --- running the statements ----------------------------------------------------------


def connect(*, threads: int | None = None, memory_limit: str | None = None,
            temp_directory: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection: ``threads`` (default: every core), ``memory_limit`` (e.g.
    ``"2GiB"``, default DuckDB's own) and ``temp_directory`` (where it spills above the limit)."""
    import duckdb

    connection = duckdb.connect(config={"preserve_insertion_order": False})
    _OPENED.add(connection)
    # DuckDB's own progress bar writes to standard output, a terminal or not, where the run's summary goes
    try:
        connection.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:  # a Jupyter kernel without ipywidgets: DuckDB draws no bar there
        pass
    if threads is not None:
        connection.execute(f"SET threads = {int(threads)}")
    if memory_limit is not None:
        connection.execute("SET memory_limit = ?", [memory_limit])
    if temp_directory is not None:
        connection.execute("SET temp_directory = ?", [str(temp_directory)])
    return connection


#: Every connection :func:`connect` opened and not yet collected, for :func:`interrupt`.
_OPENED: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()


def interrupt() -> None:
    """Stop the statement running on every connection this module opened, with DuckDB's own interrupt: a
    Ctrl-C handler calls it, because DuckDB now and then runs on after the KeyboardInterrupt of a Ctrl-C that
    lands during a statement. The statement raises "Query interrupted"; a closed connection is left alone."""
    import duckdb

    for opened in list(_OPENED):
        with suppress(duckdb.Error):
            opened.interrupt()


@contextmanager
def connection(**options: object) -> Iterator[duckdb.DuckDBPyConnection]:
    """:func:`connect`, closed at the end of the block."""
    opened = connect(**options)
    try:
        yield opened
    finally:
        opened.close()


#: The Arrow type each canonical column is handed to DuckDB as.
ARROW_TYPES: dict[str, pa.DataType] = {
    **dict.fromkeys(c.TEXT_COLUMNS, pa.string()),
    c.QUANTITY: pa.int64(),
    c.INVOICE_DATE: pa.timestamp("ns"),
    c.UNIT_PRICE: pa.float64(),
    c.CUSTOMER_ID: pa.int64(),
}
ARROW_SCHEMA = pa.schema([(name, ARROW_TYPES[name]) for name in c.INVOICE_COLUMNS])


def arrow_lines(invoices: pd.DataFrame, *, numbered: bool = False) -> pa.Table:
    """Canonical invoice lines as an Arrow table of :data:`ARROW_SCHEMA` (plus ``line_no``, the row's
    position, with ``numbered``)."""
    arrays = []
    for name in c.INVOICE_COLUMNS:
        values = invoices[name]
        if name in c.TEXT_COLUMNS and isinstance(values.dtype, pd.CategoricalDtype):
            array = pa.DictionaryArray.from_arrays(
                pa.array(values.cat.codes.to_numpy(), mask=values.isna().to_numpy()),
                pa.array(values.cat.categories.astype("str"), type=pa.string())).dictionary_decode()
        else:
            array = pa.Array.from_pandas(values).cast(ARROW_TYPES[name])
        arrays.append(array.cast(ARROW_TYPES[name]))
    table = pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)
    if numbered:
        table = table.append_column("line_no", pa.array(range(len(invoices)), type=pa.int64()))
    return table


def ledger_counts(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """:attr:`CleanResult.counts` of the relation ``classified``: index step, columns rows and micros."""
    found = {step: (int(rows or 0), int(micros or 0)) for step, rows, micros in connection.sql(LEDGER).fetchall()}
    steps = [INPUT, *(name for name, _, _ in RULES), KEPT]
    counts = pd.DataFrame(
        {c.LEDGER_ROWS: [found.get(step, (0, 0))[0] for step in steps],
         MICROS: [found.get(step, (0, 0))[1] for step in steps]},
        index=pd.Index(steps, name=c.LEDGER_STEP),
    )
    require_summable(int(counts.loc[INPUT, MICROS]), where="invoice lines")
    return counts


def classify_lines(invoices: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The ledger's counts (see :func:`ledger_counts`) of lines in memory and the positions of the lines
    kept (the first copy of each kept line), in order."""
    with connection(threads=config.DUCKDB_THREADS) as db:
        db.register("lines", arrow_lines(invoices, numbered=True))
        db.execute("CREATE TEMP TABLE classified AS " + CLASSIFY.format(
            lines="lines", first_line=", min(line_no) AS first_line"))
        counts = ledger_counts(db)
        kept = db.sql(f"SELECT first_line FROM classified WHERE step = '{KEPT}' ORDER BY first_line")
        return counts, kept.fetchnumpy()["first_line"]


def _of_lines(invoices: pd.DataFrame, expression: str) -> np.ndarray:
    """One SQL expression of the canonical columns, for each line in memory, in order."""
    with connection(threads=config.DUCKDB_THREADS) as db:
        db.register("lines", arrow_lines(invoices, numbered=True))
        return db.sql(f"SELECT {expression} AS value FROM lines ORDER BY line_no").fetchnumpy()["value"]


def line_micros(invoices: pd.DataFrame) -> pd.Series:
    """:data:`LINE_MICROS` of each line (int64; negative for returns)."""
    return pd.Series(_of_lines(invoices, LINE_MICROS), index=invoices.index, dtype="int64")


def is_product(stock_codes: pd.Series) -> pd.Series:
    """:data:`IS_PRODUCT` of each StockCode."""
    with connection(threads=config.DUCKDB_THREADS) as db:
        codes = pa.table({c.STOCK_CODE: pa.array(stock_codes.astype("str"), type=pa.string()),
                          "line_no": pa.array(range(len(stock_codes)), type=pa.int64())})
        db.register("codes", codes)
        found = db.sql(f"SELECT {IS_PRODUCT} AS value FROM codes ORDER BY line_no").fetchnumpy()["value"]
    return pd.Series(found, index=stock_codes.index, dtype=bool)


@dataclass(frozen=True)
class Pieces:
    """What the features of a set of whole customers are made from (see the module docstring):
    :data:`CUSTOMER_PIECES`, :data:`DESCRIPTION_COUNTS` and the latest InvoiceDate (None: no line)."""

    customers: pd.DataFrame
    descriptions: pd.DataFrame
    last_invoice_date: pd.Timestamp | None

    @property
    def empty(self) -> bool:
        return self.last_invoice_date is None


def pieces_of(connection: duckdb.DuckDBPyConnection, kept: str) -> Pieces:
    """The :class:`Pieces` of the kept lines in the relation (or subquery) ``kept``."""
    customers = connection.sql(CUSTOMER_PIECES.format(kept=kept)).to_arrow_table().to_pandas()
    descriptions = connection.sql(DESCRIPTION_COUNTS.format(kept=kept)).to_arrow_table().to_pandas()
    (last,) = connection.sql(f"SELECT max(CAST(InvoiceDate AS TIMESTAMP_NS)) FROM {kept}").fetchall()[0]
    return Pieces(customers, descriptions, None if last is None else pd.Timestamp(last))


def stack_pieces(parts: Iterable[Pieces]) -> Pieces:
    """The pieces of several partitions of whole customers together."""
    parts = [part for part in parts if not part.empty]
    if not parts:
        return Pieces(pd.DataFrame(), pd.DataFrame(), None)
    return Pieces(pd.concat([part.customers for part in parts], ignore_index=True),
                  pd.concat([part.descriptions for part in parts], ignore_index=True),
                  max(part.last_invoice_date for part in parts))


def snapshot_for(last_invoice_date: pd.Timestamp, snapshot_date: pd.Timestamp | str | None) -> pd.Timestamp:
    """``snapshot_date``'s day, or by default the day after the last invoice."""
    if snapshot_date is not None:
        return pd.Timestamp(snapshot_date).normalize()
    return pd.Timestamp(last_invoice_date).normalize() + pd.Timedelta(days=1)


def check_spend(spend: str) -> None:
    if spend not in ("net", "gross"):
        raise ValueError(f"spend must be 'net' or 'gross', not {spend!r}")


def features(pieces: Pieces, *, spend: Literal["net", "gross"] = "net",
             snapshot_date: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """The feature table (``columns.FEATURES``, index CustomerID) of :class:`Pieces`: see
    :func:`segmentation.rules.features.build_customer_features`."""
    check_spend(spend)
    if pieces.empty:
        return empty_features()
    snapshot = snapshot_for(pieces.last_invoice_date, snapshot_date)
    total = "gross - returned" if spend == "net" else "gross"
    with connection(threads=config.DUCKDB_THREADS) as db:
        db.register("pieces", pieces.customers)
        db.register("descriptions", pieces.descriptions)
        query = FEATURES.format(names=NAMES, total=total, snapshot=f"TIMESTAMP '{snapshot:%Y-%m-%d}'")
        table = db.sql(query).to_arrow_table()
    return typed_features(table)


def typed_features(table: pa.Table) -> pd.DataFrame:
    """The result of :data:`FEATURES` in the feature table's dtypes."""
    frame = table.to_pandas()
    out = pd.DataFrame(
        {
            **{name: frame[name].astype("float64") for name in c.MONEY_FEATURES},
            c.FIRST_PURCHASE: frame[c.FIRST_PURCHASE].astype("datetime64[ns]"),
            c.LAST_PURCHASE: frame[c.LAST_PURCHASE].astype("datetime64[ns]"),
            c.PURCHASE_INTERVAL_DAYS: frame[c.PURCHASE_INTERVAL_DAYS].astype("Int64"),
            c.FREQUENCY: frame[c.FREQUENCY].astype("int64"),
            c.RECENCY_DAYS: frame[c.RECENCY_DAYS].astype("Int64"),
            **{name: frame[name].astype("str") for name in (c.MOST_COMMON_LOCATION, c.TOP_ITEM, c.TOP_ITEM_CODE)},
        }
    )
    out.index = pd.Index(frame[c.CUSTOMER_ID].astype("Int64"), name=c.CUSTOMER_ID)
    return out[list(c.FEATURES)]


def empty_features() -> pd.DataFrame:
    """The feature table with no customer."""
    return typed_features(pa.table({
        c.CUSTOMER_ID: pa.array([], pa.int64()),
        **{name: pa.array([], pa.float64()) for name in c.MONEY_FEATURES},
        c.FIRST_PURCHASE: pa.array([], pa.timestamp("ns")),
        c.LAST_PURCHASE: pa.array([], pa.timestamp("ns")),
        **{name: pa.array([], pa.int64()) for name in (c.PURCHASE_INTERVAL_DAYS, c.FREQUENCY, c.RECENCY_DAYS)},
        **{name: pa.array([], pa.string()) for name in (c.MOST_COMMON_LOCATION, c.TOP_ITEM, c.TOP_ITEM_CODE)},
    }))


def features_of_lines(invoices: pd.DataFrame, *, spend: Literal["net", "gross"] = "net",
                      snapshot_date: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """The feature table of clean lines in memory (:func:`segmentation.rules.features.build_customer_features`)."""
    check_spend(spend)
    if invoices.empty:
        raise ValueError("no invoice lines: nothing to summarise")
    if invoices[c.CUSTOMER_ID].isna().any():
        raise ValueError("every clean line has a CustomerID; clean the lines first")
    with connection(threads=config.DUCKDB_THREADS) as db:
        db.register("lines", arrow_lines(invoices))
        pieces = pieces_of(db, "lines")
    return features(pieces, spend=spend, snapshot_date=snapshot_date)


def describe_stock_codes(invoices: pd.DataFrame) -> pd.Series:
    """:data:`NAMES` of lines in memory: a Series of Description indexed by StockCode."""
    with connection(threads=config.DUCKDB_THREADS) as db:
        db.register("lines", arrow_lines(invoices))
        db.execute("CREATE TEMP TABLE descriptions AS " + DESCRIPTION_COUNTS.format(kept="lines"))
        frame = db.sql(NAMES + " ORDER BY StockCode").to_arrow_table().to_pandas()
    return pd.Series(frame[c.DESCRIPTION].to_numpy(dtype=object), name=c.DESCRIPTION, dtype="str",
                     index=pd.Index(frame[c.STOCK_CODE].astype("str"), name=c.STOCK_CODE))


def returns_of_lines(invoices: pd.DataFrame) -> pd.DataFrame:
    """:data:`RETURNS` of clean lines in memory, index (CustomerID, StockCode), micro-pounds."""
    with connection(threads=config.DUCKDB_THREADS) as db:
        db.register("lines", arrow_lines(invoices))
        frame = db.sql(RETURNS.format(kept="lines")).to_arrow_table().to_pandas()
    frame[c.CUSTOMER_ID] = frame[c.CUSTOMER_ID].astype("Int64")
    frame[c.STOCK_CODE] = frame[c.STOCK_CODE].astype("str")
    return frame.set_index([c.CUSTOMER_ID, c.STOCK_CODE])
