"""The main job, end to end: file -> clean lines -> customers -> clusters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from segmentation import columns as c
from segmentation import config, diagnostics
from segmentation.cluster import ClusterResult, cluster_customers, summarise_clusters
from segmentation.diagnostics import KChoice
from segmentation.engines import Engine, PandasEngine
from segmentation.profiles import profile_segments

#: The engine a run uses unless told otherwise: in memory, with pandas.
DEFAULT_ENGINE = PandasEngine()


@dataclass(frozen=True)
class SegmentationRun:
    """Everything one run produces.

    ``customers`` is the feature table with Cluster and Segment added (one row
    per customer who bought something); ``clusters`` has one row per cluster;
    ``ledger`` is the cleaning ledger (see ``clean.CleanResult``);
    ``returns_matched`` and ``returns_unmatched`` are the pounds of returns
    counted against purchases and the rest, over every customer.
    """

    source: Path
    ledger: pd.DataFrame
    customers: pd.DataFrame
    clustering: ClusterResult
    clusters: pd.DataFrame
    returns_matched: float
    returns_unmatched: float
    scan: pd.DataFrame | None = None
    scan_summary: pd.DataFrame | None = None
    k_choice: KChoice | None = None


def segment_file(
    path: str | Path,
    *,
    k: int | str = config.N_CLUSTERS,
    spend: Literal["net", "gross"] = "net",
    sheet: str | None = None,
    date_format: str | None = None,
    features: str = c.SPEND_FEATURE_SET,
    log: bool = False,
    engine: Engine = DEFAULT_ENGINE,
) -> SegmentationRun:
    """Load, clean, build customer features and cluster them.

    The defaults are the seed method. ``features`` names a set of
    ``columns.FEATURE_SETS`` ("spend" or "rfm"); ``log`` takes log1p before
    standardising; ``k`` is a number, or a rule of
    :func:`segmentation.diagnostics.choose_k` ("auto": the silhouette's best
    k, "elbow") applied to a scan of ``config.K_RANGE``. ``engine`` builds the
    customer table: :class:`~segmentation.engines.PandasEngine` (default) in
    memory, or :class:`~segmentation.engines.DaskEngine` out of core (``path``
    may then be a glob or a folder of CSV or Parquet files).
    """
    table = engine.customer_table(Path(path), spend=spend, sheet=sheet, date_format=date_format)
    customers = table.customers
    columns = c.FEATURE_SETS[features]
    scan = scan_summary = choice = None
    if isinstance(k, str):
        scan = diagnostics.scan_k(customers, features=columns, log=log)
        scan_summary = diagnostics.summarise_scans({features: scan})
        choice = diagnostics.choose_k(scan, rule=k)
        k = choice.k
    clustering = cluster_customers(customers, k=k, random_state=config.RANDOM_STATE, features=columns, log=log)
    labelled = customers.assign(
        **{c.CLUSTER: clustering.labels, c.SEGMENT: clustering.segments}
    )
    return SegmentationRun(
        source=Path(path),
        ledger=table.ledger,
        customers=labelled,
        clustering=clustering,
        clusters=summarise_clusters(customers, clustering),
        returns_matched=table.returns_matched,
        returns_unmatched=table.returns_unmatched,
        scan=scan,
        scan_summary=scan_summary,
        k_choice=choice,
    )


@dataclass(frozen=True)
class BeyondSeed:
    """The analyses beyond the seed method, on one customer table.

    ``scans``: a k scan per feature set and scaling (``diagnostics.SCALINGS``),
    read in ``scan_summary``; ``rfm_choice``: the RFM k and why; ``raw``/``log``:
    k = 3 on raw and on log1p spend, compared in ``scalings``; ``rfm``: the RFM
    clustering, profiled in ``profile``; ``stability``: ARI between seeds and
    bootstrap resamples of the RFM clustering; ``segment_stability``: each RFM
    segment's bootstrap Jaccard.
    """

    scans: dict[str, pd.DataFrame]
    scan_summary: pd.DataFrame
    rfm_choice: KChoice | None
    raw: ClusterResult
    log: ClusterResult
    scalings: pd.DataFrame
    rfm: ClusterResult
    profile: pd.DataFrame
    stability: pd.DataFrame
    segment_stability: pd.DataFrame


# --- the steps beyond the seed, in the order the notebook shows them ----------------

def scan_feature_sets(customers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A k scan (inertia and silhouette for each k of ``config.K_RANGE``) per feature set and scaling."""
    return {name: diagnostics.scan_k(customers, features=features, log=log)
            for name, (features, log) in diagnostics.SCALINGS.items()}


