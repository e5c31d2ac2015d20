"""The three figures of the analysis, each a function that returns a Figure.

Input: the customer feature table (one row per customer) and, for the first
two, the :class:`~segmentation.cluster.ClusterResult` of the seed method.
Figures have a fixed size and resolution; :func:`save_figure` writes PNGs
without a software tag, so the same table gives the same bytes on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from segmentation import columns as c
from segmentation.cluster import ClusterResult
from segmentation.export import atomic_path

FIGSIZE = (9.0, 5.5)
DPI = 110
#: One colour per cluster, lowest spend first (colour-blind safe).
CLUSTER_COLOURS = sns.color_palette("colorblind", 10).as_hex()

BILL_SIZE_DISTRIBUTION = "bill_size_distribution.png"
CUSTOMER_SEGMENTS = "customer_segments.png"
FEATURE_CORRELATIONS = "feature_correlations.png"
FIGURE_FILES = (BILL_SIZE_DISTRIBUTION, CUSTOMER_SEGMENTS, FEATURE_CORRELATIONS)

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
    is linear, so midpoints in pounds equal midpoints in standard units).
    """
    if clustering.features != (c.TOTAL_BILL_SIZE,):
        raise ValueError("boundaries are defined for clusters on Total_Bill_Size alone")
    centres = clustering.centroids[c.TOTAL_BILL_SIZE].to_numpy()
    return (centres[:-1] + centres[1:]) / 2


def plot_bill_size_distribution(customers: pd.DataFrame, clustering: ClusterResult) -> Figure:
    """Histogram of Total_Bill_Size on a log axis, bars coloured by cluster.

    Bins are log-spaced, with the cluster boundaries added as bin edges so that
    no bar straddles two clusters; the median and the boundaries are marked.
    """
    positive = customers[c.TOTAL_BILL_SIZE] > 0
    spend = customers.loc[positive, c.TOTAL_BILL_SIZE]
    labels = clustering.labels[positive]
    boundaries = cluster_boundaries(clustering)
    bins = np.unique(np.concatenate([np.geomspace(spend.min(), spend.max(), _BINS + 1), boundaries]))
    groups = [spend[labels == cluster] for cluster in clustering.centroids.index]
    names = [f"{cluster}: {row[c.SEGMENT]} (n={len(group):,})"
             for (cluster, row), group in zip(clustering.centroids.iterrows(), groups)]
    with _style():
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        ax.hist(groups, bins=bins, stacked=True, color=CLUSTER_COLOURS[: len(groups)],
                edgecolor="white", linewidth=0.5, label=names)
        ax.set_xscale("log")
        median = spend.median()
        ax.axvline(median, color="black", linestyle="--", linewidth=1.5,
                   label=f"median £{median:,.0f}")
        for i, boundary in enumerate(boundaries):
            label = "cluster boundaries: " + ", ".join(f"£{b:,.0f}" for b in boundaries)
            ax.axvline(boundary, color="#444444", linestyle=":", linewidth=1.5,
                       label=label if i == 0 else None)
        ax.xaxis.set_major_formatter(_POUNDS)
        ax.set_xlabel("Total_Bill_Size: net spend per customer (£, log scale)")
        ax.set_ylabel("customers")
        left_out = int((~positive).sum())
        note = f"; {left_out} with spend ≤ £0 not shown" if left_out else ""
        ax.set_title(f"Distribution of Total_Bill_Size ({len(spend):,} customers{note})")
        ax.legend(loc="upper right", frameon=True, framealpha=0.9)
    return fig


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
        ax.set_title(f"Customer segments: KMeans (k={len(clustering.centroids)}) on standardised "
                     "Total_Bill_Size")
        ax.legend(loc="upper left", frameon=True, framealpha=0.9)
    return fig


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


def draw_figures(customers: pd.DataFrame, clustering: ClusterResult) -> dict[str, Figure]:
    """The three figures, keyed by their file name."""
    return {
        BILL_SIZE_DISTRIBUTION: plot_bill_size_distribution(customers, clustering),
        CUSTOMER_SEGMENTS: plot_customer_segments(customers, clustering),
        FEATURE_CORRELATIONS: plot_feature_correlations(customers),
    }


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG atomically; the same figure gives the same bytes on every run."""
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return Path(path)
