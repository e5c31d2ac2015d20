"""Names of spend clusters: the seed method's segments, lowest spend first.

A leaf of the package, so every stage that names or colours a spend segment
imports the rule from here and no two stages import each other. RFM segments
are named by the segment map of :mod:`segmentation.analysis.rfm`.
"""

from __future__ import annotations

#: Names of clusters of spend alone, lowest first, for the k that have one.
SPEND_NAMES: dict[int, tuple[str, ...]] = {
    1: ("All customers",),
    2: ("Low spend", "High spend"),
    3: ("Low spend", "Mid spend", "High spend"),
}


def segment_names(k: int) -> tuple[str, ...]:
    """Names of clusters 0..k-1 ordered by ascending spend."""
    return SPEND_NAMES.get(k, tuple(f"Spend level {i + 1} of {k}" for i in range(k)))
