"""The figures of the analysis, each a function that returns a Figure.

Input: the customer feature table (one row per customer) and, for the first
two, the :class:`~segmentation.cluster.ClusterResult` of the seed method; the
figures beyond the seed take k scans (:mod:`segmentation.diagnostics`) or
other clusterings.
Figures have a fixed size and resolution; :func:`save_figure` writes PNGs
without a software tag, so the same table gives the same bytes on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from segmentation import columns as c
from segmentation.cluster import ClusterResult
from segmentation.diagnostics import RFM_LOG, best_silhouette_k, elbow_k
from segmentation.export import atomic_path

if TYPE_CHECKING:
    from segmentation.pipeline import BeyondSeed

FIGSIZE = (9.0, 5.5)
DPI = 110
#: One colour per cluster, lowest spend first (colour-blind safe).
CLUSTER_COLOURS = sns.color_palette("colorblind", 10).as_hex()

BILL_SIZE_DISTRIBUTION = "bill_size_distribution.png"
CUSTOMER_SEGMENTS = "customer_segments.png"
FEATURE_CORRELATIONS = "feature_correlations.png"
FIGURE_FILES = (BILL_SIZE_DISTRIBUTION, CUSTOMER_SEGMENTS, FEATURE_CORRELATIONS)
K_DIAGNOSTICS = "k_diagnostics.png"
RAW_VS_LOG_CLUSTERS = "raw_vs_log_clusters.png"
SEGMENT_PROFILES = "segment_profiles.png"
#: The figures of the notebook's "Beyond the seed" section.
BEYOND_SEED_FIGURE_FILES = (K_DIAGNOSTICS, RAW_VS_LOG_CLUSTERS, SEGMENT_PROFILES)
#: Every committed figure, in the order the notebook shows them.
ALL_FIGURE_FILES = FIGURE_FILES + BEYOND_SEED_FIGURE_FILES

_STYLE = {
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_BINS = 40
_LEGEND_HEADROOM = 1.6
_POUNDS = FuncFormatter(lambda value, _: f"£{value:,.0f}" if value >= 1 else f"£{value:,.2f}")


@contextmanager
def _style() -> Iterator[None]:
    """Matplotlib's defaults plus ``_STYLE``, whatever the caller (a notebook backend) changed."""
    with plt.rc_context():
        matplotlib.rcdefaults()
        plt.rcParams.update(_STYLE)
        yield


def cluster_boundaries(clustering: ClusterResult) -> np.ndarray:
    """Total_Bill_Size values where one cluster ends and the next begins.

    For one feature, KMeans assigns each customer to the nearest centroid, so
    the boundaries are the midpoints between consecutive centroids (scaling
    is linear, so midpoints in pounds equal midpoints in standard units). With
    log scaling the midpoints are taken in log1p(pounds) and mapped back.
    """
    if clustering.features != (c.TOTAL_BILL_SIZE,):
        raise ValueError("boundaries are defined for clusters on Total_Bill_Size alone")
    centres = clustering.centroids[c.TOTAL_BILL_SIZE].to_numpy()
    if clustering.log:
        logs = np.log1p(centres)
        return np.expm1((logs[:-1] + logs[1:]) / 2)
    return (centres[:-1] + centres[1:]) / 2


def plot_bill_size_distribution(customers: pd.DataFrame, clustering: ClusterResult) -> Figure:
    """Histogram of Total_Bill_Size on a log axis, bars coloured by cluster.

    Bins are log-spaced, with the cluster boundaries added as bin edges so that
    no bar straddles two clusters; the median and the boundaries are marked.
    """
    positive = customers[c.TOTAL_BILL_SIZE] > 0
    with _style():
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        _draw_spend_histogram(ax, customers, clustering)
        ax.set_ylabel("customers")
        left_out = int((~positive).sum())
        note = f"; {left_out} with spend ≤ £0 not shown" if left_out else ""
        ax.set_title(f"Distribution of Total_Bill_Size ({int(positive.sum()):,} customers{note})")
        ax.legend(loc="upper right", frameon=True, framealpha=0.9)
    return fig