def choose_rfm_k(scans: dict[str, pd.DataFrame], rfm_k: int | str) -> tuple[int, KChoice | None]:
    """The RFM k: ``rfm_k`` itself when a number, else the rule's choice on the RFM scan (and the choice)."""
    if not isinstance(rfm_k, str):
        return rfm_k, None
    choice = diagnostics.choose_k(scans[diagnostics.RFM_LOG], rule=rfm_k)
    return choice.k, choice


def compare_raw_and_log(customers: pd.DataFrame, *, k: int = config.N_CLUSTERS
                        ) -> tuple[ClusterResult, ClusterResult, pd.DataFrame]:
    """KMeans on raw and on log1p spend with the same k, and the two side by side."""
    raw = cluster_customers(customers, k=k, random_state=config.RANDOM_STATE)
    log = cluster_customers(customers, k=k, random_state=config.RANDOM_STATE, log=True)
    return raw, log, diagnostics.compare_scalings(customers, {"raw": raw, "log": log})


def segment_rfm(customers: pd.DataFrame, *, k: int) -> ClusterResult:
    """KMeans on log1p, standardised recency, frequency and spend, named by the RFM rule."""
    return cluster_customers(customers, k=k, random_state=config.RANDOM_STATE, features=c.RFM_FEATURES, log=True)


def check_stability(customers: pd.DataFrame, clustering: ClusterResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ARI across seeds and bootstrap refits, each segment's bootstrap Jaccard) of ``clustering``."""
    seeds = diagnostics.seed_stability(customers, k=len(clustering.centroids), features=clustering.features,
                                       log=clustering.log)
    bootstrap, segments = diagnostics.bootstrap_checks(customers, clustering)
    return diagnostics.summarise_stability(seeds, bootstrap), segments


def analyse_beyond_seed(customers: pd.DataFrame, *, rfm_k: int | str = config.RFM_K_RULE,
                        k: int = config.N_CLUSTERS) -> BeyondSeed:
    """Every step beyond the seed at once: scan k, compare raw and log spend, cluster, profile and test RFM."""
    scans = scan_feature_sets(customers)
    chosen_k, rfm_choice = choose_rfm_k(scans, rfm_k)
    raw, log, scalings = compare_raw_and_log(customers, k=k)
    rfm = segment_rfm(customers, k=chosen_k)
    stability, segments = check_stability(customers, rfm)
    return BeyondSeed(
        scans=scans,
        scan_summary=diagnostics.summarise_scans(scans),
        rfm_choice=rfm_choice,
        raw=raw,
        log=log,
        scalings=scalings,
        rfm=rfm,
        profile=profile_segments(customers, rfm),
        stability=stability,
        segment_stability=segments,
    )


def describe_run(run: SegmentationRun) -> str:
    """A short plain-text summary of a run: lines, customers, returns, clusters."""
    removed = run.ledger.drop(index=["input", "kept"])
    rows_in, rows_out = (int(run.ledger.loc[step, c.LEDGER_ROWS]) for step in ("input", "kept"))
    lines = [
        f"{run.source.name}: {rows_in:,} lines read, {rows_out:,} kept, {rows_in - rows_out:,} removed"
        + "".join(
            f"\n  {step}: {int(row[c.LEDGER_ROWS]):,} lines, £{row[c.LEDGER_AMOUNT]:,.2f}"
            for step, row in removed.iterrows()
        ),
        f"customers who bought something: {len(run.customers):,} "
        f"({run.clustering.n_not_clustered:,} with Total_Bill_Size <= 0 not clustered)",
        f"returns: £{run.returns_matched:,.2f} matched to purchases, "
        f"£{run.returns_unmatched:,.2f} unmatched "
        "(bought before the data starts, discounts)",
    ]
    if run.k_choice is not None:
        lines.append(f"chosen {run.k_choice.reason}")
    scaling = "log1p, standardised" if run.clustering.log else "standardised"
    lines.append(f"clusters of {scaling} {', '.join(run.clustering.features)} (Total_Bill_Size in £):")
    for cluster, row in run.clusters.iterrows():
        lines.append(
            f"  {cluster} {row[c.SEGMENT]:<10} {int(row[c.CUSTOMERS]):>6,} customers  "
            f"median {row['median_' + c.TOTAL_BILL_SIZE]:>12,.2f}  "
            f"range {row['min_' + c.TOTAL_BILL_SIZE]:,.2f} to {row['max_' + c.TOTAL_BILL_SIZE]:,.2f}"
        )
    return "\n".join(lines)
