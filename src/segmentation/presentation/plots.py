"""The figures of the analysis, each a function that returns a Figure.

Input: the customer feature table (one row per customer) and, for the first
two, the :class:`~segmentation.analysis.cluster.ClusterResult` of the seed method; the
figures beyond the seed take k scans (:mod:`segmentation.analysis.diagnostics`) with the
k the analysis chose, or other clusterings. Figures draw what they are given
and compute nothing the analysis already computed.

Every figure that colours by segment takes the colour from
:func:`segment_colour`, so a segment has the same colour in every figure.
Figures are drawn at ``DPI`` (what a notebook embeds) and saved at
``SAVE_DPI`` (sharp in the README); :func:`save_figure` writes PNGs without a
software tag, so the same table gives the same bytes on every run.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axis import Axis
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from segmentation import columns as c
from segmentation import config
from segmentation.analysis import forecast, model
from segmentation.analysis.cluster import ClusterResult
from segmentation.analysis.diagnostics import RFM_LOG
from segmentation.analysis.segments import segment_names
from segmentation.export import atomic_path

if TYPE_CHECKING:
    from segmentation.analysis.diagnostics import KChoice
    from segmentation.analysis.pipeline import BeyondSeed

FIGSIZE = (9.0, 5.5)
#: Resolution figures are drawn at: what a notebook embeds (small pages).
DPI = 110
#: Resolution :func:`save_figure` writes: a 9-inch figure is 1,800 px wide,
#: sharp at GitHub's page width on a 2x screen.
SAVE_DPI = 200

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
#: The check of the segments against what customers did next (a run with an outcome window).
VALIDATION = "validation.png"
#: The forecast made before a date against what customers did after it.
FORECAST_CHECK = "forecast_check.png"
#: Who moved between segments: a new file scored with a saved model (``python -m segmentation score``).
MIGRATION = "migration.png"
ALL_FIGURE_FILES = FIGURE_FILES + BEYOND_SEED_FIGURE_FILES + (VALIDATION, FORECAST_CHECK, MIGRATION)
#: What each figure shows, in words: the report's alternative text for readers who cannot see it.
FIGURE_DESCRIPTIONS: dict[str, str] = {
    BILL_SIZE_DISTRIBUTION: "Histogram of customers by net spend (Total_Bill_Size) on a log scale, bars coloured "
                            "by the seed method's spend cluster, with the median and the cluster boundaries.",
    CUSTOMER_SEGMENTS: "Scatter of customers, net spend (log scale) against days between first and last purchase, "
                       "coloured by spend cluster; customers who bought on a single day in a band of their own.",
    FEATURE_CORRELATIONS: "Heatmap of the rank (Spearman) correlations between spend, returns, tenure, frequency "
                          "and recency; red positive, blue negative.",
    K_DIAGNOSTICS: "Two line charts for choosing the number of clusters: the RFM clusters' inertia against k with "
                   "the elbow marked, and each feature set's silhouette against k.",
    RAW_VS_LOG_CLUSTERS: "Two histograms of net spend side by side, coloured by the three clusters of raw spend "
                         "(left) and of log spend (right), with each clustering's sizes and silhouette.",
    SEGMENT_PROFILES: "Box plots per RFM segment of days since the last purchase, number of purchases and net "
                      "spend, highest value segment first.",
    VALIDATION: "Bar charts, one per segmentation, of the share of each segment's customers who bought again in "
                "the period after the check date, segments in the order they promise.",
    FORECAST_CHECK: "Left: purchases per customer in the period after the check date by repeat purchases before "
                    "it, as forecast, as they happened and as the naive forecast. Right: net spend in that period "
                    "per tenth of customers ranked by the forecast, forecast against what happened.",
    MIGRATION: "Grid of customers by segment in the saved model's run (rows) and segment now (columns), shaded by "
               "the share of each row, with the customers who kept their segment outlined.",
}

# --- colours ---------------------------------------------------------------

#: Okabe & Ito's colour-blind-safe palette, by name.
OKABE_ITO = {
    "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7", "grey": "#777777",
}
#: Spend levels are ordered, so they take a perceptually ordered, colour-blind-safe
#: map: the lowest level at ``_SPEND_MAP_LOW``, the highest at ``_SPEND_MAP_HIGH``.
_SPEND_MAP = matplotlib.colormaps["viridis"]
_SPEND_MAP_LOW, _SPEND_MAP_HIGH = 0.75, 0.1


def _spend_level_colour(level: int, levels: int) -> str:
    """Colour of spend level ``level`` (1 = lowest) of ``levels``, from ``_SPEND_MAP``."""
    position = 0.5 if levels == 1 else (level - 1) / (levels - 1)
    return to_hex(_SPEND_MAP(_SPEND_MAP_LOW + (_SPEND_MAP_HIGH - _SPEND_MAP_LOW) * position))


#: One colour per segment name, whatever the figure. Spend levels (the seed
#: method's names) run light to dark as spend rises; the default segment map's
#: names read like a traffic light (Champions green … At risk orange … Lost
#: vermillion), with colour-blind-safe extras (Paul Tol's muted scheme).
SEGMENT_COLOURS: dict[str, str] = {
    **{name: _spend_level_colour(i + 1, 3) for i, name in enumerate(segment_names(3))},
    **dict.fromkeys(segment_names(1), OKABE_ITO["grey"]),
    "Champions": OKABE_ITO["bluish green"],
    "Loyal": OKABE_ITO["blue"],
    "Can't lose them": OKABE_ITO["reddish purple"],
    "Need attention": "#DDCC77",
    "At risk": OKABE_ITO["orange"],
    "Potential loyalist": OKABE_ITO["sky blue"],
    "About to sleep": "#999933",
    "Hibernating": "#882255",
    "New": "#44AA99",
    "Lost": OKABE_ITO["vermillion"],
}
#: "Spend level i of k" (:func:`segmentation.analysis.segments.segment_names` for k > 3).
_SPEND_LEVEL = re.compile(r"Spend level (\d+) of (\d+)")
#: Names with no colour of their own (a user's segment map) get one of these, by a checksum of the name.
_FALLBACK_COLOURS = (OKABE_ITO["yellow"], "#332288", "#117733", "#AA4499", "#88CCEE", "#CC6677")


def segment_colour(name: str) -> str:
    """The colour of segment ``name`` in every figure ("#rrggbb").

    Names of ``SEGMENT_COLOURS`` take theirs; "Spend level i of k" a step of
    the spend map; any other name a fallback colour chosen by a checksum of
    the name, so the same name gets the same colour on every run.
    """
    if name in SEGMENT_COLOURS:
        return to_hex(SEGMENT_COLOURS[name])
    if match := _SPEND_LEVEL.fullmatch(name):
        level, levels = int(match[1]), int(match[2])
        return _spend_level_colour(level, levels)
    return to_hex(_FALLBACK_COLOURS[zlib.crc32(name.encode("utf-8")) % len(_FALLBACK_COLOURS)])


#: Colours of lines that are not segments (k scans), colour-blind safe: seaborn's "colorblind" palette
#: (``seaborn.color_palette("colorblind", 10).as_hex()``), written out so that drawing them needs no seaborn.
LINE_COLOURS = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
                "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9")
#: Reference lines and outlines: cluster boundaries, the chosen k, whiskers.
_MARK_COLOUR = "#444444"

# --- style -----------------------------------------------------------------

_STYLE = {
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "figure.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_BINS = 40
#: The y axis of a histogram is stretched by this much, leaving room for the legend above the bars.
_LEGEND_HEADROOM = 1.6
#: A segment with fewer than this share of the clustered customers is "small":
#: drawn last, with bigger outlined markers, so a handful of customers is not
#: lost under thousands.
SMALL_SEGMENT_SHARE = 0.05
POINT_SIZE = 12
SMALL_SEGMENT_POINT_SIZE = 60
#: Legend markers are at least this big, so the colour of a dense segment reads.
_LEGEND_POINT_SIZE = 40
#: Rug of small segments under a histogram: height (axes fraction) and marker size.
_RUG_HEIGHT, _RUG_MARKER_SIZE = 0.02, 7
#: At most this many decades labelled on a £ axis (more are thinned).
_MAX_MONEY_TICKS = 7


@contextmanager
def _style() -> Iterator[None]:
    """Matplotlib's defaults plus ``_STYLE``, whatever the caller (a notebook backend) changed."""
    with plt.rc_context():
        matplotlib.rcdefaults()
        plt.rcParams.update(_STYLE)
        yield