def _draw_spend_histogram(ax: plt.Axes, customers: pd.DataFrame, clustering: ClusterResult) -> None:
    """Log-binned Total_Bill_Size stacked by cluster, with the median and the cluster boundaries."""
    positive = customers[c.TOTAL_BILL_SIZE] > 0
    spend = customers.loc[positive, c.TOTAL_BILL_SIZE]
    labels = clustering.labels[positive]
    boundaries = cluster_boundaries(clustering)
    bins = np.unique(np.concatenate([np.geomspace(spend.min(), spend.max(), _BINS + 1), boundaries]))
    groups = [spend[labels == cluster] for cluster in clustering.centroids.index]
    names = [f"{cluster}: {row[c.SEGMENT]} (n={len(group):,})"
             for (cluster, row), group in zip(clustering.centroids.iterrows(), groups)]
    ax.hist(groups, bins=bins, stacked=True, color=CLUSTER_COLOURS[: len(groups)],
            edgecolor="white", linewidth=0.5, label=names)
    ax.set_xscale("log")
    median = spend.median()
    ax.axvline(median, color="black", linestyle="--", linewidth=1.5, label=f"median £{median:,.0f}")
    for i, boundary in enumerate(boundaries):
        label = "cluster boundaries: " + ", ".join(f"£{b:,.0f}" for b in boundaries)
        ax.axvline(boundary, color="#444444", linestyle=":", linewidth=1.5, label=label if i == 0 else None)
    ax.xaxis.set_major_formatter(_POUNDS)
    ax.set_xlabel("Total_Bill_Size: net spend per customer (£, log scale)")


def plot_customer_segments(customers: pd.DataFrame, clustering: ClusterResult) -> Figure:
    """Total_Bill_Size (log) against Purchase_Interval_Days, one colour per segment."""
    clustered = customers.assign(**{c.CLUSTER: clustering.labels}).dropna(subset=[c.CLUSTER])
    with _style():
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        for cluster, row in clustering.centroids.iterrows():
            members = clustered[clustered[c.CLUSTER] == cluster]
            colour = CLUSTER_COLOURS[int(cluster)]
            ax.scatter(members[c.TOTAL_BILL_SIZE], members[c.PURCHASE_INTERVAL_DAYS], s=16,
                       alpha=0.65, color=colour, edgecolor="none",
                       label=f"{cluster}: {row[c.SEGMENT]} (n={len(members):,})")
            ax.axvline(row[c.TOTAL_BILL_SIZE], color=colour, linestyle="--", linewidth=1.2)
        ax.plot([], [], color="grey", linestyle="--", linewidth=1.2, label="cluster centroid (spend)")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(_POUNDS)
        ax.set_xlabel("Total_Bill_Size: net spend per customer (£, log scale)")
        ax.set_ylabel("Purchase_Interval_Days: first to last purchase (days)")
        ax.set_title(f"Customer segments: KMeans (k={len(clustering.centroids)}) on {describe_method(clustering)}")
        ax.legend(loc="upper left", frameon=True, framealpha=0.9)
    return fig


def describe_method(clustering: ClusterResult) -> str:
    """What KMeans saw, in words: "standardised Total_Bill_Size", "log1p, standardised ..."."""
    scaling = "log1p, standardised" if clustering.log else "standardised"
    return f"{scaling} {', '.join(clustering.features)}"


def plot_feature_correlations(customers: pd.DataFrame) -> Figure:
    """Spearman (rank) correlations of the numeric features, lower triangle, annotated."""
    ranks = customers[list(c.CORRELATION_FEATURES)].astype("float64").corr(method="spearman")
    lower = ranks.iloc[1:, :-1]  # drop the all-ones diagonal
    mask = np.triu(np.ones(lower.shape, dtype=bool), k=1)
    with _style():
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        # vmin = -vmax puts 0 at the diverging palette's neutral midpoint
        sns.heatmap(lower, mask=mask, annot=True, fmt=".2f", cmap="vlag", vmin=-1, vmax=1,
                    linewidths=0.5, ax=ax,
                    cbar_kws={"label": "Spearman correlation", "shrink": 0.8})
        ax.set_title(f"Rank correlation of customer features ({len(customers):,} customers)")
        ax.tick_params(axis="x", rotation=30)
        ax.tick_params(axis="y", rotation=0)
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    return fig


