"""What a run found, in sentences computed from its result tables.

Each ``describe_*`` function takes tables the notebook shows (the ledger, the
cluster summary, a k scan, a segment profile …) and returns Markdown whose
every number is written by :mod:`segmentation.presentation.present` exactly as it appears
in that table, and whose wording is chosen from the numbers (a sentence such
as "the seed method isolates 30 very large customers" is only written when a
cluster does hold under ``config.SMALL_CLUSTER_SHARE`` of the customers). No
sentence is about a particular file: the same notebook is true on any input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.analysis import forecast, model, populations
from segmentation.analysis.cluster import FEW_OF_THE_CUSTOMERS, small_clusters
from segmentation.analysis.diagnostics import KChoice
from segmentation.analysis.forecast import ForecastCheck
from segmentation.analysis.validation import order_breaks
from segmentation.presentation import present as p

if TYPE_CHECKING:
    from segmentation.analysis.pipeline import NextPeriodCheck, Outlook

#: Spearman correlations at or above these (in absolute value) are called strong / moderate.
STRONG_CORRELATION = 0.7
MODERATE_CORRELATION = 0.4
#: Mean spend this many times the median or more is called heavy-tailed.
HEAVY_TAIL_RATIO = 1.5
#: Features whose rank correlations are described: the money features minus
#: Gross_Spend, which is Total_Bill_Size + Returned_Amount by definition.
DESCRIBED_CORRELATIONS: tuple[str, ...] = tuple(name for name in c.CORRELATION_FEATURES if name != c.GROSS_SPEND)

LINES = "lines"
CUSTOMER_IDS = "customer_IDs"
COUNTRIES = "countries"
FIRST_INVOICE = "first_invoice"
LAST_INVOICE = "last_invoice"
SHARE_OF_LINES = "share_of_lines"
FEATURE_A, FEATURE_B, SPEARMAN = "feature", "with", "spearman"


# --- the tables the sentences are drawn from ---------------------------------------

def summarise_source(invoices: pd.DataFrame) -> pd.DataFrame:
    """One row: invoice lines, distinct customer IDs and countries, first and last invoice date."""
    dates = invoices[c.INVOICE_DATE]
    return pd.DataFrame(
        {
            LINES: [len(invoices)],
            CUSTOMER_IDS: [int(invoices[c.CUSTOMER_ID].nunique())],
            COUNTRIES: [int(invoices[c.COUNTRY].nunique())],
            FIRST_INVOICE: [dates.min()],
            LAST_INVOICE: [dates.max()],
        }
    )


def cleaning_table(ledger: pd.DataFrame) -> pd.DataFrame:
    """The ledger with each step's share of the lines read (``share_of_lines``)."""
    lines_read = ledger.loc["input", c.LEDGER_ROWS]
    table = ledger.copy()
    table.insert(1, SHARE_OF_LINES, ledger[c.LEDGER_ROWS] / lines_read)
    return table


def strongest_correlations(customers: pd.DataFrame, *, n: int = 4) -> pd.DataFrame:
    """The ``n`` strongest Spearman correlations between ``DESCRIBED_CORRELATIONS``, strongest first.

    One row per pair of features (each pair once); ties in strength go by the
    order of the features.
    """
    ranks = customers[list(DESCRIBED_CORRELATIONS)].astype("float64").corr(method="spearman")
    pairs = [(a, b, ranks.loc[a, b]) for i, a in enumerate(ranks.index) for b in ranks.index[i + 1:]]
    table = pd.DataFrame(pairs, columns=[FEATURE_A, FEATURE_B, SPEARMAN]).dropna()
    strength = table[SPEARMAN].abs().round(2)
    order = np.lexsort((np.arange(len(table)), -strength.to_numpy()))
    return table.iloc[order].head(n).reset_index(drop=True)


# --- sentences ----------------------------------------------------------------------

def describe_source(data_path: str | Path, source: pd.DataFrame) -> str:
    """What this run read: which file, how many lines and customers, which dates."""
    row = source.iloc[0]
    path = Path(data_path).resolve()
    if path == config.REAL_DATA_PATH.resolve():
        what = ("the bundled first year of the UCI \"Online Retail II\" data (a UK online gift shop; "
                "source and licence in `data/README.md`)")
    elif path == config.SAMPLE_PATH.resolve():
        what = "the bundled synthetic sample (imaginary customers, made by `segmentation.reading.synthetic`)"
    else:
        what = "a file of your own"
    return (f"This run reads `{path.name}`, {what}: {p.count(row[LINES])} invoice lines from "
            f"{p.count(row[CUSTOMER_IDS])} customer IDs in {p.count(row[COUNTRIES])} countries, "
            f"dated {p.date(row[FIRST_INVOICE])} to {p.date(row[LAST_INVOICE])}.")


