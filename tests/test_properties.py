"""Invariants of cleaning, features and clustering, on random invoice tables (hypothesis)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import invoice_lines
from segmentation import columns as c
from segmentation.analysis.cluster import cluster_customers
from segmentation.errors import InvoiceDataError
from segmentation.rules.clean import clean_invoices, line_amount_micros, pounds
from segmentation.rules.features import build_customer_features, match_returns

CENT = 0.005
# The same examples on every run (derandomize), so `make test` is reproducible; set
# PROPERTY_EXAMPLES=1000 to search wider by hand.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 60)),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

line = st.tuples(
    st.sampled_from(["536001", "536002", "536003", "C536004", "C536005", "A536006"]),
    st.sampled_from(["85123A", "22423", "22111", "POST", "D", "M"]),
    st.sampled_from(["HEART", "CAKESTAND", "BOTTLE", "POSTAGE", "Discount", None]),
    st.integers(min_value=-12, max_value=24),
    st.sampled_from(["2010-12-01 08:26", "2010-12-01 23:59", "2010-12-02 00:01", "2011-01-15 10:00"]),
    st.sampled_from([0.0, 0.29, 1.25, 2.55, 12.75, 18.0, -11.5]),
    st.sampled_from([12346, 12347, 12348, 12349, None]),
    st.sampled_from(["United Kingdom", "France", "EIRE"]),
)
tables = st.lists(line, min_size=1, max_size=40).map(invoice_lines)


def total(lines: pd.DataFrame, *, sign: int = 0) -> float:
    """Sum of |Quantity x UnitPrice|, or of the purchase (sign=1) / return (sign=-1) lines' amounts."""
    micros = line_amount_micros(lines)
    if sign == 0:
        return float(pounds(int(micros.abs().sum())))
    chosen = lines[c.QUANTITY] * sign > 0
    return float(pounds(int(micros[chosen].abs().sum())))


@PROPERTY_SETTINGS
@given(tables)
def test_rows_and_money_reconcile_through_cleaning(invoices):
    result = clean_invoices(invoices)
    ledger = result.ledger
    removed = ledger.drop(index=["input", "kept"])
    assert ledger.loc["input", c.LEDGER_ROWS] == len(invoices)
    assert ledger.loc["input", c.LEDGER_ROWS] == len(result.invoices) + removed[c.LEDGER_ROWS].sum()
    assert total(invoices) == pytest.approx(total(result.invoices) + removed[c.LEDGER_AMOUNT].sum(), abs=CENT)
    assert ledger.loc["kept", c.LEDGER_AMOUNT] == pytest.approx(total(result.invoices), abs=CENT)


@PROPERTY_SETTINGS
@given(tables)
def test_spend_and_returns_reconcile_with_the_kept_lines(invoices):
    kept = clean_invoices(invoices).invoices
    assume((kept[c.QUANTITY] > 0).any())  # no purchase left: no customer table to reconcile
    customers = build_customer_features(kept)
    returns = match_returns(kept)
    assert customers[c.GROSS_SPEND].sum() == pytest.approx(total(kept, sign=1), abs=CENT * len(customers))
    matched_and_unmatched = returns["counted"].sum() + returns[c.UNMATCHED_RETURNS].sum()
    assert matched_and_unmatched == pytest.approx(total(kept, sign=-1), abs=CENT)


@PROPERTY_SETTINGS
@given(tables)
def test_customer_rows_obey_their_definitions(invoices):
    kept = clean_invoices(invoices).invoices
    buyers = set(kept.loc[kept[c.QUANTITY] > 0, c.CUSTOMER_ID])
    assume(buyers)  # no purchase left: no customer rows to check
    customers = build_customer_features(kept)
    assert customers.index.is_unique and set(customers.index) == buyers
    bought = customers[c.FREQUENCY] > 0
    assert (customers.loc[bought, c.FIRST_PURCHASE] <= customers.loc[bought, c.LAST_PURCHASE]).all()
    assert (customers.loc[bought, c.PURCHASE_INTERVAL_DAYS] >= 0).all()
    no_occasion = customers[~bought]
    assert no_occasion[[c.FIRST_PURCHASE, c.LAST_PURCHASE, c.RECENCY_DAYS]].isna().all().all()
    net = customers[c.GROSS_SPEND] - customers[c.RETURNED_AMOUNT]
    assert ((net - customers[c.TOTAL_BILL_SIZE]).abs() <= 0.011).all()
    # a return counts only against what was paid: no customer gets back more than they spent
    assert (customers[c.RETURNED_AMOUNT] <= customers[c.GROSS_SPEND]).all()
    assert (customers[c.TOTAL_BILL_SIZE] >= 0).all()
    assert (customers[c.PRODUCT_SPEND] <= customers[c.TOTAL_BILL_SIZE] + CENT).all()
    # an occasion is a day with a product bought: never more occasions than such days
    products = kept[kept[c.STOCK_CODE].astype("str").str.match(r"\d{5}") & (kept[c.QUANTITY] > 0)]
    days = products.assign(day=products[c.INVOICE_DATE].dt.normalize()).groupby(c.CUSTOMER_ID)["day"].nunique()
    assert (customers[c.FREQUENCY] <= days.reindex(customers.index, fill_value=0)).all()


@PROPERTY_SETTINGS
@given(tables, st.randoms(use_true_random=False))
def test_shuffling_the_lines_changes_no_result(invoices, random):
    order = list(range(len(invoices)))
    random.shuffle(order)
    shuffled = invoices.iloc[order].reset_index(drop=True)
    first, second = clean_invoices(invoices), clean_invoices(shuffled)
    pd.testing.assert_frame_equal(first.ledger, second.ledger)
    if (first.invoices[c.QUANTITY] > 0).any():
        pd.testing.assert_frame_equal(
            build_customer_features(first.invoices), build_customer_features(second.invoices)
        )


# Total_Bill_Size is money rounded to pence
spends = st.lists(
    st.floats(min_value=0.01, max_value=1e6, allow_nan=False).map(lambda value: round(value, 2)),
    min_size=1, max_size=60,
)


@PROPERTY_SETTINGS
@given(spends, st.integers(min_value=1, max_value=5))
def test_cluster_labels_are_0_to_k_minus_1_ordered_by_centroid(values, k):
    customers = pd.DataFrame(
        {c.TOTAL_BILL_SIZE: values}, index=pd.Index(range(len(values)), dtype="Int64", name=c.CUSTOMER_ID)
    )
    if len(set(values)) < k:  # fewer distinct spends than clusters: refused
        with pytest.raises(InvoiceDataError):
            cluster_customers(customers, k=k)
        return
    result = cluster_customers(customers, k=k)
    assert set(result.labels) == set(range(k))
    assert np.all(np.diff(result.centroids[c.TOTAL_BILL_SIZE].to_numpy()) > 0)
    means = customers[c.TOTAL_BILL_SIZE].groupby(result.labels).mean()
    assert means.is_monotonic_increasing
    pd.testing.assert_series_equal(result.labels, cluster_customers(customers, k=k).labels)
