"""Scaling and KMeans on the customer table, with labels numbered by centroid.

Input: the customer feature table (one row per customer, index CustomerID).
The seed analysis standardises Total_Bill_Size (StandardScaler) and runs
``KMeans(n_clusters=3, n_init=10, random_state=0)``. Customers whose
Total_Bill_Size is zero or negative (they returned as much as they bought) are
kept in the table but not clustered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from segmentation import columns as c
from segmentation import config
from segmentation.errors import InvoiceDataError

_SPEND_NAMES: dict[int, tuple[str, ...]] = {
    1: ("All customers",),
    2: ("Low spend", "High spend"),
    3: ("Low spend", "Mid spend", "High spend"),
}


@dataclass(frozen=True)
class ClusterResult:
    """Cluster labels and what produced them.

    Attributes
    ----------
    labels
        One entry per customer of the input (index CustomerID), Int64: 0 is the
        cluster with the lowest centroid, k-1 the highest; missing for customers
        that were not clustered (Total_Bill_Size <= 0).
    segments
        The segment name of each label, same index as ``labels`` (missing where
        the label is).
    centroids
        One row per cluster (index Cluster, ascending): the centroid in the
        features' own units (pounds) and the segment name.
    scaler, model
        The fitted StandardScaler and KMeans; ``model.labels_`` are the raw,
        unordered labels.
    features
        The columns clustered on.
    n_not_clustered
        Customers left out because Total_Bill_Size <= 0.
    """

    labels: pd.Series
    segments: pd.Series
    centroids: pd.DataFrame
    scaler: StandardScaler
    model: KMeans
    features: tuple[str, ...]
    n_not_clustered: int


def segment_names(k: int) -> tuple[str, ...]:
    """Names of clusters 0..k-1 ordered by ascending spend."""
    return _SPEND_NAMES.get(k, tuple(f"Spend level {i + 1} of {k}" for i in range(k)))


def cluster_customers(
    customers: pd.DataFrame,
    *,
    k: int = config.N_CLUSTERS,
    random_state: int = config.RANDOM_STATE,
    features: tuple[str, ...] = c.SEED_CLUSTER_FEATURES,
) -> ClusterResult:
    """Standardise ``features`` and cluster customers with KMeans, labels ordered by centroid.

    Parameters
    ----------
    customers
        The customer feature table (index CustomerID).
    k
        Number of clusters.
    random_state
        Seed of KMeans's initialisation; ``n_init`` is ``config.N_INIT``.
    features
        Columns to cluster on; the seed analysis uses Total_Bill_Size alone.
        Clusters are ordered by the centroid of the first feature.

    Raises
    ------
    InvoiceDataError
        Fewer customers, or fewer distinct feature values, than ``k``.
    """
    missing = [name for name in features if name not in customers.columns]
    if missing:
        raise ValueError(f"customer table has no column(s) {', '.join(missing)}")
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    eligible = customers[c.TOTAL_BILL_SIZE] > 0
    values = customers.loc[eligible, list(features)].astype("float64")
    _check_enough(values, k)
    scaler = StandardScaler()
    scaled = scaler.fit_transform(values.to_numpy())
    model = KMeans(n_clusters=k, n_init=config.N_INIT, random_state=random_state).fit(scaled)
    centres = scaler.inverse_transform(model.cluster_centers_)
    order = np.lexsort(centres.T[::-1])  # ascending by first feature, then the next ...
    relabel = np.empty(k, dtype="int64")
    relabel[order] = np.arange(k)
    names = segment_names(k)
    labels = pd.Series(pd.NA, index=customers.index, dtype="Int64", name=c.CLUSTER)
    labels.loc[eligible] = relabel[model.labels_]
    segments = labels.map(dict(enumerate(names))).astype("str").where(labels.notna()).rename(c.SEGMENT)
    centroids = pd.DataFrame(centres[order], columns=list(features)).rename_axis(c.CLUSTER)
    centroids[c.SEGMENT] = names
    return ClusterResult(
        labels=labels,
        segments=segments,
        centroids=centroids,
        scaler=scaler,
        model=model,
        features=tuple(features),
        n_not_clustered=int((~eligible).sum()),
    )


def _check_enough(values: pd.DataFrame, k: int) -> None:
    n_customers = len(values)
    n_distinct = len(values.drop_duplicates())
    if n_customers < k:
        raise InvoiceDataError(
            f"only {n_customers} customer(s) with positive {c.TOTAL_BILL_SIZE} to put into "
            f"{k} clusters; use a file with more customers or a smaller k (CLI: --k)."
        )
    if n_distinct < k:
        raise InvoiceDataError(
            f"only {n_distinct} distinct value(s) of {', '.join(values.columns)} among "
            f"{n_customers} customers, fewer than the {k} clusters asked for; use a smaller k "
            "(CLI: --k)."
        )


def summarise_clusters(customers: pd.DataFrame, result: ClusterResult) -> pd.DataFrame:
    """One row per cluster: size, centroid and the spread of Total_Bill_Size.

    Columns: Segment, customers, share of customers and of total spend among
    clustered customers, the centroid of each clustered feature, and the min,
    median and max Total_Bill_Size. Index Cluster, ascending.
    """
    clustered = customers.assign(**{c.CLUSTER: result.labels}).dropna(subset=[c.CLUSTER])
    spend = clustered.groupby(c.CLUSTER)[c.TOTAL_BILL_SIZE]
    summary = pd.DataFrame(
        {
            c.SEGMENT: result.centroids[c.SEGMENT],
            "customers": spend.size(),
            "share_of_customers": spend.size() / len(clustered),
            "share_of_spend": spend.sum() / clustered[c.TOTAL_BILL_SIZE].sum(),
        }
    )
    for feature in result.features:
        summary[f"centroid_{feature}"] = result.centroids[feature]
    summary["min_" + c.TOTAL_BILL_SIZE] = spend.min()
    summary["median_" + c.TOTAL_BILL_SIZE] = spend.median()
    summary["max_" + c.TOTAL_BILL_SIZE] = spend.max()
    summary.index = summary.index.astype("int64")
    return summary.rename_axis(c.CLUSTER)