def describe_cleaning(table: pd.DataFrame) -> str:
    """The ledger in words: lines kept, then each rule that removed lines, largest first."""
    kept = table.loc["kept"]
    rules = table.drop(index=["input", "kept"])
    removing = rules[rules[c.LEDGER_ROWS] > 0].sort_values(c.LEDGER_ROWS, ascending=False, kind="stable")
    idle = rules.index[rules[c.LEDGER_ROWS] == 0]
    text = (f"{p.count(kept[c.LEDGER_ROWS])} of {p.count(table.loc['input', c.LEDGER_ROWS])} lines "
            f"({p.share(kept[SHARE_OF_LINES])}) are kept for the analysis.")
    if len(removing):
        parts = [f"`{step}` {p.count(row[c.LEDGER_ROWS])} lines ({p.share(row[SHARE_OF_LINES])}, "
                 f"{p.money(row[c.LEDGER_AMOUNT])})" for step, row in removing.iterrows()]
        text += f" Removed, largest first: {'; '.join(parts)}."
    if len(idle):
        text += f" No line met {_and(f'`{step}`' for step in idle)}."
    return text


def describe_customers(spend: pd.DataFrame) -> str:
    """Whether net spend is heavy-tailed, from :func:`present.describe_features` of Total_Bill_Size."""
    row = spend.loc[c.TOTAL_BILL_SIZE]
    customers = p.count(row[c.CUSTOMERS])
    if row["mean"] >= HEAVY_TAIL_RATIO * row["median"]:
        text = (f"{customers} customers bought something. Net spend per customer is heavy-tailed: the mean "
                f"({p.money(row['mean'])}) is far above the median ({p.money(row['median'])}), and the largest "
                f"customer spent {p.money(row['largest'])} against a 75th percentile of "
                f"{p.money(row['75th percentile'])}. This shapes everything that follows.")
    else:
        text = (f"{customers} customers bought something. Net spend per customer is not strongly skewed: "
                f"mean {p.money(row['mean'])}, median {p.money(row['median'])}, largest {p.money(row['largest'])}.")
    return text


def describe_correlations(pairs: pd.DataFrame) -> str:
    """The strongest rank correlations (a :func:`strongest_correlations` table) in words."""
    if pairs.empty:
        return "No rank correlation can be computed: every feature is constant."
    sentences = []
    for _, row in pairs.iterrows():
        value = row[SPEARMAN]
        strength = ("strongly" if abs(value) >= STRONG_CORRELATION
                    else "moderately" if abs(value) >= MODERATE_CORRELATION else "weakly")
        direction = "rises" if value > 0 else "falls"
        sentences.append(f"`{row[FEATURE_B]}` {strength} {direction} with `{row[FEATURE_A]}` "
                         f"(Spearman {p.decimal(value)})")
    return "The strongest rank correlations: " + "; ".join(sentences) + "."


def describe_seed_clusters(clusters: pd.DataFrame, *, not_clustered: int) -> str:
    """What the seed method's clusters (a ``summarise_clusters`` table) are: spend bands or an outlier split.

    ``not_clustered``: customers left out for having no net spend.
    """
    why_small = small_clusters(clusters)
    small = clusters.loc[why_small.index[why_small == FEW_OF_THE_CUSTOMERS]]
    parts = [f"{row[c.SEGMENT]}: {_customers(row[c.CUSTOMERS])} ({p.share(row[c.SHARE_OF_CUSTOMERS])} of "
             f"customers, {p.share(row['share_of_spend'])} of spend, {p.money(row['min_' + c.TOTAL_BILL_SIZE])} "
             f"to {p.money(row['max_' + c.TOTAL_BILL_SIZE])})" for _, row in clusters.iterrows()]
    text = f"The seed method's {p.count(len(clusters))} clusters: {'; '.join(parts)}."
    if not_clustered:
        text += (f" {_customers(not_clustered).capitalize()} returned everything they bought (no net spend): "
                 "kept in the table, not clustered.")
    if len(small):
        listed = _and(f"**{row[c.SEGMENT]}** ({_customers(row[c.CUSTOMERS])})" for _, row in small.iterrows())
        text += (f" The method isolates very large customers in {listed}, each cluster under "
                 f"{p.share(config.SMALL_CLUSTER_SHARE)} of customers: on heavy-tailed spend, KMeans on "
                 "standardised pounds is an outlier detector rather than a segmentation.")
    elif len(why_small):
        text += (f" A cluster of under {config.MIN_CUSTOMERS_PER_CLUSTER} customers describes those customers, "
                 "not a spend band that others would fall into.")
    else:
        text += " Every cluster holds a real share of the customers: the clusters are spend bands."
    return text


