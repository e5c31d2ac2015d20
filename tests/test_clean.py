"""Cleaning rules, their order, and the ledger that accounts for every line."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import invoice_lines
from segmentation import columns as c
from segmentation.rules.clean import RULES, clean_invoices, ledger_from_counts, line_amounts

# InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country
LINES = invoice_lines(
    [
        ("536001", "85123A", "HEART", 6, "2010-12-01 08:26", 2.55, 100, "United Kingdom"),  # kept
        ("536001", "85123A", "HEART", 6, "2010-12-01 08:26", 2.55, 100, "United Kingdom"),  # duplicate
        ("536002", "22423", "CAKESTAND", 2, "2010-12-01 09:00", 12.75, None, "United Kingdom"),  # missing customer
        # missing customer (not duplicate)
        ("536002", "22423", "CAKESTAND", 2, "2010-12-01 09:00", 12.75, None, "United Kingdom"),
        ("536003", "22111", "BOTTLE", 3, "2010-12-02 10:00", 0.0, 200, "France"),  # non-positive price
        ("A536004", "B", "Adjust bad debt", 1, "2010-12-02 11:00", -500.0, 200, "France"),  # non-positive price
        ("536005", "22111", "BOTTLE", 0, "2010-12-02 12:00", 4.95, 200, "France"),  # zero quantity
        ("C536006", "22111", "BOTTLE", 2, "2010-12-03 12:00", 4.95, 200, "France"),  # inconsistent cancellation
        ("C536007", "85123A", "HEART", -1, "2010-12-04 12:00", 2.55, 100, "United Kingdom"),  # kept: a return
        ("536008", "POST", "POSTAGE", 1, "2010-12-04 13:00", 18.0, 200, "France"),  # kept
        ("536009", "TEST001", "This is a test product.", 5, "2010-12-05 10:00", 4.5, 300, "United Kingdom"),  # test
        ("C536010", "test002", "test", -1, "2010-12-05 10:05", 1.0, 300, "United Kingdom"),  # test, any case
        ("536011", "ATEST", "not a test code", 1, "2010-12-05 10:10", 1.0, 300, "United Kingdom"),  # kept
    ]
)

# By hand, |Quantity x UnitPrice|:
#   missing_customer: 2 lines, 25.50 + 25.50 = 51.00
#   duplicate: 1 line, 15.30
#   non_positive_price: 2 lines, 0 + 500 = 500.00
#   zero_quantity: 1 line, 0
#   inconsistent_cancellation: 1 line, 9.90
#   test_line: 2 lines, 22.50 + 1.00 = 23.50 (ATEST only contains "TEST": kept)
#   kept: 4 lines, 15.30 + 2.55 + 18.00 + 1.00 = 36.85; input: 13 lines, 612.05 + 23.50 + 1.00 = 636.55
EXPECTED_LEDGER = {
    "input": (13, 636.55),
    "missing_customer": (2, 51.00),
    "duplicate": (1, 15.30),
    "non_positive_price": (2, 500.00),
    "zero_quantity": (1, 0.0),
    "inconsistent_cancellation": (1, 9.90),
    "test_line": (2, 23.50),
    "kept": (4, 36.85),
}


def test_ledger_matches_the_hand_count():
    ledger = clean_invoices(LINES).ledger
    assert list(ledger.index) == list(EXPECTED_LEDGER)
    for step, (rows, amount) in EXPECTED_LEDGER.items():
        assert ledger.loc[step, c.LEDGER_ROWS] == rows, step
        assert ledger.loc[step, c.LEDGER_AMOUNT] == pytest.approx(amount), step


def test_rows_in_equal_rows_out_plus_rows_removed():
    result = clean_invoices(LINES)
    removed = result.ledger.drop(index=["input", "kept"])[c.LEDGER_ROWS].sum()
    assert result.rows_in == len(LINES)
    assert result.rows_out == len(result.invoices)
    assert result.rows_in == result.rows_out + removed


def test_amount_in_equals_amount_kept_plus_amount_removed():
    ledger = clean_invoices(LINES).ledger
    removed = ledger.drop(index=["input", "kept"])[c.LEDGER_AMOUNT].sum()
    kept = ledger.loc["kept", c.LEDGER_AMOUNT]
    assert ledger.loc["input", c.LEDGER_AMOUNT] == pytest.approx(kept + removed, abs=0.005)


def test_kept_lines_are_the_expected_ones_in_input_order():
    kept = clean_invoices(LINES).invoices
    assert list(kept[c.INVOICE]) == ["536001", "C536007", "536008", "536011"]
    assert kept.index.equals(pd.RangeIndex(4))


def test_after_cleaning_positive_quantity_is_a_purchase_and_negative_a_return():
    kept = clean_invoices(LINES).invoices
    assert (kept[c.QUANTITY] != 0).all()
    cancellation = kept[c.INVOICE].str.startswith("C")
    assert (kept.loc[cancellation, c.QUANTITY] < 0).all()
    assert (kept[c.UNIT_PRICE] > 0).all()
    assert kept[c.CUSTOMER_ID].notna().all()


def test_a_line_breaking_two_rules_is_counted_once_under_the_first():
    # both lines lack a customer; the second is also a duplicate of the first
    ledger = clean_invoices(LINES).ledger
    assert ledger.loc["missing_customer", c.LEDGER_ROWS] == 2
    assert ledger.loc["duplicate", c.LEDGER_ROWS] == 1


def test_duplicate_keeps_the_first_and_needs_every_column_equal():
    lines = invoice_lines(
        [
            ("1", "22111", "BOTTLE", 1, "2010-12-01 10:00", 4.95, 1, "Spain"),
            ("1", "22111", "BOTTLE", 1, "2010-12-01 10:00", 4.95, 1, "Spain"),
            ("1", "22111", "BOTTLE", 1, "2010-12-01 10:00", 4.95, 1, "France"),  # differs in Country
        ]
    )
    result = clean_invoices(lines)
    assert result.ledger.loc["duplicate", c.LEDGER_ROWS] == 1
    assert list(result.invoices[c.COUNTRY]) == ["Spain", "France"]


def test_rules_run_in_the_documented_order():
    assert [name for name, _, _ in RULES] == [
        "missing_customer",
        "duplicate",
        "non_positive_price",
        "zero_quantity",
        "inconsistent_cancellation",
        "test_line",
    ]


def test_cleaning_does_not_modify_its_input():
    before = LINES.copy()
    clean_invoices(LINES)
    pd.testing.assert_frame_equal(LINES, before)


def test_lowercase_cancellation_prefix_is_a_cancellation():
    lines = invoice_lines([("c536006", "22111", "BOTTLE", 2, "2010-12-03 12:00", 4.95, 200, "France")])
    assert clean_invoices(lines).ledger.loc["inconsistent_cancellation", c.LEDGER_ROWS] == 1


def test_line_amounts_are_signed():
    amounts = line_amounts(LINES)
    assert amounts.iloc[0] == pytest.approx(15.30)
    assert amounts.iloc[8] == pytest.approx(-2.55)


def test_batches_that_keep_copies_together_add_up_to_the_whole_ledger():
    # customer 100's lines (with the duplicate pair) in one batch, every other line in the other
    of_100 = (LINES[c.CUSTOMER_ID] == 100).fillna(False)
    batches = [clean_invoices(LINES[of_100]), clean_invoices(LINES[~of_100])]
    combined = ledger_from_counts(pd.concat([batch.counts for batch in batches]))
    pd.testing.assert_frame_equal(combined, clean_invoices(LINES).ledger)


def test_only_the_letters_t_e_s_t_in_any_case_make_a_test_line():
    lines = invoice_lines([
        ("1", "teſt01", "long s", 1, "2010-12-01 10:00", 1.0, 1, "United Kingdom"),  # "ſ".upper() == "S"
        ("2", "TeSt01", "mixed case", 1, "2010-12-01 10:00", 1.0, 1, "United Kingdom"),
    ])
    for codes in (lines, lines.astype({c.STOCK_CODE: "category"})):
        assert clean_invoices(codes).ledger.loc["test_line", c.LEDGER_ROWS] == 1
