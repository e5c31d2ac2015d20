"""How many clusters the data supports, and how stable they are.

Input: the customer feature table (one row per customer, index CustomerID).
Every function clusters the same customers as
:func:`~segmentation.analysis.cluster.cluster_customers` (Total_Bill_Size > 0), with
the same scaling (``log1p`` if ``log``, then StandardScaler) and the same
explicit ``n_init`` and seeds. Nothing here changes k: the suggestions are
reported, and the caller decides.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, pairwise_distances_chunked

from segmentation import columns as c
from segmentation import config
from segmentation.analysis.cluster import (
    ClusterResult,
    cluster_customers,
    fit_kmeans,
    not_clustered_reasons,
    scale_features,
    threads_for,
)
from segmentation.errors import InvoiceDataError

#: The feature sets and scalings the diagnostics compare: name -> (features, log).
RAW_SPEND = "raw spend"
LOG_SPEND = "log1p spend"
RFM_LOG = "RFM, log1p"
SCALINGS: dict[str, tuple[tuple[str, ...], bool]] = {
    RAW_SPEND: (c.SEED_CLUSTER_FEATURES, False),
    LOG_SPEND: (c.SEED_CLUSTER_FEATURES, True),
    RFM_LOG: (c.RFM_FEATURES, True),
}


def silhouette(scaled: np.ndarray, labels: np.ndarray, *, sample_size: int = config.SILHOUETTE_SAMPLE_SIZE,
               random_state: int = config.RANDOM_STATE) -> float:
    """Mean silhouette of ``labels`` on every row of ``scaled``, or on a seeded sample of ``sample_size`` rows."""
    return silhouettes(scaled, [labels], sample_size=sample_size, random_state=random_state)[0]


def silhouettes(scaled: np.ndarray, labelings: Sequence[np.ndarray], *,
                sample_size: int = config.SILHOUETTE_SAMPLE_SIZE,
                random_state: int = config.RANDOM_STATE) -> list[float]:
    """:func:`silhouette` of each labelling of the same rows of ``scaled``.

    The value of scikit-learn's ``silhouette_score(scaled, labels, sample_size=..., random_state=...)``
    (the same sample: above ``sample_size`` rows, the first ``sample_size`` of a seeded permutation),
    summed in another order. For one feature, each customer's summed distance to a cluster comes
    from the cluster's sorted values and their prefix sums, O(n log n); for several, the pairwise
    distances are computed once, a block of rows at a time, and multiplied by every labelling's
    one-hot matrix.
    """
    if not labelings:
        return []
    rows = _sample_rows(len(scaled), sample_size, random_state)
    points = np.asarray(scaled, dtype="float64")[rows]
    codes = [_label_codes(np.asarray(labels)[rows]) for labels in labelings]
    if points.shape[1] == 1:
        sums = [_distance_sums_1d(points[:, 0], labels) for labels in codes]
    else:
        with threads_for(len(points)):
            sums = _distance_sums(points, codes)
    return [_mean_silhouette(total, labels) for total, labels in zip(sums, codes, strict=True)]


def _sample_rows(n_rows: int, sample_size: int, random_state: int) -> np.ndarray | slice:
    """The rows a silhouette or a k scan is computed on: all, or scikit-learn's seeded sample of ``sample_size``."""
    if n_rows <= sample_size:
        return slice(None)
    return np.random.RandomState(random_state).permutation(n_rows)[:sample_size]


def _label_codes(labels: np.ndarray) -> np.ndarray:
    """``labels`` as codes 0 … m-1 of the labels present, refusing fewer than 2 or more than n-1 of them."""
    present, codes = np.unique(labels, return_inverse=True)
    if not 2 <= len(present) <= len(labels) - 1:
        raise ValueError(f"Number of labels is {len(present)}. Valid values are 2 to n_samples - 1 (inclusive)")
    return codes.reshape(-1)