def format_pounds(value: float, _position: int | None = None) -> str:
    """Compact money: £0.5, £10, £1k, £25k, £1.5M (tick labels that stay short)."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"£{value / size:g}{suffix}"
    return f"£{value:g}"


def _log_pounds_axis(axis: Axis) -> None:
    """A log £ axis labelled at powers of ten only, in compact money."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0,), numticks=_MAX_MONEY_TICKS))
    axis.set_major_formatter(FuncFormatter(format_pounds))
    axis.set_minor_formatter(NullFormatter())


def is_small_segment(n_members: int, n_customers: int) -> bool:
    """True for a segment with under ``SMALL_SEGMENT_SHARE`` of the clustered customers."""
    return n_members < SMALL_SEGMENT_SHARE * n_customers


def _legend_label(cluster: object, segment: str, n: int) -> str:
    return f"{cluster}: {segment} (n={n:,})"


def describe_method(clustering: ClusterResult) -> str:
    """What KMeans saw, in words: "standardised Total_Bill_Size", "log1p, standardised RFM"."""
    scaling = "log1p, standardised" if clustering.log else "standardised"
    features = "RFM" if clustering.features == c.RFM_FEATURES else ", ".join(clustering.features)
    return f"{scaling} {features}"


# --- spend histogram -------------------------------------------------------


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
    """Histogram of Total_Bill_Size on a log axis, bars coloured by segment.

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
        ax.set_title(f"Distribution of Total_Bill_Size ({int(positive.sum()):,} customers{note})", fontsize=12)
        ax.set_ylim(top=ax.get_ylim()[1] * _LEGEND_HEADROOM)  # room for the legend above the bars
        ax.legend(loc="upper left", frameon=True, framealpha=0.9)
    return fig


def _draw_spend_histogram(ax: plt.Axes, customers: pd.DataFrame, clustering: ClusterResult) -> None:
    """Log-binned Total_Bill_Size stacked by cluster, with the median and the cluster boundaries."""
    positive = customers[c.TOTAL_BILL_SIZE] > 0
    spend = customers.loc[positive, c.TOTAL_BILL_SIZE]
    labels = clustering.labels[positive]
    boundaries = cluster_boundaries(clustering)
    bins = np.unique(np.concatenate([np.geomspace(spend.min(), spend.max(), _BINS + 1), boundaries]))
    groups = [spend[labels == cluster] for cluster in clustering.centroids.index]
    segments = clustering.centroids[c.SEGMENT]
    names = [_legend_label(cluster, name, len(group))
             for (cluster, name), group in zip(segments.items(), groups, strict=True)]
    ax.hist(groups, bins=bins, stacked=True, color=[segment_colour(name) for name in segments],
            edgecolor="white", linewidth=0.5, label=names)
    _draw_small_segment_rug(ax, groups, segments)
    ax.set_xscale("log")
    median = spend.median()
    ax.axvline(median, color="black", linestyle="--", linewidth=1.5, label=f"median £{median:,.0f}")
    for i, boundary in enumerate(boundaries):
        label = "cluster boundaries: " + ", ".join(f"£{b:,.0f}" for b in boundaries)
        ax.axvline(boundary, color=_MARK_COLOUR, linestyle=":", linewidth=1.5, label=label if i == 0 else None)
    _log_pounds_axis(ax.xaxis)
    ax.set_xlabel("Total_Bill_Size: net spend per customer (£, log scale)")


def _draw_small_segment_rug(ax: plt.Axes, groups: list[pd.Series], segments: pd.Series) -> None:
    """One outlined triangle under the bars per customer of each small segment (bars a few customers high
    vanish beside thousands)."""
    n_customers = sum(len(group) for group in groups)
    small = [(group, name) for group, name in zip(groups, segments, strict=True)
             if is_small_segment(len(group), n_customers)]
    for i, (group, name) in enumerate(small):
        ax.plot(group, np.full(len(group), _RUG_HEIGHT), transform=ax.get_xaxis_transform(), linestyle="none",
                marker="^", markersize=_RUG_MARKER_SIZE, color=segment_colour(name), markeredgecolor="black",
                markeredgewidth=0.6, clip_on=False, zorder=4,
                label=f"one customer of a segment under {SMALL_SEGMENT_SHARE:.0%}" if i == 0 else None)


# --- spend against purchase interval ----------------------------------------

#: Heights of the panel of customers who bought on several days and of the
#: strip of those who bought on a single day.
_INTERVAL_PANEL_HEIGHT, _SINGLE_DAY_STRIP_HEIGHT = 4, 1


def plot_customer_segments(customers: pd.DataFrame, clustering: ClusterResult) -> Figure:
    """Total_Bill_Size (log) against Purchase_Interval_Days, one colour per segment.

    Top: clustered customers who bought on two or more days, at their first-to-
    last-purchase interval. Bottom strip: those who bought on a single day
    (interval 0) or have no purchase occasion (no interval: postage alone, or
    every product returned the same day), spread at random in height (seeded)
    so they can be seen and counted. Segments under ``SMALL_SEGMENT_SHARE`` of the customers are drawn
    on top with bigger, outlined markers. Dashed lines: each cluster's spend
    centroid. The legend counts every clustered customer once.
    """
    clustered = customers.assign(**{c.CLUSTER: clustering.labels}).dropna(subset=[c.CLUSTER])
    single_day = clustered[c.PURCHASE_INTERVAL_DAYS].fillna(0) == 0
    height = pd.Series(np.random.default_rng(config.RANDOM_STATE).uniform(size=len(clustered)),
                       index=clustered.index)
    sizes = clustered[c.CLUSTER].value_counts().reindex(clustering.centroids.index, fill_value=0)
    with _style():
        fig, (several, single) = plt.subplots(
            2, 1, sharex=True, figsize=FIGSIZE, dpi=DPI, layout="constrained",
            height_ratios=(_INTERVAL_PANEL_HEIGHT, _SINGLE_DAY_STRIP_HEIGHT))
        handles = {}
        for cluster in sizes.sort_values(ascending=False, kind="stable").index:  # small segments on top
            members = clustered[c.CLUSTER] == cluster
            segment = clustering.centroids.loc[cluster, c.SEGMENT]
            style = _segment_marker(segment, small=is_small_segment(int(sizes[cluster]), len(clustered)))
            handles[cluster] = several.scatter(
                clustered.loc[members & ~single_day, c.TOTAL_BILL_SIZE],
                clustered.loc[members & ~single_day, c.PURCHASE_INTERVAL_DAYS], **style,
                label=_legend_label(cluster, segment, int(sizes[cluster])))
            single.scatter(clustered.loc[members & single_day, c.TOTAL_BILL_SIZE],
                           height[members & single_day], **style)
            for ax in (several, single):
                ax.axvline(clustering.centroids.loc[cluster, c.TOTAL_BILL_SIZE], color=segment_colour(segment),
                           linestyle="--", linewidth=1.2, zorder=1)
        (centroid,) = several.plot([], [], color="grey", linestyle="--", linewidth=1.2,
                                   label="cluster centroid (spend)")
        _label_interval_panels(several, single, n_single=int(single_day.sum()), n_clustered=len(clustered))
        _legend_below(fig, [*(handles[cluster] for cluster in clustering.centroids.index), centroid])
        fig.suptitle(f"Customer segments: KMeans (k={len(clustering.centroids)}) on {describe_method(clustering)}")
    return fig


def _legend_below(fig: Figure, handles: list) -> None:
    """One row of legend under the panels (over no data), point markers at least ``_LEGEND_POINT_SIZE``."""
    legend = fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    for handle in legend.legend_handles:
        if isinstance(handle, PathCollection):
            handle.set_sizes(np.maximum(handle.get_sizes(), _LEGEND_POINT_SIZE))


def _segment_marker(segment: str, *, small: bool) -> dict:
    """Scatter style of a segment: small ones bigger, outlined and drawn above the rest."""
    if small:
        return {"s": SMALL_SEGMENT_POINT_SIZE, "color": segment_colour(segment), "edgecolor": "black",
                "linewidth": 0.8, "alpha": 0.95, "zorder": 4}
    return {"s": POINT_SIZE, "color": segment_colour(segment), "linewidth": 0, "alpha": 0.6, "zorder": 2}


def _label_interval_panels(several: plt.Axes, single: plt.Axes, *, n_single: int, n_clustered: int) -> None:
    """Titles with how many customers each panel holds, axes and ticks of the two panels."""
    n_several = n_clustered - n_single
    several.set_title(f"Bought on two or more days: {n_several:,} customers ({n_several / n_clustered:.0%})",
                      loc="left")
    several.set_ylabel("Purchase_Interval_Days:\nfirst to last purchase (days)")
    several.set_ylim(bottom=0)
    single.set_title(f"Bought on a single day, or no product kept: {n_single:,} customers "
                     f"({n_single / n_clustered:.0%}); height random", loc="left")
    single.set_ylim(-0.1, 1.1)
    single.set_yticks([])
    single.set_ylabel("one day\nor none")
    single.spines["left"].set_visible(False)
    single.set_xscale("log")
    _log_pounds_axis(single.xaxis)
    single.set_xlabel("Total_Bill_Size: net spend per customer (£, log scale)")


# --- correlations ------------------------------------------------------------


def plot_feature_correlations(customers: pd.DataFrame) -> Figure:
    """Spearman (rank) correlations of the numeric features, lower triangle, annotated."""
    import seaborn as sns  # its import takes about 0.4 s (ipywidgets with it); only this figure needs it

    ranks = customers[list(c.CORRELATION_FEATURES)].astype("float64").corr(method="spearman")
    lower = ranks.iloc[1:, :-1]  # drop the all-ones diagonal
    mask = np.triu(np.ones(lower.shape, dtype=bool), k=1)
    with _style():
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        # vmin = -vmax puts 0 at the diverging palette's neutral midpoint
        sns.heatmap(lower, mask=mask, annot=True, fmt=".2f", cmap="vlag", vmin=-1, vmax=1,
                    linewidths=0.5, ax=ax,
                    cbar_kws={"label": "Spearman correlation", "shrink": 0.8})
        ax.set_title(f"Rank correlation of customer features ({len(customers):,} customers)", fontsize=12)
        ax.tick_params(axis="x", rotation=30)
        ax.tick_params(axis="y", rotation=0)
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    return fig


# --- choosing k ----------------------------------------------------------------

#: Below the lowest silhouette when it is negative (the axis otherwise runs 0 … 1).
_SILHOUETTE_MARGIN = 0.05


def plot_k_diagnostics(scans: dict[str, pd.DataFrame], summary: pd.DataFrame, *, chosen: str = RFM_LOG,
                       k: int, elbow: int | None = None) -> Figure:
    """Inertia (left, of the ``chosen`` scan) and silhouette (right, of every scan) against k.

    ``scans`` are :func:`segmentation.analysis.diagnostics.scan_k` tables keyed by a
    short name of the features and scaling, and ``summary`` what the analysis
    read from them (:func:`segmentation.analysis.diagnostics.summarise_scans`); ``k`` is
    the k the analysis chose for the ``chosen`` scan, marked on both panels;
    ``elbow`` the inertia elbow it found (kneed), circled on the left, or None.
    On the right a star marks each scan's best silhouette, except on scans the
    summary calls flat: they have no best k.
    """
    if chosen not in scans:
        raise ValueError(f"chosen scan {chosen!r} is not one of {', '.join(scans)}")
    scan = scans[chosen]
    if elbow is not None and elbow not in scan.index:
        raise ValueError(f"elbow k = {elbow} is not in the scanned k = {scan.index.min()} … {scan.index.max()}")
    with _style():
        fig, (left, right) = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI, layout="constrained")
        colours = dict(zip(scans, LINE_COLOURS, strict=False))  # more colours than lines
        _draw_inertia(left, scan, chosen=chosen, elbow=elbow, colour=colours[chosen])
        _draw_silhouettes(right, scans, summary, chosen=chosen, colours=colours)
        for ax in (left, right):
            ax.axvline(k, color=_MARK_COLOUR, linestyle="--", linewidth=1.2, zorder=1,
                       label=f"chosen k = {k} ({chosen})" if ax is right else f"chosen k = {k}")
            ax.set_xlabel("k: number of clusters")
            ax.set_xticks(list(scan.index))
            ax.legend(loc="best", frameon=True, framealpha=0.9)
        fig.suptitle("Choosing k: KMeans (n_init = 10) for each k")
    return fig


def _draw_inertia(ax: plt.Axes, scan: pd.DataFrame, *, chosen: str, elbow: int | None, colour: str) -> None:
    """The chosen scan's inertia against k, the elbow circled."""
    ax.plot(scan.index, scan[c.INERTIA], marker="o", color=colour, linewidth=2.5, label=f"inertia, {chosen}")
    if elbow is not None:
        ax.plot([elbow], [scan.loc[elbow, c.INERTIA]], marker="o", markersize=14, fillstyle="none",
                color="black", linestyle="none", label=f"elbow (kneed): k = {elbow}")
    ax.set_title(f"Inertia, {chosen}")
    ax.set_ylabel("within-cluster sum of squares (standard units²)")


