"""Segment retail customers from their invoice lines.

The stages, in order: :func:`load_invoices` reads a file into canonical
columns, :func:`clean_invoices` removes unusable lines and counts them in a
ledger, :func:`build_customer_features` makes one row per customer, and
:func:`cluster_customers` runs the seed analysis's KMeans on Total_Bill_Size.
Beside the clusters, :func:`score_customers` gives each customer rule-based
RFM quintile scores and :func:`segment_customers` names their segment from a
map of (R, FM) cells that :func:`load_segment_map` reads.

The folders are the stages of the flow, in order: ``reading``, ``rules``,
``engines``, ``analysis`` and ``presentation``. Under them lies the foundation,
the modules at the top that every stage may import (``errors``, ``columns``,
``config``, ``export``); above them, ``__main__``, the command line. A stage
imports only the foundation and earlier stages (each folder's docstring says
which), and ``tests/test_layout.py`` holds them to it.

The names below are imported on first use, so that ``import segmentation``
(and ``python -m segmentation.reading.download``) stays fast and loads neither
scikit-learn nor matplotlib until a stage that needs them is called.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it.
_EXPORTS = {
    "CleanResult": "rules.clean",
    "clean_invoices": "rules.clean",
    "ClusterResult": "analysis.cluster",
    "cluster_customers": "analysis.cluster",
    "summarise_clusters": "analysis.cluster",
    "InvoiceDataError": "errors",
    "build_customer_features": "rules.features",
    "match_returns": "rules.features",
    "load_invoices": "reading.load",
    "read_model": "analysis.model",
    "SegmentationRun": "analysis.pipeline",
    "describe_run": "analysis.pipeline",
    "score_file": "analysis.pipeline",
    "segment_file": "analysis.pipeline",
    "load_segment_map": "analysis.rfm",
    "score_customers": "analysis.rfm",
    "segment_customers": "analysis.rfm",
}

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
    "load_segment_map",
    "match_returns",
    "read_model",
    "score_customers",
    "score_file",
    "segment_customers",
    "segment_file",
    "summarise_clusters",
]

if TYPE_CHECKING:
    from segmentation.analysis.cluster import ClusterResult, cluster_customers, summarise_clusters
    from segmentation.analysis.model import read_model
    from segmentation.analysis.pipeline import SegmentationRun, describe_run, score_file, segment_file
    from segmentation.analysis.rfm import load_segment_map, score_customers, segment_customers
    from segmentation.errors import InvoiceDataError
    from segmentation.reading.load import load_invoices
    from segmentation.rules.clean import CleanResult, clean_invoices
    from segmentation.rules.features import build_customer_features, match_returns


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562); the stage folders (``segmentation.analysis``
    and the others) and the foundation's modules are imported the same way."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