def _distance_sums_1d(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Sum of |x - y| from each value x to the values y of each cluster: one row per value, one column per code."""
    sums = np.empty((len(values), int(codes.max()) + 1))
    for code in range(sums.shape[1]):
        members = np.sort(values[codes == code])
        prefix = np.concatenate(([0.0], np.cumsum(members)))
        below = np.searchsorted(members, values)
        sums[:, code] = values * (2 * below - len(members)) - 2 * prefix[below] + prefix[-1]
    return sums


def _distance_sums(points: np.ndarray, codes: list[np.ndarray]) -> list[np.ndarray]:
    """Sum of Euclidean distances from each point to the points of each cluster, for each labelling.

    The distances are scikit-learn's (``pairwise_distances_chunked``), one block of rows at a time.
    """
    one_hot = np.hstack([np.eye(int(labels.max()) + 1)[labels] for labels in codes])
    sums = np.vstack(list(pairwise_distances_chunked(points, reduce_func=lambda block, _: block @ one_hot)))
    edges = np.cumsum([int(labels.max()) + 1 for labels in codes])[:-1]
    return np.split(sums, edges, axis=1)


def _mean_silhouette(sums: np.ndarray, codes: np.ndarray) -> float:
    """Mean silhouette from each point's summed distance to each cluster (a singleton's silhouette is 0)."""
    sizes = np.bincount(codes)
    own = np.arange(len(codes)), codes
    with np.errstate(divide="ignore", invalid="ignore"):
        intra = sums[own] / (sizes - 1)[codes]
        means = sums / sizes
        means[own] = np.inf
        inter = means.min(axis=1)
        scores = (inter - intra) / np.maximum(intra, inter)
    return float(np.mean(np.nan_to_num(scores)))


def scannable_k(customers: pd.DataFrame, *, features: tuple[str, ...], option: str) -> list[int]:
    """The k of ``config.K_RANGE`` that the customers clusterable on ``features`` allow (k below their number).

    None is an InvoiceDataError naming ``option``, the command-line option that
    asked for k to be chosen (``--k`` or ``--rfm-k``): with under 3 such
    customers there is no k to choose.
    """
    n = int(not_clustered_reasons(customers, features=features).isna().sum())
    k_values = [k for k in config.K_RANGE if k < n]
    if not k_values:
        raise InvoiceDataError(
            f"only {n} customer(s) can be clustered on {', '.join(features)}: too few to choose k (that needs "
            f"{min(config.K_RANGE) + 1}); give a number of clusters (CLI: {option} 1) or a file with more customers."
        )
    return k_values


def scan_sample(customers: pd.DataFrame, *, features: tuple[str, ...],
                sample_size: int = config.K_SCAN_SAMPLE_SIZE) -> int | None:
    """How many customers :func:`scan_k` clusters on ``features`` when it samples them (``sample_size``),
    or None when it clusters every clusterable customer (``sample_size`` of them or fewer)."""
    n = int(not_clustered_reasons(customers, features=features).isna().sum())
    return sample_size if n > sample_size else None


def scan_k(
    customers: pd.DataFrame,
    *,
    features: tuple[str, ...] = c.SEED_CLUSTER_FEATURES,
    log: bool = False,
    k_values: Iterable[int] = config.K_RANGE,
    random_state: int = config.RANDOM_STATE,
    sample_size: int = config.K_SCAN_SAMPLE_SIZE,
) -> pd.DataFrame:
    """KMeans for each k: one row per k (index ``k``), columns ``inertia`` and ``silhouette``.

    Inertia is the within-cluster sum of squares in standard units (it always
    falls as k grows; look for the elbow). Silhouette is -1 … 1, higher is
    better separated; see :func:`silhouette` for the sample rule. Above
    ``sample_size`` clusterable customers the scan clusters a sample of that
    many, the first of a permutation seeded by ``random_state``, scaled as all
    customers are (:func:`scan_sample` says when); inertia is then the sample's.
    """
    _, scaled, _ = scale_features(customers, features=features, log=log)
    scaled = scaled[_sample_rows(len(scaled), sample_size, random_state)]
    k_values = list(k_values)
    for k in k_values:
        if k < 2 or k >= len(scaled):
            raise ValueError(f"k = {k} is outside 2 … {len(scaled) - 1} for {len(scaled)} customers")
    models = [fit_kmeans(scaled, k, random_state=random_state) for k in k_values]
    scores = silhouettes(scaled, [model.labels_ for model in models], random_state=random_state)
    return pd.DataFrame({c.K: k_values, c.INERTIA: [float(model.inertia_) for model in models],
                         c.SILHOUETTE: scores}).set_index(c.K)


def elbow_k(scan: pd.DataFrame) -> int | None:
    """The elbow of the inertia curve found by kneed (convex, decreasing); None when it finds none."""
    from kneed import KneeLocator  # kneed imports matplotlib.pyplot: load it only when an elbow is asked for

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kneed warns when a curve has no knee; None says so
        knee = KneeLocator(scan.index.to_list(), scan[c.INERTIA].to_list(), curve="convex",
                           direction="decreasing").knee
    return None if knee is None else int(knee)


def best_silhouette_k(scan: pd.DataFrame) -> int:
    """The k with the highest silhouette; ties go to the smaller k."""
    return int(scan[c.SILHOUETTE].idxmax())


def silhouette_is_flat(scan: pd.DataFrame, *, tolerance: float = config.FLAT_SILHOUETTE_RANGE) -> bool:
    """True when the scan's silhouettes span less than ``tolerance``: no k is clearly best."""
    return bool(scan[c.SILHOUETTE].max() - scan[c.SILHOUETTE].min() < tolerance)


