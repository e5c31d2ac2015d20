"""Customer features on tiny invoice tables worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import invoice_lines
from segmentation import columns as c
from segmentation.rules.features import (
    build_customer_features,
    describe_stock_codes,
    is_product,
    match_returns,
)

HEART = "WHITE HANGING HEART T-LIGHT HOLDER"

# InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country
LINES = invoice_lines(
    [
        # customer 100: a return of 3 of the 10 hearts bought -> matched in full
        ("536001", "85123A", HEART, 6, "2010-12-01 08:26", 2.55, 100, "United Kingdom"),
        ("536001", "22423", "REGENCY CAKESTAND 3 TIER", 2, "2010-12-01 08:26", 12.75, 100, "United Kingdom"),
        ("536002", "85123A", HEART, 4, "2010-12-03 23:00", 2.55, 100, "United Kingdom"),
        ("C536003", "85123A", HEART, -3, "2010-12-04 10:00", 2.55, 100, "United Kingdom"),
        ("536004", "POST", "POSTAGE", 1, "2010-12-05 12:00", 18.00, 100, "United Kingdom"),
        # customer 200: bought 2 pink clocks, returned 4 -> half the returned value counts;
        # one line in France, one in Germany; purchases either side of midnight
        ("536010", "22728", "ALARM CLOCK BAKELIKE PINK", 2, "2010-12-02 23:30", 3.75, 200, "France"),
        ("536011", "22727", "ALARM CLOCK BAKELIKE RED", 2, "2010-12-03 00:30", 3.75, 200, "Germany"),
        ("C536012", "22728", "ALARM CLOCK BAKELIKE PINK", -4, "2010-12-06 09:00", 3.75, 200, "France"),
        # customer 300: postage only; returns an item never bought here, and a discount
        ("536020", "POST", "POSTAGE", 2, "2010-12-07 10:00", 15.00, 300, "Netherlands"),
        ("C536021", "21232", "STRAWBERRY CERAMIC TRINKET BOX", -1, "2010-12-08 10:00", 5.00, 300, "Netherlands"),
        ("C536021", "D", "Discount", -1, "2010-12-08 10:00", 2.00, 300, "Netherlands"),
        # customer 400: only a return -> not a customer row; another spelling of the heart
        ("C536030", "85123A", "CREAM HANGING HEART T-LIGHT HOLDER", -1, "2010-12-08 11:00", 2.55, 400,
         "United Kingdom"),
        # customer 500: two items with one line each -> the larger quantity wins
        ("536040", "22111", "SCOTTIE DOG HOT WATER BOTTLE", 5, "2010-12-09 09:00", 4.95, 500, "United Kingdom"),
        ("536040", "22222", "CAKE PLATE LOVEBIRD WHITE", 10, "2010-12-09 09:00", 1.95, 500, "United Kingdom"),
    ]
)

# Worked out by hand (snapshot = day after the last line = 2010-12-10):
#   100: gross 15.30 + 25.50 + 10.20 + 18.00 = 69.00; returned 3 x 2.55 = 7.65 <= 25.50 bought -> counted
#        in full; product spend 69.00 - 18.00 postage - 7.65 = 43.35
#        occasions: 12-01 (40.80 bought) and 12-03 (10.20); 12-04 holds only the return, 12-05 only
#        postage -> Frequency 2, first 12-01 08:26, last 12-03 23:00, interval 2, recency 7
#        85123A has 2 purchase lines, 22423 one -> top item 85123A
#   200: gross 7.50 + 7.50 = 15.00; 22728 returned 15.00 against 7.50 bought -> counted 7.50,
#        unmatched 7.50; occasions 12-02 and 12-03 (23:30 and 00:30) -> Frequency 2, interval 1,
#        recency 7; France 1 line, Germany 1 line -> France; 22727 and 22728 tie on lines (1) and
#        quantity (2) -> smaller code 22727
#   300: postage only, gross 30.00; nothing bought matches the returns -> returned 0, unmatched
#        5 + 2 = 7; no product bought -> no occasion: Frequency 0, no dates, interval or recency
#   500: gross 24.75 + 19.50 = 44.25, one occasion; 22111 x5 vs 22222 x10 tie on lines -> 22222
EXPECTED = pd.DataFrame(
    {
        c.TOTAL_BILL_SIZE: [61.35, 7.50, 30.00, 44.25],
        c.GROSS_SPEND: [69.00, 15.00, 30.00, 44.25],
        c.RETURNED_AMOUNT: [7.65, 7.50, 0.00, 0.00],
        c.UNMATCHED_RETURNS: [0.00, 7.50, 7.00, 0.00],
        c.PRODUCT_SPEND: [43.35, 7.50, 0.00, 44.25],
        c.FIRST_PURCHASE: pd.to_datetime(
            ["2010-12-01 08:26", "2010-12-02 23:30", None, "2010-12-09 09:00"]
        ).astype("datetime64[ns]"),
        c.LAST_PURCHASE: pd.to_datetime(
            ["2010-12-03 23:00", "2010-12-03 00:30", None, "2010-12-09 09:00"]
        ).astype("datetime64[ns]"),
        c.PURCHASE_INTERVAL_DAYS: pd.array([2, 1, None, 0], dtype="Int64"),
        c.FREQUENCY: np.array([2, 2, 0, 1], dtype="int64"),
        c.RECENCY_DAYS: pd.array([7, 7, None, 1], dtype="Int64"),
        c.MOST_COMMON_LOCATION: pd.array(["United Kingdom", "France", "Netherlands", "United Kingdom"], dtype="str"),
        c.TOP_ITEM: pd.array([HEART, "ALARM CLOCK BAKELIKE RED", None, "CAKE PLATE LOVEBIRD WHITE"], dtype="str"),
        c.TOP_ITEM_CODE: pd.array(["85123A", "22727", None, "22222"], dtype="str"),
    },
    index=pd.Index([100, 200, 300, 500], dtype="Int64", name=c.CUSTOMER_ID),
)

# The purchase definition, one situation per customer (snapshot 2010-12-10):
PURCHASE_RULES = invoice_lines(
    [
        # 600: a credit note and, five minutes later, the rebill of the same goods: 12-05 nets to 0
        ("601", "22111", "BOTTLE", 10, "2010-12-01 10:00", 2.00, 600, "United Kingdom"),
        ("C602", "22111", "BOTTLE", -10, "2010-12-05 10:00", 2.00, 600, "United Kingdom"),
        ("603", "22111", "BOTTLE", 10, "2010-12-05 10:05", 2.00, 600, "United Kingdom"),
        # 700: a return priced far above the purchase ("M" lines do this)
        ("701", "21232", "TRINKET BOX", 1, "2010-12-02 10:00", 1.00, 700, "United Kingdom"),
        ("C702", "21232", "TRINKET BOX", -1, "2010-12-03 10:00", 100.00, 700, "United Kingdom"),
        # 800: an invoice split in two on one day, an order cancelled the same day, a bank charge last
        ("801", "22423", "CAKESTAND", 1, "2010-12-02 09:00", 12.75, 800, "United Kingdom"),
        ("802", "22111", "BOTTLE", 2, "2010-12-02 09:30", 4.95, 800, "United Kingdom"),
        ("803", "22222", "CAKE PLATE", 5, "2010-12-04 11:00", 1.95, 800, "United Kingdom"),
        ("C804", "22222", "CAKE PLATE", -5, "2010-12-04 11:20", 1.95, 800, "United Kingdom"),
        ("805", "BANK CHARGES", "Bank Charges", 1, "2010-12-09 12:00", 15.00, 800, "United Kingdom"),
    ]
)


def test_credit_note_then_rebill_minutes_later_is_no_new_purchase():
    # 600: bought 20.00 on 12-01; 12-05 holds 20.00 credited and 20.00 rebilled -> not an occasion.
    # The credit counts against the 40.00 bought (dates are not used): gross 40, returned 20, net 20.
    row = build_customer_features(PURCHASE_RULES).loc[600]
    assert (row[c.GROSS_SPEND], row[c.RETURNED_AMOUNT], row[c.TOTAL_BILL_SIZE]) == (40.00, 20.00, 20.00)
    assert row[c.FREQUENCY] == 1
    assert row[c.LAST_PURCHASE] == pd.Timestamp("2010-12-01 10:00")
    assert row[c.RECENCY_DAYS] == 9


def test_return_priced_above_the_purchase_counts_only_what_was_paid():
    # 700: paid 1.00, "returned" 100.00 -> 1.00 counted, 99.00 unmatched, net spend 0 (never negative)
    row = build_customer_features(PURCHASE_RULES).loc[700]
    assert (row[c.RETURNED_AMOUNT], row[c.UNMATCHED_RETURNS], row[c.TOTAL_BILL_SIZE]) == (1.00, 99.00, 0.00)
    assert row[c.FREQUENCY] == 1  # 12-02 bought 1.00; 12-03 returned only


def test_split_invoice_same_day_cancellation_and_late_bank_charge():
    # 800: 12-02 two invoices -> one occasion; 12-04 ordered 9.75 and cancelled 9.75 -> none;
    # 12-09 a bank charge, not a product -> none. One occasion, last purchase 12-02 09:30.
    # Gross 12.75 + 9.90 + 9.75 + 15.00 = 47.40; returned 9.75; net 37.65; products 22.65.
    row = build_customer_features(PURCHASE_RULES).loc[800]
    assert row[c.FREQUENCY] == 1
    assert (row[c.FIRST_PURCHASE], row[c.LAST_PURCHASE]) == (
        pd.Timestamp("2010-12-02 09:00"), pd.Timestamp("2010-12-02 09:30"))
    assert (row[c.PURCHASE_INTERVAL_DAYS], row[c.RECENCY_DAYS]) == (0, 8)
    assert (row[c.GROSS_SPEND], row[c.RETURNED_AMOUNT], row[c.TOTAL_BILL_SIZE]) == (47.40, 9.75, 37.65)
    assert row[c.PRODUCT_SPEND] == 22.65


def test_features_match_the_hand_worked_table():
    customers = build_customer_features(LINES)
    pd.testing.assert_frame_equal(customers, EXPECTED)


def test_columns_are_the_documented_features_in_order():
    assert tuple(build_customer_features(LINES).columns) == c.FEATURES


def test_customer_with_only_returns_gets_no_row():
    assert 400 not in build_customer_features(LINES).index


def test_gross_spend_option_ignores_returns():
    customers = build_customer_features(LINES, spend="gross")
    pd.testing.assert_series_equal(
        customers[c.TOTAL_BILL_SIZE], EXPECTED[c.GROSS_SPEND], check_names=False
    )


def test_unknown_spend_option_is_an_error():
    with pytest.raises(ValueError, match="spend"):
        build_customer_features(LINES, spend="net_of_everything")


def test_snapshot_date_sets_recency():
    customers = build_customer_features(LINES, snapshot_date="2011-01-01")
    # 100's last purchase 2010-12-03 -> 29 days to 2011-01-01
    assert customers.loc[100, c.RECENCY_DAYS] == 29


def test_return_matched_in_full_in_part_and_not_at_all():
    returns = match_returns(LINES)
    assert returns.loc[(100, "85123A"), "counted"] == pytest.approx(7.65)
    assert returns.loc[(100, "85123A"), c.UNMATCHED_RETURNS] == pytest.approx(0.0)
    assert returns.loc[(200, "22728"), "counted"] == pytest.approx(7.50)  # what was paid for it
    assert returns.loc[(200, "22728"), c.UNMATCHED_RETURNS] == pytest.approx(7.50)
    assert returns.loc[(300, "21232"), "counted"] == 0
    assert returns.loc[(400, "85123A"), c.UNMATCHED_RETURNS] == pytest.approx(2.55)


def test_returns_split_into_counted_and_unmatched_add_up_to_all_returns():
    returns = match_returns(LINES)
    return_lines = LINES[LINES[c.QUANTITY] < 0]
    total_returned = float((-return_lines[c.QUANTITY] * return_lines[c.UNIT_PRICE]).sum())
    assert returns["counted"].sum() + returns[c.UNMATCHED_RETURNS].sum() == pytest.approx(total_returned)


def test_return_of_item_bought_before_window_does_not_reduce_spend():
    customers = build_customer_features(LINES)
    assert customers.loc[300, c.TOTAL_BILL_SIZE] == customers.loc[300, c.GROSS_SPEND]


def test_code_description_is_its_most_frequent_spelling():
    # 85123A: "WHITE ..." on 3 lines, "CREAM ..." on 1
    assert describe_stock_codes(LINES)["85123A"] == HEART


def test_code_description_tie_goes_to_alphabetically_first_spelling():
    lines = invoice_lines(
        [
            ("1", "22111", "SCOTTY DOG BOTTLE", 1, "2010-12-01", 1.0, 1, "United Kingdom"),
            ("2", "22111", "SCOTTIE DOG HOT WATER BOTTLE", 1, "2010-12-01", 1.0, 1, "United Kingdom"),
        ]
    )
    assert describe_stock_codes(lines)["22111"] == "SCOTTIE DOG HOT WATER BOTTLE"


def test_country_tie_with_more_lines_elsewhere_takes_the_majority():
    lines = invoice_lines(
        [
            ("1", "22111", "A", 1, "2010-12-01", 1.0, 1, "Spain"),
            ("2", "22111", "A", 1, "2010-12-02", 1.0, 1, "Spain"),
            ("3", "22111", "A", 1, "2010-12-03", 1.0, 1, "Austria"),
        ]
    )
    assert build_customer_features(lines).loc[1, c.MOST_COMMON_LOCATION] == "Spain"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("85123A", True), ("22423", True), ("POST", False), ("BANK CHARGES", False),
     ("gift_0001_10", False), ("DCGS0058", False), ("1234", False), ("C2", False)],
)
def test_products_are_codes_that_start_with_five_digits(code, expected):
    assert bool(is_product(pd.Series([code], dtype="str")).iloc[0]) is expected


def test_input_is_not_modified():
    before = LINES.copy()
    build_customer_features(LINES)
    pd.testing.assert_frame_equal(LINES, before)


def test_shuffled_lines_give_the_same_table():
    shuffled = LINES.sample(frac=1.0, random_state=7).reset_index(drop=True)
    pd.testing.assert_frame_equal(build_customer_features(shuffled), build_customer_features(LINES))


def test_a_purchase_with_no_stock_code_still_counts_toward_money():
    lines = invoice_lines([("1", None, "?", 2, "2010-12-01 10:00", 5.00, 9, "United Kingdom")])
    row = build_customer_features(lines).loc[9]
    assert (row[c.GROSS_SPEND], row[c.TOTAL_BILL_SIZE], row[c.FREQUENCY]) == (10.00, 10.00, 0)


def test_money_is_rounded_once_to_the_penny_halves_up_whatever_the_binary_float():
    # 1 x £1.015 is exactly 1,015,000 micro-pounds -> 102p (the float 1.015 rounds down to 1.01)
    lines = invoice_lines([("1", "22111", "BOTTLE", 1, "2010-12-01 10:00", 1.015, 9, "United Kingdom")])
    row = build_customer_features(lines).loc[9]
    assert (row[c.GROSS_SPEND], row[c.TOTAL_BILL_SIZE], row[c.PRODUCT_SPEND]) == (1.02, 1.02, 1.02)


def test_only_ascii_digits_make_a_product_code():
    assert not bool(is_product(pd.Series(["\u0661\u0662\u0663\u0664\u0665"], dtype="str")).iloc[0])