def describe_k_choice(scans: dict[str, pd.DataFrame], summary: pd.DataFrame, *, chosen: str, k: int,
                      choice: KChoice | None) -> str:
    """What each k scan says (its ``diagnostics.summarise_scans`` row: best k, or flat), and the k used."""
    parts = []
    for name, row in summary.iterrows():
        if row[c.FLAT]:
            parts.append(f"{name}: flat ({p.decimal(row[c.LOWEST_SILHOUETTE])} to "
                         f"{p.decimal(row[c.BEST_SILHOUETTE])}), no number of groups stands out")
        else:
            parts.append(f"{name}: highest at k = {int(row[c.BEST_K])} ({p.decimal(row[c.BEST_SILHOUETTE])})")
    ks = scans[chosen].index
    text = f"Silhouette over k = {min(ks)} … {max(ks)}, by feature set — {'; '.join(parts)}."
    if choice is None:
        return text + f" The {chosen} segmentation uses k = {k}, set by hand."
    elbow = (f"kneed puts the inertia elbow at k = {choice.elbow}" if choice.elbow is not None
             else "kneed finds no inertia elbow")
    rule = "the elbow" if choice.elbow is not None and choice.k == choice.elbow else "the best silhouette"
    text += f" For {chosen}, {elbow}; the segmentation uses k = {choice.k} ({rule})."
    if choice.sample is not None:
        text += " The scan clustered a seeded sample of the customers; the segmentation is fitted on all of them."
    return text


def describe_scalings(scalings: pd.DataFrame) -> str:
    """Raw against log1p spend at the same k (a ``compare_scalings`` table)."""
    sentences = []
    for scaling, table in scalings.groupby(level="scaling", sort=False):
        sizes = " / ".join(p.count(n) for n in table[c.CUSTOMERS])
        starts = ", ".join(f"{row[c.SEGMENT]} from {p.money(row['min_' + c.TOTAL_BILL_SIZE])}"
                           for _, row in table.iloc[1:].iterrows())
        value = table[c.SILHOUETTE].iloc[0]
        said = (f"silhouette {p.decimal(value)}" if pd.notna(value)
                else "no silhouette (each customer is a cluster of their own)")
        sentences.append(f"{str(scaling).capitalize()} spend: {sizes} customers ({starts}), {said}")
    smallest = scalings.groupby(level="scaling", sort=False)[c.CUSTOMERS].min()
    verdict = (" Log scaling spreads the customers over the clusters far more evenly: spend bands instead of a "
               "few outliers." if "log" in smallest and "raw" in smallest and smallest["log"] > 2 * smallest["raw"]
               else "")
    return "; ".join(sentences) + "." + verdict


def describe_segments(profile: pd.DataFrame) -> str:
    """Each segment of a ``profile_segments`` table, highest revenue share first, as a bullet."""
    lines = []
    for _, row in profile.sort_values(c.SHARE_OF_REVENUE, ascending=False, kind="stable").iterrows():
        lines.append(
            f"- **{row[c.SEGMENT]}**: {_customers(row[c.CUSTOMERS])} "
            f"({p.share(row[c.SHARE_OF_CUSTOMERS])}) {'brings' if row[c.CUSTOMERS] == 1 else 'bring'} "
            f"{p.share(row[c.SHARE_OF_REVENUE])} of revenue; the "
            f"median customer last bought {_plural(row[c.MEDIAN_PREFIX + c.RECENCY_DAYS], 'day', p.days)} before "
            f"the data ends, made {_plural(row[c.MEDIAN_PREFIX + c.FREQUENCY], 'purchase', p.days)} and spent "
            f"{p.money(row[c.MEDIAN_PREFIX + c.TOTAL_BILL_SIZE])}."
        )
    return "\n".join(lines)


