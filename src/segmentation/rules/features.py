"""Invoice lines -> one row per customer.

Input: clean invoice lines (see :func:`segmentation.rules.clean.clean_invoices`), one
row per line, where Quantity > 0 is a purchase and Quantity < 0 a return.
Output: one row per customer with at least one purchase line, index CustomerID,
columns :data:`columns.FEATURES`.

The purchase definition, written once as SQL in :mod:`segmentation.rules.rulebook`
and run by every engine:

- a **product line** has a StockCode that starts with five digits
  (:func:`is_product`); postage, charges, manual adjustments and the like are
  not products;
- a **purchase occasion** is a (customer, calendar day) on which the value of
  the customer's product purchase lines minus the value of their product
  return lines that day is above zero. Frequency counts occasions;
  First_Purchase and Last_Purchase are the earliest and latest purchase line
  of a product on an occasion day, so a bank charge after the last order, a
  same-day cancellation or an invoice split in two within a day moves neither;
- a **return counts against what was paid**: per (customer, StockCode), the
  matched value is min(value returned, value bought) in the data, whatever
  the dates (a credit note minutes before its rebill is common); the rest is
  Unmatched_Returns. So Returned_Amount <= Gross_Spend for every customer.

All money is summed in whole micro-pounds and each sum is rounded once to
whole pence, and no tie is broken by file order.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from segmentation import columns as c
from segmentation.rules import rulebook
from segmentation.rules.clean import pounds
from segmentation.rules.rulebook import PRODUCT_CODE_PATTERN

__all__ = ["PRODUCT_CODE_PATTERN", "build_customer_features", "describe_stock_codes", "is_product", "match_returns"]

RETURNED_QUANTITY = "returned_quantity"
RETURNED_VALUE = "returned_value"
COUNTED = "counted"


def is_product(stock_codes: pd.Series) -> pd.Series:
    """True where the StockCode names a product (starts with five digits)."""
    return rulebook.is_product(stock_codes)


def describe_stock_codes(invoices: pd.DataFrame) -> pd.Series:
    """The description of each StockCode of ``invoices``: its most frequent Description.

    One code can be spelt several ways; ties go to the alphabetically first
    spelling. Returns a Series indexed by StockCode.
    """
    return rulebook.describe_stock_codes(invoices)


def match_returns(invoices: pd.DataFrame) -> pd.DataFrame:
    """Match each customer's returns of a StockCode against that customer's purchases of it.

    One row per (CustomerID, StockCode) with at least one return line.
    Columns: ``returned_quantity``; ``returned_value`` (sum of
    ``-Quantity x UnitPrice`` over the return lines, pounds); ``counted`` =
    min(value returned, value bought in the data); ``Unmatched_Returns`` =
    returned value - counted: returns of items bought before the data starts,
    returns priced above the purchase, discounts and other non-purchases.
    """
    pairs = rulebook.returns_of_lines(invoices)
    returned = pairs["returned_micros"]
    counted = returned.clip(upper=pairs["bought_micros"])
    return pd.DataFrame(
        {
            RETURNED_QUANTITY: pairs[RETURNED_QUANTITY].astype("int64"),
            RETURNED_VALUE: pounds(returned),
            COUNTED: pounds(counted),
            c.UNMATCHED_RETURNS: pounds(returned - counted),
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
        where a return counts only up to the value of that item the customer
        bought in the data (see :func:`match_returns`). ``"gross"``:
        Total_Bill_Size = Gross_Spend.
    snapshot_date
        The date Recency_Days is counted to; by default the day after the last
        InvoiceDate in ``invoices``.

    Returns
    -------
    pandas.DataFrame
        Index CustomerID (sorted); money columns rounded to pence. Customers
        with a purchase line but no purchase occasion (they bought postage
        alone, say) have Frequency 0 and missing dates, interval and recency.
        The rule for each column is in the README's data dictionary.
    """
    return rulebook.features_of_lines(invoices, spend=spend, snapshot_date=snapshot_date)
