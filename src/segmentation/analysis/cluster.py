"""Scaling and KMeans on the customer table, with labels numbered by centroid.

Input: the customer feature table (one row per customer, index CustomerID).
The seed analysis standardises Total_Bill_Size (StandardScaler) and runs
``KMeans(n_clusters=3, n_init=10, random_state=0)``. Customers with no net
spend (they returned everything they bought), or without a value of a
clustered feature (no purchase occasion: no recency), are kept in the table
but not clustered; :func:`not_clustered_reasons` says why.

Beyond the seed, any numeric features can be clustered (``columns.RFM_FEATURES``:
recency, frequency, spend), and ``log=True`` takes ``log1p`` of each feature
before standardising, which turns heavy-tailed spend into a roughly
bell-shaped distribution.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController

from segmentation import columns as c
from segmentation import config
from segmentation.analysis.rfm import SegmentMap, load_segment_map, name_clusters, score_customers, segment_customers
from segmentation.analysis.segments import segment_names
from segmentation.errors import InvoiceDataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterResult:
    """Cluster labels and what produced them.

    Attributes
    ----------
    labels
        One entry per customer of the input (index CustomerID), Int64: 0 is the
        cluster with the lowest centroid, k-1 the highest; missing for customers
        that were not clustered (see :func:`not_clustered_reasons`).
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
        Customers left out (see :func:`not_clustered_reasons`).
    log
        Whether ``log1p`` was taken of the features before standardising.
    """

    labels: pd.Series
    segments: pd.Series
    centroids: pd.DataFrame
    scaler: StandardScaler
    model: KMeans
    features: tuple[str, ...]
    n_not_clustered: int
    log: bool = False

    @property
    def scaled_centroids(self) -> pd.DataFrame:
        """The centroids in the space KMeans saw (standard units), one row per cluster, ascending."""
        centres = self.scaler.transform(_transform(self.centroids[list(self.features)], self.log).to_numpy())
        return pd.DataFrame(centres, index=self.centroids.index, columns=list(self.features))

    def scale(self, customers: pd.DataFrame) -> pd.DataFrame:
        """``customers``' features in the space KMeans saw (log1p if ``log``, then the fitted scaler)."""
        values = _transform(customers[list(self.features)].astype("float64"), self.log)
        return pd.DataFrame(self.scaler.transform(values.to_numpy()), index=customers.index,
                            columns=list(self.features))


def make_kmeans(k: int, *, n_customers: int, random_state: int = config.RANDOM_STATE) -> KMeans:
    """KMeans with every parameter explicit; MiniBatchKMeans above ``config.MINIBATCH_ABOVE`` customers.

    Full KMeans passes over every customer in every iteration; above millions
    of customers (tables from the Dask engine) mini-batches cost a fraction of
    that. Their centroids are an approximation: on heavy-tailed spend, where a
    few customers set the top clusters, they can differ a lot. Labels are
    renumbered by centroid the same way for both.
    """
    if n_customers > config.MINIBATCH_ABOVE:
        logger.info("%s customers: MiniBatchKMeans (batch %s)", f"{n_customers:,}", config.MINIBATCH_SIZE)
        return MiniBatchKMeans(n_clusters=k, n_init=config.N_INIT, random_state=random_state,
                               batch_size=config.MINIBATCH_SIZE)
    return KMeans(n_clusters=k, n_init=config.N_INIT, random_state=random_state)


#: Below this many rows KMeans (and the BLAS under it) runs on one thread: on tables of
#: thousands of customers, starting and synchronising threads costs more than they save,
#: many times more on a busy machine. The labels are the same; sums over the rows differ
#: only in their last bits.
ONE_THREAD_BELOW = 200_000


@functools.cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


@contextlib.contextmanager
def threads_for(n_rows: int) -> Iterator[None]:
    """OpenMP and BLAS limited to one thread while the block runs, for fewer than ``ONE_THREAD_BELOW`` rows."""
    if n_rows >= ONE_THREAD_BELOW:
        yield
        return
    with _threadpools().limit(limits=1):
        yield


