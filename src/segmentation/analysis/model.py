"""A saved segmentation: ``model.json``, and new files scored with it without refitting.

A fitted run (``pipeline.segment_file``) learns cut points (the R, F and M quintile
thresholds), a segment map, two scalings with their KMeans centroids (log1p RFM and
raw spend) and the forecast's parameters. :func:`fitted_model` writes them down as
plain JSON (no pickle: a person can read and edit it); :func:`read_model` checks a
file and returns a :class:`SavedModel`; :func:`score_customers_with` places the
customers of another table in the *same* segments: the frozen thresholds, the
saved map, the nearest saved centroid (Euclidean, in the saved scaled space; ties
to the lower cluster number) and the saved forecast parameters. Nothing is refitted,
so "Champions" means in the new month what it meant when the model was fitted.

One row is one customer throughout, except in :func:`population_stability` (one row
per drift feature) and :func:`migration_table` (one row per segment before).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.analysis import forecast
from segmentation.analysis.cluster import ClusterResult, not_clustered_reasons
from segmentation.analysis.forecast import Forecast, PurchaseModel, SpendModel
from segmentation.analysis.rfm import (
    SegmentMap,
    score_thresholds,
    score_with_thresholds,
    segment_customers,
    segment_map_document,
    segment_map_from_document,
)
from segmentation.errors import InvoiceDataError
from segmentation.export import atomic_path


class FittedRun(Protocol):
    """What :func:`fitted_model` reads of a fitted run (a ``pipeline.SegmentationRun``, which comes later
    in the flow): its customer table, spend option, segmentations (``segment_map``, ``rfm`` and
    ``spend`` clusterings) and forecast."""

    customers: pd.DataFrame
    spend: str
    segments: Any
    forecast: Forecast | None
    forecast_skipped: str | None


#: The file every fitted run writes beside its results.
MODEL_FILE = "model.json"
#: What ``model.json`` says it is, so that another JSON file is told apart from a model.
MODEL_KIND = "segmentation model"
#: The fitted run's table of every customer: the "before" of a migration.
CUSTOMER_SEGMENTS_CSV = "customer_segments.csv"
#: Row and column labels of ``migration.csv`` beside the segment names.
NEW_CUSTOMERS = "new in this file"
NOT_SEEN = "not seen now"
NO_SEGMENT = "no segment"
#: Rows of :func:`migration_summary`.
IN_BOTH = "in both"
KEPT = "kept their segment"
CHANGED = "changed segment"
NO_SEGMENT_IN_BOTH = "no segment in either run"
#: ``No_Forecast_Reason`` of a scored file whose model has no forecast.
MODEL_HAS_NO_FORECAST = "not forecast (the model holds no forecast)"


# --- what model.json holds ------------------------------------------------------------------

def input_sha256(path: str | Path) -> str:
    """SHA-256 of the input file; of a folder or glob (``--engine dask``), of the ``sha256sum`` lines
    (``<hash>  <name>``) of its files in name order."""
    path = Path(path)
    if path.is_file():
        return _file_sha256(path)
    files = sorted(path.iterdir()) if path.is_dir() else sorted(path.parent.glob(path.name))
    lines = "".join(f"{_file_sha256(file)}  {file.name}\n" for file in files if file.is_file())
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def package_version() -> str | None:
    """The installed package's version (None in a source tree that was never installed)."""
    try:
        return importlib.metadata.version("segmentation")
    except importlib.metadata.PackageNotFoundError:
        return None


def snapshot_of(customers: pd.DataFrame) -> pd.Timestamp:
    """The day a customer table's Recency_Days count to: a customer's last purchase day plus their recency."""
    dated = customers.dropna(subset=[c.RECENCY_DAYS])
    if dated.empty:
        raise InvoiceDataError("no customer has a purchase occasion, so the table has no snapshot date to save.")
    first = dated.iloc[0]
    return first[c.LAST_PURCHASE].normalize() + pd.Timedelta(days=int(first[c.RECENCY_DAYS]))


