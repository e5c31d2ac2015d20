"""Who is counted where: the populations of customers that every output names.

A run counts customers in four nested groups, and each method uses one of them:

- customers who bought something: the customer table, ``customers.csv``;
- with net spend (Total_Bill_Size above 0): the spend clusters of the seed method;
- with a purchase occasion (a day with a product bought and kept): the RFM segments and the forecast;
- with net spend and a purchase occasion: KMeans on RFM, and the check of the segments against
  what customers did next.

:func:`count_populations` counts them from the customer table with the clustering's own rule
(:func:`cluster.not_clustered_reasons`); the command line's summary, the notebook, the findings and
``run.json`` all print these names and counts. :func:`too_little_data` says when a group is too small
for what is made of it: fewer than ``config.MIN_CUSTOMERS_PER_CLUSTER`` customers per cluster, or per
quintile of an RFM score.

May import: columns, config, cluster.
"""

from __future__ import annotations

import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.analysis.cluster import not_clustered_reasons

BOUGHT = "customers who bought something"
NET_SPEND = "with net spend"
OCCASION = "with a purchase occasion"
BOTH = "with net spend and a purchase occasion"
#: The populations, largest first, and what each is used for.
USES: dict[str, str] = {
    BOUGHT: "the customer table",
    NET_SPEND: "spend clusters, the seed method",
    OCCASION: "RFM segments and the forecast",
    BOTH: "KMeans on RFM, and the check against what customers did next",
}
#: Why a customer who bought something is outside a smaller population.
LEFT_OUT: dict[str, str] = {
    NET_SPEND: "returned everything they bought",
    OCCASION: "never had one (no product bought and kept on any day: postage or charges alone, "
              "or everything returned the same day)",
}
#: The RFM scores are quintiles.
SCORE_LEVELS = 5
POPULATION = "population"
USED_FOR = "used for"
NOT_IN_IT = "left out"


def count_populations(customers: pd.DataFrame) -> pd.Series:
    """Customers in each population of :data:`USES` (index: the names, in that order; name Customers)."""
    by_spend = not_clustered_reasons(customers, features=(c.TOTAL_BILL_SIZE,))
    by_rfm = not_clustered_reasons(customers, features=c.RFM_FEATURES)
    counts = {
        BOUGHT: len(customers),
        NET_SPEND: int(by_spend.isna().sum()),
        OCCASION: int((customers[c.FREQUENCY] > 0).sum()),
        BOTH: int(by_rfm.isna().sum()),
    }
    return pd.Series(counts, name=c.CUSTOMERS, dtype="int64").rename_axis(POPULATION)


def populations_table(counts: pd.Series) -> pd.DataFrame:
    """``counts`` as a table for people: each population's customers, how many who bought something
    are not in it, and what it is used for."""
    return pd.DataFrame({c.CUSTOMERS: counts, NOT_IN_IT: counts[BOUGHT] - counts,
                         USED_FOR: [USES[name] for name in counts.index]})


def describe_populations(counts: pd.Series, *, return_only: int = 0) -> list[str]:
    """The summary's lines: each population with its count, its use, and who is left out of it."""
    bought = int(counts[BOUGHT])
    lines = [f"{BOUGHT}: {bought:,}"
             + (f"; {return_only:,} more with return lines only are not in the table" if return_only else "")]
    for name in (NET_SPEND, OCCASION, BOTH):
        line = f"  {name}: {int(counts[name]):,} ({USES[name]})"
        if name in LEFT_OUT and bought > counts[name]:
            line += f"; {bought - int(counts[name]):,} {LEFT_OUT[name]}"
        lines.append(line)
    return lines


def too_little_data(counts: pd.Series, *, k_spend: int, k_rfm: int | None) -> list[str]:
    """One warning for each population too small for what is made of it (none: an empty list).

    Spend clusters and KMeans on RFM need ``config.MIN_CUSTOMERS_PER_CLUSTER`` customers per
    cluster; the RFM scores, as many per quintile. ``k_rfm`` None: KMeans on RFM did not run.
    """
    need = config.MIN_CUSTOMERS_PER_CLUSTER
    checks = [(NET_SPEND, k_spend, f"{k_spend} spend clusters", "cluster"),
              (OCCASION, SCORE_LEVELS, "RFM scores (quintiles)", "quintile"),
              *([(BOTH, k_rfm, f"KMeans on RFM with k = {k_rfm}", "cluster")] if k_rfm else [])]
    warnings = []
    for name, groups, made, per in checks:
        have = int(counts[name])
        if have < groups * need:
            warnings.append(
                f"too little data for {made}: {have:,} customers {name}, under {need} per {per} "
                f"({groups * need:,} needed); treat the {'segments' if per == 'quintile' else 'clusters'} as "
                "a description of these few customers, not as segments that predict others")
    return warnings