def fit_kmeans(scaled: np.ndarray, k: int, *, random_state: int = config.RANDOM_STATE) -> KMeans:
    """:func:`make_kmeans` fitted on ``scaled``, on one thread for small tables (:func:`threads_for`).

    The model keeps its thread count: its ``predict`` runs the same way.
    """
    with threads_for(len(scaled)):
        return make_kmeans(k, n_customers=len(scaled), random_state=random_state).fit(scaled)


def cluster_customers(
    customers: pd.DataFrame,
    *,
    k: int = config.N_CLUSTERS,
    random_state: int = config.RANDOM_STATE,
    features: tuple[str, ...] = c.SEED_CLUSTER_FEATURES,
    log: bool = False,
    segment_map: SegmentMap | None = None,
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
    log
        Take ``log1p`` of every feature before standardising (features must be >= 0).
    segment_map
        The rule-based segment map that names RFM clusters (default: the
        packaged map of :func:`segmentation.analysis.rfm.load_segment_map`).

    Clusters are numbered by ascending centroid of Total_Bill_Size (0 = the
    lowest-spending cluster); ties, and feature sets without Total_Bill_Size,
    go by the centroids of the other features in the order given. Segments are
    named Low / Mid / High spend (:func:`segment_names`), except when the
    features include the three of ``columns.RFM_FEATURES``: then each cluster
    takes the name of the rule segment its customers share
    (:func:`segmentation.analysis.rfm.name_clusters`: unique names from the map).

    Raises
    ------
    InvoiceDataError
        Fewer customers, or fewer distinct feature values, than ``k``; more
        RFM clusters than the segment map has names.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    eligible, scaled, scaler = scale_features(customers, features=features, log=log)
    _check_enough(customers.loc[eligible, list(features)], k)
    model = fit_kmeans(scaled, k, random_state=random_state)
    centres = _untransform(scaler.inverse_transform(model.cluster_centers_), log)
    order = _centroid_order(pd.DataFrame(centres, columns=list(features)))
    relabel = np.empty(k, dtype="int64")
    relabel[order] = np.arange(k)
    labels = pd.Series(pd.NA, index=customers.index, dtype="Int64", name=c.CLUSTER)
    labels.loc[eligible] = relabel[model.labels_]
    names = _names_for(customers, labels, features=features, segment_map=segment_map)
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
        log=log,
    )


#: Why a customer is left out of a clustering, in the order the reasons are tested.
NO_NET_SPEND = "no net spend (Total_Bill_Size 0: returned everything bought)"
NO_OCCASION = "no purchase occasion (no product bought and kept on any day)"


def not_clustered_reasons(customers: pd.DataFrame, *, features: tuple[str, ...]) -> pd.Series:
    """Why each customer is not clustered on ``features``; missing for those who are.

    A customer is clustered when Total_Bill_Size > 0 and none of ``features``
    is missing. The first reason that applies is given: :data:`NO_NET_SPEND`,
    then :data:`NO_OCCASION` (recency and the purchase interval are missing
    for a customer with no purchase occasion), then "missing <feature>".
    Same index as ``customers``, name ``reason``.
    """
    reasons = pd.Series(pd.NA, index=customers.index, dtype="object", name=c.NOT_CLUSTERED_REASON)
    missing = customers[list(features)].isna()
    no_occasion = customers[c.FREQUENCY] == 0 if c.FREQUENCY in customers.columns else False
    for feature in reversed(features):
        reasons = reasons.mask(missing[feature], f"missing {feature}")
    reasons = reasons.mask(missing.any(axis=1) & no_occasion, NO_OCCASION)
    return reasons.mask(~(customers[c.TOTAL_BILL_SIZE] > 0), NO_NET_SPEND)


