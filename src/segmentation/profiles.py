"""What each segment is: a profile table per cluster, and the RFM naming rule.

Input: the customer feature table (one row per customer, index CustomerID)
and a :class:`~segmentation.cluster.ClusterResult`. Output: one row per
cluster. Names come from the clusters' centroids by the rule of
:func:`name_rfm_segments`, never typed in for one data set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from segmentation import columns as c

if TYPE_CHECKING:
    from segmentation.cluster import ClusterResult

#: Names by (recent, valuable), best first within a cell; see :func:`name_rfm_segments`.
RFM_NAMES: dict[tuple[bool, bool], tuple[str, ...]] = {
    (True, True): ("Champions", "Loyal"),
    (True, False): ("Promising",),
    (False, True): ("At risk",),
    (False, False): ("Lost",),
}
#: How many countries and items the profile lists per segment.
TOP_N = 3


def rfm_scores(scaled_centroids: pd.DataFrame) -> pd.Series:
    """Frequency + Total_Bill_Size − Recency_Days of each centroid, in standard units.

    Higher is better: a more recent, more frequent, bigger-spending cluster.
    """
    return (
        scaled_centroids[c.FREQUENCY] + scaled_centroids[c.TOTAL_BILL_SIZE] - scaled_centroids[c.RECENCY_DAYS]
    )


def name_rfm_segments(scaled_centroids: pd.DataFrame) -> tuple[str, ...]:
    """Name clusters from their RFM centroids in standard units (0 = the average customer).

    One row per cluster with columns ``columns.RFM_FEATURES`` (after log1p, if
    used, and standardising). The rule:

    - **recent**: centroid Recency_Days below 0 (bought more recently than the
      average customer);
    - **valuable**: centroid Frequency + Total_Bill_Size above 0 (buys more
      often and spends more than the average customer, taken together);
    - recent and valuable → "Champions", recent only → "Promising", valuable
      only → "At risk", neither → "Lost";
    - several clusters in one cell are ranked by :func:`rfm_scores`, best
      first: the first takes the cell's name, the second of Champions is
      "Loyal", any further one gets the cell's last name with a number
      ("Lost 2" is worse than "Lost").

    Returns the names in the row order of ``scaled_centroids``.
    """
    recent = scaled_centroids[c.RECENCY_DAYS] < 0
    valuable = scaled_centroids[c.FREQUENCY] + scaled_centroids[c.TOTAL_BILL_SIZE] > 0
    scores = rfm_scores(scaled_centroids)
    names = pd.Series("", index=scaled_centroids.index, dtype="object")
    for cell, ladder in RFM_NAMES.items():
        members = scores[(recent == cell[0]) & (valuable == cell[1])]
        ranked = members.sort_values(ascending=False, kind="stable").index
        for rank, position in enumerate(ranked):
            extra = rank - len(ladder) + 2
            names[position] = ladder[rank] if rank < len(ladder) else f"{ladder[-1]} {extra}"
    return tuple(names)


def profile_segments(customers: pd.DataFrame, clustering: ClusterResult, *, top_n: int = TOP_N) -> pd.DataFrame:
    """One row per cluster (index Cluster, ascending): who is in it and what they buy.

    Columns: Segment; customers; share of clustered customers and of their
    revenue (Total_Bill_Size); the median of each RFM feature; the most common
    ``Most_Common_Location`` and ``Top_Item`` among the cluster's customers
    ("United Kingdom 91%, Germany 3%"), at most ``top_n`` of each, most
    customers first, ties alphabetical.
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
    profile.index = profile.index.astype("int64")
    return profile.rename_axis(c.CLUSTER)


def _top_shares(values: pd.Series, top_n: int) -> str:
    """``"A 50%, B 25%"``: the ``top_n`` most common values and their share of the rows."""
    counts = values.dropna().value_counts().rename_axis("value").reset_index(name="n")
    counts = counts.sort_values(["n", "value"], ascending=[False, True], kind="stable").head(top_n)
    return ", ".join(f"{value} {n / len(values):.0%}" for value, n in zip(counts["value"], counts["n"], strict=True))
