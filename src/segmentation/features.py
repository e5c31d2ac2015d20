"""Invoice lines -> one row per customer.

Input: clean invoice lines (see :func:`segmentation.clean.clean_invoices`), one
row per line, where Quantity > 0 is a purchase and Quantity < 0 a return.
Output: one row per customer with at least one purchase line, index CustomerID,
columns :data:`columns.FEATURES`.

The work has two steps. :func:`summarise_lines` reduces the lines to four small
tables of sums and counts (per customer, per customer and country, per customer
and StockCode, per StockCode and description) — the only step whose cost grows
with the number of lines. :func:`customer_pieces` reduces those to what each
customer needs, and :func:`features_from_pieces` makes the features. Both
engines run the same three functions: the pandas engine on all lines at once,
the Dask engine (:mod:`segmentation.dask_engine`) on batches that each hold
whole customers, stacked with :func:`combine_pieces`. Nothing runs a Python
function per group, and no tie is broken by file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation.clean import line_amount_micros, pounds

#: A product is a StockCode that starts with five digits ("85123A", "22423");
#: POST, DOT, M, C2, BANK CHARGES, gift vouchers ... are not products.
PRODUCT_CODE_PATTERN = r"^\d{5}"

# Columns of the summary tables.
LINES = "lines"
GROSS_MICROS = "gross_micros"
PURCHASED_QUANTITY = "purchased_quantity"
RETURNED_QUANTITY = "returned_quantity"
RETURNED_MICROS = "returned_micros"
RETURNED_VALUE = "returned_value"
COUNTED = "counted"


@dataclass(frozen=True)
class LineSummaries:
    """Invoice lines reduced to what every feature is computed from.

    Attributes
    ----------
    customers
        One row per customer with a purchase line, index CustomerID:
        ``gross_micros`` (sum of purchase amounts in micro-pounds),
        First_Purchase, Last_Purchase, Frequency (distinct purchase invoices).
    countries
        One row per (CustomerID, Country) with purchase lines: ``lines``.
    items
        One row per (CustomerID, StockCode) with any line: purchase ``lines``,
        ``purchased_quantity``, ``returned_quantity`` (positive) and
        ``returned_micros`` (returned value, positive, in micro-pounds).
    descriptions
        One row per (StockCode, Description) over all lines: ``lines``.
    last_invoice_date
        The latest InvoiceDate of any line.
    """

    customers: pd.DataFrame
    countries: pd.DataFrame
    items: pd.DataFrame
    descriptions: pd.DataFrame
    last_invoice_date: pd.Timestamp


def is_product(stock_codes: pd.Series) -> pd.Series:
    """True where the StockCode names a product (starts with five digits)."""
    if isinstance(stock_codes.dtype, pd.CategoricalDtype):  # test each distinct code once
        codes = stock_codes.cat.codes.to_numpy()
        product_categories = is_product(pd.Series(stock_codes.cat.categories, dtype="str")).to_numpy()
        return pd.Series((codes >= 0) & product_categories[codes], index=stock_codes.index)
    return stock_codes.astype("str").str.match(PRODUCT_CODE_PATTERN).fillna(False).astype(bool)


#: Columns of :func:`line_parts` that add up to the ``items`` table of :class:`LineSummaries`.
ITEM_PARTS: tuple[str, ...] = (LINES, PURCHASED_QUANTITY, RETURNED_QUANTITY, RETURNED_MICROS)


def line_parts(invoices: pd.DataFrame) -> pd.DataFrame:
    """What each clean line adds to its customer's sums: one row per line, same index.

    Columns: CustomerID, StockCode; ``gross_micros`` (the line's amount in
    micro-pounds if it is a purchase, else 0); ``lines`` (1 for a purchase);
    ``purchased_quantity``; ``returned_quantity`` and ``returned_micros``
    (positive, for a return). Amounts are :func:`clean.line_amount_micros`.
    """
    quantity = invoices[c.QUANTITY].to_numpy(dtype="int64")
    micros = line_amount_micros(invoices).to_numpy()
    bought = quantity > 0
    return pd.DataFrame(
        {
            c.CUSTOMER_ID: _group_key(invoices[c.CUSTOMER_ID]),
            c.STOCK_CODE: invoices[c.STOCK_CODE],
            GROSS_MICROS: np.where(bought, micros, 0),
            LINES: bought.astype("int64"),
            PURCHASED_QUANTITY: np.where(bought, quantity, 0),
            RETURNED_QUANTITY: np.where(bought, 0, -quantity),
            RETURNED_MICROS: np.where(bought, 0, -micros),
        }
    )


def summarise_lines(invoices: pd.DataFrame) -> LineSummaries:
    """Reduce clean invoice lines to the tables of :class:`LineSummaries`."""
    if invoices.empty:
        raise ValueError("no invoice lines: nothing to summarise")
    parts = line_parts(invoices)
    bought = parts[LINES].to_numpy() == 1
    # Only the columns each table needs, filtered one by one: no copy of the whole frame.
    buyer = parts[c.CUSTOMER_ID][bought]
    customers = pd.DataFrame(
        {c.CUSTOMER_ID: buyer, GROSS_MICROS: parts[GROSS_MICROS][bought],
         c.INVOICE_DATE: invoices[c.INVOICE_DATE][bought]}
    ).groupby(c.CUSTOMER_ID, sort=True).agg(
        **{
            GROSS_MICROS: (GROSS_MICROS, "sum"),
            c.FIRST_PURCHASE: (c.INVOICE_DATE, "min"),
            c.LAST_PURCHASE: (c.INVOICE_DATE, "max"),
        }
    )
    invoices_bought = pd.DataFrame({c.CUSTOMER_ID: buyer, c.INVOICE: invoices[c.INVOICE][bought]})
    customers[c.FREQUENCY] = invoices_bought.drop_duplicates().groupby(c.CUSTOMER_ID).size()
    items = parts[[c.CUSTOMER_ID, c.STOCK_CODE, *ITEM_PARTS]].groupby(
        [c.CUSTOMER_ID, c.STOCK_CODE], observed=True, sort=True
    ).sum()
    countries = pd.DataFrame({c.CUSTOMER_ID: buyer, c.COUNTRY: invoices[c.COUNTRY][bought]})
    return LineSummaries(
        customers=customers,
        countries=_count(countries, [c.CUSTOMER_ID, c.COUNTRY]),
        items=items,
        descriptions=_count(invoices[[c.STOCK_CODE, c.DESCRIPTION]].dropna(), [c.STOCK_CODE, c.DESCRIPTION]),
        last_invoice_date=invoices[c.INVOICE_DATE].max(),
    )


def _group_key(ids: pd.Series) -> pd.Series:
    """CustomerID as plain int64 when no line lacks one (faster to group than nullable Int64)."""
    return ids.astype("int64") if not ids.isna().any() else ids


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


def match_returns(invoices_or_items: pd.DataFrame | LineSummaries) -> pd.DataFrame:
    """Match each customer's returns of a StockCode against that customer's purchases of it.

    One row per (CustomerID, StockCode) with at least one return line.
    Columns: ``returned_quantity`` and ``returned_value`` (sum of
    ``-Quantity x UnitPrice`` over the return lines), ``purchased_quantity``
    (in the data), ``counted`` = returned value x min(1, purchased / returned
    quantity), and ``Unmatched_Returns`` = returned value - counted: returns of
    items bought before the data starts, discounts and other non-purchases.
    """
    if isinstance(invoices_or_items, LineSummaries):
        items = invoices_or_items.items
    else:
        items = summarise_lines(invoices_or_items).items
    return match_returns_of_items(items)


def match_returns_of_items(items: pd.DataFrame) -> pd.DataFrame:
    """:func:`match_returns` from :attr:`LineSummaries.items` (or any subset of its customers)."""
    pairs = items[items[RETURNED_QUANTITY] > 0]
    value = pounds(pairs[RETURNED_MICROS])
    share = np.minimum(1.0, pairs[PURCHASED_QUANTITY] / pairs[RETURNED_QUANTITY])
    counted = value * share
    return pd.DataFrame(
        {
            RETURNED_QUANTITY: pairs[RETURNED_QUANTITY],
            RETURNED_VALUE: value,
            PURCHASED_QUANTITY: pairs[PURCHASED_QUANTITY],
            COUNTED: counted,
            c.UNMATCHED_RETURNS: value - counted,
        }
    )


def build_customer_features(
    invoices: pd.DataFrame,
    *,
    spend: Literal["net", "gross"] = "net",
    snapshot_date: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """One row per customer who bought something, with the features of ``columns.FEATURES``.

    Parameters
    ----------
    invoices
        Clean invoice lines (canonical columns), one row per line.
    spend
        ``"net"`` (default): Total_Bill_Size = Gross_Spend - Returned_Amount,
        where only returns of what the customer bought in the data count
        (see :func:`match_returns`). ``"gross"``: Total_Bill_Size = Gross_Spend.
    snapshot_date
        The date Recency_Days is counted to; by default the day after the last
        InvoiceDate in ``invoices``.

    Returns
    -------
    pandas.DataFrame
        Index CustomerID (sorted); money columns rounded to pence. The rule for
        each column is in the README's data dictionary.
    """
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
        :attr:`LineSummaries.customers`: one row per customer with a purchase.
    returns
        :func:`customer_returns`: one row per customer with a return.
    locations
        :func:`most_common_country`: a Series, one row per customer with a purchase.
    top_item_codes
        :func:`top_item_codes`: a Series, one row per customer who bought a product.
    descriptions
        :attr:`LineSummaries.descriptions`: lines per (StockCode, Description).
    last_invoice_date
        The latest InvoiceDate of any line.
    returns_counted, returns_unmatched
        Pounds of returns counted against purchases, and the rest.
    """

    customers: pd.DataFrame
    returns: pd.DataFrame
    locations: pd.Series
    top_item_codes: pd.Series
    descriptions: pd.DataFrame
    last_invoice_date: pd.Timestamp
    returns_counted: float
    returns_unmatched: float