def _draw_silhouettes(ax: plt.Axes, scans: dict[str, pd.DataFrame], summary: pd.DataFrame, *, chosen: str,
                      colours: dict[str, str]) -> None:
    """Each scan's silhouette against k; a star on the best k of each scan that is not flat."""
    for name, table in scans.items():
        colour = colours[name]
        flat = bool(summary.loc[name, c.FLAT])
        best = int(summary.loc[name, c.BEST_K])
        label = f"{name} (flat: no best k)" if flat else f"{name} (best k = {best})"
        ax.plot(table.index, table[c.SILHOUETTE], marker="o", color=colour, label=label,
                linewidth=2.5 if name == chosen else 1.2, linestyle=":" if flat else "-")
        if not flat:
            ax.plot([best], [table.loc[best, c.SILHOUETTE]], marker="*", markersize=14, color=colour,
                    linestyle="none")
    lowest = min(float(table[c.SILHOUETTE].min()) for table in scans.values())
    ax.set_ylim(min(0.0, lowest - _SILHOUETTE_MARGIN), 1)
    ax.set_title("Silhouette (★ best k; flat lines have none)")
    ax.set_ylabel("mean silhouette (−1 … 1, higher = better separated)")


# --- raw vs log spend ------------------------------------------------------------


def plot_raw_vs_log(customers: pd.DataFrame, raw: ClusterResult, log: ClusterResult,
                    *, silhouettes: dict[str, float] | None = None) -> Figure:
    """Spend histograms side by side: clusters of standardised raw spend (left) and of log1p spend (right).

    ``silhouettes`` (keys ``"raw"`` and ``"log"``), when given, go into the panel titles.
    """
    scores = silhouettes or {}
    with _style():
        fig, axes = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI, layout="constrained", sharey=True)
        panels = [("raw", "Raw spend", raw), ("log", "log1p spend", log)]
        for ax, (key, title, clustering) in zip(axes, panels, strict=True):
            _draw_spend_histogram(ax, customers, clustering)
            ax.set_xlabel("Total_Bill_Size (£, log scale)")
            score = f", silhouette {scores[key]:.2f}" if key in scores else ""
            ax.set_title(f"{title} (k = {len(clustering.centroids)}{score})")
            ax.legend(loc="upper left", frameon=True, framealpha=0.9, fontsize=8)
        axes[0].set_ylabel("customers")
        axes[0].set_ylim(top=axes[0].get_ylim()[1] * _LEGEND_HEADROOM)  # room for the legends above the bars
        fig.suptitle("The same customers, standardised raw spend vs log1p spend")
    return fig


