"""The main job, end to end: file -> clean lines -> customers -> clusters."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.analysis import diagnostics, forecast, populations, validation
from segmentation.analysis.cluster import (
    FEW_OF_THE_CUSTOMERS,
    ClusterResult,
    cluster_customers,
    not_clustered_reasons,
    small_clusters,
    summarise_clusters,
)
from segmentation.analysis.diagnostics import KChoice
from segmentation.analysis.forecast import Forecast, ForecastCheck
from segmentation.analysis.model import (
    CHANGED,
    CUSTOMER_SEGMENTS_CSV,
    KEPT,
    NEW_CUSTOMERS,
    NO_SEGMENT_IN_BOTH,
    NOT_SEEN,
    SavedModel,
    ScoredCustomers,
    migration_summary,
    migration_table,
    movers_table,
    population_stability,
    read_customer_segments,
    score_customers_with,
)
from segmentation.analysis.profiles import profile_segments
from segmentation.analysis.rfm import SegmentMap, load_segment_map, score_customers, segment_customers
from segmentation.engines.runners import CustomerTable, DuckDBEngine, Engine, OutcomeWindow, last_window
from segmentation.errors import InvoiceDataError

#: The engine a run uses unless told otherwise: embedded DuckDB on this machine.
DEFAULT_ENGINE = DuckDBEngine()


@dataclass(frozen=True)
class SegmentationRun:
    """Everything one run produces.

    ``customers`` is the feature table with Cluster and Segment added (one row
    per customer who bought something); ``clusters`` has one row per cluster;
    ``ledger`` is the cleaning ledger (see ``clean.CleanResult``);
    ``returns_matched`` and ``returns_unmatched`` are the pounds of returns
    counted against purchases and the rest, over every customer;
    ``return_only_customers`` counts customers with return lines only (not in
    the table). ``segments`` holds every segmentation of the customers
    (:func:`segment_every_way`) and ``segments_table`` their
    ``customer_segments.csv``; with an outcome ``window``, ``validation`` is
    :func:`validate_segments` of what they did next. ``forecast`` is
    :func:`forecast.forecast_customers` of the table (None with ``predict=False``, or
    when the data cannot carry one: ``forecast_skipped`` says why) and, with a window,
    ``forecast_check`` its check against the window.
    """

    source: Path
    ledger: pd.DataFrame
    customers: pd.DataFrame
    clustering: ClusterResult
    clusters: pd.DataFrame
    returns_matched: float
    returns_unmatched: float
    segments: CustomerSegments
    segments_table: pd.DataFrame
    return_only_customers: int = 0
    scan: pd.DataFrame | None = None
    scan_summary: pd.DataFrame | None = None
    k_choice: KChoice | None = None
    rfm_choice: KChoice | None = None
    window: OutcomeWindow | None = None
    validation: pd.DataFrame | None = None
    forecast: Forecast | None = None
    forecast_check: ForecastCheck | None = None
    forecast_skipped: str | None = None
    forecast_intervals: pd.DataFrame | None = None
    #: Total_Bill_Size net of matched returns ("net") or gross, as the run was asked.
    spend: Literal["net", "gross"] = "net"


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
    rfm_k: int | str = config.RFM_K_RULE,
    segment_map: SegmentMap | None = None,
    window: OutcomeWindow | None = None,
    predict: bool = True,
    horizon_days: int = config.HORIZON_DAYS,
    clv_days: int = config.CLV_DAYS,
    intervals: bool = False,
) -> SegmentationRun:
    """Load, clean, build customer features and cluster them.

    The defaults are the seed method. ``features`` names a set of
    ``columns.FEATURE_SETS`` ("spend" or "rfm"); ``log`` takes log1p before
    standardising; ``k`` is a number, or a rule of
    :func:`segmentation.analysis.diagnostics.choose_k` ("auto": the silhouette's best
    k, "elbow") applied to a scan of ``config.K_RANGE``. ``engine`` builds the
    customer table: :class:`~segmentation.engines.runners.DuckDBEngine` (default) on
    this machine, or :class:`~segmentation.engines.runners.DaskEngine` on a Dask
    cluster (``path`` may then be a glob or a folder of CSV or Parquet files).

    Every run also segments the customers every way (:func:`segment_every_way`:
    the rule-based map ``segment_map``, KMeans on RFM with ``rfm_k`` (a number
    or a rule, scanned on log1p RFM) and the seed's spend clusters). With
    ``window`` the customer table is built from the lines before
    ``window.as_of`` and the segmentations are validated against the window.

    With ``predict`` (the default) every customer gets a forecast
    (:func:`forecast.forecast_customers`) for the next ``horizon_days`` (the
    window's, when given) and CLV over ``clv_days``; with a window it is checked
    against what customers did (:func:`forecast.check_forecast`). Data that cannot
    carry a forecast (:class:`forecast.ForecastUnavailable`) is segmented without one,
    and the run says why (``forecast_skipped``). With ``intervals`` the forecast also gets
    credible intervals from the full posterior (:func:`forecast.posterior_intervals`,
    which needs pymc-marketing), whose posterior means then stand for the point fit's.
    """
    table = engine.customer_table(Path(path), spend=spend, sheet=sheet, date_format=date_format, window=window)
    customers = table.customers
    columns = c.FEATURE_SETS[features]
    scan = scan_summary = choice = None
    if isinstance(k, str):
        scan = diagnostics.scan_k(customers, features=columns, log=log,
                                  k_values=diagnostics.scannable_k(customers, features=columns, option="--k"))
        scan_summary = diagnostics.summarise_scans({features: scan})
        choice = diagnostics.choose_k(scan, rule=k, sample=diagnostics.scan_sample(customers, features=columns))
        k = choice.k
    clustering = cluster_customers(customers, k=k, random_state=config.RANDOM_STATE, features=columns, log=log,
                                   segment_map=segment_map)
    labelled = customers.assign(
        **{c.CLUSTER: clustering.labels, c.SEGMENT: clustering.segments}
    )
    if isinstance(rfm_k, str):
        rfm_k, rfm_choice = choose_rfm_k({diagnostics.RFM_LOG: scan_rfm(customers)}, rfm_k,
                                         sample=diagnostics.scan_sample(customers, features=c.RFM_FEATURES))
    else:
        rfm_choice = None
    # the spend clusters beside the others: the run's own when it clusters raw spend, else the seed's k = 3
    spend_k = k if columns == c.SEED_CLUSTER_FEATURES and not log else config.N_CLUSTERS
    segments = segment_every_way(customers, rfm_k=rfm_k, segment_map=segment_map, spend_k=spend_k)
    predicted = checked = skipped = None
    if predict:
        try:
            predicted = forecast.forecast_customers(
                customers, horizon_days=window.horizon_days if window is not None else horizon_days,
                clv_days=clv_days, source=_forecast_source(path, window))
        except forecast.ForecastUnavailable as unavailable:
            skipped = str(unavailable)
    credible = None
    if intervals and predicted is not None:
        predicted, credible = with_posterior(predicted, customers)
    if predicted is not None and window is not None:
        checked = check_next_period_forecast(predicted, customers, table, segments, window)
    return SegmentationRun(
        source=Path(path),
        ledger=table.ledger,
        customers=labelled,
        clustering=clustering,
        clusters=summarise_clusters(customers, clustering),
        returns_matched=table.returns_matched,
        returns_unmatched=table.returns_unmatched,
        segments=segments,
        segments_table=customer_segments_table(customers, segments, predicted,
                                               no_forecast=skipped if predict else forecast.NOT_RUN,
                                               intervals=credible),
        return_only_customers=table.return_only_customers,
        scan=scan,
        scan_summary=scan_summary,
        k_choice=choice,
        rfm_choice=rfm_choice,
        window=window,
        validation=validate_segments(segments, table.outcome) if window is not None else None,
        forecast=predicted,
        forecast_check=checked,
        forecast_skipped=skipped,
        forecast_intervals=credible,
        spend=spend,
    )


def with_posterior(predicted: Forecast, customers: pd.DataFrame) -> tuple[Forecast, pd.DataFrame]:
    """``predicted`` with the posterior's means in place of the point fit's
    (:func:`forecast.posterior_forecast`), and the credible intervals (``columns.INTERVAL_COLUMNS``)."""
    posterior = forecast.posterior_forecast(customers, horizon_days=predicted.horizon_days,
                                            clv_days=predicted.clv_days)
    table = posterior[list(c.FORECAST_COLUMNS[:-1])].assign(
        **{c.NO_FORECAST_REASON: predicted.table[c.NO_FORECAST_REASON]})
    return dataclasses.replace(predicted, table=table, from_posterior=True), posterior[list(c.INTERVAL_COLUMNS)]


def _forecast_source(path: str | Path, window: OutcomeWindow | None) -> str:
    """How a forecast's errors name the data: the file, and the date when only lines before it count."""
    return f"{path} (lines before {window.as_of:%Y-%m-%d})" if window is not None else str(path)


def check_next_period_forecast(predicted: Forecast, customers: pd.DataFrame, table: CustomerTable,
                               segments: CustomerSegments, window: OutcomeWindow) -> ForecastCheck:
    """:func:`forecast.check_forecast` of a forecast made at ``window.as_of`` against the window's
    outcome, with the naive forecasts from the ``table``'s period before the date and the R+F+M score."""
    return forecast.check_forecast(predicted, customers, outcome=table.outcome, previous=table.previous,
                                   score=segments.scores[c.RFM_SCORE], as_of=window.as_of)


@dataclass(frozen=True)
class CustomerSegments:
    """Every segmentation of one customer table, each customer by customer (index CustomerID).

    ``scores``: the rule-based R, F, M scores (:func:`segmentation.analysis.rfm.score_customers`);
    ``rule``: each customer's segment of ``segment_map``; ``rfm``: KMeans on log1p RFM,
    its clusters named from the map; ``spend``: the seed method, KMeans k = 3 on
    standardised Total_Bill_Size.
    """

    scores: pd.DataFrame
    rule: pd.Series
    rfm: ClusterResult
    spend: ClusterResult
    segment_map: SegmentMap


def segment_every_way(customers: pd.DataFrame, *, rfm_k: int, segment_map: SegmentMap | None = None,
                      spend_k: int = config.N_CLUSTERS) -> CustomerSegments:
    """The rule-based segments, KMeans on RFM (``rfm_k`` clusters) and the seed's spend clusters."""
    segment_map = segment_map if segment_map is not None else load_segment_map()
    scores = score_customers(customers)
    return CustomerSegments(
        scores=scores,
        rule=segment_customers(scores, segment_map),
        rfm=segment_rfm(customers, k=rfm_k, segment_map=segment_map),
        spend=cluster_customers(customers, k=spend_k, random_state=config.RANDOM_STATE),
        segment_map=segment_map,
    )


def customer_segments_table(customers: pd.DataFrame, segments: CustomerSegments | ScoredCustomers,
                            predicted: Forecast | None = None, *, no_forecast: str | None = None,
                            intervals: pd.DataFrame | None = None) -> pd.DataFrame:
    """``customer_segments.csv``: every customer of the table, one row each, every segmentation side by side.

    Index CustomerID; columns ``columns.SEGMENT_EXPORT_COLUMNS``: the rule
    segment, the KMeans-on-RFM segment and cluster, the seed's spend segment and
    cluster (``segments`` may be a saved model's :class:`~segmentation.analysis.model.ScoredCustomers`), why a
    customer has no cluster (``Not_Clustered_Reason``, empty
    when clustered), the R, F, M values and scores, the forecast
    (``columns.FORECAST_COLUMNS``: without ``predicted``, empty, with ``no_forecast``
    as every customer's reason), country and top item; with ``intervals``
    (:func:`forecast.posterior_intervals`) its ``columns.INTERVAL_COLUMNS`` last.
    Rows run in the map's order of segments (customers with no segment last),
    then by CustomerID.
    """
    table = customers.assign(**{
        c.RFM_SEGMENT: segments.rule,
        c.KMEANS_RFM_SEGMENT: segments.rfm.segments,
        c.KMEANS_RFM_CLUSTER: segments.rfm.labels,
        c.SPEND_SEGMENT: segments.spend.segments,
        c.SPEND_CLUSTER: segments.spend.labels,
        c.NOT_CLUSTERED_REASON: not_clustered_reasons(customers, features=segments.rfm.features),
    }).join(segments.scores).join(_forecast_columns(customers, predicted, no_forecast))
    order = table[c.RFM_SEGMENT].cat.codes.replace(-1, len(segments.segment_map.names))
    table = table.assign(_order=order).sort_values(["_order", c.CUSTOMER_ID], kind="stable")
    if intervals is None:
        return table[list(c.SEGMENT_EXPORT_COLUMNS)]
    return table[list(c.SEGMENT_EXPORT_COLUMNS)].join(intervals[list(c.INTERVAL_COLUMNS)])


def _forecast_columns(customers: pd.DataFrame, predicted: Forecast | None, no_forecast: str | None
                      ) -> pd.DataFrame:
    if predicted is not None:
        return predicted.table
    table = pd.DataFrame(index=customers.index, columns=list(c.FORECAST_COLUMNS[:-1]), dtype="float64")
    return table.assign(**{c.NO_FORECAST_REASON: pd.Series(no_forecast or forecast.NOT_RUN, index=customers.index,
                                                           dtype="string")})


def segmentations_to_validate(segments: CustomerSegments) -> dict[str, pd.Series]:
    """Each segmentation as the ordered categories :func:`validation.validate_segmentations` reads.

    The promised order: the map's for the rule segments and for the KMeans
    clusters (named from it); the highest spend first for the spend clusters;
    the highest R + F + M score first for the baseline.
    """
    rfm_names = [name for name in segments.segment_map.names if name in set(segments.rfm.centroids[c.SEGMENT])]
    spend_names = list(segments.spend.centroids[c.SEGMENT])[::-1]
    score = segments.scores[c.RFM_SCORE]
    return {
        validation.RULE_SEGMENTS: segments.rule,
        validation.KMEANS_SEGMENTS: validation.ordered(segments.rfm.segments, rfm_names),
        validation.SPEND_CLUSTERS: validation.ordered(segments.spend.segments, spend_names),
        validation.SCORE_BASELINE: validation.ordered(score, sorted(score.dropna().unique(), reverse=True)),
    }


def validate_segments(segments: CustomerSegments, outcome: pd.DataFrame) -> pd.DataFrame:
    """``validation.csv``: :func:`validation.validate_segmentations` of every segmentation against ``outcome``."""
    return validation.validate_segmentations(segmentations_to_validate(segments), outcome)


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
    """A k scan (inertia and silhouette for each k of ``config.K_RANGE`` that the clusterable customers
    allow: k below their number) per feature set and scaling."""
    return {name: diagnostics.scan_k(customers, features=features, log=log,
                                     k_values=diagnostics.scannable_k(customers, features=features, option="--k"))
            for name, (features, log) in diagnostics.SCALINGS.items()}


def choose_rfm_k(scans: dict[str, pd.DataFrame], rfm_k: int | str, *,
                 sample: int | None = None) -> tuple[int, KChoice | None]:
    """The RFM k: ``rfm_k`` itself when a number, else the rule's choice on the RFM scan (and the choice);
    ``sample``: the customers the scan clustered when it sampled them (``diagnostics.scan_sample``)."""
    if not isinstance(rfm_k, str):
        return rfm_k, None
    choice = diagnostics.choose_k(scans[diagnostics.RFM_LOG], rule=rfm_k, sample=sample)
    return choice.k, choice


def compare_raw_and_log(customers: pd.DataFrame, *, k: int = config.N_CLUSTERS
                        ) -> tuple[ClusterResult, ClusterResult, pd.DataFrame]:
    """KMeans on raw and on log1p spend with the same k, and the two side by side."""
    raw = cluster_customers(customers, k=k, random_state=config.RANDOM_STATE)
    log = cluster_customers(customers, k=k, random_state=config.RANDOM_STATE, log=True)
    return raw, log, diagnostics.compare_scalings(customers, {"raw": raw, "log": log})


def scan_rfm(customers: pd.DataFrame) -> pd.DataFrame:
    """The k scan of log1p RFM alone (see :func:`scan_feature_sets`), over the k of
    ``config.K_RANGE`` that the clusterable customers allow (k below their number)."""
    features, log = diagnostics.SCALINGS[diagnostics.RFM_LOG]
    return diagnostics.scan_k(customers, features=features, log=log,
                              k_values=diagnostics.scannable_k(customers, features=features, option="--rfm-k"))


def segment_rfm(customers: pd.DataFrame, *, k: int, segment_map: SegmentMap | None = None) -> ClusterResult:
    """KMeans on log1p, standardised recency, frequency and spend, named from the segment map."""
    return cluster_customers(customers, k=k, random_state=config.RANDOM_STATE, features=c.RFM_FEATURES, log=True,
                             segment_map=segment_map)


def check_stability(customers: pd.DataFrame, clustering: ClusterResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ARI across seeds and bootstrap refits, each segment's bootstrap Jaccard) of ``clustering``."""
    seeds = diagnostics.seed_stability(customers, k=len(clustering.centroids), features=clustering.features,
                                       log=clustering.log)
    bootstrap, segments = diagnostics.bootstrap_checks(customers, clustering)
    return diagnostics.summarise_stability(seeds, bootstrap), segments


def analyse_beyond_seed(customers: pd.DataFrame, *, rfm_k: int | str = config.RFM_K_RULE,
                        k: int = config.N_CLUSTERS, segment_map: SegmentMap | None = None) -> BeyondSeed:
    """Every step beyond the seed at once: scan k, compare raw and log spend, cluster, profile and test RFM."""
    segment_map = segment_map if segment_map is not None else load_segment_map()
    scans = scan_feature_sets(customers)
    chosen_k, rfm_choice = choose_rfm_k(scans, rfm_k,
                                        sample=diagnostics.scan_sample(customers, features=c.RFM_FEATURES))
    raw, log, scalings = compare_raw_and_log(customers, k=k)
    rfm = segment_rfm(customers, k=chosen_k, segment_map=segment_map)
    stability, segments = check_stability(customers, rfm)
    rule = segment_customers(score_customers(customers), segment_map)
    return BeyondSeed(
        scans=scans,
        scan_summary=diagnostics.summarise_scans(scans),
        rfm_choice=rfm_choice,
        raw=raw,
        log=log,
        scalings=scalings,
        rfm=rfm,
        profile=profile_segments(customers, rfm, rule_segments=rule),
        stability=stability,
        segment_stability=segments,
    )


@dataclass(frozen=True)
class NextPeriodCheck:
    """The segments of the customers as of ``window.as_of``, checked against the window after it.

    ``segments`` are :func:`segment_every_way` of the table built from the
    lines before the date, ``validation`` is :func:`validate_segments` and
    ``summary`` its :func:`validation.summarise_validation`; ``forecast`` is the
    forecast made from the same lines and ``forecast_check`` its check. When the
    data cannot be checked (it spans less than the window, or too few customers
    bought before it) ``skipped`` says why and the rest is None; when only the
    forecast cannot be made (too few repeat customers), ``forecast_skipped`` says why.
    """

    window: OutcomeWindow
    segments: CustomerSegments | None = None
    validation: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    skipped: str | None = None
    customers: pd.DataFrame | None = None
    forecast: Forecast | None = None
    forecast_check: ForecastCheck | None = None
    forecast_skipped: str | None = None


def check_against_next(invoices: pd.DataFrame, *, source: str | Path, last_invoice_date: pd.Timestamp,
                       rfm_k: int, segment_map: SegmentMap | None = None, spend: Literal["net", "gross"] = "net",
                       horizon_days: int = config.HORIZON_DAYS) -> NextPeriodCheck:
    """Segment the customers as they were ``horizon_days`` before the data ends, and check the
    segments against what they did in those days (:func:`runners.last_window`).

    ``invoices`` are the loaded lines of ``source`` (they are cleaned again here,
    by the same rules), ``last_invoice_date`` the last date of a clean line.
    """
    window = last_window(last_invoice_date, horizon_days=horizon_days)
    try:
        table = DuckDBEngine().customer_table_of_lines(invoices, source=source, spend=spend, window=window)
        segments = segment_every_way(table.customers, rfm_k=rfm_k, segment_map=segment_map)
    except InvoiceDataError as error:
        return NextPeriodCheck(window=window, skipped=str(error))
    checked = validate_segments(segments, table.outcome)
    predicted = forecast_check = forecast_skipped = None
    try:
        predicted = forecast.forecast_customers(table.customers, horizon_days=horizon_days,
                                                source=_forecast_source(source, window))
        forecast_check = check_next_period_forecast(predicted, table.customers, table, segments, window)
    except forecast.ForecastUnavailable as unavailable:
        forecast_skipped = str(unavailable)
    return NextPeriodCheck(window=window, segments=segments, validation=checked,
                           summary=validation.summarise_validation(checked), customers=table.customers,
                           forecast=predicted, forecast_check=forecast_check, forecast_skipped=forecast_skipped)


@dataclass(frozen=True)
class Outlook:
    """The forecast of a customer table and the lists made from it (:func:`forecast_outlook`);
    when the data cannot carry a forecast, ``skipped`` says why and the rest is None."""

    forecast: Forecast | None = None
    contact: pd.DataFrame | None = None
    slipping: pd.DataFrame | None = None
    skipped: str | None = None


def forecast_outlook(customers: pd.DataFrame, *, horizon_days: int = config.HORIZON_DAYS,
                     clv_days: int = config.CLV_DAYS, source: str | Path = "the data") -> Outlook:
    """:func:`forecast.forecast_customers` of ``customers``, with ``contact_list.csv`` and
    ``slipping_away.csv`` (:func:`forecast.customers_to_contact`, :func:`forecast.customers_slipping_away`)."""
    try:
        predicted = forecast.forecast_customers(customers, horizon_days=horizon_days, clv_days=clv_days,
                                                source=str(source))
    except forecast.ForecastUnavailable as unavailable:
        return Outlook(skipped=str(unavailable))
    return Outlook(forecast=predicted, contact=forecast.customers_to_contact(predicted, customers),
                   slipping=forecast.customers_slipping_away(predicted, customers))


def data_warnings(run: SegmentationRun) -> list[str]:
    """:func:`populations.too_little_data` of the run's customers, for its spend clusters and KMeans on RFM."""
    return populations.too_little_data(populations.count_populations(run.customers),
                                       k_spend=len(run.clustering.centroids), k_rfm=len(run.segments.rfm.centroids))


def small_cluster_notes(clusters: pd.DataFrame) -> list[str]:
    """A note for each cluster of ``clusters`` (a :func:`summarise_clusters` table) too small to be a
    segment (:func:`cluster.small_clusters`)."""
    notes = []
    for cluster, reason in small_clusters(clusters).items():
        row = clusters.loc[cluster]
        customers, share = int(row[c.CUSTOMERS]), row[c.SHARE_OF_CUSTOMERS]
        if reason == FEW_OF_THE_CUSTOMERS:
            notes.append(f"cluster {cluster} ({row[c.SEGMENT]}) holds {share:.1%} of customers, under "
                         f"{config.SMALL_CLUSTER_SHARE:.0%}: a few extreme customers, not a segment")
        else:
            notes.append(f"cluster {cluster} ({row[c.SEGMENT]}) holds {customers:,} customer"
                         f"{'' if customers == 1 else 's'}, under {config.MIN_CUSTOMERS_PER_CLUSTER}: "
                         "too few to be a segment")
    return notes


def describe_run(run: SegmentationRun) -> str:
    """A short plain-text summary of a run: lines, customers, returns, clusters, segments, validation."""
    removed = run.ledger.drop(index=["input", "kept"])
    rows_in, rows_out = (int(run.ledger.loc[step, c.LEDGER_ROWS]) for step in ("input", "kept"))
    counts = populations.count_populations(run.customers)
    lines = [
        f"{run.source.name}: {rows_in:,} lines read, {rows_out:,} kept, {rows_in - rows_out:,} removed"
        + "".join(
            f"\n  {step}: {int(row[c.LEDGER_ROWS]):,} lines, £{row[c.LEDGER_AMOUNT]:,.2f}"
            for step, row in removed.iterrows()
        ),
        (f"features from lines before {run.window.as_of:%Y-%m-%d}; " if run.window is not None else "")
        + "\n".join(populations.describe_populations(counts, return_only=run.return_only_customers)),
        *(f"warning: {warning}" for warning in data_warnings(run)),
        f"returns: £{run.returns_matched:,.2f} matched to purchases (at most what was paid), "
        f"£{run.returns_unmatched:,.2f} unmatched "
        "(bought before the data starts, priced above the purchase, discounts)",
    ]
    if run.k_choice is not None:
        lines.append(f"chosen {run.k_choice.reason}")
    scaling = "log1p, standardised" if run.clustering.log else "standardised"
    lines.append(f"clusters of {scaling} {', '.join(run.clustering.features)} (Total_Bill_Size in £):")
    for cluster, row in run.clusters.iterrows():
        lines.append(
            f"  {cluster} {row[c.SEGMENT]:<18} {int(row[c.CUSTOMERS]):>6,} customers  "
            f"median {row['median_' + c.TOTAL_BILL_SIZE]:>12,.2f}  "
            f"range {row['min_' + c.TOTAL_BILL_SIZE]:,.2f} to {row['max_' + c.TOTAL_BILL_SIZE]:,.2f}"
        )
    lines += [f"  note: {note}" for note in small_cluster_notes(run.clusters)]
    counts = run.segments.rule.value_counts(sort=False)
    lines.append("rule-based RFM segments (customers): "
                 + ", ".join(f"{name} {int(n):,}" for name, n in counts.items() if n))
    if run.rfm_choice is not None:
        lines.append(f"KMeans on RFM: {run.rfm_choice.reason}")
    counts = run.segments.rfm.segments.value_counts()
    lines.append("KMeans on RFM, named from the map: " + ", ".join(
        f"{name} {int(counts[name]):,}" for name in run.segments.segment_map.names if name in counts))
    if run.forecast is not None:
        lines += forecast.summary_lines(run.forecast, run.forecast_check)
    elif run.forecast_skipped is not None:
        lines.append(f"note: {run.forecast_skipped}")
    if run.validation is not None:
        lines.append(f"what customers did in the {run.window.horizon_days} days from {run.window.as_of:%Y-%m-%d} "
                     "(share who bought again, first and last promised segment; rank correlation):")
        for name, rows in run.validation.groupby(level=c.SEGMENTATION, sort=False):
            rows = rows.droplevel(c.SEGMENTATION).sort_values(c.PROMISED_RANK)
            first, last = rows.index[0], rows.index[-1]
            lines.append(
                f"  {name}: {first} {rows.loc[first, c.SHARE_BOUGHT_AGAIN]:.1%}, "
                f"{last} {rows.loc[last, c.SHARE_BOUGHT_AGAIN]:.1%}; "
                f"{rows[c.RANK_CORRELATION].iloc[0]:.3f}"
            )
    return "\n".join(lines)


# --- scoring a new file with a saved model ----------------------------------------------------

def halfway_date(invoices: pd.DataFrame) -> pd.Timestamp:
    """The day halfway between the days of the first and the last line of ``invoices`` (InvoiceDate)."""
    first, last = (invoices[c.INVOICE_DATE].min().normalize(), invoices[c.INVOICE_DATE].max().normalize())
    return first + pd.Timedelta(days=(last - first).days // 2)


@dataclass(frozen=True)
class ScoreRun:
    """A new file placed in a saved model's segments (:func:`score_file`).

    ``customers`` the new file's feature table, ``ledger`` its cleaning, ``scored`` the segments
    (:func:`model.score_customers_with`), ``segments_table`` its ``customer_segments.csv``, ``snapshot``
    the day its Recency_Days count to, ``drift`` :func:`model.population_stability`. With the model's
    run's ``customer_segments.csv``, ``migration`` and ``movers`` (:func:`model.migration_table`,
    :func:`model.movers_table`); without it, ``migration_skipped`` says why.
    """

    source: Path
    model: SavedModel
    ledger: pd.DataFrame
    customers: pd.DataFrame
    scored: ScoredCustomers
    segments_table: pd.DataFrame
    snapshot: pd.Timestamp
    drift: pd.DataFrame
    migration: pd.DataFrame | None = None
    movers: pd.DataFrame | None = None
    migration_skipped: str | None = None


def score_file(path: str | Path, saved: SavedModel, *, as_of: pd.Timestamp | None = None,
               before: pd.DataFrame | None = None, sheet: str | None = None, date_format: str | None = None,
               engine: Engine = DEFAULT_ENGINE) -> ScoreRun:
    """Clean and summarise ``path`` by the same rules, and place its customers in ``saved``'s segments.

    Recency_Days count to the day after the file's last line, or to ``as_of``. ``before`` is the
    model's run's ``customer_segments.csv`` (default: the one beside the model file, when there is one).

    Raises
    ------
    InvoiceDataError
        A file whose snapshot comes before the model's (it ends before the fitted data did) without
        ``as_of``; with ``as_of``, a file holding lines on or after it; and what reading the file refuses.
    """
    path = Path(path)
    table = engine.customer_table(path, spend=saved.spend, snapshot_date=as_of, sheet=sheet,
                                  date_format=date_format)
    last = table.last_date
    if as_of is None:
        snapshot = last.normalize() + pd.Timedelta(days=1)
        if snapshot < saved.snapshot_date:
            raise InvoiceDataError(
                f"{path}: its last line is dated {last:%Y-%m-%d}, before the model's snapshot "
                f"{saved.snapshot_date:%Y-%m-%d} ({saved.source}); score a later export, or give --as-of DATE "
                "to score it as of another day."
            )
    else:
        snapshot = pd.Timestamp(as_of).normalize()
        if last >= snapshot:
            raise InvoiceDataError(
                f"{path}: holds lines up to {last:%Y-%m-%d}, on or after --as-of {snapshot:%Y-%m-%d}; give a date "
                "after the file's last line."
            )
    customers = table.customers
    scored = score_customers_with(saved, customers, source=str(path))
    segments_table = customer_segments_table(customers, scored, scored.forecast, no_forecast=scored.no_forecast)
    migration = movers = skipped = None
    if before is None and saved.folder is not None and (saved.folder / CUSTOMER_SEGMENTS_CSV).is_file():
        before = read_customer_segments(saved.folder / CUSTOMER_SEGMENTS_CSV)
    if before is not None:
        migration = migration_table(before, segments_table, names=saved.segment_map.names)
        movers = movers_table(before, segments_table)
    else:
        skipped = (f"no migration: the model's run folder holds no {CUSTOMER_SEGMENTS_CSV} "
                   f"({saved.folder or saved.source}), so who moved cannot be told")
    return ScoreRun(source=path, model=saved, ledger=table.ledger, customers=customers, scored=scored,
                    segments_table=segments_table, snapshot=snapshot,
                    drift=population_stability(saved, customers), migration=migration, movers=movers,
                    migration_skipped=skipped)


def describe_score(run: ScoreRun) -> str:
    """A short plain-text summary of a score run: customers, the model, segments, who moved, drift."""
    counts = run.scored.rule.value_counts(sort=False)
    lines = [
        f"{run.source.name}: {len(run.customers):,} customers scored with {run.model.source} "
        f"(fitted to {run.model.snapshot_date:%Y-%m-%d}), recency counted to {run.snapshot:%Y-%m-%d}",
        "rule-based RFM segments (customers): " + ", ".join(f"{name} {int(n):,}" for name, n in counts.items() if n),
        "population stability index against the fitted data: "
        + ", ".join(f"{name} {row[c.PSI]:.3f}" for name, row in run.drift.iterrows()),
    ]
    if run.migration is not None:
        summary = migration_summary(run.migration)[c.CUSTOMERS]
        lines.append(f"migration: {summary[KEPT]:,} customers kept their segment, {summary[CHANGED]:,} moved"
                     + (f", {summary[NO_SEGMENT_IN_BOTH]:,} had a segment in neither run"
                        if summary[NO_SEGMENT_IN_BOTH] else "")
                     + f", {summary[NEW_CUSTOMERS]:,} are new, {summary[NOT_SEEN]:,} of the model's run "
                     "are not seen now")
    else:
        lines.append(f"note: {run.migration_skipped}")
    if run.scored.forecast is not None:
        lines += forecast.summary_lines(run.scored.forecast)
    return "\n".join(lines)
