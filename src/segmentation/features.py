"""Invoice lines -> one row per customer.

Input: clean invoice lines (see :func:`segmentation.clean.clean_invoices`), one
row per line, where Quantity > 0 is a purchase and Quantity < 0 a return.
Output: one row per customer with at least one purchase line, index CustomerID,
columns :data:`columns.FEATURES`. Every rule is vectorised (no Python function
per customer) and every tie is broken by a stated rule, never by file order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation.clean import line_amount_micros, pounds

#: A product is a StockCode that starts with five digits ("85123A", "22423");
#: POST, DOT, M, C2, BANK CHARGES, gift vouchers ... are not products.
PRODUCT_CODE_PATTERN = r"^\d{5}"

_RETURNED_VALUE = "returned_value"
_COUNTED = "counted"
_PURCHASED_QUANTITY = "purchased_quantity"
_RETURNED_QUANTITY = "returned_quantity"
_LINES = "lines"


def is_product(stock_codes: pd.Series) -> pd.Series:
    """True where the StockCode names a product (starts with five digits)."""
    return stock_codes.str.match(PRODUCT_CODE_PATTERN).fillna(False).astype(bool)


def describe_stock_codes(invoices: pd.DataFrame) -> pd.Series:
    """The description of each StockCode: its most frequent Description.

    One code can be spelt several ways; ties go to the alphabetically first
    spelling. Returns a Series indexed by StockCode.
    """
    counts = (
        invoices.dropna(subset=[c.DESCRIPTION])
        .groupby([c.STOCK_CODE, c.DESCRIPTION], observed=True)
        .size()
        .rename(_LINES)
        .reset_index()
        .sort_values([c.STOCK_CODE, _LINES, c.DESCRIPTION], ascending=[True, False, True])
    )
    return counts.drop_duplicates(c.STOCK_CODE).set_index(c.STOCK_CODE)[c.DESCRIPTION]


def match_returns(invoices: pd.DataFrame) -> pd.DataFrame:
    """Match each customer's returns of a StockCode against that customer's purchases of it.

    One row per (CustomerID, StockCode) with at least one return line.
    Columns: ``returned_quantity`` and ``returned_value`` (sum of
    ``-Quantity x UnitPrice`` over the return lines), ``purchased_quantity``
    (in the data), ``counted`` = returned value x min(1, purchased / returned
    quantity), and ``Unmatched_Returns`` = returned value - counted: returns of
    items bought before the data starts, discounts and other non-purchases.
    """
    quantity = invoices[c.QUANTITY].astype("int64")
    lines = invoices[[c.CUSTOMER_ID, c.STOCK_CODE]].assign(
        **{_PURCHASED_QUANTITY: quantity.clip(lower=0), _RETURNED_QUANTITY: (-quantity).clip(lower=0)},
        **{_RETURNED_VALUE: (-line_amount_micros(invoices)).clip(lower=0)},
    )
    pairs = lines.groupby([c.CUSTOMER_ID, c.STOCK_CODE], observed=True, sort=True).sum()
    pairs = pairs[pairs[_RETURNED_QUANTITY] > 0]
    pairs = pairs.assign(**{_RETURNED_VALUE: pounds(pairs[_RETURNED_VALUE])})
    share = np.minimum(1.0, pairs[_PURCHASED_QUANTITY] / pairs[_RETURNED_QUANTITY])
    counted = pairs[_RETURNED_VALUE] * share
    return pairs.assign(
        **{_COUNTED: counted, c.UNMATCHED_RETURNS: pairs[_RETURNED_VALUE] - counted}
    )[[_RETURNED_QUANTITY, _RETURNED_VALUE, _PURCHASED_QUANTITY, _COUNTED, c.UNMATCHED_RETURNS]]


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
    if spend not in ("net", "gross"):
        raise ValueError(f"spend must be 'net' or 'gross', not {spend!r}")
    snapshot = _snapshot(invoices, snapshot_date)
    purchases = invoices[invoices[c.QUANTITY] > 0]
    customers = _purchase_summary(purchases, snapshot)
    returns = match_returns(invoices).groupby(level=c.CUSTOMER_ID)[[_COUNTED, c.UNMATCHED_RETURNS]].sum()
    returns = returns.reindex(customers.index, fill_value=0.0)
    gross = customers[c.GROSS_SPEND].round(2)
    returned = returns[_COUNTED].round(2)
    total = (gross - returned).round(2) if spend == "net" else gross
    customers = customers.assign(
        **{
            c.TOTAL_BILL_SIZE: total,
            c.GROSS_SPEND: gross,
            c.RETURNED_AMOUNT: returned,
            c.UNMATCHED_RETURNS: returns[c.UNMATCHED_RETURNS].round(2),
            c.MOST_COMMON_LOCATION: _most_common_country(purchases),
        }
    ).join(_top_items(purchases, describe_stock_codes(invoices)))
    return customers[list(c.FEATURES)]


def _snapshot(invoices: pd.DataFrame, snapshot_date: pd.Timestamp | str | None) -> pd.Timestamp:
    if snapshot_date is not None:
        return pd.Timestamp(snapshot_date).normalize()
    if invoices.empty:
        raise ValueError("no invoice lines: cannot set a snapshot date")
    return invoices[c.INVOICE_DATE].max().normalize() + pd.Timedelta(days=1)


def _purchase_summary(purchases: pd.DataFrame, snapshot: pd.Timestamp) -> pd.DataFrame:
    """Spend, first/last purchase, interval, frequency and recency per customer."""
    lines = purchases[[c.CUSTOMER_ID, c.INVOICE, c.INVOICE_DATE]].assign(
        **{c.AMOUNT: line_amount_micros(purchases)}
    )
    summary = lines.groupby(c.CUSTOMER_ID, sort=True).agg(
        **{
            c.GROSS_SPEND: (c.AMOUNT, "sum"),
            c.FIRST_PURCHASE: (c.INVOICE_DATE, "min"),
            c.LAST_PURCHASE: (c.INVOICE_DATE, "max"),
            c.FREQUENCY: (c.INVOICE, "nunique"),
        }
    )
    first_day = summary[c.FIRST_PURCHASE].dt.normalize()
    last_day = summary[c.LAST_PURCHASE].dt.normalize()
    return summary.assign(
        **{
            c.GROSS_SPEND: pounds(summary[c.GROSS_SPEND]),
            c.PURCHASE_INTERVAL_DAYS: (last_day - first_day).dt.days.astype("int64"),
            c.RECENCY_DAYS: (snapshot - last_day).dt.days.astype("int64"),
            c.FREQUENCY: summary[c.FREQUENCY].astype("int64"),
        }
    )


def _most_common_country(purchases: pd.DataFrame) -> pd.Series:
    """Country with the most purchase lines per customer; ties -> alphabetically first."""
    counts = (
        purchases.groupby([c.CUSTOMER_ID, c.COUNTRY], observed=True)
        .size()
        .rename(_LINES)
        .reset_index()
        .sort_values([c.CUSTOMER_ID, _LINES, c.COUNTRY], ascending=[True, False, True])
    )
    return counts.drop_duplicates(c.CUSTOMER_ID).set_index(c.CUSTOMER_ID)[c.COUNTRY]


def _top_items(purchases: pd.DataFrame, descriptions: pd.Series) -> pd.DataFrame:
    """Product with the most purchase lines per customer.

    Ties -> larger total quantity, then the smaller StockCode. Customers who
    bought no product (postage only, say) are absent and get missing values.
    """
    products = purchases[is_product(purchases[c.STOCK_CODE])]
    items = (
        products.groupby([c.CUSTOMER_ID, c.STOCK_CODE], observed=True)
        .agg(**{_LINES: (c.QUANTITY, "size"), c.QUANTITY: (c.QUANTITY, "sum")})
        .reset_index()
        .sort_values(
            [c.CUSTOMER_ID, _LINES, c.QUANTITY, c.STOCK_CODE], ascending=[True, False, False, True]
        )
        .drop_duplicates(c.CUSTOMER_ID)
        .set_index(c.CUSTOMER_ID)
    )
    codes = items[c.STOCK_CODE]
    return pd.DataFrame(
        {c.TOP_ITEM: codes.map(descriptions), c.TOP_ITEM_CODE: codes}, index=items.index
    )