def describe_stability(summary: pd.DataFrame, segments: pd.DataFrame) -> str:
    """ARI across seeds and resamples, and which segments are stable by their bootstrap Jaccard."""
    seeds, boot = summary.iloc[0], summary.iloc[1]
    text = (f"Across seeds the partition agrees with itself at ARI {p.decimal(seeds['min'])} or more (mean "
            f"{p.decimal(seeds['mean'])}); refitted on bootstrap resamples, at mean ARI {p.decimal(boot['mean'])} "
            f"(lowest {p.decimal(boot['min'])}).")
    stable = segments[segments[c.STABLE]]
    unstable = segments[~segments[c.STABLE]]
    threshold = p.decimal(config.STABLE_JACCARD)
    if unstable.empty:
        weakest = segments.sort_values(c.MEAN_JACCARD, kind="stable").iloc[0]
        text += (f" Every segment is stable (mean Jaccard ≥ {threshold} over the resamples); the least stable is "
                 f"{weakest[c.SEGMENT]} ({p.decimal(weakest[c.MEAN_JACCARD])}).")
    else:
        listed = _and(f"{row[c.SEGMENT]} ({p.decimal(row[c.MEAN_JACCARD])})" for _, row in unstable.iterrows())
        text += (f" Not stable (mean Jaccard below {threshold}): {listed}; another sample of the same customers "
                 "would draw these segments differently, so do not act on their edges.")
        if not stable.empty:
            stable_segments = (f"{row[c.SEGMENT]} ({p.decimal(row[c.MEAN_JACCARD])})" for _, row in stable.iterrows())
            text += f" Stable: {_and(stable_segments)}."
    return text


def describe_purchases(customers: pd.DataFrame) -> str:
    """The populations of the feature table (:func:`populations.count_populations`) and who is outside them."""
    counts = populations.count_populations(customers)
    bought, spend, occasion, both = (int(counts[name]) for name in (
        populations.BOUGHT, populations.NET_SPEND, populations.OCCASION, populations.BOTH))
    text = (f"Of the {p.count(bought)} {populations.BOUGHT}, {p.count(spend)} have net spend (the spend clusters), "
            f"{p.count(occasion)} a purchase occasion (the RFM segments and the forecast) and {p.count(both)} both "
            "(KMeans on RFM, and the check against what customers did next)")
    if spend == bought and occasion == bought:
        return text + "."
    outside = []
    if spend < bought:
        outside.append(f"{p.count(bought - spend)} {populations.LEFT_OUT[populations.NET_SPEND]}")
    if occasion < bought:
        outside.append(f"{p.count(bought - occasion)} never had a purchase occasion (no product bought and kept on "
                       "any day: postage or charges alone, or everything returned the same day), so they have no "
                       "recency, no RFM segment and no forecast")
    return text + "; " + " and ".join(outside) + "."


def describe_rule_segments(profile: pd.DataFrame) -> str:
    """The rule-based segments (``profiles.profile_rule_segments``, in the map's order): size and revenue."""
    total = profile[c.CUSTOMERS].sum()
    largest = profile[c.CUSTOMERS].idxmax()
    first, last = profile.iloc[0], profile.iloc[-1]
    return (
        f"The map places {_customers(total)} in {len(profile)} segments; the largest is {largest} "
        f"({_customers(profile.loc[largest, c.CUSTOMERS])}, {p.share(profile.loc[largest, c.SHARE_OF_CUSTOMERS])}). "
        f"{first.name}, the segment the map promises is the most likely to buy again, holds "
        f"{p.share(first[c.SHARE_OF_CUSTOMERS])} of the customers and brought {p.share(first[c.SHARE_OF_REVENUE])} "
        f"of their revenue; {last.name}, the least likely, holds {p.share(last[c.SHARE_OF_CUSTOMERS])} and brought "
        f"{p.share(last[c.SHARE_OF_REVENUE])}."
    )


#: A KMeans cluster whose name is the rule segment of fewer than this share of its customers is a loose fit.
LOOSE_NAME_SHARE = 0.5


def describe_cluster_names(profile: pd.DataFrame) -> str:
    """How well each KMeans cluster's name fits its customers (``share_in_named_segment`` of the profile)."""
    ordered = profile.sort_values(c.NAME_AGREEMENT, ascending=False, kind="stable")
    best, worst = ordered.iloc[0], ordered.iloc[-1]
    text = (f"Each cluster takes the name of the map segment its customers share most, each name once: "
            f"{p.share(best[c.NAME_AGREEMENT])} of the customers of the {best[c.SEGMENT]} cluster are in the "
            f"map's {best[c.SEGMENT]}, down to {p.share(worst[c.NAME_AGREEMENT])} for {worst[c.SEGMENT]}.")
    loose = ordered[ordered[c.NAME_AGREEMENT] < LOOSE_NAME_SHARE]
    if not loose.empty:
        text += (f" Under half for {_and(loose[c.SEGMENT])}: there the name is a loose fit, so read the "
                 "cluster's profile rather than its name.")
    return text