def fitted_model(run: FittedRun, *, input_name: str, input_sha256: str | None = None,
                 options: dict | None = None) -> dict:
    """``model.json`` of a fitted run: plain numbers and text, nothing time-dependent.

    Keys: ``kind``, ``schema_version``, ``rules_version``, ``package_version``, ``options`` (the run's,
    as given, with ``spend``), ``data`` (input name and SHA-256, the purchases' first and last date,
    the snapshot, customers), ``rfm_thresholds`` (:func:`rfm.score_thresholds`), ``segment_map``
    (its entries, :func:`rfm.segment_map_document`), ``kmeans_rfm`` and ``spend_clusters`` (features,
    log1p or not, the scaler's mean and scale, each cluster's number, segment name and centroid in
    the scaled space), ``forecast`` (the fitted models' parameters, or null and why) and ``drift``
    (per drift feature, the fitted data's decile edges and each bin's share of customers).
    """
    customers = run.customers
    return {
        "kind": MODEL_KIND,
        "schema_version": config.MODEL_SCHEMA_VERSION,
        "rules_version": config.RULES_VERSION,
        "package_version": package_version(),
        "options": {**(options or {}), "spend": run.spend},
        "data": {
            "input": input_name,
            "input_sha256": input_sha256,
            "first_purchase": f"{customers[c.FIRST_PURCHASE].min():%Y-%m-%d %H:%M:%S}",
            "last_purchase": f"{customers[c.LAST_PURCHASE].max():%Y-%m-%d %H:%M:%S}",
            "snapshot_date": f"{snapshot_of(customers):%Y-%m-%d}",
            "customers": len(customers),
        },
        "rfm_thresholds": score_thresholds(customers),
        "segment_map": segment_map_document(run.segments.segment_map),
        "kmeans_rfm": _clusters_document(run.segments.rfm),
        "spend_clusters": _clusters_document(run.segments.spend),
        "forecast": _forecast_document(run.forecast, run.forecast_skipped),
        "drift": drift_bins(customers),
    }


def _floats(values) -> list[float]:
    return [float(value) for value in np.asarray(values, dtype="float64")]


def _clusters_document(result: ClusterResult) -> dict:
    """A clustering's scaler and centroids (in the scaled space KMeans saw), clusters by number."""
    labels = result.labels.dropna().astype("int64").to_numpy()
    raw = np.asarray(result.model.labels_)
    centres = [result.model.cluster_centers_[raw[labels == number][0]] for number in result.centroids.index]
    return {
        "features": list(result.features),
        "log1p": bool(result.log),
        "scaler_mean": _floats(result.scaler.mean_),
        "scaler_scale": _floats(result.scaler.scale_),
        "clusters": [{"cluster": int(number), "segment": str(name), "centroid": _floats(centre)}
                     for number, name, centre in zip(result.centroids.index, result.centroids[c.SEGMENT],
                                                     centres, strict=True)],
    }


def _forecast_document(fitted: Forecast | None, skipped: str | None) -> dict | None:
    if fitted is None:
        return {"skipped": skipped or forecast.NOT_RUN}
    purchases, spend = fitted.purchases, fitted.spend
    return {
        "purchases": {"model": purchases.model, **{k: float(v) for k, v in purchases.params.items()},
                      "customers": purchases.customers, "repeat_customers": purchases.repeat_customers,
                      "log_likelihood": float(purchases.log_likelihood), "converged": purchases.converged,
                      "message": purchases.message, "at_bound": list(purchases.at_bound)},
        "spend": {"model": "Gamma-Gamma", **{k: float(v) for k, v in spend.params.items()},
                  "customers": spend.customers, "log_likelihood": float(spend.log_likelihood),
                  "converged": spend.converged, "message": spend.message, "at_bound": list(spend.at_bound)},
        "horizon_days": fitted.horizon_days,
        "clv_days": fitted.clv_days,
    }


def model_text(document: dict) -> str:
    """``document`` as the text of ``model.json``: sorted keys, two-space indents, no NaN (refused)."""
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def write_model(document: dict, path: str | Path) -> Path:
    """Write ``document`` (:func:`fitted_model`) to ``path`` atomically, as :func:`model_text`."""
    text = model_text(document)
    with atomic_path(path) as temporary:
        Path(temporary).write_text(text, encoding="utf-8")
    return Path(path)


