"""customer_segments.csv: text from the input cannot run as a spreadsheet formula."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation import columns as c
from segmentation.export import DATE_FORMAT, neutralise_formulas, write_customer_segments


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


# --- the guard on distinct values writes the bytes of the rule applied to every cell -------------

def neutralise_every_cell(table: pd.DataFrame) -> pd.DataFrame:
    """The guard as first written, one call per cell: the oracle for :func:`neutralise_formulas`."""
    def is_text(values):
        return pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)

    def line(text):
        head = text.lstrip()
        while head and unicodedata.category(head[0]) in ("Cc", "Cf"):
            head = head[1:].lstrip()
        return "'" + text if head.startswith(("=", "+", "-", "@")) or text.startswith(("\t", "\r")) else text

    def cell(value):
        return "".join(map(line, value.splitlines(keepends=True))) if isinstance(value, str) else value

    def index(labels):
        if isinstance(labels, pd.MultiIndex):
            levels = [index(labels.get_level_values(level)) for level in range(labels.nlevels)]
            return pd.MultiIndex.from_arrays(levels, names=labels.names)
        return labels.map(cell) if is_text(labels) else labels

    safe = table.assign(**{name: table[name].map(cell) for name in table.columns if is_text(table[name])})
    return safe.set_axis(index(table.index), axis="index")


#: Characters that reach every branch of the rule: whitespace (Unicode's too), line breaks of every kind
#: ``str.splitlines`` knows, control (Cc) and format (Cf) characters, every formula start, quotes, the separator.
RULE_ALPHABET = (" \u00a0\u3000\t\x0b\x0c" "\n\r\x1c\x1d\x1e\x85\u2028\u2029" "\x00\x07\x1b\x7f\x9f"
                 "\u200b\u200e\ufeff\u00ad\u2060" "=+-@" "\"'," "aZ1.é")
texts = st.one_of(st.text(st.sampled_from(RULE_ALPHABET), max_size=6), st.text(max_size=6),
                  st.sampled_from(["", "\r\n", "\r\n=1", " -", "a\n@b", "\ufeff=x", "-1.5"]))
missing = st.sampled_from([None, np.nan])


@st.composite
def tables_with_text(draw) -> pd.DataFrame:
    """A table of 0 to 30 rows: text cells drawn from a few distinct texts (so they repeat) and missing
    cells in an object, a string and a categorical column, a column of text, numbers and missing values
    together, numbers, dates, and a text index (alone or beside numbers in a MultiIndex)."""
    pool = draw(st.lists(texts, min_size=1, max_size=6))
    cells = st.one_of(st.sampled_from(pool), missing)
    n = draw(st.integers(0, 30))
    column = st.lists(cells, min_size=n, max_size=n)
    mixed = st.lists(st.one_of(cells, st.integers(-5, 5), st.floats(-2, 2, allow_nan=False)), min_size=n, max_size=n)
    table = pd.DataFrame({
        "object": pd.Series(draw(column), dtype=object),
        "string": pd.Series(draw(column), dtype="str"),
        "mixed": pd.Series(draw(mixed), dtype=object),
        "category": pd.Series(draw(column), dtype="category"),
        "amount": draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n)),
        "day": pd.date_range("2011-01-01", periods=n, freq="D"),
    })
    labels = pd.Index(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)), dtype=object, name="id")
    if draw(st.booleans()):
        return table.set_axis(pd.MultiIndex.from_arrays([labels, range(n)], names=["id", "row"]), axis="index")
    return table.set_axis(labels, axis="index")


def as_csv(table: pd.DataFrame) -> str:
    return table.to_csv(date_format=DATE_FORMAT, lineterminator="\r\n")


@settings(max_examples=400, deadline=None)
@given(tables_with_text())
def test_neutralise_formulas_writes_what_the_rule_applied_to_every_cell_writes(table):
    assert as_csv(neutralise_formulas(table)) == as_csv(neutralise_every_cell(table))


def test_a_column_with_nothing_to_escape_is_returned_as_it_was():
    table = pd.DataFrame({"text": ["United Kingdom", "EIRE", None] * 3})
    pd.testing.assert_frame_equal(neutralise_formulas(table), table)
