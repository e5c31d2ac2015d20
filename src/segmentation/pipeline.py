"""The main job, end to end: file -> clean lines -> customers -> clusters."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.clean import clean_invoices
from segmentation import diagnostics
from segmentation.cluster import ClusterResult, cluster_customers, summarise_clusters
from segmentation.diagnostics import KChoice
from segmentation.features import COUNTED, features_from_summaries, match_returns, summarise_lines
from segmentation.errors import InvoiceDataError
from segmentation.load import load_invoices
from segmentation.profiles import profile_segments

logger = logging.getLogger(__name__)


ENGINES = ("pandas", "dask")
#: Inputs above this size get one progress line per stage on the pandas engine.
LARGE_INPUT_BYTES = 50 * 2**20


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


@contextmanager
def _stage(name: str, *, report: bool) -> Iterator[None]:
    """Log one line with the stage's wall time (when ``report``)."""
    started = time.perf_counter()
    yield
    if report:
        logger.info("%-9s %6.1f s", name, time.perf_counter() - started)


def _customer_table(
    path: Path, *, spend: str, sheet: str | None, date_format: str | None, engine: str,
    scheduler: str | None, worker_memory: str,
) -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    """(customers, ledger, returns matched, returns unmatched) by the chosen engine."""
    if engine == "dask":
        from segmentation.distributed import build_customer_features_dask

        result = build_customer_features_dask(path, spend=spend, date_format=date_format,
                                              scheduler=scheduler, worker_memory=worker_memory)
        _require_purchases(not result.customers.empty, result.ledger, source=path)
        return result.customers, result.ledger, result.returns_matched, result.returns_unmatched
    if engine != "pandas":
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    report = path.is_file() and path.stat().st_size > LARGE_INPUT_BYTES
    with _stage("load", report=report):
        invoices = load_invoices(path, sheet=sheet, date_format=date_format)
    with _stage("clean", report=report):
        cleaning = clean_invoices(invoices)
        del invoices
    _require_purchases(bool((cleaning.invoices[c.QUANTITY] > 0).any()), cleaning.ledger, source=path)
    with _stage("features", report=report):
        summaries = summarise_lines(cleaning.invoices)
        customers = features_from_summaries(summaries, spend=spend)
        returns = match_returns(summaries)
    return customers, cleaning.ledger, float(returns[COUNTED].sum()), float(returns[c.UNMATCHED_RETURNS].sum())


def segment_file(
    path: str | Path,
    *,
    k: int | str = config.N_CLUSTERS,
    spend: Literal["net", "gross"] = "net",
    sheet: str | None = None,
    date_format: str | None = None,
    features: str = c.SPEND_FEATURE_SET,
    log: bool = False,
    engine: str = "pandas",
    scheduler: str | None = None,
    worker_memory: str = "4GiB",
) -> SegmentationRun:
    """Load, clean, build customer features and cluster them.

    The defaults are the seed method. ``features`` names a set of
    ``columns.FEATURE_SETS`` ("spend" or "rfm"); ``log`` takes log1p before
    standardising; ``k`` is a number, or a rule of
    :func:`segmentation.diagnostics.choose_k` ("auto": the silhouette's best
    k, "elbow") applied to a scan of ``config.K_RANGE``. ``engine`` "dask"
    builds the customer table with :mod:`segmentation.distributed` (``path``
    may then be a glob or a folder; ``scheduler`` the address of a cluster).
    """
    customers, ledger, matched, unmatched = _customer_table(
        Path(path), spend=spend, sheet=sheet, date_format=date_format, engine=engine,
        scheduler=scheduler, worker_memory=worker_memory,
    )
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
        ledger=ledger,
        customers=labelled,
        clustering=clustering,
        clusters=summarise_clusters(customers, clustering),
        returns_matched=matched,
        returns_unmatched=unmatched,
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
    k = len(clustering.centroids)
    options = {"k": k, "features": clustering.features, "log": clustering.log}
    summary = diagnostics.summarise_stability(diagnostics.seed_stability(customers, **options),
                                              diagnostics.bootstrap_stability(customers, **options))
    return summary, diagnostics.segment_stability(customers, clustering)


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


def _require_purchases(has_purchases: bool, ledger: pd.DataFrame, *, source: Path) -> None:
    """Refuse input with no purchase line left after cleaning (only returns, say)."""
    if not has_purchases:
        raise InvoiceDataError(
            f"{source}: no purchase lines after cleaning ({int(ledger.loc['input', c.LEDGER_ROWS]):,} lines "
            f"read, {int(ledger.loc['kept', c.LEDGER_ROWS]):,} kept, all returns or cancellations); a "
            "segmentation needs customers who bought something — check that the input holds sales, "
            "not only refunds."
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