# --- reading it back ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FrozenClusters:
    """A saved clustering: ``features``, whether ``log1p`` comes first, the scaler's ``mean`` and
    ``scale``, and one centroid per cluster number 0..k-1 (rows of ``centroids``, scaled space) with its
    segment ``names``. Duck-types the ``labels`` / ``segments`` / ``features`` of a ClusterResult once
    :meth:`assign` has placed customers (see :class:`FrozenAssignment`)."""

    features: tuple[str, ...]
    log: bool
    mean: np.ndarray
    scale: np.ndarray
    centroids: np.ndarray
    names: tuple[str, ...]

    def assign(self, customers: pd.DataFrame) -> FrozenAssignment:
        """Each customer's nearest centroid (ties to the lower number); customers that cannot be clustered
        (:func:`cluster.not_clustered_reasons`) get none."""
        eligible = not_clustered_reasons(customers, features=self.features).isna().to_numpy()
        values = customers.loc[eligible, list(self.features)].astype("float64")
        values = np.log1p(values) if self.log else values
        scaled = (values.to_numpy() - self.mean) / self.scale
        distances = ((scaled[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2)
        labels = pd.Series(pd.NA, index=customers.index, dtype="Int64", name=c.CLUSTER)
        if len(scaled):
            labels.loc[eligible] = distances.argmin(axis=1)
        segments = labels.map(dict(enumerate(self.names))).astype("str").where(labels.notna()).rename(c.SEGMENT)
        return FrozenAssignment(labels=labels, segments=segments, features=self.features)


@dataclass(frozen=True)
class FrozenAssignment:
    """Customers placed by a :class:`FrozenClusters`: labels (Int64), segment names, the features."""

    labels: pd.Series
    segments: pd.Series
    features: tuple[str, ...]


@dataclass(frozen=True)
class SavedModel:
    """A checked ``model.json`` (:func:`read_model`): ``source`` (the file, or a description), its
    ``sha256``, the ``document`` itself and the parts scoring uses."""

    source: str
    sha256: str | None
    document: dict
    snapshot_date: pd.Timestamp
    spend: str
    thresholds: dict[str, list[float | None]]
    segment_map: SegmentMap
    rfm: FrozenClusters
    spend_clusters: FrozenClusters
    purchases: PurchaseModel | None
    spend_model: SpendModel | None
    horizon_days: int
    clv_days: int
    drift: dict[str, dict[str, list[float]]]

    @property
    def folder(self) -> Path | None:
        """The run folder the model was read from (None for a model made in memory)."""
        path = Path(self.source)
        return path.parent if path.is_file() else None


def read_model(path: str | Path) -> SavedModel:
    """Read and check ``model.json``.

    Raises
    ------
    InvoiceDataError
        One line naming the file and what is wrong: no such file, not JSON (damaged), not a
        segmentation model, another schema or rules version, a key missing or malformed.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvoiceDataError(f"{path}: no such model file; give the model.json of a fitted run "
                               "(python -m segmentation FILE writes one).") from None
    except IsADirectoryError:
        raise InvoiceDataError(f"{path}: is a folder; give the model.json inside it.") from None
    except OSError as error:
        raise InvoiceDataError(f"{path}: the model cannot be read ({error.strerror}).") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvoiceDataError(f"{path}: the model file is damaged (not JSON: {error}); "
                               "write it again with a fitted run.") from None
    return model_from_document(document, source=str(path), sha256=hashlib.sha256(data).hexdigest())


def model_from_document(document: object, *, source: str, sha256: str | None = None) -> SavedModel:
    """The :class:`SavedModel` of a parsed ``model.json`` document, checked as :func:`read_model` says."""
    if not isinstance(document, dict) or document.get("kind") != MODEL_KIND:
        raise InvoiceDataError(f"{source}: not a segmentation model (no \"kind\": \"{MODEL_KIND}\"); give the "
                               "model.json a fitted run wrote.")
    for key, expected in (("schema_version", config.MODEL_SCHEMA_VERSION), ("rules_version", config.RULES_VERSION)):
        if document.get(key) != expected:
            raise InvoiceDataError(
                f"{source}: the model has {key} {document.get(key)!r}, and this version of the package reads "
                f"{expected} only; refit the segmentation on the data (python -m segmentation FILE)."
            )
    try:
        return _parsed(document, source, sha256)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise InvoiceDataError(f"{source}: the model file is damaged ({type(error).__name__}: {error}); "
                               "write it again with a fitted run.") from None


def _parsed(document: dict, source: str, sha256: str | None) -> SavedModel:
    fitted = document["forecast"] or {}
    purchases = spend = None
    if "purchases" in fitted:
        bought, spent = dict(fitted["purchases"]), dict(fitted["spend"])
        bought["at_bound"], spent["at_bound"] = tuple(bought["at_bound"]), tuple(spent["at_bound"])
        spent.pop("model")
        purchases, spend = PurchaseModel(**bought), SpendModel(**spent)
    thresholds = {feature: [None if cut is None else float(cut) for cut in document["rfm_thresholds"][feature]]
                  for feature in (c.RECENCY_DAYS, c.FREQUENCY, c.TOTAL_BILL_SIZE)}
    if any(len(cuts) != 4 for cuts in thresholds.values()):
        raise ValueError("rfm_thresholds holds four cut points per feature")
    drift = {feature: {"edges": _floats(document["drift"][feature]["edges"]),
                       "shares": _floats(document["drift"][feature]["shares"])} for feature in c.DRIFT_FEATURES}
    return SavedModel(
        source=source,
        sha256=sha256,
        document=document,
        snapshot_date=pd.Timestamp(document["data"]["snapshot_date"]),
        spend=document["options"]["spend"],
        thresholds=thresholds,
        segment_map=segment_map_from_document(document["segment_map"], f"{source}: segment_map"),
        rfm=_frozen_clusters(document["kmeans_rfm"]),
        spend_clusters=_frozen_clusters(document["spend_clusters"]),
        purchases=purchases,
        spend_model=spend,
        horizon_days=int(fitted.get("horizon_days", config.HORIZON_DAYS)),
        clv_days=int(fitted.get("clv_days", config.CLV_DAYS)),
        drift=drift,
    )


def _frozen_clusters(document: dict) -> FrozenClusters:
    clusters = sorted(document["clusters"], key=lambda cluster: int(cluster["cluster"]))
    if [int(cluster["cluster"]) for cluster in clusters] != list(range(len(clusters))) or not clusters:
        raise ValueError("clusters are not numbered 0 to k-1")
    features = tuple(str(name) for name in document["features"])
    centroids = np.array([_floats(cluster["centroid"]) for cluster in clusters], dtype="float64")
    mean, scale = np.array(_floats(document["scaler_mean"])), np.array(_floats(document["scaler_scale"]))
    if centroids.shape[1] != len(features) or mean.shape != (len(features),) or scale.shape != mean.shape:
        raise ValueError("centroids and scaler do not have one value per feature")
    return FrozenClusters(features=features, log=bool(document["log1p"]), mean=mean, scale=scale,
                          centroids=centroids, names=tuple(str(cluster["segment"]) for cluster in clusters))


def freeze(run: FittedRun, *, input_name: str = "the data") -> SavedModel:
    """The :class:`SavedModel` of a fitted run, through its ``model.json`` text (as if written and read back)."""
    return model_from_document(json.loads(model_text(fitted_model(run, input_name=input_name))),
                               source=f"the model of {input_name}")


# --- scoring ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoredCustomers:
    """A customer table placed in a saved model's segments (:func:`score_customers_with`); the
    attributes ``pipeline.customer_segments_table`` reads of a ``CustomerSegments``.

    ``scores`` (frozen thresholds), ``rule`` (the saved map), ``rfm`` and ``spend`` (nearest saved
    centroid), ``segment_map``; ``forecast`` with the saved parameters (None when the model holds
    none or it is not finite: ``no_forecast`` says why).
    """

    scores: pd.DataFrame
    rule: pd.Series
    rfm: FrozenAssignment
    spend: FrozenAssignment
    segment_map: SegmentMap
    forecast: Forecast | None = None
    no_forecast: str | None = None


def score_customers_with(model: SavedModel, customers: pd.DataFrame, *, source: str = "the data"
                         ) -> ScoredCustomers:
    """Place ``customers`` (a feature table, one row per customer) in ``model``'s segments, refitting nothing."""
    scores = score_with_thresholds(customers, model.thresholds)
    predicted, no_forecast = None, MODEL_HAS_NO_FORECAST
    if model.purchases is not None:
        try:
            predicted = forecast.forecast_with(customers, model.purchases, model.spend_model,
                                               horizon_days=model.horizon_days, clv_days=model.clv_days,
                                               source=source)
            no_forecast = None
        except forecast.ForecastUnavailable as unavailable:
            no_forecast = str(unavailable)
    return ScoredCustomers(
        scores=scores,
        rule=segment_customers(scores, model.segment_map),
        rfm=model.rfm.assign(customers),
        spend=model.spend_clusters.assign(customers),
        segment_map=model.segment_map,
        forecast=predicted,
        no_forecast=no_forecast,
    )


# --- drift -------------------------------------------------------------------------------------

def drift_values(customers: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each drift feature (``columns.DRIFT_FEATURES``) of the customers with a purchase occasion and a recency."""
    bought = customers[(customers[c.FREQUENCY] >= 1) & customers[c.RECENCY_DAYS].notna()]
    values = {name: bought[name].to_numpy(dtype="float64") for name in c.DRIFT_FEATURES[:3]}
    values[c.SPEND_PER_OCCASION] = values[c.TOTAL_BILL_SIZE] / values[c.FREQUENCY]
    return values


def _shares(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Share of ``values`` in each bin: at or below the first edge, then each (edge, next edge], then above."""
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="left"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def drift_bins(customers: pd.DataFrame) -> dict[str, dict[str, list[float]]]:
    """Per drift feature: the fitted data's decile edges (``config.PSI_BINS`` bins, equal edges merged)
    and the share of its customers in each bin, what :func:`population_stability` compares a new file with."""
    bins = {}
    for name, values in drift_values(customers).items():
        edges = _floats(np.unique(np.quantile(values, np.arange(1, config.PSI_BINS) / config.PSI_BINS))
                        if len(values) else [])
        bins[name] = {"edges": edges, "shares": _floats(_shares(values, edges))}
    return bins


def psi(old: np.ndarray, new: np.ndarray) -> float:
    """Population stability index of two bin shares: Σ (new − old) × ln(new / old), empty bins at
    ``config.PSI_EPSILON``. 0 for the same shares; above ``config.PSI_DRIFT`` a major shift."""
    old, new = (np.maximum(np.asarray(shares, dtype="float64"), config.PSI_EPSILON) for shares in (old, new))
    return float(((new - old) * np.log(new / old)).sum())


def population_stability(model: SavedModel, customers: pd.DataFrame) -> pd.DataFrame:
    """One row per drift feature (index feature): ``psi`` of ``customers`` against the fitted data's bins,
    and ``drifted`` (above ``config.PSI_DRIFT``)."""
    values = drift_values(customers)
    rows = {name: psi(np.array(model.drift[name]["shares"]), _shares(values[name], model.drift[name]["edges"]))
            for name in c.DRIFT_FEATURES}
    table = pd.DataFrame({c.PSI: pd.Series(rows, dtype="float64")}).rename_axis("feature")
    return table.assign(**{c.DRIFTED: table[c.PSI] > config.PSI_DRIFT})


def describe_drift(drift: pd.DataFrame) -> str | None:
    """One line naming the drifted features and their PSI, advising a refit; None when nothing drifted."""
    drifted = drift[drift[c.DRIFTED]]
    if drifted.empty:
        return None
    listed = ", ".join(f"{name} {row[c.PSI]:.2f}" for name, row in drifted.iterrows())
    return (f"drift: the new file differs from the fitted data in {listed} (population stability index above "
            f"{config.PSI_DRIFT}); the segments still apply the frozen rules, but refitting is advised")


# --- who moved ---------------------------------------------------------------------------------

def read_customer_segments(path: str | Path) -> pd.DataFrame:
    """A run's ``customer_segments.csv``: index CustomerID, RFM_Segment (text, <NA> where none) and
    Total_Bill_Size."""
    table = pd.read_csv(path, usecols=[c.CUSTOMER_ID, c.RFM_SEGMENT, c.TOTAL_BILL_SIZE],
                        dtype={c.CUSTOMER_ID: "Int64", c.RFM_SEGMENT: "string", c.TOTAL_BILL_SIZE: "float64"})
    return table.set_index(c.CUSTOMER_ID)


def _segments_of(table: pd.DataFrame) -> pd.Series:
    segments = table[c.RFM_SEGMENT].astype("object").where(table[c.RFM_SEGMENT].notna(), NO_SEGMENT)
    return pd.Series(segments.to_numpy(), index=table.index.astype("Int64"))


def migration_table(before: pd.DataFrame, after: pd.DataFrame, *, names: tuple[str, ...] = ()) -> pd.DataFrame:
    """``migration.csv``: customers by their RFM_Segment in ``before`` (rows) and in ``after`` (columns).

    ``before`` and ``after`` are ``customer_segments.csv`` tables (index CustomerID). Rows: the
    segments ``names`` (the map's order) and any others found, "no segment", and "new in this file"
    for customers only in ``after``; columns the same, with "not seen now" for customers only in
    ``before``. Every customer of either table is counted once, so the counts add up to their union.
    """
    old, new = _segments_of(before), _segments_of(after)
    customers = old.index.union(new.index)
    rows = old.reindex(customers).fillna(NEW_CUSTOMERS)
    columns = new.reindex(customers).fillna(NOT_SEEN)
    counts = pd.crosstab(pd.Series(rows.to_numpy(), name=c.SEGMENT_BEFORE),
                         pd.Series(columns.to_numpy(), name=c.SEGMENT_NOW))
    found = [name for name in names] + sorted((set(old) | set(new)) - set(names) - {NO_SEGMENT})
    found += [NO_SEGMENT] if NO_SEGMENT in set(old) | set(new) else []
    return counts.reindex(index=[*found, NEW_CUSTOMERS], columns=[*found, NOT_SEEN], fill_value=0).astype("int64")


def migration_summary(migration: pd.DataFrame) -> pd.DataFrame:
    """One row per kind of customer of a :func:`migration_table`: in both runs; of them, kept their
    segment, changed segment (the customers of :func:`movers_table`) and had a segment in neither run;
    new in this file; not seen now. Column Customers."""
    both = migration.drop(index=NEW_CUSTOMERS, columns=NOT_SEEN)
    in_both = int(both.to_numpy().sum())
    neither = int(both.loc[NO_SEGMENT, NO_SEGMENT]) if NO_SEGMENT in both.index and NO_SEGMENT in both.columns else 0
    kept = int(sum(both.loc[name, name] for name in both.index if name in both.columns)) - neither
    rows = {IN_BOTH: in_both, KEPT: kept, CHANGED: in_both - kept - neither, NO_SEGMENT_IN_BOTH: neither,
            NEW_CUSTOMERS: int(migration.loc[NEW_CUSTOMERS].sum()), NOT_SEEN: int(migration[NOT_SEEN].sum())}
    return pd.DataFrame({c.CUSTOMERS: pd.Series(rows)}).rename_axis("customers of the two runs")


def movers_table(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """``movers.csv``: every customer in both tables whose RFM_Segment changed, with the old and the new
    segment and net spend then and now; highest past spend first (ties by CustomerID)."""
    old, new = _segments_of(before), _segments_of(after)
    both = old.index.intersection(new.index)
    moved = both[(old[both] != new[both]).to_numpy()]
    table = pd.DataFrame({
        c.SEGMENT_BEFORE: old[moved],
        c.SEGMENT_NOW: new[moved],
        c.SPEND_BEFORE: before[c.TOTAL_BILL_SIZE].set_axis(old.index)[moved],
        c.SPEND_NOW: after[c.TOTAL_BILL_SIZE].set_axis(new.index)[moved],
    }, index=moved).rename_axis(c.CUSTOMER_ID)
    return table.sort_values([c.SPEND_BEFORE, c.CUSTOMER_ID], ascending=[False, True], kind="stable")
