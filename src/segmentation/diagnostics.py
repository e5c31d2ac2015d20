"""How many clusters the data supports, and how stable they are.

Input: the customer feature table (one row per customer, index CustomerID).
Every function clusters the same customers as
:func:`~segmentation.cluster.cluster_customers` (Total_Bill_Size > 0), with
the same scaling (``log1p`` if ``log``, then StandardScaler) and the same
explicit ``n_init`` and seeds. Nothing here changes k: the suggestions are
reported, and the caller decides.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from kneed import KneeLocator
from sklearn.metrics import adjusted_rand_score, silhouette_score

from segmentation import columns as c
from segmentation import config
from segmentation.cluster import ClusterResult, cluster_customers, make_kmeans, scale_features


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
    size = sample_size if len(scaled) > sample_size else None
    return float(silhouette_score(scaled, labels, sample_size=size, random_state=random_state))


def scan_k(
    customers: pd.DataFrame,
    *,
    features: tuple[str, ...] = c.SEED_CLUSTER_FEATURES,
    log: bool = False,
    k_values: Iterable[int] = config.K_RANGE,
    random_state: int = config.RANDOM_STATE,
) -> pd.DataFrame:
    """KMeans for each k: one row per k (index ``k``), columns ``inertia`` and ``silhouette``.

    Inertia is the within-cluster sum of squares in standard units (it always
    falls as k grows; look for the elbow). Silhouette is -1 … 1, higher is
    better separated; see :func:`silhouette` for the sample rule.
    """
    _, scaled, _ = scale_features(customers, features=features, log=log)
    rows = []
    for k in k_values:
        if k < 2 or k >= len(scaled):
            raise ValueError(f"k = {k} is outside 2 … {len(scaled) - 1} for {len(scaled)} customers")
        model = make_kmeans(k, n_customers=len(scaled), random_state=random_state).fit(scaled)
        score = silhouette(scaled, model.labels_, random_state=random_state)
        rows.append({c.K: k, c.INERTIA: float(model.inertia_), c.SILHOUETTE: score})
    return pd.DataFrame(rows).set_index(c.K)


def elbow_k(scan: pd.DataFrame) -> int | None:
    """The elbow of the inertia curve found by kneed (convex, decreasing); None when it finds none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kneed warns when a curve has no knee; None says so
        knee = KneeLocator(scan.index.to_list(), scan[c.INERTIA].to_list(), curve="convex",
                           direction="decreasing").knee
    return None if knee is None else int(knee)


def best_silhouette_k(scan: pd.DataFrame) -> int:
    """The k with the highest silhouette; ties go to the smaller k."""
    return int(scan[c.SILHOUETTE].idxmax())


#: Rules :func:`choose_k` knows: the silhouette's best k, or the inertia elbow.
SILHOUETTE_RULE = "auto"
ELBOW_RULE = "elbow"
K_RULES = (SILHOUETTE_RULE, ELBOW_RULE)


@dataclass(frozen=True)
class KChoice:
    """A k chosen from a scan, why, and both suggestions."""

    k: int
    reason: str
    best_silhouette: int
    elbow: int | None


def choose_k(scan: pd.DataFrame, *, rule: str = SILHOUETTE_RULE) -> KChoice:
    """Pick k from a scan by ``rule`` and say why, reporting the other suggestion beside it.

    ``"auto"``: the k with the highest silhouette. ``"elbow"``: kneed's elbow
    of the inertia curve, or the silhouette's best k when kneed finds none.
    """
    if rule not in K_RULES:
        raise ValueError(f"rule must be one of {', '.join(K_RULES)}, not {rule!r}")
    best = best_silhouette_k(scan)
    elbow = elbow_k(scan)
    ks = scan.index
    silhouette_says = (f"the highest silhouette ({scan.loc[best, c.SILHOUETTE]:.3f}) of k = {ks.min()} … {ks.max()} "
                       f"is at k = {best}")
    elbow_says = (f"the inertia elbow (kneed) is at k = {elbow} (silhouette {scan.loc[elbow, c.SILHOUETTE]:.3f})"
                  if elbow is not None else "kneed finds no elbow in the inertia")
    if rule == ELBOW_RULE and elbow is not None:
        return KChoice(k=elbow, reason=f"k = {elbow}, the elbow: {elbow_says}; {silhouette_says}",
                       best_silhouette=best, elbow=elbow)
    return KChoice(k=best, reason=f"k = {best}, the best silhouette: {silhouette_says}; {elbow_says}",
                   best_silhouette=best, elbow=elbow)


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
    full = make_kmeans(k, n_customers=len(scaled), random_state=random_state).fit(scaled)
    rng = np.random.default_rng(random_state)
    scores = []
    for _ in range(n_resamples):
        rows = rng.integers(0, len(scaled), size=len(scaled))
        refit = make_kmeans(k, n_customers=len(rows), random_state=random_state).fit(scaled[rows])
        scores.append(adjusted_rand_score(full.labels_, refit.predict(scaled)))
    return pd.Series(scores, index=pd.RangeIndex(n_resamples, name="resample"), name="ari")


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
    clustering's silhouette (in its own scaled space, repeated on each row).
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
        table[c.SILHOUETTE] = silhouette(scaled, _labels(result).to_numpy())
        tables[name] = table
    return pd.concat(tables, names=["scaling"])


def _labels(result: ClusterResult) -> pd.Series:
    return result.labels.dropna().astype("int64")
