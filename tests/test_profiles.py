"""RFM clusters: label order, names from the naming rule, and the profile table."""

from __future__ import annotations

import pandas as pd
import pytest

from segmentation import columns as c
from segmentation.analysis.cluster import cluster_customers
from segmentation.analysis.profiles import profile_segments
from segmentation.analysis.rfm import load_segment_map, name_clusters
from segmentation.errors import InvoiceDataError


def rfm_customers() -> pd.DataFrame:
    """Three groups far apart in RFM space, listed in an order that is neither by spend nor by name.

    - 1-3: bought long ago, once, little: lost;
    - 4-6: bought last week, often, a lot: champions;
    - 7-9: bought long ago, often, a lot: at risk (they spend a bit less than the champions).
    """
    rows = [
        (300, 1, 20.0, "France", "MUG"), (310, 1, 25.0, "France", "MUG"), (320, 1, 22.0, "Spain", "CUP"),
        (2, 30, 9000.0, "United Kingdom", "LAMP"), (3, 32, 9500.0, "United Kingdom", "LAMP"),
        (4, 28, 8800.0, "Germany", "BAG"),
        (280, 25, 7000.0, "United Kingdom", "BAG"), (290, 27, 7200.0, "Germany", "BAG"),
        (270, 26, 6900.0, "Germany", "CUP"),
    ]
    index = pd.Index(range(1, 10), dtype="Int64", name=c.CUSTOMER_ID)
    return pd.DataFrame(rows, index=index, columns=[c.RECENCY_DAYS, c.FREQUENCY, c.TOTAL_BILL_SIZE,
                                                    c.MOST_COMMON_LOCATION, c.TOP_ITEM])


def test_rfm_labels_are_ordered_by_centroid_spend_and_named_by_the_rule():
    # Rule scores of the nine customers (quintiles among 9: 1 + 5w // 9, w = customers worse):
    #   1-3 (recency 300, 310, 320; F 1; spend 20, 25, 22): R 2, 1, 1; FM 1, 2, 1
    #       -> Hibernating, Hibernating, Lost: their cluster is "Hibernating"
    #   4-6 (recency 2, 3, 4; F 30, 32, 28; spend 9000, 9500, 8800): R 5, 4, 4; FM 4, 5, 4
    #       -> Champions, Loyal, Loyal: their cluster is "Loyal"
    #   7-9 (recency 280, 290, 270; F 25, 27, 26; spend 7000, 7200, 6900): R 3, 2, 3; FM 3
    #       -> Need attention, At risk, Need attention: their cluster is "Need attention"
    result = cluster_customers(rfm_customers(), k=3, features=c.RFM_FEATURES, log=True)
    assert result.labels.tolist() == [0, 0, 0, 2, 2, 2, 1, 1, 1]
    assert result.centroids[c.TOTAL_BILL_SIZE].is_monotonic_increasing
    assert list(result.centroids[c.SEGMENT]) == ["Hibernating", "Need attention", "Loyal"]
    assert result.segments.tolist() == ["Hibernating"] * 3 + ["Loyal"] * 3 + ["Need attention"] * 3


def test_log_centroids_are_in_the_features_own_units():
    result = cluster_customers(rfm_customers(), k=3, features=c.RFM_FEATURES, log=True)
    # expm1 of the mean of log1p: between the group's smallest and largest value
    assert 20.0 < result.centroids.loc[0, c.TOTAL_BILL_SIZE] < 25.0
    assert result.scaled_centroids.shape == (3, 3)


def test_each_name_is_used_once_even_when_two_clusters_share_a_majority_segment():
    # clusters 0 and 1 are both mostly "Lost"; cluster 1 has more of them, so it keeps the name
    # and cluster 0 takes the segment it holds next most of
    labels = pd.Series([0, 0, 0, 1, 1, 1, 1, 2, pd.NA], dtype="Int64")
    names = load_segment_map().names
    segments = pd.Series(pd.Categorical(
        ["Lost", "Lost", "Hibernating", "Lost", "Lost", "Lost", "New", "Champions", "Champions"],
        categories=list(names), ordered=True))
    assert name_clusters(labels, segments, load_segment_map()) == ("Hibernating", "Lost", "Champions")


def test_more_rfm_clusters_than_map_names_is_a_one_line_error():
    labels = pd.Series(range(11), dtype="Int64")
    segments = pd.Series(pd.Categorical(["Lost"] * 11, categories=list(load_segment_map().names)))
    with pytest.raises(InvoiceDataError, match="11 RFM clusters, but the segment map names only 10"):
        name_clusters(labels, segments, load_segment_map())


def test_profile_has_one_row_per_segment_with_shares_medians_and_top_values():
    customers = rfm_customers()
    result = cluster_customers(customers, k=3, features=c.RFM_FEATURES, log=True)
    profile = profile_segments(customers, result)
    assert profile[c.CUSTOMERS].tolist() == [3, 3, 3]
    assert profile[c.SHARE_OF_REVENUE].sum() == pytest.approx(1.0)
    # lost: 20 + 25 + 22 = 67 of 48,467 spend
    assert profile.loc[0, c.SHARE_OF_REVENUE] == pytest.approx(67 / 48_467)
    assert profile.loc[0, c.MEDIAN_PREFIX + c.RECENCY_DAYS] == 310
    assert profile.loc[0, c.TOP_COUNTRIES] == "France 67%, Spain 33%"
    # at risk: BAG on two customers, CUP on one
    assert profile.loc[1, c.TOP_ITEMS] == "BAG 67%, CUP 33%"
    assert profile.loc[2, c.TOP_COUNTRIES] == "United Kingdom 67%, Germany 33%"


def test_log_scaling_refuses_negative_features():
    customers = rfm_customers().assign(**{c.RECENCY_DAYS: -5})
    with pytest.raises(ValueError, match="Recency_Days"):
        cluster_customers(customers, k=2, features=c.RFM_FEATURES, log=True)


def test_too_few_distinct_rfm_rows_is_a_clear_error():
    customers = rfm_customers().iloc[[0, 0, 0, 0]]
    with pytest.raises(InvoiceDataError, match="distinct value"):
        cluster_customers(customers.reset_index(drop=True), k=3, features=c.RFM_FEATURES, log=True)
