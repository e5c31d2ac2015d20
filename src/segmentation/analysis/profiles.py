"""What each segment is: a profile table per cluster.

Input: the customer feature table (one row per customer, index CustomerID)
and a :class:`~segmentation.analysis.cluster.ClusterResult`. Output: one row per
cluster. RFM cluster names come from the rule-based segment map
(:func:`segmentation.analysis.rfm.name_clusters`), never typed in for one data set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from segmentation import columns as c
from segmentation.analysis.rfm import name_agreement

if TYPE_CHECKING:
    from segmentation.analysis.cluster import ClusterResult

#: How many countries and items the profile lists per segment.
TOP_N = 3


def profile_segments(customers: pd.DataFrame, clustering: ClusterResult, *, top_n: int = TOP_N,
                     rule_segments: pd.Series | None = None) -> pd.DataFrame:
    """One row per cluster (index Cluster, ascending): who is in it and what they buy.

    Columns: Segment; customers; share of clustered customers and of their
    revenue (Total_Bill_Size); the median of each RFM feature; the most common
    ``Most_Common_Location`` and ``Top_Item`` among the cluster's customers
    ("United Kingdom 91%, Germany 3%"), at most ``top_n`` of each, most
    customers first, ties alphabetical. With ``rule_segments`` (each customer's
    segment of the rule-based map), ``share_in_named_segment``: the share of the
    cluster's customers whose map segment is the cluster's name.
    """
    clustered = customers.assign(**{c.CLUSTER: clustering.labels}).dropna(subset=[c.CLUSTER])
    groups = clustered.groupby(c.CLUSTER)
    profile = pd.DataFrame(
        {
            c.SEGMENT: clustering.centroids[c.SEGMENT],
            c.CUSTOMERS: groups.size(),
            c.SHARE_OF_CUSTOMERS: groups.size() / len(clustered),
            c.SHARE_OF_REVENUE: groups[c.TOTAL_BILL_SIZE].sum() / clustered[c.TOTAL_BILL_SIZE].sum(),
        }
    )
    for feature in c.RFM_FEATURES:
        profile[c.MEDIAN_PREFIX + feature] = groups[feature].median()
    profile[c.TOP_COUNTRIES] = groups[c.MOST_COMMON_LOCATION].agg(lambda values: _top_shares(values, top_n))
    profile[c.TOP_ITEMS] = groups[c.TOP_ITEM].agg(lambda values: _top_shares(values, top_n))
    if rule_segments is not None:
        profile[c.NAME_AGREEMENT] = name_agreement(clustering.labels, clustering.segments, rule_segments)
    profile.index = profile.index.astype("int64")
    return profile.rename_axis(c.CLUSTER)


def _top_shares(values: pd.Series, top_n: int) -> str:
    """``"A 50%, B 25%"``: the ``top_n`` most common values and their share of the rows."""
    counts = values.dropna().value_counts().rename_axis("value").reset_index(name="n")
    counts = counts.sort_values(["n", "value"], ascending=[False, True], kind="stable").head(top_n)
    return ", ".join(f"{value} {n / len(values):.0%}" for value, n in zip(counts["value"], counts["n"], strict=True))


def profile_rule_segments(customers: pd.DataFrame, segments: pd.Series) -> pd.DataFrame:
    """One row per segment of the rule-based map that holds customers, in the map's order.

    ``segments`` is :func:`segmentation.analysis.rfm.segment_customers` of ``customers``.
    Columns: customers, their share of the scored customers and of their
    revenue (Total_Bill_Size), and the median of each RFM feature. Index Segment.
    """
    scored = customers.assign(**{c.SEGMENT: segments}).dropna(subset=[c.SEGMENT])
    groups = scored.groupby(c.SEGMENT, observed=True, sort=True)
    profile = pd.DataFrame(
        {
            c.CUSTOMERS: groups.size(),
            c.SHARE_OF_CUSTOMERS: groups.size() / len(scored),
            c.SHARE_OF_REVENUE: groups[c.TOTAL_BILL_SIZE].sum() / scored[c.TOTAL_BILL_SIZE].sum(),
        }
    )
    for feature in c.RFM_FEATURES:
        profile[c.MEDIAN_PREFIX + feature] = groups[feature].median().astype("float64")
    profile.index = profile.index.astype("str")
    return profile.rename_axis(c.SEGMENT)