def customer_pieces(summaries: LineSummaries) -> CustomerPieces:
    """What each customer's features are made from, customer by customer (see :class:`CustomerPieces`)."""
    pairs = match_returns_of_items(summaries.items)
    return CustomerPieces(
        customers=summaries.customers,
        returns=_per_customer(pairs),
        locations=most_common_country(summaries.countries),
        top_item_codes=top_item_codes(summaries.items),
        descriptions=summaries.descriptions,
        last_invoice_date=summaries.last_invoice_date,
        returns_counted=float(pairs[COUNTED].sum()),
        returns_unmatched=float(pairs[c.UNMATCHED_RETURNS].sum()),
    )


def combine_pieces(pieces: list[CustomerPieces]) -> CustomerPieces:
    """The pieces of several sets of customers as one; no customer may be in two sets.

    Per-customer tables are stacked, description counts added, the last dates
    and the returns' totals combined. One set comes back unchanged.
    """
    if len(pieces) == 1:
        return pieces[0]
    descriptions = _stack([piece.descriptions for piece in pieces])
    return CustomerPieces(
        customers=_stack([piece.customers for piece in pieces]),
        returns=_stack([piece.returns for piece in pieces]),
        locations=_stack([piece.locations for piece in pieces]),
        top_item_codes=_stack([piece.top_item_codes for piece in pieces]),
        descriptions=descriptions.groupby(level=[c.STOCK_CODE, c.DESCRIPTION], sort=True).sum(),
        last_invoice_date=max(piece.last_invoice_date for piece in pieces),
        returns_counted=sum(piece.returns_counted for piece in pieces),
        returns_unmatched=sum(piece.returns_unmatched for piece in pieces),
    )


