"""customer_segments.csv: text from the input cannot run as a spreadsheet formula."""

from __future__ import annotations

import pandas as pd

from segmentation import columns as c
from segmentation.export import neutralise_formulas, write_customer_segments


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


def segments_with_risky_text() -> pd.DataFrame:
    index = pd.Index([3, 1, 2], dtype="Int64", name=c.CUSTOMER_ID)
    return pd.DataFrame({
        c.RFM_SEGMENT: ["Champions", "=cmd|' /C calc'!A0", None],
        c.TOTAL_BILL_SIZE: [1500.0, -12.5, 0.0],
        c.MOST_COMMON_LOCATION: ["United Kingdom", "=cmd|' /C calc'!A0", "@Germany"],
        c.TOP_ITEM: ["-PAPER CHAIN KIT", "+MUG", None],
    }, index=index)


def test_customer_segments_csv_round_trips_with_safe_text_and_numbers_as_numbers(tmp_path):
    table = segments_with_risky_text()
    path = write_customer_segments(table, tmp_path / "customer_segments.csv")
    back = pd.read_csv(path, index_col=c.CUSTOMER_ID, keep_default_na=False, na_values=[""])
    assert back.index.tolist() == [3, 1, 2]  # the table's order
    assert back.loc[3, c.TOP_ITEM] == "'-PAPER CHAIN KIT"
    assert back.loc[2, c.MOST_COMMON_LOCATION] == "'@Germany"
    assert back.loc[1, c.MOST_COMMON_LOCATION] == "'=cmd|' /C calc'!A0"
    assert back.loc[1, c.TOTAL_BILL_SIZE] == -12.5
    assert not any(str(cell).startswith(("=", "+", "-", "@"))
                   for cell in back.select_dtypes(["object", "str"]).to_numpy().ravel())
