"""Rule-based RFM: quintile scores on tiny customer tables worked out by hand, their invariants, segment maps."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from segmentation import columns as c
from segmentation.analysis.rfm import (
    DEFAULT_SEGMENT_MAP_PATH,
    describe_segment_map,
    load_segment_map,
    score_customers,
    segment_customers,
)
from segmentation.errors import InvoiceDataError

# As in test_properties: the same examples on every run; PROPERTY_EXAMPLES=1000 searches wider.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 60)),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def customer_table(recency: list[int | None], frequency: list[int], spend: list[float]) -> pd.DataFrame:
    """A customer feature table of the three RFM columns, CustomerIDs 1, 2, … in the order given."""
    index = pd.Index(range(1, len(frequency) + 1), dtype="Int64", name=c.CUSTOMER_ID)
    return pd.DataFrame(
        {
            c.RECENCY_DAYS: pd.array(recency, dtype="Int64"),
            c.FREQUENCY: np.array(frequency, dtype="int64"),
            c.TOTAL_BILL_SIZE: np.array(spend, dtype="float64"),
        },
        index=index,
    )


def score_table(index: pd.Index, **scores: list[int | None]) -> pd.DataFrame:
    """Expected scores: R, F, M, FM and RFM given by those short names."""
    names = dict(zip(("R", "F", "M", "FM", "RFM"), c.RFM_SCORE_COLUMNS, strict=True))
    return pd.DataFrame({names[key]: pd.array(values, dtype="Int64") for key, values in scores.items()}, index=index)


# --- scores worked out by hand ---------------------------------------------------------------


def test_ten_distinct_values_score_two_customers_per_quintile():
    # n = 10 scored customers, all values distinct, so w = how many are worse = 0..9, and
    # score = 1 + (5 * w) // 10 = 1, 1, 2, 2, 3, 3, 4, 4, 5, 5.
    # R: smaller Recency_Days is better, so customer 1 (1 day) has w = 9 and scores 5.
    customers = customer_table(
        recency=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        frequency=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        spend=[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0],
    )
    expected = score_table(
        customers.index,
        R=[5, 5, 4, 4, 3, 3, 2, 2, 1, 1],
        F=[1, 1, 2, 2, 3, 3, 4, 4, 5, 5],
        M=[1, 1, 2, 2, 3, 3, 4, 4, 5, 5],
        FM=[1, 1, 2, 2, 3, 3, 4, 4, 5, 5],  # (F + M + 1) // 2 with F = M
        RFM=[7, 7, 8, 8, 9, 9, 10, 10, 11, 11],
    )
    pd.testing.assert_frame_equal(score_customers(customers), expected)


def test_ties_straddling_a_boundary_all_get_the_lower_score():
    # Frequency: four customers share the lowest value 1 (positions 0-3 of 10, straddling the
    # boundary at 2): all have w = 0 and F 1. Frequency 2 has w = 4: F = 1 + (5 * 4) // 10 = 3,
    # so no one scores 2. Frequency 3: w = 5 -> 3; 4: w = 6 -> 4; 5: w = 7 -> 1 + 35 // 10 = 4;
    # 6: w = 8 -> 5; 7: w = 9 -> 5.
    # Spend: three customers tie at the top 80.0, each with w = 7: M = 1 + 35 // 10 = 4, so no
    # one scores 5. The others are distinct: w = 0..6 -> 1, 1, 2, 2, 3, 3, 4.
    # Recency: all equal, w = 0 for everyone: R 1.
    customers = customer_table(
        recency=[30] * 10,
        frequency=[1, 1, 1, 1, 2, 3, 4, 5, 6, 7],
        spend=[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 80.0, 80.0],
    )
    scores = score_customers(customers)
    assert scores[c.F_SCORE].tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    assert scores[c.M_SCORE].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 4, 4]
    assert scores[c.R_SCORE].tolist() == [1] * 10


def test_the_most_recent_customer_gets_r_five_and_the_longest_gone_r_one():
    # Five distinct Recency_Days, n = 5: score = 1 + w; w counts customers with *more* days.
    # 200 days: w = 0 -> R 1; 90: w = 1 -> 2; 31: w = 2 -> 3; 7: w = 3 -> 4; 0 days: w = 4 -> R 5.
    customers = customer_table(recency=[90, 0, 200, 7, 31], frequency=[1] * 5, spend=[5.0] * 5)
    assert score_customers(customers)[c.R_SCORE].tolist() == [2, 5, 1, 4, 3]


def test_customers_without_a_purchase_occasion_or_recency_get_no_score_and_do_not_count():
    # Customer 6 has Frequency 0, customer 7 no Recency_Days: neither is scored, so n = 5 and the
    # five others, all distinct, score 1 + w = 1..5 (as if 6 and 7 were not there).
    customers = customer_table(
        recency=[5, 4, 3, 2, 1, None, None],
        frequency=[1, 2, 3, 4, 5, 0, 3],
        spend=[1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 9.0],
    )
    expected = score_table(
        customers.index,
        R=[1, 2, 3, 4, 5, None, None],
        F=[1, 2, 3, 4, 5, None, None],
        M=[1, 2, 3, 4, 5, None, None],
        FM=[1, 2, 3, 4, 5, None, None],
        RFM=[3, 6, 9, 12, 15, None, None],
    )
    pd.testing.assert_frame_equal(score_customers(customers), expected)


def test_fm_is_the_mean_of_f_and_m_with_halves_rounded_up():
    # n = 5, all distinct: each score is 1 + the number of smaller (for R: larger) values.
    # Frequency 2, 1, 5, 3, 4 -> F 2, 1, 5, 3, 4; spend 30, 10, 40, 20, 50 -> M 3, 1, 4, 2, 5;
    # FM = (F + M + 1) // 2: (2+3+1)//2 = 3, (1+1+1)//2 = 1, (5+4+1)//2 = 5, (3+2+1)//2 = 3, (4+5+1)//2 = 5.
    # Recency 5, 4, 3, 2, 1 -> R 1, 2, 3, 4, 5; RFM = R + F + M = 6, 4, 12, 9, 14.
    customers = customer_table(recency=[5, 4, 3, 2, 1], frequency=[2, 1, 5, 3, 4], spend=[30.0, 10.0, 40.0, 20.0, 50.0])
    expected = score_table(
        customers.index, R=[1, 2, 3, 4, 5], F=[2, 1, 5, 3, 4], M=[3, 1, 4, 2, 5], FM=[3, 1, 5, 3, 5],
        RFM=[6, 4, 12, 9, 14],
    )
    pd.testing.assert_frame_equal(score_customers(customers), expected)


def test_a_lone_customer_scores_one_and_a_table_with_no_purchase_scores_no_one():
    lone = score_customers(customer_table(recency=[3], frequency=[2], spend=[9.0]))
    assert lone.iloc[0].tolist() == [1, 1, 1, 1, 3]
    nobody = score_customers(customer_table(recency=[None, None], frequency=[0, 0], spend=[0.0, 0.0]))
    assert nobody.isna().all().all() and list(nobody.columns) == list(c.RFM_SCORE_COLUMNS)


def test_scoring_leaves_the_customer_table_as_it_was():
    customers = customer_table(recency=[1, None, 3], frequency=[1, 0, 2], spend=[1.0, 0.0, 2.0])
    before = customers.copy()
    score_customers(customers)
    pd.testing.assert_frame_equal(customers, before)


def test_a_table_without_frequency_is_an_error_naming_the_column():
    customers = customer_table(recency=[1], frequency=[1], spend=[1.0]).drop(columns=c.FREQUENCY)
    with pytest.raises(InvoiceDataError, match="no Frequency column"):
        score_customers(customers)


def test_a_scored_customer_without_spend_is_an_error_naming_the_customer():
    customers = customer_table(recency=[1, 2], frequency=[1, 1], spend=[1.0, float("nan")])
    with pytest.raises(InvoiceDataError, match=r"no Total_Bill_Size \(CustomerID 2\)"):
        score_customers(customers)


# --- invariants on random customer tables ----------------------------------------------------

customer_rows = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(min_value=0, max_value=12)),  # few values: many ties
        st.integers(min_value=0, max_value=4),
        st.one_of(st.sampled_from([0.0, 0.5, 3.0, 250.75]), st.floats(min_value=0, max_value=1e6)),
    ),
    min_size=1,
    max_size=40,
)
random_customers = customer_rows.map(lambda rows: customer_table(*(list(column) for column in zip(*rows, strict=True))))


def goodness(customers: pd.DataFrame) -> dict[str, pd.Series]:
    """Per score column, the value it ranks, turned so that larger is better."""
    return {
        c.R_SCORE: -customers[c.RECENCY_DAYS].astype("float64"),
        c.F_SCORE: customers[c.FREQUENCY].astype("float64"),
        c.M_SCORE: customers[c.TOTAL_BILL_SIZE],
    }


def scored_mask(customers: pd.DataFrame) -> pd.Series:
    return (customers[c.FREQUENCY] >= 1) & customers[c.RECENCY_DAYS].notna()


@PROPERTY_SETTINGS
@given(random_customers)
def test_scores_are_one_to_five_exactly_for_scored_customers(customers):
    scores = score_customers(customers)
    scored = scored_mask(customers)
    assert scores.loc[~scored].isna().all().all()
    assert scores.loc[scored].notna().all().all()
    for name in (c.R_SCORE, c.F_SCORE, c.M_SCORE, c.FM_SCORE):
        assert scores.loc[scored, name].between(1, 5).all()
    rfm = scores[c.R_SCORE] + scores[c.F_SCORE] + scores[c.M_SCORE]
    pd.testing.assert_series_equal(scores[c.RFM_SCORE], rfm, check_names=False)


@PROPERTY_SETTINGS
@given(random_customers)
def test_equal_values_get_equal_scores_and_a_better_value_never_a_lower_score(customers):
    scored = scored_mask(customers)
    scores = score_customers(customers).loc[scored]
    for name, value in goodness(customers.loc[scored]).items():
        assert (scores[name].groupby(value).nunique() == 1).all()
        by_value = scores[name].to_numpy()[np.argsort(value.to_numpy(), kind="stable")]
        assert (np.diff(by_value) >= 0).all()  # ascending value -> non-decreasing score


@PROPERTY_SETTINGS
@given(random_customers)
def test_score_shares_follow_the_ties_go_down_rule_exactly(customers):
    """With n scored customers and K = ceil(s * n / 5), a customer scores s or lower exactly when its
    value is no better than the K-th worst value.

    Why: score <= s  <=>  1 + (5 * w) // n <= s  <=>  5 * w < s * n  <=>  w < K, and w (how many are
    strictly worse) is below K exactly when the value is at most the K-th smallest. So at least K
    customers, a share of at least s / 5, score s or lower, and at most n - K, a share of at most
    1 - s / 5, score above s; the surplus over K is the rest of the tie group at the boundary, and
    with distinct values the count is K exactly.
    """
    scored = scored_mask(customers)
    scores = score_customers(customers).loc[scored]
    n = int(scored.sum())
    assume(n > 0)  # no one scored: no shares to speak of
    for name, value in goodness(customers.loc[scored]).items():
        ordered = np.sort(value.to_numpy())
        for s in range(1, 5):
            k = -(-s * n // 5)  # ceil(s * n / 5), in integers
            low = (scores[name] <= s).to_numpy()
            np.testing.assert_array_equal(low, value.to_numpy() <= ordered[k - 1])
            assert 5 * low.sum() >= s * n and 5 * (~low).sum() <= (5 - s) * n
            if len(np.unique(ordered)) == n:
                assert low.sum() == k


@PROPERTY_SETTINGS
@given(random_customers, st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_row_order(customers, random):
    order = list(range(len(customers)))
    random.shuffle(order)
    shuffled = score_customers(customers.iloc[order])
    pd.testing.assert_frame_equal(shuffled.loc[customers.index], score_customers(customers))


# --- the default segment map -----------------------------------------------------------------

DEFAULT_NAMES = (
    "Champions", "Loyal", "Can't lose them", "Need attention", "At risk", "Potential loyalist", "About to sleep",
    "Hibernating", "New", "Lost",
)


def test_the_default_map_has_ten_segments_most_likely_to_buy_first_covering_every_cell_once():
    segment_map = load_segment_map()
    assert segment_map.names == DEFAULT_NAMES
    assert sorted(segment_map.cells) == [(r, fm) for r in range(1, 6) for fm in range(1, 6)]
    assert set(segment_map.cells.values()) == set(DEFAULT_NAMES)
    assert segment_map == load_segment_map(DEFAULT_SEGMENT_MAP_PATH)


def test_the_default_map_cells_read_as_designed():
    cells = load_segment_map().cells
    assert cells[(5, 5)] == "Champions"
    assert cells[(1, 1)] == "Lost"
    assert cells[(1, 2)] == "Hibernating"
    assert cells[(3, 3)] == "Need attention"
    assert cells[(4, 1)] == cells[(5, 1)] == "New"  # bought once, recently, little


def test_the_default_map_as_a_grid_has_r_five_on_top_and_fm_one_on_the_left():
    grid = describe_segment_map(load_segment_map())
    expected = pd.DataFrame(
        [
            ["New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"],
            ["New", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"],
            ["About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"],
            ["Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"],
            ["Lost", "Hibernating", "At risk", "At risk", "Can't lose them"],
        ],
        index=pd.Index([5, 4, 3, 2, 1], name=c.R_SCORE),
        columns=pd.Index([1, 2, 3, 4, 5], name=c.FM_SCORE),
    )
    pd.testing.assert_frame_equal(grid, expected)


# --- user maps, good and bad -----------------------------------------------------------------

#: Three segments; "Keep" is two entries: the recent with FM 3-5, and big spenders of any recency.
THREE_SEGMENTS = """
[[segment]]
name = "Keep"
r = [4, 5]
fm = [3, 4, 5]

