"""The oracle: the feature rules in pandas and numpy, independent of the package's SQL (segmentation.rules.rulebook).

Invoice lines -> one row per customer.

Input: clean invoice lines (see :func:`segmentation.rules.clean.clean_invoices`), one
row per line, where Quantity > 0 is a purchase and Quantity < 0 a return.
Output: one row per customer with at least one purchase line, index CustomerID,
columns :data:`columns.FEATURES`.

The purchase definition is the one ``segmentation.rules.features`` states.

The work has two steps. :func:`line_sums` reduces a batch of lines to small
tables of sums (per customer and StockCode, per customer and day, per customer
and country, per StockCode and description) that add up across batches — the
only step whose cost grows with the number of lines; :func:`summarise_lines`
is it for lines in memory. :func:`customer_pieces` reduces the added-up sums to
what each customer needs, and :func:`features_from_pieces` makes the features.
The sums of several batches add up in :func:`summaries_from_sums`. All money is summed in whole
micro-pounds, nothing runs a Python function per group, and no tie is broken
by file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from oracle_clean import line_amount_micros, pence, pounds
from segmentation import columns as c

#: A product is a StockCode that starts with five digits ("85123A", "22423");
#: POST, DOT, M, C2, BANK CHARGES, gift vouchers ... are not products.
PRODUCT_CODE_PATTERN = r"^[0-9]{5}"

# Columns of the summary tables.
LINES = "lines"
GROSS_MICROS = "gross_micros"
PURCHASED_QUANTITY = "purchased_quantity"
RETURNED_QUANTITY = "returned_quantity"
RETURNED_MICROS = "returned_micros"
RETURNED_VALUE = "returned_value"
COUNTED = "counted"
COUNTED_MICROS = "counted_micros"
UNMATCHED_MICROS = "unmatched_micros"
PRODUCT_MICROS = "product_micros"
PRODUCT_COUNTED_MICROS = "product_counted_micros"
DAY = "day"
BOUGHT_MICROS = "bought_micros"
FIRST_BOUGHT = "first_bought"
LAST_BOUGHT = "last_bought"


@dataclass(frozen=True)
class LineSummaries:
    """Invoice lines reduced to what every feature is computed from.

    Attributes
    ----------
    items
        One row per (CustomerID, StockCode) with any line: purchase ``lines``,
        ``purchased_quantity``, ``gross_micros`` (value bought, micro-pounds),
        ``returned_quantity`` (positive) and ``returned_micros`` (value
        returned, positive).
    days
        One row per (CustomerID, ``day``) with a product line: ``bought_micros``
        and ``returned_micros`` (value of product purchase and return lines
        that calendar day, both positive), ``first_bought`` and
        ``last_bought`` (earliest and latest InvoiceDate of a product purchase
        line that day; NaT when there is none).
    countries
        One row per (CustomerID, Country) with purchase lines: ``lines``.
    descriptions
        One row per (StockCode, Description) over all lines: ``lines``.
    last_invoice_date
        The latest InvoiceDate of any line.
    """

    items: pd.DataFrame
    days: pd.DataFrame
    countries: pd.DataFrame
    descriptions: pd.DataFrame
    last_invoice_date: pd.Timestamp


def is_product(stock_codes: pd.Series) -> pd.Series:
    """True where the StockCode names a product (starts with five digits)."""
    if isinstance(stock_codes.dtype, pd.CategoricalDtype):  # test each distinct code once
        codes = stock_codes.cat.codes.to_numpy()
        product_categories = is_product(pd.Series(stock_codes.cat.categories, dtype="str")).to_numpy()
        return pd.Series(np.append(product_categories, False)[codes], index=stock_codes.index)  # -1: missing
    return stock_codes.astype("str").str.match(PRODUCT_CODE_PATTERN).fillna(False).astype(bool)


def _is_product_text(texts: pd.Index) -> np.ndarray:
    """:func:`is_product` of each distinct text."""
    return is_product(pd.Series(texts, dtype="str")).to_numpy()


#: Columns of :attr:`LineSummaries.items` and of :attr:`LineSums.items`: they add up over lines.
ITEM_PARTS: tuple[str, ...] = (LINES, PURCHASED_QUANTITY, GROSS_MICROS, RETURNED_QUANTITY, RETURNED_MICROS)
#: Columns of :attr:`LineSums.days`: the first two add up, the last two are a minimum and a maximum.
DAY_PARTS: tuple[str, ...] = (BOUGHT_MICROS, RETURNED_MICROS, FIRST_BOUGHT, LAST_BOUGHT)
#: How each column of the sums tables combines across lines and batches.
REDUCERS: dict[str, np.ufunc] = {
    **dict.fromkeys(ITEM_PARTS, np.add), BOUGHT_MICROS: np.add, FIRST_BOUGHT: np.minimum, LAST_BOUGHT: np.maximum,
}
#: A first_bought of a day with no purchase line (above every date, so a minimum ignores it).
NO_FIRST = np.iinfo("int64").max
#: A last_bought of a day with no purchase line: NaT's integer, below every date.
NO_LAST = np.iinfo("int64").min
_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class LineSums:
    """What a batch of clean lines adds to :class:`LineSummaries`, in tables that add up across batches.

    :func:`summaries_from_sums` adds the sums of many batches up, in any order and whatever lines each holds.
    Text keys are integer codes into the batch's own sorted vocabularies
    (``stock_codes``, ``country_names``, ``description_texts``); dates are int64
    nanoseconds. Tables (plain columns, one row per key):

    - ``items``: CustomerID, StockCode (code, -1 for none) and :data:`ITEM_PARTS`;
    - ``days``: CustomerID, ``day`` (midnight) and :data:`DAY_PARTS`, product
      lines only; ``first_bought`` is :data:`NO_FIRST` and ``last_bought``
      :data:`NO_LAST` on a day without a purchase line;
    - ``countries``: CustomerID, Country (code) and the purchase ``lines``;
    - ``descriptions``: StockCode and Description (codes) and the ``lines``.
    """

    items: Columns
    days: Columns
    countries: Columns
    descriptions: Columns
    stock_codes: pd.Index
    country_names: pd.Index
    description_texts: pd.Index
    last_invoice_date: pd.Timestamp


#: A table as named columns of equal length: what the batch sums are kept in (no block copies).
Columns = dict[str, np.ndarray]


def rows(table: Columns) -> int:
    """The number of rows of ``table``."""
    return len(next(iter(table.values())))


def nbytes(table: Columns) -> int:
    """The bytes ``table``'s columns hold."""
    return sum(column.nbytes for column in table.values())