def plot_k_diagnostics(scans: dict[str, pd.DataFrame], *, chosen: str) -> Figure:
    """Inertia (left, of the ``chosen`` scan) and silhouette (right, of every scan) against k.

    ``scans`` are :func:`segmentation.diagnostics.scan_k` tables keyed by a
    short name of the features and scaling. The left panel marks the kneed
    elbow, the right one each scan's best silhouette.
    """
    scan = scans[chosen]
    elbow = elbow_k(scan)
    with _style():
        fig, (left, right) = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI, layout="constrained")
        left.plot(scan.index, scan[c.INERTIA], marker="o", color=CLUSTER_COLOURS[0])
        if elbow is not None:
            left.plot([elbow], [scan.loc[elbow, c.INERTIA]], marker="o", markersize=14, fillstyle="none",
                      color="black", linestyle="none", label=f"elbow (kneed): k = {elbow}")
            left.legend(loc="upper right", frameon=True, framealpha=0.9)
        left.set_title(f"Inertia, {chosen}")
        left.set_ylabel("within-cluster sum of squares (standard units²)")
        for i, (name, table) in enumerate(scans.items()):
            best = best_silhouette_k(table)
            right.plot(table.index, table[c.SILHOUETTE], marker="o", color=CLUSTER_COLOURS[i],
                       label=f"{name} (best k = {best})", linewidth=2.5 if name == chosen else 1.2)
            right.plot([best], [table.loc[best, c.SILHOUETTE]], marker="*", markersize=14,
                       color=CLUSTER_COLOURS[i], linestyle="none")
        right.set_ylim(0, 1)
        right.set_title("Silhouette (★ best k)")
        right.set_ylabel("mean silhouette (−1 … 1, higher = better separated)")
        right.legend(loc="upper right", frameon=True, framealpha=0.9)
        for ax in (left, right):
            ax.set_xlabel("k: number of clusters")
            ax.set_xticks(list(scan.index))
        fig.suptitle("Choosing k: KMeans (n_init = 10) for each k", fontsize=12)
    return fig


def plot_raw_vs_log(customers: pd.DataFrame, raw: ClusterResult, log: ClusterResult,
                    *, silhouettes: dict[str, float] | None = None) -> Figure:
    """Spend histograms side by side: clusters of standardised raw spend (left) and of log1p spend (right).

    ``silhouettes`` (keys ``"raw"`` and ``"log"``), when given, go into the panel titles.
    """
    scores = silhouettes or {}
    with _style():
        fig, axes = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI, layout="constrained", sharey=True)
        for ax, (key, title, clustering) in zip(axes, [("raw", "Raw spend", raw), ("log", "log1p spend", log)]):
            _draw_spend_histogram(ax, customers, clustering)
            ax.set_xlabel("Total_Bill_Size (£, log scale)")
            score = f", silhouette {scores[key]:.2f}" if key in scores else ""
            ax.set_title(f"{title} (k = {len(clustering.centroids)}{score})")
            ax.legend(loc="upper left", frameon=True, framealpha=0.9, fontsize=8)
        axes[0].set_ylabel("customers")
        axes[0].set_ylim(top=axes[0].get_ylim()[1] * _LEGEND_HEADROOM)  # room for the legends above the bars
        fig.suptitle("The same customers, standardised raw spend vs log1p spend", fontsize=12)
    return fig