def scale_features(
    customers: pd.DataFrame, *, features: tuple[str, ...], log: bool = False
) -> tuple[pd.Series, np.ndarray, StandardScaler]:
    """The clustered customers' ``features`` as KMeans sees them.

    Returns the mask of customers that are clustered (no reason in
    :func:`not_clustered_reasons`), their features after ``log1p`` (if
    ``log``) and StandardScaler, one row per clustered customer in table
    order, and the fitted scaler.
    """
    missing = [name for name in features if name not in customers.columns]
    if missing:
        raise ValueError(f"customer table has no column(s) {', '.join(missing)}")
    reasons = not_clustered_reasons(customers, features=features)
    eligible = reasons.isna()
    if not eligible.any():
        counts = "; ".join(f"{reason}: {n:,}" for reason, n in reasons.value_counts().items())
        raise InvoiceDataError(
            f"no customer can be clustered on {', '.join(features)} ({counts}); use a file with customers "
            "who bought and kept products, or cluster on spend alone (CLI: --features spend)."
        )
    values = customers.loc[eligible, list(features)].astype("float64")
    if log and (values < 0).to_numpy().any():
        negative = [name for name in features if (values[name] < 0).any()]
        raise ValueError(f"log scaling needs features >= 0; {', '.join(negative)} has negative values")
    scaler = StandardScaler()
    scaled = scaler.fit_transform(_transform(values, log).to_numpy())
    return eligible, scaled, scaler


def _transform(values: pd.DataFrame, log: bool) -> pd.DataFrame:
    return np.log1p(values) if log else values


def _untransform(values: np.ndarray, log: bool) -> np.ndarray:
    return np.expm1(values) if log else values


def _centroid_order(centres: pd.DataFrame) -> np.ndarray:
    """Cluster positions sorted by Total_Bill_Size, then the other features in order."""
    keys = [name for name in centres.columns if name == c.TOTAL_BILL_SIZE]
    keys += [name for name in centres.columns if name != c.TOTAL_BILL_SIZE]
    return np.lexsort(centres[keys].to_numpy().T[::-1])


def _names_for(customers: pd.DataFrame, labels: pd.Series, *, features: tuple[str, ...],
               segment_map: SegmentMap | None) -> tuple[str, ...]:
    k = int(labels.max()) + 1
    if set(c.RFM_FEATURES) <= set(features):
        segment_map = segment_map if segment_map is not None else load_segment_map()
        return name_clusters(labels, segment_customers(score_customers(customers), segment_map), segment_map)
    return segment_names(k)


def _check_enough(values: pd.DataFrame, k: int) -> None:
    n_customers = len(values)
    n_distinct = len(values.round(6).drop_duplicates())  # values a float rounding apart are one
    if n_customers < k:
        raise InvoiceDataError(
            f"only {n_customers} customer(s) can be clustered on {', '.join(values.columns)}, too few for "
            f"{k} clusters; use a file with more customers or a smaller k (CLI: --k)."
        )
    if n_distinct < k:
        raise InvoiceDataError(
            f"only {n_distinct} distinct value(s) of {', '.join(values.columns)} among "
            f"{n_customers} customers, fewer than the {k} clusters asked for; use a smaller k "
            "(CLI: --k)."
        )


#: Why a cluster is too small to be a segment (:func:`small_clusters`), in the order they are tested.
FEW_OF_THE_CUSTOMERS = "under SMALL_CLUSTER_SHARE of the customers"
FEW_CUSTOMERS = "under MIN_CUSTOMERS_PER_CLUSTER customers"


def small_clusters(clusters: pd.DataFrame) -> pd.Series:
    """Why each cluster of a :func:`summarise_clusters` table is too small to be a segment: holding under
    ``config.SMALL_CLUSTER_SHARE`` of the customers (:data:`FEW_OF_THE_CUSTOMERS`), else under
    ``config.MIN_CUSTOMERS_PER_CLUSTER`` customers (:data:`FEW_CUSTOMERS`); the clusters that are not
    small are left out. Index Cluster."""
    few_share = clusters[c.SHARE_OF_CUSTOMERS] < config.SMALL_CLUSTER_SHARE
    few = clusters[c.CUSTOMERS] < config.MIN_CUSTOMERS_PER_CLUSTER
    reasons = pd.Series(np.where(few_share, FEW_OF_THE_CUSTOMERS, FEW_CUSTOMERS), index=clusters.index)
    return reasons[few_share | few]


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