def _stack(tables: list) -> pd.DataFrame | pd.Series:
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


def customer_returns(items: pd.DataFrame) -> pd.DataFrame:
    """Per customer: returns counted against purchases, and the unmatched rest (pounds)."""
    return _per_customer(match_returns_of_items(items))


def _per_customer(pairs: pd.DataFrame) -> pd.DataFrame:
    """Counted and unmatched returns per customer from :func:`match_returns_of_items`."""
    return pairs.groupby(level=c.CUSTOMER_ID)[[COUNTED, c.UNMATCHED_RETURNS]].sum()


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

    ``customers`` is :attr:`LineSummaries.customers`; ``returns`` comes from
    :func:`customer_returns`, ``locations`` from :func:`most_common_country`
    and ``top_items`` from :func:`top_items`. Customers missing from a piece
    get no returns, or no country / top item.
    """
    _check_spend(spend)
    customers = customers.sort_index()
    returns = returns.reindex(customers.index).fillna(0.0)
    gross = pounds(customers[GROSS_MICROS]).round(2)
    returned = returns[COUNTED].round(2)
    first_day = customers[c.FIRST_PURCHASE].dt.normalize()
    last_day = customers[c.LAST_PURCHASE].dt.normalize()
    table = pd.DataFrame(
        {
            c.TOTAL_BILL_SIZE: (gross - returned).round(2) if spend == "net" else gross,
            c.GROSS_SPEND: gross,
            c.RETURNED_AMOUNT: returned,
            c.UNMATCHED_RETURNS: returns[c.UNMATCHED_RETURNS].round(2),
            c.FIRST_PURCHASE: customers[c.FIRST_PURCHASE].astype("datetime64[ns]"),
            c.LAST_PURCHASE: customers[c.LAST_PURCHASE].astype("datetime64[ns]"),
            c.PURCHASE_INTERVAL_DAYS: (last_day - first_day).dt.days.astype("int64"),
            c.FREQUENCY: customers[c.FREQUENCY].astype("int64"),
            c.RECENCY_DAYS: (snapshot - last_day).dt.days.astype("int64"),
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
    """
    bought = items[items[LINES] > 0].reset_index()
    bought = bought[is_product(bought[c.STOCK_CODE]).to_numpy()]
    first = _first_per_group(
        bought, c.CUSTOMER_ID, [LINES, PURCHASED_QUANTITY, c.STOCK_CODE], [False, False, True]
    )
    return first[c.STOCK_CODE].astype("str")


def name_items(codes: pd.Series, descriptions: pd.Series) -> pd.DataFrame:
    """Top_Item and Top_Item_Code from StockCodes (one per customer) and
    :func:`describe_stock_codes`; same index as ``codes``."""
    names = descriptions.copy()
    names.index = names.index.astype("str")
    return pd.DataFrame(
        {c.TOP_ITEM: codes.map(names).astype("str"), c.TOP_ITEM_CODE: codes},
        index=codes.index,
    )
