"""Segment retail customers from their invoice lines.

The stages, in order: :func:`load_invoices` reads a file into canonical
columns, :func:`clean_invoices` removes unusable lines and counts them in a
ledger, :func:`build_customer_features` makes one row per customer, and
:func:`cluster_customers` runs the seed analysis's KMeans on Total_Bill_Size.
"""

from segmentation.clean import CleanResult, clean_invoices
from segmentation.cluster import ClusterResult, cluster_customers, summarise_clusters
from segmentation.errors import InvoiceDataError
from segmentation.features import build_customer_features, match_returns
from segmentation.load import load_invoices
from segmentation.pipeline import SegmentationRun, describe_run, segment_file

__all__ = [
    "CleanResult",
    "ClusterResult",
    "InvoiceDataError",
    "SegmentationRun",
    "build_customer_features",
    "clean_invoices",
    "cluster_customers",
    "describe_run",
    "load_invoices",
    "match_returns",
    "segment_file",
    "summarise_clusters",
]
