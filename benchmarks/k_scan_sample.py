"""The k scan on every customer against the scan on a seeded sample of them, on one file.

``python -m benchmarks.k_scan_sample FILE`` builds the customer table of FILE and, for each feature
set and scaling of ``diagnostics.SCALINGS``, scans k on every clusterable customer (seed
``config.RANDOM_STATE``) and on samples of 10,000, 20,000 (seeds 0, 1, 2) and 40,000 customers. One
row per scan: the elbow (kneed) and the best-silhouette k, the silhouette at each, and the scan's
wall time. The rows are a Markdown table.
"""

from __future__ import annotations

import sys
import time

from segmentation import columns as c
from segmentation import config
from segmentation.analysis import diagnostics
from segmentation.engines.runners import DuckDBEngine

#: (sample size, seed) of each scan; None: every customer.
SCANS = ((None, config.RANDOM_STATE), (10_000, 0), (20_000, 0), (20_000, 1), (20_000, 2), (40_000, 0))


def main(path: str) -> None:
    customers = DuckDBEngine().customer_table(path).customers
    print(f"{path}: {len(customers):,} customers\n")
    print("| features | customers scanned | seed | elbow k | best-silhouette k | silhouette at elbow "
          "| best silhouette | scan s |\n|:--|--:|--:|--:|--:|--:|--:|--:|")
    for name, (features, log) in diagnostics.SCALINGS.items():
        for size, seed in SCANS:
            start = time.perf_counter()
            scan = diagnostics.scan_k(customers, features=features, log=log, random_state=seed,
                                      sample_size=len(customers) if size is None else size)
            seconds = time.perf_counter() - start
            elbow, best = diagnostics.elbow_k(scan), diagnostics.best_silhouette_k(scan)
            at_elbow = f"{scan.loc[elbow, c.SILHOUETTE]:.3f}" if elbow is not None else "—"
            print(f"| {name} | {'all' if size is None else f'{size:,}'} | {seed} | {elbow} | {best} | {at_elbow} "
                  f"| {scan.loc[best, c.SILHOUETTE]:.3f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
