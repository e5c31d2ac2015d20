"""The main job, end to end: file -> clean lines -> customers -> clusters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.clean import CleanResult, clean_invoices
from segmentation.cluster import ClusterResult, cluster_customers, summarise_clusters
from segmentation.features import build_customer_features, match_returns
from segmentation.errors import InvoiceDataError
from segmentation.load import load_invoices


@dataclass(frozen=True)
class SegmentationRun:
    """Everything one run produces.

    ``customers`` is the feature table with Cluster and Segment added (one row
    per customer who bought something); ``clusters`` has one row per cluster;
    ``returns`` one row per (customer, StockCode) that had a return.
    """

    source: Path
    cleaning: CleanResult
    customers: pd.DataFrame
    clustering: ClusterResult
    clusters: pd.DataFrame
    returns: pd.DataFrame


def segment_file(
    path: str | Path,
    *,
    k: int = config.N_CLUSTERS,
    spend: Literal["net", "gross"] = "net",
    sheet: str | None = None,
    date_format: str | None = None,
) -> SegmentationRun:
    """Load, clean, build customer features and cluster them, with the seed method."""
    invoices = load_invoices(path, sheet=sheet, date_format=date_format)
    cleaning = clean_invoices(invoices)
    _require_purchases(cleaning, source=Path(path))
    customers = build_customer_features(cleaning.invoices, spend=spend)
    clustering = cluster_customers(customers, k=k, random_state=config.RANDOM_STATE)
    labelled = customers.assign(
        **{c.CLUSTER: clustering.labels, c.SEGMENT: clustering.segments}
    )
    return SegmentationRun(
        source=Path(path),
        cleaning=cleaning,
        customers=labelled,
        clustering=clustering,
        clusters=summarise_clusters(customers, clustering),
        returns=match_returns(cleaning.invoices),
    )


def _require_purchases(cleaning: CleanResult, *, source: Path) -> None:
    """Refuse a file with no purchase line left after cleaning (only returns, say)."""
    kept = cleaning.invoices
    if not (kept[c.QUANTITY] > 0).any():
        raise InvoiceDataError(
            f"{source}: no purchase lines after cleaning ({cleaning.rows_in:,} lines read, "
            f"{len(kept):,} kept, all returns or cancellations); a segmentation needs customers "
            "who bought something — check that the file holds sales, not only refunds."
        )


def describe_run(run: SegmentationRun) -> str:
    """A short plain-text summary of a run: lines, customers, returns, clusters."""
    ledger = run.cleaning.ledger
    removed = ledger.drop(index=["input", "kept"])
    lines = [
        f"{run.source.name}: {run.cleaning.rows_in:,} lines read, "
        f"{run.cleaning.rows_out:,} kept, {run.cleaning.rows_removed:,} removed"
        + "".join(
            f"\n  {step}: {int(row[c.LEDGER_ROWS]):,} lines, £{row[c.LEDGER_AMOUNT]:,.2f}"
            for step, row in removed.iterrows()
        ),
        f"customers who bought something: {len(run.customers):,} "
        f"({run.clustering.n_not_clustered:,} with Total_Bill_Size <= 0 not clustered)",
        f"returns: £{run.returns['counted'].sum():,.2f} matched to purchases, "
        f"£{run.returns[c.UNMATCHED_RETURNS].sum():,.2f} unmatched "
        "(bought before the data starts, discounts)",
        "clusters (Total_Bill_Size in £):",
    ]
    for cluster, row in run.clusters.iterrows():
        lines.append(
            f"  {cluster} {row[c.SEGMENT]:<10} {int(row['customers']):>6,} customers  "
            f"median {row['median_' + c.TOTAL_BILL_SIZE]:>12,.2f}  "
            f"range {row['min_' + c.TOTAL_BILL_SIZE]:,.2f} to {row['max_' + c.TOTAL_BILL_SIZE]:,.2f}"
        )
    return "\n".join(lines)
