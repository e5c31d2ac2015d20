"""The whole pipeline on the bundled real Online Retail II file (2009-2010).

The expected counts are computed here straight from the raw file with plain
pandas, or taken from the data set's README, not from the package.
"""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import REAL_FILE
from segmentation import columns as c
from segmentation.analysis.cluster import cluster_customers
from segmentation.analysis.diagnostics import scan_k
from segmentation.reading.load import load_invoices
from segmentation.rules.clean import clean_invoices, line_amounts
from segmentation.rules.features import build_customer_features, match_returns

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_parquet(REAL_FILE)


@pytest.fixture(scope="module")
def cleaning():
    return clean_invoices(load_invoices(REAL_FILE))


def test_counts_match_the_data_set_readme(raw):
    invoices = load_invoices(REAL_FILE)
    assert len(invoices) == len(raw) == 525_461
    assert invoices[c.CUSTOMER_ID].nunique() == 4_383
    assert invoices[c.CUSTOMER_ID].isna().sum() == 107_927
    assert invoices[c.INVOICE].str.startswith("C").sum() == 10_206
    assert invoices[c.COUNTRY].nunique() == 40


def test_ledger_balances_rows_and_money(cleaning, raw):
    ledger = cleaning.ledger
    removed = ledger.drop(index=["input", "kept"])
    assert ledger.loc["input", c.LEDGER_ROWS] == len(raw)
    assert ledger.loc["input", c.LEDGER_ROWS] == ledger.loc["kept", c.LEDGER_ROWS] + removed[c.LEDGER_ROWS].sum()
    raw_amount = (raw["Quantity"] * raw["Price"]).abs().sum()
    assert ledger.loc["input", c.LEDGER_AMOUNT] == pytest.approx(raw_amount, abs=0.01)
    assert ledger.loc["input", c.LEDGER_AMOUNT] == pytest.approx(
        ledger.loc["kept", c.LEDGER_AMOUNT] + removed[c.LEDGER_AMOUNT].sum(), abs=0.01
    )


def test_missing_customer_count_matches_the_raw_file(cleaning, raw):
    assert cleaning.ledger.loc["missing_customer", c.LEDGER_ROWS] == raw["Customer ID"].isna().sum()


def test_customers_and_spend_reconcile_with_an_independent_count(cleaning, raw):
    # Plain-pandas version of the rules: lines with a customer, first of each duplicate,
    # positive price, non-zero quantity, no "C" invoice with positive quantity, no TEST codes.
    lines = raw[raw["Customer ID"].notna()]
    lines = lines.assign(Description=lines["Description"].str.strip()).drop_duplicates()
    lines = lines[(lines["Price"] > 0) & (lines["Quantity"] != 0)]
    lines = lines[~(lines["Invoice"].str.startswith("C") & (lines["Quantity"] > 0))]
    lines = lines[~lines["StockCode"].str.upper().str.startswith("TEST")]
    purchases = lines[lines["Quantity"] > 0]
    returns = lines[lines["Quantity"] < 0]
    customers = build_customer_features(cleaning.invoices)
    assert len(cleaning.invoices) == len(lines)
    assert len(customers) == purchases["Customer ID"].nunique()
    assert customers[c.GROSS_SPEND].sum() == pytest.approx((purchases["Quantity"] * purchases["Price"]).sum(), abs=1.0)
    matched = match_returns(cleaning.invoices)
    returned = -(returns["Quantity"] * returns["Price"]).sum()
    assert matched["counted"].sum() + matched[c.UNMATCHED_RETURNS].sum() == pytest.approx(returned, abs=0.01)
    # occasions: days on which a customer's product purchases outweigh their product returns
    products = lines[lines["StockCode"].str.match(r"\d{5}")]
    day_value = (products["Quantity"] * products["Price"]).groupby(
        [products["Customer ID"], products["InvoiceDate"].str[:10]]).sum()
    occasions = (day_value > 1e-9).groupby(level=0).sum()
    assert customers[c.FREQUENCY].sum() == occasions.sum()
    assert customers[c.FREQUENCY].sum() < purchases.groupby("Customer ID")["Invoice"].nunique().sum()


def test_accounting_lines_no_longer_move_recency_or_frequency(cleaning):
    customers = build_customer_features(cleaning.invoices)
    # 15823 last bought a product on 2009-12-10; a BANK CHARGES invoice on 2010-12-02 is no purchase
    assert customers.loc[15823, c.LAST_PURCHASE].normalize() == pd.Timestamp("2009-12-10")
    lines = cleaning.invoices[cleaning.invoices[c.CUSTOMER_ID] == 15823]
    assert (lines[c.INVOICE_DATE] > pd.Timestamp("2010-12-01")).any()


def test_feature_invariants_hold(cleaning):
    customers = build_customer_features(cleaning.invoices)
    assert customers.index.is_unique
    bought = customers[c.FREQUENCY] > 0
    assert (customers.loc[bought, c.FIRST_PURCHASE] <= customers.loc[bought, c.LAST_PURCHASE]).all()
    assert (customers.loc[bought, c.PURCHASE_INTERVAL_DAYS] >= 0).all()
    assert customers.loc[~bought, c.RECENCY_DAYS].isna().all()
    # a return counts only up to what was paid: no customer gets back more than they spent
    assert (customers[c.RETURNED_AMOUNT] <= customers[c.GROSS_SPEND]).all()
    assert (customers[c.TOTAL_BILL_SIZE] >= 0).all()
    assert (
        (customers[c.GROSS_SPEND] - customers[c.RETURNED_AMOUNT] - customers[c.TOTAL_BILL_SIZE]).abs() < 0.011
    ).all()
    assert (customers.loc[bought, c.RECENCY_DAYS] >= 1).all()
    assert customers[c.TOP_ITEM_CODE].dropna().str.match(r"^\d{5}").all()


def test_seed_clustering_puts_almost_everyone_in_the_lowest_cluster(cleaning):
    customers = build_customer_features(cleaning.invoices)
    result = cluster_customers(customers)
    sizes = result.labels.value_counts().sort_index()
    assert list(sizes.index) == [0, 1, 2]
    assert sizes.loc[0] > 0.95 * sizes.sum()
    assert result.centroids[c.TOTAL_BILL_SIZE].is_monotonic_increasing
    assert line_amounts(cleaning.invoices).abs().sum() > 0


def test_log_spend_splits_real_customers_far_more_evenly_than_raw_spend(cleaning):
    customers = build_customer_features(cleaning.invoices)
    raw = cluster_customers(customers).labels.value_counts()
    log = cluster_customers(customers, log=True).labels.value_counts()
    assert raw.min() < 10  # a handful of very large buyers
    assert log.min() > 0.15 * log.sum()


def test_rfm_scan_on_real_customers_runs_and_inertia_falls(cleaning):
    customers = build_customer_features(cleaning.invoices)
    scan = scan_k(customers, features=c.RFM_FEATURES, log=True)
    assert scan.index.tolist() == list(range(2, 11))
    assert scan[c.INERTIA].is_monotonic_decreasing