def describe_validation(check: NextPeriodCheck, *, rule: str, baseline: str) -> str:
    """Did the names predict what customers did next? From a ``pipeline.check_against_next``:
    ``rule`` names the map's segmentation in its tables, ``baseline`` the plain score's."""
    as_of, horizon_days = check.window.as_of, check.window.horizon_days
    if check.skipped is not None:
        return (f"No check against what customers did next: the segments as of {p.date(as_of)} ({horizon_days} "
                f"days before the data ends) cannot be built ({check.skipped}).")
    validation, summary = check.validation, check.summary
    segments = validation.loc[rule].sort_values(c.PROMISED_RANK)
    first, last = segments.index[0], segments.index[-1]
    overall = summary.loc[rule]
    again = segments[c.SHARE_BOUGHT_AGAIN]
    text = (f"Segmented from the lines before {p.date(as_of)} and followed for {horizon_days} days, "
            f"{p.share(overall[c.SHARE_BOUGHT_AGAIN])} of the {p.count(overall[c.CUSTOMERS])} customers "
            f"{populations.BOTH} on that date bought again. ")
    if again[first] >= again[last]:
        text += (f"{p.share(again[first])} of {first} customers bought again, and {p.share(again[last])} of "
                 f"{last} customers")
    else:
        text += (f"Against the map's promise, {first} customers bought again less often "
                 f"({p.share(again[first])}) than {last} customers ({p.share(again[last])})")
    text += (f"; {first} brought {p.share(segments.loc[first, c.SHARE_OF_NEXT_REVENUE])} of the next "
             f"{horizon_days} days' revenue.")
    breaks = order_breaks(validation, rule)
    if breaks.empty:
        text += " Each segment bought again less often than the one above it: the map's order kept its promise."
    else:
        listed = _and(f"{row['below']} ({p.share(row[c.SHARE_BOUGHT_AGAIN + '_below'])}) more often than "
                      f"{row['above']} ({p.share(row[c.SHARE_BOUGHT_AGAIN + '_above'])})"
                      for _, row in breaks.iterrows())
        text += f" Out of the promised order: {listed}, the segment listed above it."
    correlations = summary[c.RANK_CORRELATION]
    text += (" Rank correlation of each segmentation's promised order with next spend (1 = perfect): "
             + _and(f"{name} {p.decimal(value)}" for name, value in correlations.items()) + ".")
    difference = correlations[rule] - correlations[baseline]
    if abs(difference) < SAME_CORRELATION:
        text += f" The map orders customers about as well as the plain {baseline}."
    else:
        text += f" The map orders customers {'better' if difference > 0 else 'worse'} than the plain {baseline}."
    return text


#: Rank correlations closer than this are "about as good".
SAME_CORRELATION = 0.02


# --- the forecast ---------------------------------------------------------------------

#: How each row of ``forecast_scores.csv`` is written: purchases per customer, whole purchases, pounds,
#: decimals (AUC, rank correlation) and shares.
_SCORE_WRITERS = {
    forecast.PURCHASES_MAE: p.decimal, forecast.PURCHASES_RMSE: p.decimal,
    forecast.TOTAL_PURCHASES: lambda value: p.count(round(value)), forecast.TOTAL_SPEND: p.money,
    forecast.AUC_P_ALIVE: p.decimal, forecast.AUC_P_PURCHASE: p.decimal,
    forecast.SPEND_RANK_CORRELATION: p.decimal,
    forecast.CONTACT_NEXT_REVENUE: p.share, forecast.SLIPPING_BOUGHT_AGAIN: p.share,
}
#: Columns of :func:`forecast_scores_table`.
FORECAST = "forecast"
NAIVE = "naive forecast"
NAIVE_NAME = "naive forecast is"
HAPPENED = "what happened"
BETTER = "better"


def forecast_scores_table(check: ForecastCheck) -> pd.DataFrame:
    """``check.scores`` as people read it: each metric in its own unit, the naive forecast named."""
    rows = {}
    for metric, row in check.scores.iterrows():
        write = _SCORE_WRITERS[metric]
        rows[metric] = {FORECAST: _written(write, row["forecast"]), NAIVE: _written(write, row["baseline"]),
                        NAIVE_NAME: row["baseline_name"], HAPPENED: _written(write, row["actual"]),
                        BETTER: row["baseline_name"] if row["better"] == "baseline" else row["better"]}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("check")


def _written(write, value: float) -> str:
    return "" if pd.isna(value) else write(value)