# --- segment profiles --------------------------------------------------------------

#: The panels of the segment profiles: column, panel title, axis label, log axis.
PROFILE_PANELS: tuple[tuple[str, str, str, bool], ...] = (
    (c.RECENCY_DAYS, "Days since last purchase", "Recency_Days (days)", False),
    (c.FREQUENCY, "Purchases", "Frequency (purchase days, log scale)", True),
    (c.TOTAL_BILL_SIZE, "Net spend", "Total_Bill_Size (£, log scale)", True),
)
#: Whiskers reach these percentiles; boxes hold the middle half.
_WHISKERS = (5, 95)
_BOX_WIDTH = 0.6
#: Frequency ticks: 1, 2, 5, 10, 20, 50, …
_COUNT_SUBS = (1.0, 2.0, 5.0)
_MEDIAN_FONT_SIZE = 8
#: The median's number starts just right of the median line, just above the box (points).
_MEDIAN_OFFSET = (2, 1)
#: Two significant digits: medians are read, not computed with.
_MEDIAN_FORMATS: dict[str, Callable[[float], str]] = {
    c.RECENCY_DAYS: lambda days: f"{days:.0f} days",
    c.FREQUENCY: lambda count: f"{count:g}",
    c.TOTAL_BILL_SIZE: lambda pounds: format_pounds(float(f"{pounds:.2g}")),
}