[[segment]]
name = "Grow"
r = [4, 5]
fm = [1, 2]

[[segment]]
name = "Keep"
r = [1, 2, 3]
fm = [5]

[[segment]]
name = "Wake"
r = [1, 2, 3]
fm = [1, 2, 3, 4]
"""


def write_map(tmp_path, text: str, *, replace: tuple[str, str] | None = None):
    """THREE_SEGMENTS-like map text in a file; ``replace`` = (old, new) changes it once."""
    if replace is not None:
        assert text.count(replace[0]) == 1, replace[0]
        text = text.replace(*replace)
    path = tmp_path / "segments.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_user_map_that_merges_cells_names_customers_by_its_cells(tmp_path):
    segment_map = load_segment_map(write_map(tmp_path, THREE_SEGMENTS))
    assert segment_map.names == ("Keep", "Grow", "Wake")
    assert (segment_map.cells[(5, 3)], segment_map.cells[(1, 5)], segment_map.cells[(3, 4)]) == ("Keep", "Keep", "Wake")
    # (R, FM): (5, 4) Keep, (4, 1) Grow, (2, 5) Keep, (3, 3) Wake, not scored, (1, 1) Wake
    index = pd.Index([11, 12, 13, 14, 15, 16], dtype="Int64", name=c.CUSTOMER_ID)
    scores = pd.DataFrame({c.R_SCORE: pd.array([5, 4, 2, 3, None, 1], dtype="Int64"),
                           c.FM_SCORE: pd.array([4, 1, 5, 3, None, 1], dtype="Int64")}, index=index)
    segments = segment_customers(scores, segment_map)
    dtype = pd.CategoricalDtype(["Keep", "Grow", "Wake"], ordered=True)
    expected = pd.Series(["Keep", "Grow", "Keep", "Wake", None, "Wake"], index=index, dtype=dtype, name=c.RFM_SEGMENT)
    pd.testing.assert_series_equal(segments, expected)
    assert segments.sort_values().dropna().tolist() == ["Keep", "Keep", "Grow", "Wake", "Wake"]


def test_segments_of_scored_customers_follow_the_default_map(tmp_path):
    # Scores from test_fm_is_the_mean_of_f_and_m_with_halves_rounded_up: (R, FM) = (1, 3), (2, 1),
    # (3, 5), (4, 3), (5, 5) -> At risk, Hibernating, Loyal, Potential loyalist, Champions; the
    # sixth customer bought nothing: no segment.
    customers = customer_table(
        recency=[5, 4, 3, 2, 1, None], frequency=[2, 1, 5, 3, 4, 0], spend=[30.0, 10.0, 40.0, 20.0, 50.0, 0.0]
    )
    segments = segment_customers(score_customers(customers), load_segment_map())
    assert segments.tolist()[:5] == ["At risk", "Hibernating", "Loyal", "Potential loyalist", "Champions"]
    assert pd.isna(segments.iloc[5])
    assert list(segments.cat.categories) == list(DEFAULT_NAMES) and segments.cat.ordered


def test_a_score_outside_one_to_five_cannot_be_segmented():
    scores = pd.DataFrame({c.R_SCORE: pd.array([6], dtype="Int64"), c.FM_SCORE: pd.array([1], dtype="Int64")})
    with pytest.raises(InvoiceDataError, match="R_Score holds values outside 1-5"):
        segment_customers(scores, load_segment_map())


BAD_MAPS = {
    "overlap": (("fm = [1, 2, 3, 4]", "fm = [1, 2, 3, 4, 5]"),
                "cell R=1, FM=5 is in both 'Keep' and 'Wake'; each (R, FM) cell must be in exactly one segment"),
    "gap": (("fm = [1, 2, 3, 4]", "fm = [2, 3, 4]"), "cells R=1 FM=1, R=2 FM=1, R=3 FM=1 belong to no segment"),
    "one cell missing": (("r = [1, 2, 3]\nfm = [1, 2, 3, 4]", "r = [2, 3]\nfm = [1, 2, 3, 4]\n\n[[segment]]\n"
                          "name = \"Wake\"\nr = [1]\nfm = [2, 3, 4]"), "cell R=1 FM=1 belongs to no segment"),
    "score 0": (("r = [4, 5]\nfm = [1, 2]", "r = [0, 5]\nfm = [1, 2]"),
                "entry 2 ('Grow'): r holds 0, not a whole number from 1 to 5"),
    "score 6": (("fm = [3, 4, 5]", "fm = [3, 4, 6]"), "entry 1 ('Keep'): fm holds 6, not a whole number"),
    "score as text": (("fm = [5]", "fm = [\"5\"]"), "entry 3 ('Keep'): fm holds '5', not a whole number"),
    "score as bool": (("fm = [5]", "fm = [true]"), "fm holds True, not a whole number"),
    "score as float": (("fm = [5]", "fm = [5.0]"), "fm holds 5.0, not a whole number"),
    "scores not a list": (("fm = [5]", "fm = 5"), "entry 3 ('Keep'): fm is 5, not a list of scores"),
    "unknown key": (("name = \"Grow\"", "name = \"Grow\"\ncolour = \"green\""),
                    "entry 2 ('Grow') has the unknown key 'colour'; an entry has only name, r and fm"),
    "missing fm": (("fm = [1, 2]\n", ""), "entry 2 ('Grow') has no fm; each [[segment]] needs name, r and fm"),
    "missing name": (("name = \"Grow\"\n", ""), "[[segment]] entry 2 has no name"),
    "empty list": (("fm = [1, 2]", "fm = []"), "entry 2 ('Grow'): fm is an empty list"),
    "empty name": (("name = \"Grow\"", "name = \"  \""), "entry 2 ('  ') has an empty name"),
    "name not text": (("name = \"Grow\"", "name = 7"), "entry 2 has the name 7, not text"),
    "name with a line break": (("name = \"Grow\"", "name = \"Grow\\r=1+1\""),
                               "entry 2 ('Grow\\r=1+1') has a name with a line break or control character"),
    "syntax error": (("fm = [1, 2]", "fm = [1, 2"), "is not valid TOML: "),
    "unknown top-level key": (("\n[[segment]]\nname = \"Keep\"\nr = [4, 5]", "title = \"mine\"\n[[segment]]\n"
                               "name = \"Keep\"\nr = [4, 5]"), "unknown top-level key 'title'"),
}


@pytest.mark.parametrize(("replace", "fragment"), BAD_MAPS.values(), ids=BAD_MAPS.keys())
def test_a_bad_map_is_one_line_naming_the_file_and_the_problem(tmp_path, replace, fragment):
    path = write_map(tmp_path, THREE_SEGMENTS, replace=replace)
    with pytest.raises(InvoiceDataError) as raised:
        load_segment_map(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: segment map: ")
    assert fragment in message


def test_a_map_file_that_cannot_be_read_is_one_line_naming_it(tmp_path):
    not_utf8 = tmp_path / "latin1.toml"
    not_utf8.write_bytes('[[segment]]\nname = "Caf\xe9"\n'.encode("latin-1"))
    comments_only = write_map(tmp_path, "# segments to come\n")
    cases = {
        tmp_path / "missing.toml": "no such file",
        tmp_path: "is a folder, not a file",
        not_utf8: "is not UTF-8 text",
        comments_only: "has no [[segment]] entries",
    }
    for path, fragment in cases.items():
        with pytest.raises(InvoiceDataError) as raised:
            load_segment_map(str(path))
        message = str(raised.value)
        assert "\n" not in message and message.startswith(f"{path}: segment map: ") and fragment in message