def summarise_scans(scans: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """What each k scan says, one row per feature set (index ``features``, in the order given).

    Columns: ``best_k`` and ``best_silhouette`` (the highest silhouette and its
    k, ties to the smaller k), ``lowest_silhouette``, and ``flat``
    (:func:`silhouette_is_flat`: the scan has no best k, whatever ``best_k``
    says). The figures and the sentences about choosing k read this table.
    """
    rows = {
        name: {
            c.BEST_K: best_silhouette_k(scan),
            c.BEST_SILHOUETTE: float(scan[c.SILHOUETTE].max()),
            c.LOWEST_SILHOUETTE: float(scan[c.SILHOUETTE].min()),
            c.FLAT: silhouette_is_flat(scan),
        }
        for name, scan in scans.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(c.FEATURE_SET)


#: Rules :func:`choose_k` knows: the silhouette's best k, or the inertia elbow.
SILHOUETTE_RULE = "auto"
ELBOW_RULE = "elbow"
K_RULES = (SILHOUETTE_RULE, ELBOW_RULE)


@dataclass(frozen=True)
class KChoice:
    """A k chosen from a scan, why, and both suggestions; ``sample``: the customers the scan clustered
    when it sampled them (None: every customer)."""

    k: int
    reason: str
    best_silhouette: int
    elbow: int | None
    sample: int | None = None


def choose_k(scan: pd.DataFrame, *, rule: str = SILHOUETTE_RULE, sample: int | None = None) -> KChoice:
    """Pick k from a scan by ``rule`` and say why, reporting the other suggestion beside it.

    ``"auto"``: the k with the highest silhouette. ``"elbow"``: kneed's elbow
    of the inertia curve, or the silhouette's best k when kneed finds none.
    ``sample``: the customers the scan clustered when it sampled them
    (:func:`scan_sample`), which the reason then names.
    """
    if rule not in K_RULES:
        raise ValueError(f"rule must be one of {', '.join(K_RULES)}, not {rule!r}")
    best = best_silhouette_k(scan)
    ks = scan.index
    if len(ks) == 1:
        return KChoice(k=best, reason=f"k = {best}, the only k the customers allow (k must be below their number; "
                                      f"silhouette {scan.loc[best, c.SILHOUETTE]:.3f})",
                       best_silhouette=best, elbow=None, sample=sample)
    elbow = elbow_k(scan)
    silhouette_says = (f"the highest silhouette ({scan.loc[best, c.SILHOUETTE]:.3f}) of k = {ks.min()} … {ks.max()} "
                       f"is at k = {best}")
    elbow_says = (f"the inertia elbow (kneed) is at k = {elbow} (silhouette {scan.loc[elbow, c.SILHOUETTE]:.3f})"
                  if elbow is not None else "kneed finds no elbow in the inertia")
    sampled = f"; the scan clustered a seeded sample of {sample:,} customers" if sample is not None else ""
    if rule == ELBOW_RULE and elbow is not None:
        return KChoice(k=elbow, reason=f"k = {elbow}, the elbow: {elbow_says}; {silhouette_says}{sampled}",
                       best_silhouette=best, elbow=elbow, sample=sample)
    return KChoice(k=best, reason=f"k = {best}, the best silhouette: {silhouette_says}; {elbow_says}{sampled}",
                   best_silhouette=best, elbow=elbow, sample=sample)


def compare_scans(scans: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Scans side by side: one row per k, columns (name, inertia | silhouette)."""
    return pd.concat(scans, axis=1, names=["features", "measure"])


def seed_stability(
    customers: pd.DataFrame,
    *,
    k: int,
    features: tuple[str, ...] = c.SEED_CLUSTER_FEATURES,
    log: bool = False,
    seeds: Iterable[int] = config.STABILITY_SEEDS,
) -> pd.Series:
    """Adjusted Rand index between the labels of every pair of seeds (1.0: the same partition).

    One entry per pair ``(seed_a, seed_b)``; each run is :func:`cluster_customers` with that seed.
    """
    runs = {seed: _labels(cluster_customers(customers, k=k, random_state=seed, features=features, log=log))
            for seed in seeds}
    pairs = list(combinations(runs, 2))
    scores = [adjusted_rand_score(runs[a], runs[b]) for a, b in pairs]
    return pd.Series(scores, index=pd.MultiIndex.from_tuples(pairs, names=["seed_a", "seed_b"]), name="ari")


def bootstrap_stability(
    customers: pd.DataFrame,
    *,
    k: int,
    features: tuple[str, ...] = c.SEED_CLUSTER_FEATURES,
    log: bool = False,
    n_resamples: int = config.BOOTSTRAP_RESAMPLES,
    random_state: int = config.RANDOM_STATE,
) -> pd.Series:
    """Adjusted Rand index between the full-data clusters and each bootstrap refit.

    Each resample draws the clustered customers with replacement (seeded),
    fits KMeans on it (same k, n_init and seed) in the full data's scaling,
    and assigns every customer to its nearest new centroid; that labelling is
    compared with the full-data one. One entry per resample.
    """
    _, scaled, _ = scale_features(customers, features=features, log=log)
    full = fit_kmeans(scaled, k, random_state=random_state)
    scores = [adjusted_rand_score(full.labels_, refit.predict(scaled))
              for _, refit in _bootstrap_refits(scaled, k, n_resamples=n_resamples, random_state=random_state)]
    return pd.Series(scores, index=pd.RangeIndex(n_resamples, name="resample"), name="ari")


def _bootstrap_refits(scaled: np.ndarray, k: int, *, n_resamples: int,
                      random_state: int) -> Iterable[tuple[np.ndarray, KMeans]]:
    """(rows drawn, KMeans fitted on them) for each seeded bootstrap resample of ``scaled``'s rows."""
    rng = np.random.default_rng(random_state)
    for _ in range(n_resamples):
        rows = rng.integers(0, len(scaled), size=len(scaled))
        yield rows, fit_kmeans(scaled[rows], k, random_state=random_state)


def segment_stability(
    customers: pd.DataFrame,
    clustering: ClusterResult,
    *,
    n_resamples: int = config.BOOTSTRAP_RESAMPLES,
    random_state: int = config.RANDOM_STATE,
) -> pd.DataFrame:
    """How well each segment of ``clustering`` survives bootstrap resampling (Hennig 2007).

    For each seeded resample of the clustered customers (drawn with
    replacement), KMeans is refitted with the same k, features, scaling and
    ``n_init``; each customer drawn is assigned to its nearest new centroid.
    A segment's Jaccard similarity in that resample is the best overlap
    |A ∩ B| / |A ∪ B| between its customers among those drawn (A) and any new
    cluster (B). One row per cluster (index Cluster, ascending): Segment,
    customers, the mean and the lowest Jaccard over the resamples, how many
    resamples dissolved it (Jaccard ≤ ``config.DISSOLVED_JACCARD``) and
    ``stable`` (mean ≥ ``config.STABLE_JACCARD``). A segment that is not
    stable is a split of the data that another sample of the same customers
    would draw elsewhere: do not build a campaign on its edges.
    """
    return bootstrap_checks(customers, clustering, n_resamples=n_resamples, random_state=random_state)[1]


def bootstrap_checks(
    customers: pd.DataFrame,
    clustering: ClusterResult,
    *,
    n_resamples: int = config.BOOTSTRAP_RESAMPLES,
    random_state: int = config.RANDOM_STATE,
) -> tuple[pd.Series, pd.DataFrame]:
    """(:func:`bootstrap_stability`'s ARI per resample, :func:`segment_stability`'s table) of
    ``clustering``, from one set of bootstrap refits.

    The ARI compares each refit's labelling of every clustered customer with
    ``clustering``'s labels, which are the full-data KMeans of the same seed
    renumbered (the ARI does not depend on label names).
    """
    _, scaled, _ = scale_features(customers, features=clustering.features, log=clustering.log)
    labels = _labels(clustering).to_numpy()
    clusters = clustering.centroids.index.to_numpy()
    scores, jaccards = [], []
    for rows, refit in _bootstrap_refits(scaled, len(clusters), n_resamples=n_resamples,
                                         random_state=random_state):
        scores.append(adjusted_rand_score(labels, refit.predict(scaled)))
        drawn = np.unique(rows)
        overlap = pd.crosstab(labels[drawn], refit.predict(scaled[drawn])).reindex(index=clusters, fill_value=0)
        jaccards.append(_best_jaccard(overlap.to_numpy()))
    per_resample = np.vstack(jaccards)
    table = pd.DataFrame(
        {
            c.SEGMENT: clustering.centroids[c.SEGMENT].to_numpy(),
            c.CUSTOMERS: pd.Series(labels).value_counts().reindex(clusters, fill_value=0).to_numpy(),
            c.MEAN_JACCARD: per_resample.mean(axis=0),
            c.MIN_JACCARD: per_resample.min(axis=0),
            c.DISSOLVED: (per_resample <= config.DISSOLVED_JACCARD).sum(axis=0),
        },
        index=pd.Index(clusters.astype("int64"), name=c.CLUSTER),
    )
    table[c.STABLE] = table[c.MEAN_JACCARD] >= config.STABLE_JACCARD
    ari = pd.Series(scores, index=pd.RangeIndex(n_resamples, name="resample"), name="ari")
    return ari, table


def _best_jaccard(overlap: np.ndarray) -> np.ndarray:
    """For each row cluster of a contingency table, its best Jaccard with any column cluster."""
    sizes_a = overlap.sum(axis=1, keepdims=True)
    sizes_b = overlap.sum(axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = np.where(overlap > 0, overlap / (sizes_a + sizes_b - overlap), 0.0)
    return jaccard.max(axis=1)


def summarise_stability(seeds: pd.Series, bootstrap: pd.Series) -> pd.DataFrame:
    """Min, median and mean ARI of each check: one row per check."""
    checks = {"seeds (every pair)": seeds, "bootstrap resamples": bootstrap}
    return pd.DataFrame(
        {name: {"comparisons": len(ari), "min": ari.min(), "median": ari.median(), "mean": ari.mean()}
         for name, ari in checks.items()}
    ).T.astype({"comparisons": "int64"}).rename_axis("check")


def compare_scalings(customers: pd.DataFrame, results: dict[str, ClusterResult]) -> pd.DataFrame:
    """Clusterings of the same customers side by side: one row per (scaling, cluster).

    Columns: customers, min / median / max Total_Bill_Size, and the
    clustering's silhouette (in its own scaled space, repeated on each row; NaN when each
    customer is a cluster of their own).
    """
    tables = {}
    for name, result in results.items():
        clustered = customers.assign(**{c.CLUSTER: result.labels}).dropna(subset=[c.CLUSTER])
        spend = clustered.groupby(c.CLUSTER)[c.TOTAL_BILL_SIZE]
        _, scaled, _ = scale_features(customers, features=result.features, log=result.log)
        table = spend.agg(["size", "min", "median", "max"])
        table.columns = [c.CUSTOMERS, *(f"{stat}_{c.TOTAL_BILL_SIZE}" for stat in ("min", "median", "max"))]
        table.index = table.index.astype("int64")
        table.insert(0, c.SEGMENT, result.centroids[c.SEGMENT])
        labels = _labels(result).to_numpy()
        # undefined with every customer in a cluster of their own (k = n): NaN, not an error
        table[c.SILHOUETTE] = silhouette(scaled, labels) if len(np.unique(labels)) < len(labels) else np.nan
        tables[name] = table
    return pd.concat(tables, names=["scaling"])


def _labels(result: ClusterResult) -> pd.Series:
    return result.labels.dropna().astype("int64")