def plot_segment_profiles(customers: pd.DataFrame, clustering: ClusterResult) -> Figure:
    """Each segment in business units: days since last purchase, purchases, net spend.

    One panel per measure of ``PROFILE_PANELS``, one box per segment: the box
    holds the middle half of the segment's customers, the line is the median,
    the whiskers reach the 5th and 95th percentiles. Segments run from the
    highest cluster (highest spend centroid) at the top to the lowest at the
    bottom, each labelled with its number of customers.
    """
    clustered = customers.assign(**{c.CLUSTER: clustering.labels}).dropna(subset=[c.CLUSTER])
    clusters = clustering.centroids.index  # ascending: position 0 (bottom) is the lowest
    groups = [clustered[clustered[c.CLUSTER] == cluster] for cluster in clusters]
    segments = clustering.centroids[c.SEGMENT]
    colours = [segment_colour(segment) for segment in segments]
    with _style():
        fig, axes = plt.subplots(1, len(PROFILE_PANELS), figsize=FIGSIZE, dpi=DPI, layout="constrained",
                                 sharey=True)
        for ax, (column, title, label, log) in zip(axes, PROFILE_PANELS, strict=True):
            _draw_profile_boxes(ax, [group[column] for group in groups], colours=colours,
                                format_median=_MEDIAN_FORMATS[column])
            ax.set_title(title)
            ax.set_xlabel(label)
            if log:
                _log_axis(ax.xaxis, money=column in c.MONEY_FEATURES)
        axes[0].set_yticks(np.arange(len(clusters)),
                           [f"{segment}\n(n={len(group):,})" for segment, group in zip(segments, groups, strict=True)])
        fig.suptitle(f"Segment profiles: KMeans (k={len(clusters)}) on {describe_method(clustering)}, "
                     f"{len(clustered):,} customers")
        fig.supxlabel(f"boxes: middle half of each segment's customers; line and number: median; "
                      f"whiskers: {_WHISKERS[0]}th to {_WHISKERS[1]}th percentile", fontsize=9, color=_MARK_COLOUR)
    return fig