def take(table: Columns, rows_: np.ndarray) -> Columns:
    """The rows of ``table`` picked by a boolean mask or by positions."""
    return {name: column[rows_] for name, column in table.items()}


def concat(tables: list[Columns]) -> Columns:
    """The tables one under the other (same columns)."""
    if len(tables) == 1:
        return tables[0]
    return {name: np.concatenate([table[name] for table in tables]) for name in tables[0]}


#: Dense ranks of a key's values (0 for the smallest, in value order) and how many there can be.
Ranks = tuple[np.ndarray, int]


def group_reduce(table: Columns, keys: list[str], known: dict[str, Ranks] | None = None) -> Columns:
    """One row per distinct ``keys`` (integers), sorted by them; every other column reduced
    with its :data:`REDUCERS` entry (exact integer sums, minima and maxima).

    One int64 key per row (the keys' dense ranks in mixed radix), one argsort and one
    ``reduceat`` per column: no Python per group, no intermediate table per key. ``known``
    gives the ranks of keys that have them already (category codes, a customer factorized once).
    """
    if not rows(table):
        return table
    ranks, sizes = [], []
    for key in keys:
        if known and key in known:
            codes, size = known[key]
        else:
            codes, uniques = pd.factorize(table[key], sort=True)
            size = len(uniques)
        ranks.append(codes.astype("int64", copy=False))
        sizes.append(size)
    if np.prod(np.array(sizes, dtype="float64")) >= 2**62:
        raise ValueError(f"too many distinct {', '.join(keys)} to group in one int64 key")
    combined = ranks[0]
    for rank, size in zip(ranks[1:], sizes[1:], strict=True):
        combined = combined * size + rank
    order = np.argsort(combined)
    ordered = combined[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    firsts = order[starts]
    out = {key: table[key][firsts] for key in keys}
    for name, column in table.items():
        if name not in out:
            out[name] = REDUCERS[name].reduceat(column[order], starts)
    return out


def _text_codes(text: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of a text column (-1 where missing) and its sorted distinct texts."""
    if not isinstance(text.dtype, pd.CategoricalDtype):
        text = text.astype("str").astype("category")  # categories sorted
    categories = pd.Index(text.cat.categories.astype("str"))
    codes = text.cat.codes.to_numpy().astype("int64")
    if not categories.is_monotonic_increasing:
        order = np.argsort(categories.to_numpy(dtype=object), kind="stable")
        rank = np.empty(len(order), dtype="int64")
        rank[order] = np.arange(len(order))
        codes = np.where(codes >= 0, rank[codes], -1)
        categories = categories[order]
    return codes, categories


def line_sums(invoices: pd.DataFrame) -> LineSums:
    """The :class:`LineSums` of a batch of clean invoice lines (canonical columns, every line with a
    CustomerID). Amounts are :func:`clean.line_amount_micros`; a line with Quantity > 0 is a purchase."""
    if invoices.empty:
        raise ValueError("no invoice lines: nothing to summarise")
    customers = invoices[c.CUSTOMER_ID]
    if customers.isna().any():
        raise ValueError("every clean line has a CustomerID; clean the lines first")
    customer = customers.to_numpy(dtype="int64")
    ranked, customer_ids = pd.factorize(customer, sort=True)
    quantity = invoices[c.QUANTITY].to_numpy(dtype="int64")
    micros = line_amount_micros(invoices).to_numpy()
    bought = quantity > 0
    stock, stock_codes = _text_codes(invoices[c.STOCK_CODE])
    country, country_names = _text_codes(invoices[c.COUNTRY])
    description, description_texts = _text_codes(invoices[c.DESCRIPTION])
    returned_micros = np.where(bought, 0, -micros)
    items = group_reduce({
        c.CUSTOMER_ID: customer, c.STOCK_CODE: stock, LINES: bought.astype("int64"),
        PURCHASED_QUANTITY: np.where(bought, quantity, 0), GROSS_MICROS: np.where(bought, micros, 0),
        RETURNED_QUANTITY: np.where(bought, 0, -quantity), RETURNED_MICROS: returned_micros,
    }, [c.CUSTOMER_ID, c.STOCK_CODE], {c.CUSTOMER_ID: (ranked, len(customer_ids)),
                                        c.STOCK_CODE: (stock + 1, len(stock_codes) + 1)})
    product = np.append(_is_product_text(stock_codes), False)[stock]  # code -1 (no StockCode): the False
    nanoseconds = invoices[c.INVOICE_DATE].to_numpy(dtype="datetime64[ns]").view("int64")[product]
    bought_product = bought[product]
    day = nanoseconds // _NS_PER_DAY
    first_day = day.min() if len(day) else 0
    days = group_reduce({
        c.CUSTOMER_ID: customer[product], DAY: day * _NS_PER_DAY,
        BOUGHT_MICROS: np.where(bought_product, micros[product], 0), RETURNED_MICROS: returned_micros[product],
        FIRST_BOUGHT: np.where(bought_product, nanoseconds, NO_FIRST),
        LAST_BOUGHT: np.where(bought_product, nanoseconds, NO_LAST),
    }, [c.CUSTOMER_ID, DAY], {c.CUSTOMER_ID: (ranked[product], len(customer_ids)),
                              DAY: (day - first_day, int(day.max() - first_day + 1) if len(day) else 1)})
    located = bought & (country >= 0)
    described = (stock >= 0) & (description >= 0)
    countries = group_reduce({
        c.CUSTOMER_ID: customer[located], c.COUNTRY: country[located], LINES: np.ones(located.sum(), "int64"),
    }, [c.CUSTOMER_ID, c.COUNTRY], {c.CUSTOMER_ID: (ranked[located], len(customer_ids)),
                                    c.COUNTRY: (country[located], len(country_names))})
    descriptions = group_reduce({
        c.STOCK_CODE: stock[described], c.DESCRIPTION: description[described],
        LINES: np.ones(described.sum(), "int64"),
    }, [c.STOCK_CODE, c.DESCRIPTION], {c.STOCK_CODE: (stock[described], len(stock_codes)),
                                       c.DESCRIPTION: (description[described], len(description_texts))})
    return LineSums(
        items=items,
        days=days,
        countries=countries,
        descriptions=descriptions,
        stock_codes=stock_codes,
        country_names=country_names,
        description_texts=description_texts,
        last_invoice_date=invoices[c.INVOICE_DATE].max(),
    )


#: The text key of each :class:`LineSums` table, with the attribute holding its vocabulary.
TEXT_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "items": ((c.STOCK_CODE, "stock_codes"),),
    "days": (),
    "countries": ((c.COUNTRY, "country_names"),),
    "descriptions": ((c.STOCK_CODE, "stock_codes"), (c.DESCRIPTION, "description_texts")),
}
#: The keys of each :class:`LineSums` table.
TABLE_KEYS: dict[str, list[str]] = {
    "items": [c.CUSTOMER_ID, c.STOCK_CODE],
    "days": [c.CUSTOMER_ID, DAY],
    "countries": [c.CUSTOMER_ID, c.COUNTRY],
    "descriptions": [c.STOCK_CODE, c.DESCRIPTION],
}


def recode(codes: np.ndarray, into: np.ndarray) -> np.ndarray:
    """Codes of one vocabulary as codes of another (``into[code]``); -1 stays -1."""
    return np.where(codes >= 0, into[np.maximum(codes, 0)], -1) if len(into) else codes


#: The vocabularies of :class:`LineSums`, by attribute name.
VOCABULARIES = ("stock_codes", "country_names", "description_texts")


def coded_tables(sums: LineSums, ids: dict[str, np.ndarray]) -> dict[str, Columns]:
    """The tables of ``sums`` with text codes replaced by ``ids[vocabulary][code]`` (codes of a
    vocabulary that spans batches)."""
    return {
        table: {**getattr(sums, table), **{
            key: recode(getattr(sums, table)[key], ids[vocabulary]) for key, vocabulary in TEXT_KEYS[table]
        }}
        for table in TABLE_KEYS
    }


def reduce_tables(
    tables: dict[str, list[Columns]], vocabularies: dict[str, pd.Index], *, last_invoice_date: pd.Timestamp
) -> LineSummaries:
    """:class:`LineSummaries` from pieces of :class:`LineSums` tables whose text codes index
    ``vocabularies`` (distinct texts in any order): the pieces are added up per key. Each piece
    has unique keys (as :func:`group_reduce` leaves them)."""
    ranks, ordered, unchanged = {}, {}, {}
    for name, texts in vocabularies.items():
        order = np.argsort(texts.to_numpy(dtype=object), kind="stable")
        ranks[name] = np.empty(len(order), dtype="int64")
        ranks[name][order] = np.arange(len(order))
        ordered[name] = pd.Index(texts.to_numpy(dtype=object)[order], dtype="str")
        unchanged[name] = bool((order == np.arange(len(order))).all())
    reduced = {}
    for table, keys in TABLE_KEYS.items():
        pieces = tables[table]
        frame = concat(pieces)
        recoded = [vocabulary for _, vocabulary in TEXT_KEYS[table] if not unchanged[vocabulary]]
        frame = {**frame, **{key: recode(frame[key], ranks[vocabulary])
                             for key, vocabulary in TEXT_KEYS[table] if vocabulary in recoded}}
        # one piece, codes already in text order: its keys are unique and sorted
        reduced[table] = frame if len(pieces) == 1 and not recoded else group_reduce(frame, keys)
    return summaries_of_tables(
        reduced, stock_codes=ordered["stock_codes"], country_names=ordered["country_names"],
        description_texts=ordered["description_texts"], last_invoice_date=last_invoice_date,
    )


def summaries_from_sums(sums: list[LineSums]) -> LineSummaries:
    """The :class:`LineSummaries` of the lines of every batch together, from their :class:`LineSums`."""
    vocabularies = {
        name: pd.Index(pd.unique(np.concatenate([getattr(part, name).to_numpy(dtype=object) for part in sums])),
                       dtype="str")
        for name in VOCABULARIES
    }
    tables: dict[str, list[Columns]] = {table: [] for table in TABLE_KEYS}
    for part in sums:
        ids = {name: vocabularies[name].get_indexer(getattr(part, name)) for name in VOCABULARIES}
        for table, frame in coded_tables(part, ids).items():
            tables[table].append(frame)
    return reduce_tables(tables, vocabularies, last_invoice_date=max(part.last_invoice_date for part in sums))


def summaries_of_tables(
    tables: dict[str, Columns], *, stock_codes: pd.Index, country_names: pd.Index,
    description_texts: pd.Index, last_invoice_date: pd.Timestamp,
) -> LineSummaries:
    """:class:`LineSummaries` from reduced :class:`LineSums` tables whose codes index the sorted
    vocabularies given (keys unique and sorted, as :func:`group_reduce` leaves them)."""
    def categorical(codes: np.ndarray, vocabulary: pd.Index) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=vocabulary)

    items, days = tables["items"], tables["days"]
    countries, descriptions = tables["countries"], tables["descriptions"]
    first = days[FIRST_BOUGHT]
    return LineSummaries(
        items=pd.DataFrame(
            {name: items[name] for name in ITEM_PARTS},
            index=pd.MultiIndex.from_arrays(
                [items[c.CUSTOMER_ID], categorical(items[c.STOCK_CODE], stock_codes)],
                names=[c.CUSTOMER_ID, c.STOCK_CODE],
            ),
        ),
        days=pd.DataFrame(
            {
                BOUGHT_MICROS: days[BOUGHT_MICROS],
                RETURNED_MICROS: days[RETURNED_MICROS],
                FIRST_BOUGHT: np.where(first == NO_FIRST, NO_LAST, first).view("datetime64[ns]"),
                LAST_BOUGHT: days[LAST_BOUGHT].view("datetime64[ns]"),
            },
            index=pd.MultiIndex.from_arrays(
                [days[c.CUSTOMER_ID], days[DAY].view("datetime64[ns]")],
                names=[c.CUSTOMER_ID, DAY],
            ),
        ),
        countries=pd.DataFrame(
            {LINES: countries[LINES]},
            index=pd.MultiIndex.from_arrays(
                [countries[c.CUSTOMER_ID], categorical(countries[c.COUNTRY], country_names)],
                names=[c.CUSTOMER_ID, c.COUNTRY],
            ),
        ),
        descriptions=pd.DataFrame(
            {LINES: descriptions[LINES]},
            index=pd.MultiIndex.from_arrays(
                [categorical(descriptions[c.STOCK_CODE], stock_codes),
                 categorical(descriptions[c.DESCRIPTION], description_texts)],
                names=[c.STOCK_CODE, c.DESCRIPTION],
            ),
        ),
        last_invoice_date=last_invoice_date,
    )


def summarise_lines(invoices: pd.DataFrame) -> LineSummaries:
    """Reduce clean invoice lines to the tables of :class:`LineSummaries`."""
    return summaries_from_sums([line_sums(invoices)])


def _count(lines: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return lines.groupby(keys, observed=True, sort=True).size().rename(LINES).to_frame()


def describe_stock_codes(descriptions: pd.DataFrame) -> pd.Series:
    """The description of each StockCode: its most frequent Description.

    ``descriptions`` is :attr:`LineSummaries.descriptions` (or invoice lines,
    which are counted first). One code can be spelt several ways; ties go to
    the alphabetically first spelling. Returns a Series indexed by StockCode.
    """
    if LINES not in descriptions.columns:
        descriptions = _count(descriptions.dropna(subset=[c.DESCRIPTION]), [c.STOCK_CODE, c.DESCRIPTION])
    return _first_per_group(
        descriptions.reset_index(), c.STOCK_CODE, [LINES, c.DESCRIPTION], [False, True]
    )[c.DESCRIPTION]


def match_returns(invoices_or_summaries: pd.DataFrame | LineSummaries) -> pd.DataFrame:
    """The returns matched against purchases: the contract of ``segmentation.rules.features.match_returns``."""
    if isinstance(invoices_or_summaries, LineSummaries):
        items = invoices_or_summaries.items
    else:
        items = summarise_lines(invoices_or_summaries).items
    pairs = match_returns_of_items(items)
    return pd.DataFrame(
        {
            RETURNED_QUANTITY: pairs[RETURNED_QUANTITY],
            RETURNED_VALUE: pounds(pairs[RETURNED_MICROS]),
            COUNTED: pounds(pairs[COUNTED_MICROS]),
            c.UNMATCHED_RETURNS: pounds(pairs[UNMATCHED_MICROS]),
        }
    )


def match_returns_of_items(items: pd.DataFrame) -> pd.DataFrame:
    """:func:`match_returns` in whole micro-pounds, from :attr:`LineSummaries.items`.

    One row per (CustomerID, StockCode) with a return: ``returned_quantity``,
    ``returned_micros``, ``counted_micros`` = min(returned, bought) and
    ``unmatched_micros`` = returned - counted.
    """
    pairs = items[items[RETURNED_QUANTITY] > 0]
    returned = pairs[RETURNED_MICROS]
    counted = np.minimum(returned, pairs[GROSS_MICROS])
    return pd.DataFrame(
        {
            RETURNED_QUANTITY: pairs[RETURNED_QUANTITY],
            RETURNED_MICROS: returned,
            COUNTED_MICROS: counted,
            UNMATCHED_MICROS: returned - counted,
        }
    )


def build_customer_features(
    invoices: pd.DataFrame,
    *,
    spend: Literal["net", "gross"] = "net",
    snapshot_date: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """The feature table of clean lines (the contract of ``segmentation.rules.features.build_customer_features``)."""
    _check_spend(spend)
    return features_from_summaries(summarise_lines(invoices), spend=spend, snapshot_date=snapshot_date)


def _check_spend(spend: str) -> None:
    if spend not in ("net", "gross"):
        raise ValueError(f"spend must be 'net' or 'gross', not {spend!r}")


def features_from_summaries(
    summaries: LineSummaries,
    *,
    spend: Literal["net", "gross"] = "net",
    snapshot_date: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """The customer feature table from :class:`LineSummaries`; same contract as
    :func:`build_customer_features`."""
    return features_from_pieces(customer_pieces(summaries), spend=spend, snapshot_date=snapshot_date)


@dataclass(frozen=True)
class CustomerPieces:
    """Per-customer results of a set of whole customers, and what spans customers.

    Attributes
    ----------
    customers
        :func:`customer_purchases`: one row per customer with a purchase line.
    returns
        :func:`customer_returns`: one row per customer with a return line.
    locations
        :func:`most_common_country`: a Series, one row per customer with a purchase.
    top_item_codes
        :func:`top_item_codes`: a Series, one row per customer who bought a product.
    descriptions
        :attr:`LineSummaries.descriptions`: lines per (StockCode, Description).
    last_invoice_date
        The latest InvoiceDate of any line.
    """

    customers: pd.DataFrame
    returns: pd.DataFrame
    locations: pd.Series
    top_item_codes: pd.Series
    descriptions: pd.DataFrame
    last_invoice_date: pd.Timestamp

    @property
    def counted_micros(self) -> int:
        """Micro-pounds of returns counted against purchases, over every customer."""
        return int(self.returns[COUNTED_MICROS].sum())

    @property
    def unmatched_micros(self) -> int:
        """Micro-pounds of returns left unmatched, over every customer."""
        return int(self.returns[UNMATCHED_MICROS].sum())

    @property
    def return_only_customers(self) -> pd.Index:
        """Customers with return lines and no purchase line: not in the feature table."""
        return self.returns.index.difference(self.customers.index)


def customer_pieces(summaries: LineSummaries) -> CustomerPieces:
    """What each customer's features are made from, customer by customer (see :class:`CustomerPieces`)."""
    return CustomerPieces(
        customers=customer_purchases(summaries.items, summaries.days),
        returns=customer_returns(summaries.items),
        locations=most_common_country(summaries.countries),
        top_item_codes=top_item_codes(summaries.items),
        descriptions=summaries.descriptions,
        last_invoice_date=summaries.last_invoice_date,
    )


def stack_tables(tables: list) -> pd.DataFrame | pd.Series:
    """The tables one under the other; empty ones left out (their dtypes may be only a guess)."""
    filled = [table for table in tables if len(table)]
    return pd.concat(filled) if filled else tables[0]


def features_from_pieces(
    pieces: CustomerPieces,
    *,
    spend: Literal["net", "gross"] = "net",
    snapshot_date: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """The customer feature table from :class:`CustomerPieces`; same contract as
    :func:`build_customer_features`."""
    return assemble_features(
        pieces.customers,
        returns=pieces.returns,
        locations=pieces.locations,
        top_items=name_items(pieces.top_item_codes, describe_stock_codes(pieces.descriptions)),
        snapshot=snapshot_for(pieces.last_invoice_date, snapshot_date),
        spend=spend,
    )


def snapshot_for(last_invoice_date: pd.Timestamp, snapshot_date: pd.Timestamp | str | None) -> pd.Timestamp:
    """``snapshot_date``'s day, or by default the day after the last invoice."""
    if snapshot_date is not None:
        return pd.Timestamp(snapshot_date).normalize()
    return pd.Timestamp(last_invoice_date).normalize() + pd.Timedelta(days=1)


def purchase_occasions(days: pd.DataFrame) -> pd.DataFrame:
    """The rows of :attr:`LineSummaries.days` that are purchase occasions.

    A (customer, calendar day) is an occasion when the value of the customer's
    product purchase lines that day exceeds the value of their product return
    lines that day: an order cancelled the same day is no occasion, and two
    invoices on one day are one.
    """
    return days[days[BOUGHT_MICROS] > days[RETURNED_MICROS]]


def customer_purchases(items: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """One row per customer with a purchase line, index CustomerID.

    Columns: ``gross_micros`` (value of every purchase line) and
    ``product_micros`` (of product purchase lines), from ``items``;
    First_Purchase, Last_Purchase and Frequency from the
    :func:`purchase_occasions` of ``days`` (missing dates and Frequency 0 for
    a customer with no occasion).
    """
    bought = items[items[LINES] > 0]
    product = is_product(bought.index.get_level_values(c.STOCK_CODE).to_series()).to_numpy()
    money = pd.DataFrame(
        {GROSS_MICROS: bought[GROSS_MICROS], PRODUCT_MICROS: bought[GROSS_MICROS].where(product, 0)}
    ).groupby(level=c.CUSTOMER_ID, sort=True).sum()
    occasions = purchase_occasions(days).groupby(level=c.CUSTOMER_ID, sort=True).agg(
        **{
            c.FIRST_PURCHASE: (FIRST_BOUGHT, "min"),
            c.LAST_PURCHASE: (LAST_BOUGHT, "max"),
            c.FREQUENCY: (BOUGHT_MICROS, "size"),
        }
    )
    customers = money.join(occasions, how="left")
    customers[c.FREQUENCY] = customers[c.FREQUENCY].fillna(0).astype("int64")
    return customers


def customer_returns(items: pd.DataFrame) -> pd.DataFrame:
    """One row per customer with a return line, index CustomerID, in micro-pounds:
    ``counted_micros`` and ``unmatched_micros`` (see :func:`match_returns_of_items`), and
    ``product_counted_micros``, the counted returns of products."""
    pairs = match_returns_of_items(items)
    product = is_product(pairs.index.get_level_values(c.STOCK_CODE).to_series()).to_numpy()
    return pd.DataFrame(
        {
            COUNTED_MICROS: pairs[COUNTED_MICROS],
            UNMATCHED_MICROS: pairs[UNMATCHED_MICROS],
            PRODUCT_COUNTED_MICROS: pairs[COUNTED_MICROS].where(product, 0),
        }
    ).groupby(level=c.CUSTOMER_ID, sort=True).sum()


def assemble_features(
    customers: pd.DataFrame,
    *,
    returns: pd.DataFrame,
    locations: pd.Series,
    top_items: pd.DataFrame,
    snapshot: pd.Timestamp,
    spend: Literal["net", "gross"] = "net",
) -> pd.DataFrame:
    """The feature table from per-customer pieces, each indexed by CustomerID.

    ``customers`` comes from :func:`customer_purchases`, ``returns`` from
    :func:`customer_returns`, ``locations`` from :func:`most_common_country`
    and ``top_items`` from :func:`top_items`. Customers missing from a piece
    get no returns, or no country / top item.
    """
    _check_spend(spend)
    customers = customers.sort_index()
    returns = returns.reindex(customers.index).fillna(0).astype("int64")
    # each sum rounded once to whole pence, then subtracted: Total = Gross - Returned to the penny
    gross, returned = pence(customers[GROSS_MICROS]), pence(returns[COUNTED_MICROS])
    product = pence(customers[PRODUCT_MICROS]) - pence(returns[PRODUCT_COUNTED_MICROS])
    first_day = customers[c.FIRST_PURCHASE].dt.normalize()
    last_day = customers[c.LAST_PURCHASE].dt.normalize()
    table = pd.DataFrame(
        {
            c.TOTAL_BILL_SIZE: ((gross - returned) if spend == "net" else gross) / 100,
            c.GROSS_SPEND: gross / 100,
            c.RETURNED_AMOUNT: returned / 100,
            c.UNMATCHED_RETURNS: pence(returns[UNMATCHED_MICROS]) / 100,
            c.PRODUCT_SPEND: product / 100,
            c.FIRST_PURCHASE: customers[c.FIRST_PURCHASE].astype("datetime64[ns]"),
            c.LAST_PURCHASE: customers[c.LAST_PURCHASE].astype("datetime64[ns]"),
            c.PURCHASE_INTERVAL_DAYS: (last_day - first_day).dt.days.astype("Int64"),
            c.FREQUENCY: customers[c.FREQUENCY].astype("int64"),
            c.RECENCY_DAYS: (snapshot - last_day).dt.days.astype("Int64"),
        },
        index=customers.index.astype("Int64"),
    )
    locations = locations.copy()
    locations.index = locations.index.astype("Int64")
    top_items = top_items.copy()
    top_items.index = top_items.index.astype("Int64")
    table[c.MOST_COMMON_LOCATION] = locations.reindex(table.index).astype("str")
    table = table.join(top_items)
    for name in (c.TOP_ITEM, c.TOP_ITEM_CODE):
        table[name] = table[name].astype("str")
    return table[list(c.FEATURES)]


def _first_per_group(
    table: pd.DataFrame, group: str, order: list[str], ascending: list[bool]
) -> pd.DataFrame:
    """The first row of each ``group`` after sorting by ``order``; index ``group``.

    Text keys are compared as text (not by category code), so "alphabetically
    first" means what it says whatever the column's dtype.
    """
    table = table.assign(**{
        name: table[name].astype("str")
        for name in [group, *order]
        if isinstance(table[name].dtype, pd.CategoricalDtype)
        and not table[name].cat.categories.is_monotonic_increasing
    })
    ordered = table.sort_values([group, *order], ascending=[True, *ascending], kind="stable")
    return ordered.drop_duplicates(group).set_index(group)


def most_common_country(countries: pd.DataFrame) -> pd.Series:
    """Country with the most purchase lines per customer; ties -> alphabetically first."""
    first = _first_per_group(countries.reset_index(), c.CUSTOMER_ID, [LINES, c.COUNTRY], [False, True])
    return first[c.COUNTRY].astype("str")


def top_items(items: pd.DataFrame, descriptions: pd.Series) -> pd.DataFrame:
    """Product with the most purchase lines per customer, and its name.

    :func:`top_item_codes` named by :func:`name_items`. Customers who bought no
    product (postage only, say) are absent and get missing values.
    """
    return name_items(top_item_codes(items), descriptions)


def top_item_codes(items: pd.DataFrame) -> pd.Series:
    """The StockCode of each customer's top product: the most purchase lines.

    Ties -> larger total quantity, then the smaller StockCode. ``items`` is
    :attr:`LineSummaries.items`; customers who bought no product are absent.
    Three segment maxima over the rows sorted by customer: no sort by the tie-breaks.
    """
    stock = items.index.get_level_values(c.STOCK_CODE).to_series(index=items.index)
    bought = items[(items[LINES] > 0).to_numpy() & is_product(stock).to_numpy()]
    customers = bought.index.get_level_values(c.CUSTOMER_ID).to_numpy()
    codes, texts = _text_codes(bought.index.get_level_values(c.STOCK_CODE).to_series())
    order = np.arange(len(customers)) if pd.Index(customers).is_monotonic_increasing else np.argsort(
        customers, kind="stable")
    customers, codes = customers[order], codes[order]
    if not len(customers):
        return pd.Series([], index=pd.Index(customers, name=c.CUSTOMER_ID), name=c.STOCK_CODE, dtype="str")
    new_customer = np.concatenate(([True], customers[1:] != customers[:-1]))
    starts = np.flatnonzero(new_customer)
    group = np.cumsum(new_customer) - 1
    keep = np.ones(len(customers), dtype=bool)
    for values, reduce in ((bought[LINES].to_numpy()[order], np.maximum),
                           (bought[PURCHASED_QUANTITY].to_numpy()[order], np.maximum),
                           (codes, np.minimum)):
        worst = np.iinfo("int64").min if reduce is np.maximum else np.iinfo("int64").max
        best = reduce.reduceat(np.where(keep, values, worst), starts)
        keep &= values == best[group]
    return pd.Series(texts.to_numpy(dtype=object)[codes[keep]], index=pd.Index(customers[keep], name=c.CUSTOMER_ID),
                     name=c.STOCK_CODE, dtype="str")


def name_items(codes: pd.Series, descriptions: pd.Series) -> pd.DataFrame:
    """Top_Item and Top_Item_Code from StockCodes (one per customer) and
    :func:`describe_stock_codes`; same index as ``codes``."""
    names = descriptions.copy()
    names.index = names.index.astype("str")
    return pd.DataFrame(
        {c.TOP_ITEM: codes.map(names).astype("str"), c.TOP_ITEM_CODE: codes},
        index=codes.index,
    )
