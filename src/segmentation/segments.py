"""Segment names: the rules that turn cluster centroids into names a marketer reads.

A leaf of the package: it knows column names and nothing of clustering,
profiles or figures, so every stage that names or colours a segment imports
the rules from here and no two stages import each other.
"""

from __future__ import annotations

import pandas as pd

from segmentation import columns as c

#: Names of clusters of spend alone, lowest first, for the k that have one.
SPEND_NAMES: dict[int, tuple[str, ...]] = {
    1: ("All customers",),
    2: ("Low spend", "High spend"),
    3: ("Low spend", "Mid spend", "High spend"),
}


def segment_names(k: int) -> tuple[str, ...]:
    """Names of clusters 0..k-1 ordered by ascending spend."""
    return SPEND_NAMES.get(k, tuple(f"Spend level {i + 1} of {k}" for i in range(k)))


#: Names by (recent, valuable), best first within a cell; see :func:`name_rfm_segments`.
RFM_NAMES: dict[tuple[bool, bool], tuple[str, ...]] = {
    (True, True): ("Champions", "Loyal"),
    (True, False): ("Promising",),
    (False, True): ("At risk",),
    (False, False): ("Lost",),
}


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