def _draw_profile_boxes(ax: plt.Axes, values: list[pd.Series], *, colours: list[str],
                        format_median: Callable[[float], str]) -> None:
    """Horizontal boxes of ``values``, one per segment, at y = 0, 1, … (no outliers drawn), each median written
    above its box."""
    boxes = ax.boxplot(values, positions=np.arange(len(values)), widths=_BOX_WIDTH, orientation="horizontal",
                       patch_artist=True, showfliers=False, whis=_WHISKERS,
                       medianprops={"color": "black", "linewidth": 1.5},
                       whiskerprops={"color": _MARK_COLOUR}, capprops={"color": _MARK_COLOUR})
    for position, (box, colour, series) in enumerate(zip(boxes["boxes"], colours, values, strict=True)):
        box.set(facecolor=colour, edgecolor=_MARK_COLOUR)
        median = float(series.median())
        ax.annotate(format_median(median), (median, position + _BOX_WIDTH / 2), xytext=_MEDIAN_OFFSET,
                    textcoords="offset points", ha="left", va="bottom", fontsize=_MEDIAN_FONT_SIZE)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _log_axis(axis: Axis, *, money: bool) -> None:
    """A log axis: compact £ at powers of ten, or counts at 1, 2, 5, 10, …"""
    axis.axes.set_xscale("log")
    if money:
        _log_pounds_axis(axis)
        return
    axis.set_major_locator(LogLocator(base=10, subs=_COUNT_SUBS))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


# --- all figures -------------------------------------------------------------------


def draw_figures(customers: pd.DataFrame, clustering: ClusterResult, *, scan: pd.DataFrame | None = None,
                 scan_summary: pd.DataFrame | None = None, choice: KChoice | None = None) -> dict[str, Figure]:
    """The figures of one clustering, keyed by their file name.

    Clusters of spend alone get the three seed figures; other feature sets get
    the segment profiles in place of the spend histogram. With a k ``scan``
    and its one-row ``scan_summary`` the k diagnostics are added, marking the
    clustering's k and, when the ``choice`` that picked it is given, its elbow.
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
    if scan is not None and scan_summary is not None:
        name = describe_method(clustering)
        figures[K_DIAGNOSTICS] = plot_k_diagnostics({name: scan}, scan_summary.set_axis([name]), chosen=name,
                                                    k=len(clustering.centroids),
                                                    elbow=choice.elbow if choice is not None else None)
    return figures


def draw_beyond_seed_figures(customers: pd.DataFrame, beyond: BeyondSeed) -> dict[str, Figure]:
    """The three figures of the analyses beyond the seed, keyed by their file name."""
    silhouettes = beyond.scalings.groupby(level="scaling")[c.SILHOUETTE].first().to_dict()
    choice = beyond.rfm_choice
    k = choice.k if choice is not None else len(beyond.rfm.centroids)
    return {
        K_DIAGNOSTICS: plot_k_diagnostics(beyond.scans, beyond.scan_summary, chosen=RFM_LOG, k=k,
                                          elbow=choice.elbow if choice is not None else None),
        RAW_VS_LOG_CLUSTERS: plot_raw_vs_log(customers, beyond.raw, beyond.log, silhouettes=silhouettes),
        SEGMENT_PROFILES: plot_segment_profiles(customers, beyond.rfm),
    }


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG at ``SAVE_DPI``, atomically; the same figure gives the same bytes on every run.

    Constrained layout starts from the positions of the last drawing, so the
    first drawing at ``SAVE_DPI`` can land a pixel away from the next: a
    layout pass at ``SAVE_DPI`` first (a drawing that renders nothing) makes
    the bytes the same whether or not the figure was shown (drawn at ``DPI``) before.
    """
    shown_dpi = fig.dpi
    fig.dpi = SAVE_DPI
    try:
        fig.draw_without_rendering()
    finally:
        fig.dpi = shown_dpi
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format="png", dpi=SAVE_DPI, facecolor="white", metadata={"Software": None})
    return Path(path)


