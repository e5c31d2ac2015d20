"""RFM clusters: label order, names from the naming rule, and the profile table."""

from __future__ import annotations

import pandas as pd
import pytest

from segmentation import columns as c
from segmentation.cluster import cluster_customers
from segmentation.errors import InvoiceDataError
from segmentation.profiles import profile_segments
from segmentation.segments import name_rfm_segments


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
    result = cluster_customers(rfm_customers(), k=3, features=c.RFM_FEATURES, log=True)
    assert result.labels.tolist() == [0, 0, 0, 2, 2, 2, 1, 1, 1]
    assert result.centroids[c.TOTAL_BILL_SIZE].is_monotonic_increasing
    assert list(result.centroids[c.SEGMENT]) == ["Lost", "At risk", "Champions"]
    assert result.segments.tolist() == ["Lost"] * 3 + ["Champions"] * 3 + ["At risk"] * 3


def test_log_centroids_are_in_the_features_own_units():
    result = cluster_customers(rfm_customers(), k=3, features=c.RFM_FEATURES, log=True)
    # expm1 of the mean of log1p: between the group's smallest and largest value
    assert 20.0 < result.centroids.loc[0, c.TOTAL_BILL_SIZE] < 25.0
    assert result.scaled_centroids.shape == (3, 3)


def test_names_come_from_the_centroids_not_the_data_set():
    centroids = pd.DataFrame(
        # Recency, Frequency, Total_Bill_Size in standard units
        [[1.2, -0.9, -1.0], [-0.8, -0.6, -0.5], [0.3, 0.4, 0.6], [-1.0, 0.6, 0.5], [-1.2, 2.0, 1.8]],
        columns=list(c.RFM_FEATURES),
    )
    assert name_rfm_segments(centroids) == ("Lost", "Promising", "At risk", "Loyal", "Champions")


def test_several_clusters_in_one_cell_are_numbered_worst_last():
    centroids = pd.DataFrame([[1.0, -0.5, -0.5], [1.5, -1.0, -1.0], [0.5, -0.2, -0.3]],
                             columns=list(c.RFM_FEATURES))
    assert name_rfm_segments(centroids) == ("Lost 2", "Lost 3", "Lost")


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
