"""customer_segments.csv: text from the input cannot run as a spreadsheet formula."""

from __future__ import annotations

import pandas as pd

from segmentation import columns as c
from segmentation.export import customer_segments_table, neutralise_formulas, write_customer_segments


def test_formula_cells_get_a_leading_quote_and_numbers_stay_numbers():
    table = pd.DataFrame({
        "text": ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\tTAB", "\rCR", "PLAIN", None],
        "amount": [-2.5, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
    })
    safe = neutralise_formulas(table)
    assert safe["text"].iloc[:7].tolist() == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'-2", "'@SUM(A1)",
                                              "'\tTAB", "'\rCR", "PLAIN"]
    assert pd.isna(safe["text"].iloc[7])
    pd.testing.assert_series_equal(safe["amount"], table["amount"])
    assert table["text"].iloc[0].startswith("=")  # the input is not changed


def customers_with_risky_text() -> pd.DataFrame:
    index = pd.Index([3, 1, 2, 4], dtype="Int64", name=c.CUSTOMER_ID)
    return pd.DataFrame({
        c.RECENCY_DAYS: [5, 200, 40, 10],
        c.FREQUENCY: [9, 1, 3, 2],
        c.TOTAL_BILL_SIZE: [1500.0, -12.5, 300.0, 80.0],
        c.GROSS_SPEND: [1500.0, 10.0, 300.0, 80.0],
        c.MOST_COMMON_LOCATION: ["United Kingdom", "=cmd|' /C calc'!A0", "France", "@Germany"],
        c.TOP_ITEM: ["-PAPER CHAIN KIT", "+MUG", "LAMP", None],
    }, index=index)


def test_customer_segments_csv_round_trips_with_safe_text(tmp_path):
    customers = customers_with_risky_text()
    labels = pd.Series([1, pd.NA, 0, 0], index=customers.index, dtype="Int64")
    segments = pd.Series(["High spend", None, "Low spend", "Low spend"], index=customers.index)
    path = write_customer_segments(customers, labels, segments, tmp_path / "customer_segments.csv")
    back = pd.read_csv(path, index_col=c.CUSTOMER_ID, keep_default_na=False, na_values=[""])
    assert list(back.columns) == list(c.SEGMENT_EXPORT_COLUMNS)
    assert back.index.tolist() == [2, 4, 3]  # by cluster, then CustomerID; customer 1 not clustered
    assert back.loc[3, c.TOP_ITEM] == "'-PAPER CHAIN KIT"
    assert back.loc[4, c.MOST_COMMON_LOCATION] == "'@Germany"
    assert back.loc[3, c.TOTAL_BILL_SIZE] == 1500.0
    assert not any(str(cell).startswith(("=", "+", "-", "@"))
                   for cell in back.select_dtypes(["object", "str"]).to_numpy().ravel())


def test_negative_spend_is_written_as_a_number():
    customers = customers_with_risky_text()
    labels = pd.Series([0, 0, 0, 0], index=customers.index, dtype="Int64")
    segments = pd.Series(["All customers"] * 4, index=customers.index)
    table = customer_segments_table(customers, labels, segments)
    assert table.loc[1, c.TOTAL_BILL_SIZE] == -12.5
    assert table.loc[1, c.MOST_COMMON_LOCATION] == "'=cmd|' /C calc'!A0"