def plot_segment_profiles(customers: pd.DataFrame, clustering: ClusterResult) -> Figure:
    """Box plots of each clustered feature, in the space KMeans saw, one box per segment.

    The y axis is the feature after log1p (if used) and standardising, so 0 is
    the average customer; the white diamonds are the cluster centroids, which
    the RFM naming rule reads.
    """
    clustered = customers[clustering.labels.notna()]
    scaled = clustering.scale(clustered)
    labels = clustering.labels[clustering.labels.notna()]
    k = len(clustering.centroids)
    width = 0.8 / k
    with _style():
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        ax.axhline(0, color="#888888", linewidth=1, linestyle="--")
        for cluster, row in clustering.centroids.iterrows():
            members = scaled[labels == cluster]
            positions = np.arange(len(clustering.features)) + (int(cluster) - (k - 1) / 2) * width
            colour = CLUSTER_COLOURS[int(cluster)]
            ax.boxplot([members[name] for name in clustering.features], positions=positions, widths=width * 0.85,
                       patch_artist=True, showfliers=False, whis=(5, 95),
                       boxprops={"facecolor": colour, "edgecolor": "#333333"},
                       medianprops={"color": "black"}, whiskerprops={"color": "#333333"},
                       capprops={"color": "#333333"})
            ax.plot(positions, clustering.scaled_centroids.loc[cluster], marker="D", color="white",
                    markeredgecolor="black", linestyle="none", markersize=5)
            ax.plot([], [], color=colour, linewidth=8, label=f"{cluster}: {row[c.SEGMENT]} (n={len(members):,})")
        ax.plot([], [], marker="D", color="white", markeredgecolor="black", linestyle="none", label="centroid")
        ax.set_xticks(np.arange(len(clustering.features)), [_FEATURE_LABELS.get(n, n) for n in clustering.features])
        scaling = "log1p, then standardised" if clustering.log else "standardised"
        ax.set_ylabel(f"feature value ({scaling}; 0 = average customer)")
        ax.set_xlabel("clustered feature (boxes: quartiles, whiskers: 5th–95th percentile)")
        ax.set_title(f"Segment profiles: KMeans (k={k}) on {describe_method(clustering)}", fontsize=11)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=True, framealpha=0.9)
    return fig


_FEATURE_LABELS = {
    c.RECENCY_DAYS: "Recency_Days\n(days; lower = more recent)",
    c.FREQUENCY: "Frequency\n(invoices)",
    c.TOTAL_BILL_SIZE: "Total_Bill_Size\n(net spend, £)",
}


def draw_figures(customers: pd.DataFrame, clustering: ClusterResult,
                 *, scan: pd.DataFrame | None = None) -> dict[str, Figure]:
    """The figures of one clustering, keyed by their file name.

    Clusters of spend alone get the three seed figures; other feature sets get
    the segment profiles in place of the spend histogram. With a k ``scan``
    the k diagnostics are added.
    """
    first = (
        {BILL_SIZE_DISTRIBUTION: plot_bill_size_distribution(customers, clustering)}
        if clustering.features == c.SEED_CLUSTER_FEATURES
        else {SEGMENT_PROFILES: plot_segment_profiles(customers, clustering)}
    )
    figures = {
        **first,
        CUSTOMER_SEGMENTS: plot_customer_segments(customers, clustering),
        FEATURE_CORRELATIONS: plot_feature_correlations(customers),
    }
    if scan is not None:
        figures[K_DIAGNOSTICS] = plot_k_diagnostics({describe_method(clustering): scan},
                                                    chosen=describe_method(clustering))
    return figures


def draw_beyond_seed_figures(customers: pd.DataFrame, beyond: BeyondSeed) -> dict[str, Figure]:
    """The three figures of the analyses beyond the seed, keyed by their file name."""
    silhouettes = beyond.scalings.groupby(level="scaling")[c.SILHOUETTE].first().to_dict()
    return {
        K_DIAGNOSTICS: plot_k_diagnostics(beyond.scans, chosen=RFM_LOG),
        RAW_VS_LOG_CLUSTERS: plot_raw_vs_log(customers, beyond.raw, beyond.log, silhouettes=silhouettes),
        SEGMENT_PROFILES: plot_segment_profiles(customers, beyond.rfm),
    }


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG atomically; the same figure gives the same bytes on every run."""
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return Path(path)