def describe_forecast_check(check: NextPeriodCheck) -> str:
    """How the forecast made at the check's date did against the next days and against the naive
    forecasts: purchases, the total, the ranking of spend, and the two lists' promises."""
    as_of, horizon_days = check.window.as_of, check.window.horizon_days
    if check.skipped is not None or check.forecast_check is None:
        reason = check.skipped or check.forecast_skipped
        return f"No check of the forecast against the {horizon_days} days from {p.date(as_of)}: {reason}."
    scores = check.forecast_check.scores
    mae, rmse = scores.loc[forecast.PURCHASES_MAE], scores.loc[forecast.PURCHASES_RMSE]
    total, rank = scores.loc[forecast.TOTAL_PURCHASES], scores.loc[forecast.SPEND_RANK_CORRELATION]
    wins = [name for name, row in (("mean absolute error", mae), ("RMSE", rmse)) if row["better"] == "forecast"]
    verdict = ("beats it on both" if len(wins) == 2 else f"beats it on {wins[0]} alone" if wins
               else "does not beat it")
    text = (f"Fitted ({check.forecast.purchases.model} and Gamma-Gamma) on the lines before {p.date(as_of)} and "
            f"checked on the next {horizon_days} days ({p.count(check.forecast_check.customers)} customers "
            f"{populations.OCCASION} before that date), the "
            f"forecast of purchases has a mean absolute error of {p.decimal(mae['forecast'])} per customer "
            f"against {p.decimal(mae['baseline'])} for \"{forecast.SAME_AS_BEFORE}\", and an RMSE of "
            f"{p.decimal(rmse['forecast'])} against {p.decimal(rmse['baseline'])}: it {verdict}. ")
    write = _SCORE_WRITERS[forecast.TOTAL_PURCHASES]
    text += (f"In total it expected {write(total['forecast'])} purchases where {write(total['actual'])} happened "
             f"({write(total['baseline'])} in the {horizon_days} days before)")
    if total["actual"] > max(total["forecast"], total["baseline"]):
        text += (": customers bought more often after the date than before it, which a model of steady "
                 "purchase rates cannot foresee (a season, a campaign).")
    else:
        text += "."
    difference = rank["forecast"] - rank["baseline"]
    if abs(difference) < SAME_CORRELATION:
        how = f"about as well as, and slightly {'better' if difference > 0 else 'worse'} than,"
    else:
        how = "better than" if difference > 0 else "worse than"
    text += (f" The forecast ranks next-period spend {how} the {forecast.SCORE_BASELINE} (rank correlation "
             f"{p.decimal(rank['forecast'])} against {p.decimal(rank['baseline'])}).")
    contact, slipping = scores.loc[forecast.CONTACT_NEXT_REVENUE], scores.loc[forecast.SLIPPING_BOUGHT_AGAIN]
    text += (f" The contact list made on that date (the {p.share(config.CONTACT_SHARE)} of customers with the "
             f"highest Expected_Spend) brought {p.share(contact['forecast'])} of the next {horizon_days} days' "
             f"revenue, against {p.share(contact['baseline'])} for {forecast.SAME_SIZE_BY_SCORE}.")
    if not pd.isna(slipping["forecast"]):
        kept = "kept" if slipping["better"] == "forecast" else "did not keep"
        text += (f" Of the valuable customers it flagged as slipping away, {p.share(slipping['forecast'])} bought "
                 f"again, against {p.share(slipping['baseline'])} of {forecast.ALL_VALUABLE}: the list {kept} "
                 "its promise.")
    return text