#: Size of the validation figure: four panels of up to a dozen bars each.
VALIDATION_FIGSIZE = (9.0, 7.5)
#: Bars of segments that are not named (the R+F+M score of the baseline).
_BASELINE_COLOUR = OKABE_ITO["grey"]


def plot_validation(validation: pd.DataFrame, *, as_of: pd.Timestamp, horizon_days: int) -> Figure:
    """What each segment did next: the share of its customers who bought again, per segmentation.

    One panel per segmentation of ``validation`` (``pipeline.validate_segments``),
    its segments top to bottom in the order they promise (most likely to buy
    again first), each bar labelled with its share and number of customers.
    The dashed line is the share over all the compared customers; the panel
    title gives the segmentation's rank correlation of promise with next spend.
    """
    names = list(dict.fromkeys(validation.index.get_level_values(c.SEGMENTATION)))
    first = validation.loc[names[0]]
    overall = float((first[c.SHARE_BOUGHT_AGAIN] * first[c.CUSTOMERS]).sum() / first[c.CUSTOMERS].sum())
    with _style():
        fig, axes = plt.subplots(2, (len(names) + 1) // 2, figsize=VALIDATION_FIGSIZE, dpi=DPI,
                                 layout="constrained", sharex=True, squeeze=False)
        for ax, name in zip(axes.ravel(), names, strict=False):
            rows = validation.loc[name].sort_values(c.PROMISED_RANK)
            _draw_share_bars(ax, rows, overall=overall)
            ax.set_title(f"{name}\nrank correlation with next spend {rows[c.RANK_CORRELATION].iloc[0]:.3f}",
                         fontsize=10)
        for ax in axes.ravel()[len(names):]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.set_xlabel("customers who bought again")
        fig.suptitle(f"Segments from lines before {as_of:%Y-%m-%d}: who bought again in the next "
                     f"{horizon_days} days ({int(first[c.CUSTOMERS].sum()):,} customers)")
        fig.supxlabel(f"dashed line: all customers ({overall:.1%}); segments top to bottom in the order they "
                      "promise, most likely to buy again first", fontsize=9, color=_MARK_COLOUR)
    return fig


def _draw_share_bars(ax: plt.Axes, rows: pd.DataFrame, *, overall: float) -> None:
    positions = np.arange(len(rows))[::-1]
    labels = [str(segment) for segment in rows.index]
    colours = [SEGMENT_COLOURS.get(label, _BASELINE_COLOUR) if not label.isdigit() else _BASELINE_COLOUR
               for label in labels]
    shares = rows[c.SHARE_BOUGHT_AGAIN].to_numpy(dtype="float64")
    ax.barh(positions, shares, color=colours, height=0.7)
    for y, share, n in zip(positions, shares, rows[c.CUSTOMERS], strict=True):
        ax.text(share + 0.01, y, f"{share:.0%} (n={int(n):,})", va="center", fontsize=8, color=_MARK_COLOUR,
                zorder=3, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3})  # over the dashed line
    ax.axvline(overall, color=_MARK_COLOUR, linestyle="--", linewidth=1, zorder=2)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.set_xlim(0, 1.3)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])


#: Colours of the forecast check: what happened, the forecast, the naive forecast.
_ACTUAL_COLOUR = "#222222"
_FORECAST_COLOUR = OKABE_ITO["bluish green"]


