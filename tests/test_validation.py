"""Segments built before a date, checked against what customers did next: tiny tables worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import invoice_lines
from segmentation import columns as c
from segmentation import config
from segmentation.analysis.pipeline import segment_file
from segmentation.analysis.validation import order_breaks, ordered, validate_segmentations
from segmentation.engines.runners import DuckDBEngine, OutcomeWindow
from segmentation.errors import InvoiceDataError

INDEX = pd.Index([1, 2, 3, 4, 5, 6], dtype="Int64", name=c.CUSTOMER_ID)
TIERS = ordered(pd.Series(["Top", "Top", "Mid", "Mid", "Low", "Low"], index=INDEX), ["Top", "Mid", "Low"])
# what they did next: customer 1 twice for 100, 3 for 50, 4 for 30, 6 for 20; 2 and 5 nothing (absent)
OUTCOME = pd.DataFrame({c.FREQUENCY: [2, 1, 1, 1], c.TOTAL_BILL_SIZE: [100.0, 50.0, 30.0, 20.0]},
                       index=pd.Index([1, 3, 4, 6], dtype="Int64", name=c.CUSTOMER_ID))


def test_validation_rows_match_the_hand_count():
    # Top: 1 of 2 bought again, 100 of 200 spent, mean 50; Mid: 2 of 2, 80 of 200, mean 40;
    # Low: 1 of 2, 20 of 200, mean 10.
    # Spearman of the promise (Top highest) with next spend: promise ranks 5.5 5.5 3.5 3.5 1.5 1.5,
    # spend ranks 6 1.5 5 4 1.5 3 -> deviations (2 2 0 0 -2 -2) and (2.5 -2 1.5 .5 -2 -.5):
    # 6 / sqrt(16 x 17) = 0.3638
    table = validate_segmentations({"tiers": TIERS}, OUTCOME).loc["tiers"]
    assert table.index.tolist() == ["Top", "Mid", "Low"]
    assert table[c.PROMISED_RANK].tolist() == [1, 2, 3]
    assert table[c.CUSTOMERS].tolist() == [2, 2, 2]
    assert table[c.SHARE_BOUGHT_AGAIN].tolist() == [0.5, 1.0, 0.5]
    assert table[c.SHARE_OF_NEXT_REVENUE].tolist() == pytest.approx([0.5, 0.4, 0.1])
    assert table[c.MEAN_NEXT_SPEND].tolist() == pytest.approx([50.0, 40.0, 10.0])
    assert table[c.RANK_CORRELATION].iloc[0] == pytest.approx(6 / (16 * 17) ** 0.5)


def test_a_segment_promised_above_another_that_came_back_less_is_a_break():
    validation = validate_segmentations({"tiers": TIERS}, OUTCOME)
    breaks = order_breaks(validation, "tiers")
    assert breaks[["above", "below"]].values.tolist() == [["Top", "Mid"]]


def test_every_segmentation_is_judged_on_the_customers_all_of_them_place():
    partial = ordered(pd.Series(["A", "A", "B", "B", "B", None], index=INDEX), ["A", "B"])
    table = validate_segmentations({"tiers": TIERS, "partial": partial}, OUTCOME)
    assert table.loc["tiers", c.CUSTOMERS].tolist() == [2, 2, 1]  # customer 6 left out of both
    assert table.loc["partial", c.CUSTOMERS].tolist() == [2, 3]
    assert table.loc["tiers", c.SHARE_OF_NEXT_REVENUE].sum() == pytest.approx(1.0)


# Lines for the window: as of 2010-12-06, ten days ahead (to 2010-12-16, exclusive)
LINES = invoice_lines(
    [
        ("1", "22111", "BOTTLE", 1, "2010-12-01 10:00", 5.00, 1, "United Kingdom"),
        ("2", "22111", "BOTTLE", 2, "2010-12-05 10:00", 5.00, 1, "United Kingdom"),
        ("3", "22111", "BOTTLE", 1, "2010-12-02 10:00", 5.00, 2, "United Kingdom"),
        ("4", "22111", "BOTTLE", 3, "2010-12-10 10:00", 5.00, 1, "United Kingdom"),  # in the window
        ("5", "22111", "BOTTLE", 1, "2010-12-08 10:00", 7.00, 3, "United Kingdom"),  # new, in the window
        ("6", "22111", "BOTTLE", 9, "2010-12-20 10:00", 5.00, 1, "United Kingdom"),  # after the window
    ]
)


@pytest.fixture
def lines_file(tmp_path):
    path = tmp_path / "lines.csv"
    LINES.to_csv(path, index=False)
    return path


def test_features_use_only_lines_before_the_date_and_the_outcome_only_the_window(lines_file):
    window = OutcomeWindow(pd.Timestamp("2010-12-06"), horizon_days=10)
    table = DuckDBEngine().customer_table(lines_file, window=window)
    customers = table.customers
    assert customers.index.tolist() == [1, 2]  # customer 3 first bought in the window
    assert customers.loc[1, c.TOTAL_BILL_SIZE] == 15.00  # 5 + 10, not the later 15 or 45
    assert customers[c.RECENCY_DAYS].tolist() == [1, 4]  # counted to 2010-12-06
    assert table.outcome.index.tolist() == [1, 3]
    assert table.outcome.loc[1, c.TOTAL_BILL_SIZE] == 15.00 and table.outcome.loc[1, c.FREQUENCY] == 1
    assert int(table.ledger.loc["kept", c.LEDGER_ROWS]) == 6  # every line is cleaned and counted


def test_a_window_past_the_end_of_the_data_is_refused_naming_the_latest_date(lines_file):
    window = OutcomeWindow(pd.Timestamp("2010-12-15"), horizon_days=10)
    with pytest.raises(InvoiceDataError, match="choose --as-of 2010-12-11 or earlier"):
        DuckDBEngine().customer_table(lines_file, window=window)


@pytest.mark.real_data
def test_on_the_real_file_the_map_keeps_its_promise_at_its_ends():
    run = segment_file(config.REAL_DATA_PATH, window=OutcomeWindow(pd.Timestamp("2010-09-09")))
    rule = run.validation.loc["RFM segment map"]
    assert rule[c.SHARE_BOUGHT_AGAIN].idxmax() == "Champions"
    assert rule[c.SHARE_BOUGHT_AGAIN].idxmin() == "Lost"
    assert rule[c.RANK_CORRELATION].iloc[0] > 0.3
    spend = run.validation.loc["spend clusters (seed)", c.RANK_CORRELATION].iloc[0]
    assert rule[c.RANK_CORRELATION].iloc[0] > spend  # the map says more about next spend than spend bands