def calibration_tables(check: ForecastCheck) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``forecast_check.csv``'s two views, each with its unit in its column names: mean purchases per
    customer by repeat purchases before the date, and mean net spend per decile of Expected_Spend."""
    purchases = check.calibration.loc[forecast.BY_EARLIER_PURCHASES].rename_axis("repeat purchases before")
    spend = check.calibration.loc[forecast.BY_SPEND_DECILE].rename_axis("decile of Expected_Spend")
    spend = spend.rename(columns={name: f"{name}_{c.EXPECTED_SPEND}" for name in ("predicted", "actual", "baseline")})
    return purchases, spend


def describe_list_rules() -> str:
    """The rules of the two lists, as the notebook prints them."""
    return (f"contact list: the {p.share(config.CONTACT_SHARE)} of customers with the highest Expected_Spend; "
            f"slipping away: past net spend in the top {p.share(1 - config.SLIPPING_SPEND_QUANTILE)} and "
            f"P_Purchase under {p.share(config.SLIPPING_P_PURCHASE)}")


#: Rows of :func:`outlook_table`.
FORECAST_CUSTOMERS = "customers with a forecast"
EXPECTED_PURCHASES_TOTAL = "expected purchases, all customers"
EXPECTED_SPEND_TOTAL = "expected net spend, all customers"
CLV_TOTAL = "CLV, all customers"
CONTACT_CUSTOMERS = "customers to contact"
CONTACT_SHARE_OF_SPEND = "their share of the expected net spend"
SLIPPING_CUSTOMERS = "valuable customers slipping away"
SPEND_FREQUENCY = "spend per purchase against purchases, correlation"
VALUE = "value"


def outlook_table(outlook: Outlook) -> pd.DataFrame:
    """The forecast in a few numbers (``pipeline.forecast_outlook``), written as people read them: who
    is forecast, the expected purchases, spend and CLV, the two lists, and the Gamma-Gamma check."""
    predicted, contact, slipping = outlook.forecast, outlook.contact, outlook.slipping
    table = predicted.table
    spend = table[c.EXPECTED_SPEND].sum()
    rows = {
        FORECAST_CUSTOMERS: p.count(table[c.EXPECTED_PURCHASES].notna().sum()),
        EXPECTED_PURCHASES_TOTAL: p.count(round(table[c.EXPECTED_PURCHASES].sum())),
        EXPECTED_SPEND_TOTAL: p.money(spend),
        CLV_TOTAL: p.money(table[c.CLV].sum()),
        CONTACT_CUSTOMERS: p.count(len(contact)),
        CONTACT_SHARE_OF_SPEND: p.share(contact[c.EXPECTED_SPEND].sum() / spend) if spend > 0 else "",
        SLIPPING_CUSTOMERS: p.count(len(slipping)),
        SPEND_FREQUENCY: p.decimal(predicted.spend_frequency_correlation),
    }
    return pd.DataFrame({VALUE: rows}).rename_axis(f"next {predicted.horizon_days} days (CLV: {predicted.clv_days})")


#: A Gamma-Gamma check: |correlation| of spend per purchase with purchases below this is called weak.
WEAK_CORRELATION = 0.3


def describe_outlook(outlook: Outlook) -> str:
    """What the forecast on all the lines says (``pipeline.forecast_outlook``): totals, who to contact
    first, who is slipping away and whether the Gamma-Gamma assumption holds (the fit's own notes,
    ``Forecast.notes``, are printed beside it)."""
    if outlook.forecast is None:
        return f"No forecast: {outlook.skipped}."
    predicted, contact, slipping = outlook.forecast, outlook.contact, outlook.slipping
    table = predicted.table
    spend = table[c.EXPECTED_SPEND].sum()
    h = predicted.horizon_days
    text = (f"For the next {h} days the {predicted.purchases.model} model expects "
            f"{p.count(round(table[c.EXPECTED_PURCHASES].sum()))} purchases and the Gamma-Gamma model "
            f"{p.money(spend)} of net spend from {_customers(table[c.EXPECTED_PURCHASES].notna().sum())}; CLV over "
            f"{predicted.clv_days} days adds up to {p.money(table[c.CLV].sum())} (undiscounted).")
    if len(contact):
        top = contact.iloc[0]
        text += (f" The {_customers(len(contact))} to contact first are expected to bring "
                 f"{p.share(contact[c.EXPECTED_SPEND].sum() / spend)} of it; at the top, customer {contact.index[0]} "
                 f"({top[c.MOST_COMMON_LOCATION]}) is expected to spend {p.money(top[c.EXPECTED_SPEND])}.")
    if len(slipping):
        first = slipping.iloc[0]
        text += (f" {p.count(len(slipping))} valuable customers are slipping away (past net spend in the top "
                 f"{p.share(1 - config.SLIPPING_SPEND_QUANTILE)}, under a {p.share(config.SLIPPING_P_PURCHASE)} "
                 f"chance of buying in the next {h} days); "
                 f"the most valuable, customer {slipping.index[0]} ({first[c.MOST_COMMON_LOCATION]}), spent "
                 f"{p.money(first[c.TOTAL_BILL_SIZE])} over {_plural(first[c.FREQUENCY], 'purchase')}, the last of "
                 f"them {p.days(first[c.RECENCY_DAYS])} days before the data ends, and has a "
                 f"{p.share(first[c.P_PURCHASE])} chance of buying again in that time.")
    else:
        text += " No valuable customer is slipping away by that rule."
    correlation = predicted.spend_frequency_correlation
    if abs(correlation) < WEAK_CORRELATION:
        text += (f" Spend per purchase and the number of purchases correlate weakly ({p.decimal(correlation)}), "
                 "as the Gamma-Gamma model assumes.")
    else:
        text += (f" Spend per purchase and the number of purchases correlate at {p.decimal(correlation)}, against "
                 "the Gamma-Gamma model's assumption of none: its spend per purchase, and so Expected_Spend and "
                 "CLV, are less to be trusted.")
    return text


# --- next month's export: scoring with a saved model ------------------------------------

def migration_with_totals(migration: pd.DataFrame) -> pd.DataFrame:
    """``migration`` (``model.migration_table``) with an "all" column (each row's customers) and row."""
    table = migration.assign(all=migration.sum(axis=1))
    return pd.concat([table, table.sum().to_frame("all").T.rename_axis(table.index.name)])


def describe_migration(migration: pd.DataFrame, drift: pd.DataFrame, *, fitted_to: pd.Timestamp,
                       scored_to: pd.Timestamp) -> str:
    """Who moved, in words: the customers of the model's first segment (the map's best) and where the
    ones who left went, how many of every segment kept theirs, and whether the data drifted."""
    summary = model.migration_summary(migration)[c.CUSTOMERS]
    text = (f"Fitted on the lines before {p.date(fitted_to)} and applied unchanged with recency counted to "
            f"{p.date(scored_to)}, the model kept {p.count(summary[model.KEPT])} of the "
            f"{_customers(summary[model.IN_BOTH])} of both runs in their segment and moved "
            f"{p.count(summary[model.CHANGED])}")
    if summary[model.NO_SEGMENT_IN_BOTH]:
        text += f"; {p.count(summary[model.NO_SEGMENT_IN_BOTH])} had a segment in neither run"
    text += f"; {_customers(summary[model.NEW_CUSTOMERS])} made their first purchase after the model's date."
    both = migration.drop(index=model.NEW_CUSTOMERS)
    rows = [name for name in both.index if both.loc[name].sum() > 0 and name in both.columns]
    if rows:
        first = rows[0]
        row = both.loc[first]
        moves = row.drop(index=first)
        text += (f" Of the {_customers(row.sum())} who {'was' if row.sum() == 1 else 'were'} {first}, "
                 f"{p.count(row[first])} "
                 f"{'is' if row[first] == 1 else 'are'} still {first}")
        if moves.max() > 0:
            text += f"; the most common move is to {moves.idxmax()} ({p.count(moves.max())})"
        text += "."
    drifted = drift[drift[c.DRIFTED]]
    if drifted.empty:
        text += (f" No feature drifted: every population stability index is at most {config.PSI_DRIFT}, "
                 f"the highest {p.decimal(drift[c.PSI].max())} ({drift[c.PSI].idxmax()}).")
    else:
        listed = _and(f"{name} ({p.decimal(value)})" for name, value in drifted[c.PSI].items())
        text += (f" The new data has drifted from the fitted data in {listed}, above {config.PSI_DRIFT}: the "
                 "frozen cut points now place customers differently from a fresh fit, and refitting is advised.")
    return text


def summarise_findings(*, clusters: pd.DataFrame, not_clustered: int, scalings: pd.DataFrame,
                       profile: pd.DataFrame, stability: pd.DataFrame, segments: pd.DataFrame,
                       rule_profile: pd.DataFrame, validation: str, purchases: str, forecast_check: str,
                       migration: str | None = None, warnings: list[str] | None = None) -> str:
    """The run's findings as bullets: purchases, the seed method, log scaling, the rule segments, the RFM
    clusters, their stability, whether the names predicted what customers did next, and how the forecast did
    (``purchases``, ``validation``, ``forecast_check`` and ``migration``: the sentences of
    :func:`describe_purchases`, :func:`describe_validation`, :func:`describe_forecast_check` and
    :func:`describe_migration`); ``warnings``, :func:`populations.too_little_data`, come first when there are any."""
    top = describe_segments(profile).splitlines()[0].removeprefix("- ")
    return "\n".join([
        *([f"- **Too little data.** {_sentences(warnings)}"] if warnings else []),
        f"- **Purchases.** {purchases}",
        f"- **Spend clusters, the seed method.** {describe_seed_clusters(clusters, not_clustered=not_clustered)}",
        f"- **Log scaling, same k.** {describe_scalings(scalings)}",
        f"- **Rule-based RFM segments.** {describe_rule_segments(rule_profile)}",
        f"- **KMeans on RFM, largest share of revenue first.** {top}",
        f"- **Stability.** {describe_stability(stability, segments)}",
        f"- **Do the names predict behaviour?** {validation}",
        f"- **What each customer will do next.** {forecast_check}",
        *([f"- **Next month's export, scored with a saved model.** {migration}"] if migration else []),
    ])


def _sentences(parts: list[str]) -> str:
    """``parts`` as sentences: each capitalised and ending in a full stop."""
    return " ".join(f"{part[0].upper()}{part[1:]}." for part in parts)


def _plural(number: float, noun: str, write=p.count) -> str:
    """``1 purchase``, ``14 purchases``, ``2.5 purchases``."""
    return f"{write(number)} {noun}{'' if float(number) == 1 else 's'}"


def _customers(number: float, noun: str = "customer") -> str:
    return _plural(number, noun)


def _and(items) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