def plot_forecast_check(check: forecast.ForecastCheck) -> Figure:
    """The forecast made at ``check.as_of`` against what customers did in the days after it.

    Left: mean purchase occasions per customer in the window, by the customers' repeat
    occasions before the date (the calibration-versus-holdout view), as forecast, as they
    happened, and as the naive "same as the previous period" forecast. Right: mean net
    spend in the window per decile of Expected_Spend (1 = lowest tenth), as forecast and as
    it happened. Panel titles carry the scores of ``check.scores``.
    """
    purchases = check.calibration.loc[forecast.BY_EARLIER_PURCHASES]
    spend = check.calibration.loc[forecast.BY_SPEND_DECILE]
    scores = check.scores
    with _style():
        fig, (left, right) = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI, layout="constrained")
        positions = np.arange(len(purchases))
        left.plot(positions, purchases["actual"], marker="o", color=_ACTUAL_COLOUR, label="what happened")
        left.plot(positions, purchases["predicted"], marker="s", color=_FORECAST_COLOUR, label="forecast")
        left.plot(positions, purchases["baseline"], marker="^", linestyle="--", color=_BASELINE_COLOUR,
                  label=forecast.SAME_AS_BEFORE)
        left.set_xticks(positions, [f"{group}\n{int(n):,}" for group, n in purchases[c.CUSTOMERS].items()],
                        fontsize=8)
        left.set_xlabel("repeat purchases before the date (under each: customers)")
        left.set_ylabel(f"purchases per customer in the next {check.horizon_days} days")
        left.set_ylim(bottom=0)
        left.legend(loc="upper left", frameon=False)
        mae, rmse = scores.loc[forecast.PURCHASES_MAE], scores.loc[forecast.PURCHASES_RMSE]
        total = scores.loc[forecast.TOTAL_PURCHASES]
        left.set_title(f"Purchases: MAE {mae['forecast']:.3f} (naive {mae['baseline']:.3f}), "
                       f"RMSE {rmse['forecast']:.3f} (naive {rmse['baseline']:.3f})\ntotal {total['forecast']:,.0f} "
                       f"forecast, {total['baseline']:,.0f} naive, {total['actual']:,.0f} happened", fontsize=10)
        deciles = np.arange(len(spend))
        right.bar(deciles, spend["actual"].clip(lower=0), color=_ACTUAL_COLOUR, alpha=0.75, width=0.7,
                  label="what happened")
        right.plot(deciles, spend["predicted"], marker="s", linestyle="none", color=_FORECAST_COLOUR,
                   label="forecast", markersize=7)
        right.set_xticks(deciles, list(spend.index))
        right.set_xlabel("decile of Expected_Spend (1 = lowest tenth)")
        right.set_ylabel(f"net spend per customer in the next {check.horizon_days} days")
        right.yaxis.set_major_formatter(FuncFormatter(format_pounds))
        right.legend(loc="upper left", frameon=False)
        rank = scores.loc[forecast.SPEND_RANK_CORRELATION]
        right.set_title(f"Spend: rank correlation with next spend\n{rank['forecast']:.3f} "
                        f"(R+F+M score {rank['baseline']:.3f})", fontsize=10)
        fig.suptitle(f"Forecast from lines before {check.as_of:%Y-%m-%d} against the next {check.horizon_days} "
                     f"days ({check.customers:,} customers)")
    return fig


#: Size of the migration figure: up to a dozen rows and columns of counts.
MIGRATION_FIGSIZE = (10.0, 7.5)
#: Row labels of a migration (``model.migration_table``) that are not segments get this colour.
_NOT_A_SEGMENT_COLOUR = OKABE_ITO["grey"]


def plot_migration(migration: pd.DataFrame, *, fitted_to: pd.Timestamp, scored_to: pd.Timestamp) -> Figure:
    """Who moved between segments: a grid of ``migration`` (``model.migration_table``), rows the segment
    in the model's run (recency counted to ``fitted_to``), columns the segment now (to ``scored_to``).

    Each cell is shaded by its share of its row (where the row's customers went) and labelled with
    its count; the diagonal (kept their segment) is outlined. Beside each label, a square of the
    segment's colour (:func:`segment_colour`; grey for "new", "not seen" and "no segment"). The last row
    is the customers new in this file and the last column those not seen now, as the table has them.
    """
    counts = migration.to_numpy(dtype="float64")
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    rows, columns = [str(name) for name in migration.index], [str(name) for name in migration.columns]
    named = (set(rows) & set(columns)) - {model.NO_SEGMENT}
    with _style():
        fig, ax = plt.subplots(figsize=MIGRATION_FIGSIZE, dpi=DPI, layout="constrained")
        image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
        for i, j in np.ndindex(counts.shape):
            if counts[i, j]:
                ax.text(j, i, f"{int(counts[i, j]):,}", ha="center", va="center", fontsize=8,
                        color="white" if shares[i, j] > 0.55 else "#222222")
            if rows[i] == columns[j]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor=_MARK_COLOUR, lw=1.5))
        ax.set_xticks(range(len(columns)), columns, rotation=90)
        ax.set_yticks(range(len(rows)), rows)
        for labels, names in ((ax.get_xticklabels(), columns), (ax.get_yticklabels(), rows)):
            for label, name in zip(labels, names, strict=True):
                label.set_bbox({"facecolor": "none", "edgecolor": segment_colour(name) if name in named
                                else _NOT_A_SEGMENT_COLOUR, "linewidth": 2.0, "boxstyle": "round,pad=0.2"})
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(f"segment now (recency to {scored_to:%Y-%m-%d})")
        ax.set_ylabel(f"segment in the model's run (recency to {fitted_to:%Y-%m-%d})")
        ax.set_title("each cell: customers; shade: share of the row; outlined: kept their segment",
                     fontsize=9, color=_MARK_COLOUR)
        fig.colorbar(image, ax=ax, shrink=0.8, label="share of the row's customers")
        kept = sum(counts[i, columns.index(name)] for i, name in enumerate(rows[:-1]) if name in columns[:-1])
        moved = int(counts[:-1, :-1].sum() - kept)
        fig.suptitle(f"Who moved between segments: {moved:,} of the {int(counts[:-1, :-1].sum()):,} customers "
                     f"in both changed segment; {int(counts[-1].sum()):,} new, {int(counts[:, -1].sum()):,} "
                     "not seen now")
    return fig
