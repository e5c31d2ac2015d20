"""Do the segment names predict behaviour? Segments built before a date, checked against what came next.

Input: segmentations of the customers as of a date (each a Series, one row per
customer, an ordered categorical whose categories run from the segment
promised to buy again most to the one promised least) and the outcome table
(:attr:`segmentation.engines.runners.CustomerTable.outcome`: the customers' purchase
occasions and net spend in the window after that date). Output: one row per
(segmentation, segment) with how many of its customers bought again, their
share of the next period's revenue and their mean next spend, and one number
per segmentation that can be compared across them: the rank correlation of the
promised order with each customer's next spend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmentation import columns as c

#: The segmentations a validation compares, by the name ``validation.csv`` gives them.
RULE_SEGMENTS = "RFM segment map"
KMEANS_SEGMENTS = "KMeans on RFM"
SPEND_CLUSTERS = "spend clusters (seed)"
SCORE_BASELINE = "R+F+M score (baseline)"


def ordered(values: pd.Series, order: list) -> pd.Series:
    """``values`` as an ordered categorical with categories ``order`` (promised best first)."""
    return pd.Series(pd.Categorical(values, categories=order, ordered=True), index=values.index, name=values.name)


def validate_segmentations(segmentations: dict[str, pd.Series], outcome: pd.DataFrame) -> pd.DataFrame:
    """One row per (segmentation, segment), in the promised order: what the customers did next.

    Parameters
    ----------
    segmentations
        Name -> each customer's segment (see :func:`ordered`); all indexed by
        CustomerID. Only customers every segmentation places are compared, so
        each segmentation is judged on the same people.
    outcome
        The feature table of the window's lines (index CustomerID): Frequency
        (purchase occasions) and Total_Bill_Size (net spend); customers absent
        from it bought nothing in the window.

    Returns
    -------
    pandas.DataFrame
        Index (segmentation, Segment); columns ``columns.VALIDATION_COLUMNS``:
        the promised rank (1 = promised to buy again most), customers, the share
        who had a purchase occasion in the window, the segment's share of the
        window's net spend, its mean net spend per customer (0 for those who
        bought nothing), and the segmentation's rank correlation (Spearman, over
        customers, of the promised order with next net spend; 1 = the order is
        exactly right, 0 = no better than chance). Segments with no customer are
        left out.
    """
    placed = pd.concat(segmentations, axis=1).dropna()
    occasions = outcome[c.FREQUENCY].reindex(placed.index).fillna(0)
    spend = outcome[c.TOTAL_BILL_SIZE].reindex(placed.index).fillna(0.0).astype("float64")
    total_spend = spend.sum()
    tables = []
    for name, segments in segmentations.items():
        segments = segments.reindex(placed.index)
        rank = pd.Series(segments.cat.codes.to_numpy() + 1, index=placed.index)
        groups = pd.DataFrame({c.SEGMENT: segments, "rank": rank, "again": occasions > 0, "spend": spend}
                              ).groupby(c.SEGMENT, observed=True, sort=True)
        table = pd.DataFrame(
            {
                c.PROMISED_RANK: groups["rank"].first(),
                c.CUSTOMERS: groups.size(),
                c.SHARE_BOUGHT_AGAIN: groups["again"].mean(),
                c.SHARE_OF_NEXT_REVENUE: groups["spend"].sum() / total_spend if total_spend > 0 else np.nan,
                c.MEAN_NEXT_SPEND: groups["spend"].mean(),
                c.RANK_CORRELATION: _rank_correlation(rank, spend),
            }
        )
        table.index = pd.MultiIndex.from_arrays([[name] * len(table), table.index.astype("str")],
                                                names=[c.SEGMENTATION, c.SEGMENT])
        tables.append(table)
    return pd.concat(tables)[list(c.VALIDATION_COLUMNS)]


def _rank_correlation(rank: pd.Series, spend: pd.Series) -> float:
    """Spearman correlation of the promise (rank 1 = best, so its negative) with next spend; NaN if either is flat."""
    if rank.nunique() < 2 or spend.nunique() < 2:
        return float("nan")
    return float((-rank).corr(spend, method="spearman"))


def order_breaks(validation: pd.DataFrame, segmentation: str) -> pd.DataFrame:
    """The promises of one segmentation that failed: pairs of segments, one promised above the other,
    where the lower one's customers bought again more often.

    Only neighbours in the promised order are compared (the segment just above
    and just below), so each break is listed once. Columns: ``above``,
    ``below`` (segment names) and their ``share_bought_again``.
    """
    rows = validation.loc[segmentation].sort_values(c.PROMISED_RANK)
    pairs = zip(rows.index[:-1], rows.index[1:], strict=True)
    breaks = [
        {"above": above, "below": below, c.SHARE_BOUGHT_AGAIN + "_above": rows.loc[above, c.SHARE_BOUGHT_AGAIN],
         c.SHARE_BOUGHT_AGAIN + "_below": rows.loc[below, c.SHARE_BOUGHT_AGAIN]}
        for above, below in pairs
        if rows.loc[below, c.SHARE_BOUGHT_AGAIN] > rows.loc[above, c.SHARE_BOUGHT_AGAIN]
    ]
    return pd.DataFrame(breaks, columns=["above", "below", c.SHARE_BOUGHT_AGAIN + "_above",
                                         c.SHARE_BOUGHT_AGAIN + "_below"])


#: Column of :func:`summarise_validation`: how many neighbouring segments are out of their promised order.
ORDER_BREAKS = "order_breaks"


def summarise_validation(validation: pd.DataFrame) -> pd.DataFrame:
    """One row per segmentation: customers compared, the share of them who bought again, the
    rank correlation, and the number of :func:`order_breaks`."""
    rows = {}
    for name, table in validation.groupby(level=c.SEGMENTATION, sort=False):
        customers = table[c.CUSTOMERS].sum()
        rows[name] = {
            c.CUSTOMERS: int(customers),
            c.SHARE_BOUGHT_AGAIN: float((table[c.SHARE_BOUGHT_AGAIN] * table[c.CUSTOMERS]).sum() / customers),
            c.RANK_CORRELATION: float(table[c.RANK_CORRELATION].iloc[0]),
            ORDER_BREAKS: len(order_breaks(validation, name)),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(c.SEGMENTATION)
