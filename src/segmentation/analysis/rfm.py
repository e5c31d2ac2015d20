"""Rule-based RFM: quintile scores of recency, frequency and spend, and a map of named segments.

One row is one customer throughout. :func:`score_customers` turns the customer
feature table into scores 1-5; :func:`load_segment_map` reads which named
segment each cell (R score, FM score) belongs to; :func:`segment_customers`
names each customer's segment; :func:`describe_segment_map` shows a map as the
5 x 5 grid a marketer reads. Unlike the KMeans segments, these need no model:
the same customer table always gives the same scores.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation.errors import InvoiceDataError

#: The scores 1 (worst fifth of customers) to 5 (best fifth).
SCORES: tuple[int, ...] = (1, 2, 3, 4, 5)
#: The packaged default segment map (10 segments, most likely to buy again first); its comments describe the format.
DEFAULT_SEGMENT_MAP_PATH = Path(str(resources.files(__package__).joinpath("segment_map.toml")))
#: The keys of one ``[[segment]]`` entry of a segment map.
SEGMENT_KEYS: tuple[str, ...] = ("name", "r", "fm")


def score_customers(customers: pd.DataFrame) -> pd.DataFrame:
    """Quintile scores 1-5 of recency, frequency and spend: one row per customer.

    Parameters
    ----------
    customers
        One row per customer, index CustomerID, with at least the columns
        Recency_Days (days from the last purchase to the snapshot; missing for a
        customer with no purchase occasion), Frequency (purchase occasions, 0 for
        none) and Total_Bill_Size (net spend in pounds). Not modified.

    Returns
    -------
    pandas.DataFrame
        The same index, columns ``columns.RFM_SCORE_COLUMNS``, dtype Int64.
        Scored customers are those with Frequency >= 1 and a Recency_Days; the
        others get <NA> in every column. Among the n scored customers, each of
        R_Score (from Recency_Days, smaller is better), F_Score (Frequency,
        larger is better) and M_Score (Total_Bill_Size, larger is better) is
        ``1 + (5 * w) // n``, where w counts the scored customers with a strictly
        worse value: so 1 is the worst fifth and 5 the best fifth. Equal values
        get equal scores, and ties at a boundary go down: a group of equal values
        that straddles a quintile boundary gets the lower score (a lone customer,
        or customers who are all equal, score 1). FM_Score is the mean of F and M
        with halves rounded up, ``(F + M + 1) // 2``; RFM_Score is R + F + M.

    Raises
    ------
    InvoiceDataError
        If a column is missing, or a scored customer has no Total_Bill_Size.
    """
    _check_customers(customers)
    scored = _scored(customers)
    return _score_table(customers, scored, *(_quintile_scores(values) for values in _goodness(customers, scored)))


#: Score thresholds, per feature: for each score 2 to 5, the value a customer must reach to get it.
SCORE_FEATURES: dict[str, str] = {c.R_SCORE: c.RECENCY_DAYS, c.F_SCORE: c.FREQUENCY, c.M_SCORE: c.TOTAL_BILL_SIZE}
#: The features where a smaller value is better (reaching a threshold: at or below it).
SMALLER_IS_BETTER: frozenset[str] = frozenset({c.RECENCY_DAYS})


def _goodness(customers: pd.DataFrame, scored: np.ndarray) -> list[np.ndarray]:
    """Recency (negated: larger is better), Frequency and Total_Bill_Size of the scored customers."""
    chosen = customers.loc[scored]
    return [(-1.0 if feature in SMALLER_IS_BETTER else 1.0) * chosen[feature].to_numpy(dtype="float64")
            for feature in SCORE_FEATURES.values()]


def _score_table(customers: pd.DataFrame, scored: np.ndarray, r: np.ndarray, f: np.ndarray,
                 m: np.ndarray) -> pd.DataFrame:
    """R, F and M scores of the scored customers, with FM_Score and RFM_Score, <NA> for the others."""
    values = {c.R_SCORE: r, c.F_SCORE: f, c.M_SCORE: m, c.FM_SCORE: (f + m + 1) // 2, c.RFM_SCORE: r + f + m}
    return pd.DataFrame(
        {name: _spread(values[name], scored) for name in c.RFM_SCORE_COLUMNS}, index=customers.index.copy()
    )


def score_thresholds(customers: pd.DataFrame) -> dict[str, list[float | None]]:
    """The cut points of :func:`score_customers` on ``customers``, to score other customers the same way.

    Per feature (Recency_Days, Frequency, Total_Bill_Size), four values: for each score s of 2 to 5,
    the least Frequency or Total_Bill_Size, or the greatest Recency_Days, that got a score of s or
    more; None where no customer did (all equal, or too few). :func:`score_with_thresholds` gives a
    customer 1 + the number of thresholds their value reaches, which on ``customers`` is exactly
    their :func:`score_customers` score (scores rise with the value, so a value reaches the
    threshold of every score up to its own and of none above).
    """
    _check_customers(customers)
    scored = _scored(customers)
    thresholds = {}
    for (_, feature), values in zip(SCORE_FEATURES.items(), _goodness(customers, scored), strict=True):
        scores = _quintile_scores(values)
        sign = -1.0 if feature in SMALLER_IS_BETTER else 1.0
        thresholds[feature] = [float(sign * values[scores >= score].min()) if (scores >= score).any() else None
                               for score in SCORES[1:]]
    return thresholds


def score_with_thresholds(customers: pd.DataFrame, thresholds: dict[str, list[float | None]]) -> pd.DataFrame:
    """:func:`score_customers`' table with the cut points ``thresholds`` (:func:`score_thresholds` of other
    customers) instead of this table's own quintiles: a customer's score is 1 + the thresholds reached."""
    _check_customers(customers)
    scored = _scored(customers)
    scores = []
    for feature, values in zip(SCORE_FEATURES.values(), _goodness(customers, scored), strict=True):
        sign = -1.0 if feature in SMALLER_IS_BETTER else 1.0
        cuts = [sign * cut for cut in thresholds[feature] if cut is not None]
        scores.append(1 + sum((values >= cut).astype("int64") for cut in cuts) if cuts
                      else np.ones(len(values), dtype="int64"))
    return _score_table(customers, scored, *scores)


def _check_customers(customers: pd.DataFrame) -> None:
    missing = [name for name in c.RFM_FEATURES if name not in customers.columns]
    if missing:
        raise InvoiceDataError(
            f"the customer table has no {', '.join(missing)} column; RFM scores need "
            f"{', '.join(c.RFM_FEATURES)} (build the table with build_customer_features)."
        )
    no_spend = customers.index[_scored(customers) & customers[c.TOTAL_BILL_SIZE].isna().to_numpy()]
    if len(no_spend):
        shown = ", ".join(str(customer) for customer in no_spend[:5])
        raise InvoiceDataError(
            f"{len(no_spend)} customer(s) with a purchase have no {c.TOTAL_BILL_SIZE} (CustomerID {shown}); "
            "give every customer with a purchase a spend (0 for none)."
        )


def _scored(customers: pd.DataFrame) -> np.ndarray:
    """True for each customer with a purchase occasion and a Recency_Days."""
    bought = customers[c.FREQUENCY].fillna(0) >= 1
    return (bought & customers[c.RECENCY_DAYS].notna()).to_numpy(dtype=bool)


def _quintile_scores(values: np.ndarray) -> np.ndarray:
    """``1 + (5 * w) // n`` for each value, w = how many values are strictly smaller, n = how many values."""
    worse = np.searchsorted(np.sort(values), values, side="left").astype("int64")
    return 1 + (5 * worse) // max(len(values), 1)


def _spread(values: np.ndarray, scored: np.ndarray) -> pd.arrays.IntegerArray:
    """``values`` at the scored positions, <NA> elsewhere."""
    full = np.zeros(len(scored), dtype="int64")
    full[scored] = values
    return pd.arrays.IntegerArray(full, ~scored)


@dataclass(frozen=True)
class SegmentMap:
    """Which named segment each cell (R score, FM score) belongs to.

    Attributes
    ----------
    names
        The segment names, most likely to buy again first, each once: the order of tables and figures.
    cells
        (R score, FM score) -> segment name, for all 25 cells of scores 1-5.

    Build one with :func:`load_segment_map`, which checks that every cell is in
    exactly one segment.
    """

    names: tuple[str, ...]
    cells: dict[tuple[int, int], str]


def load_segment_map(path: str | Path | None = None) -> SegmentMap:
    """Read a segment map from a TOML file; None reads the packaged default.

    The file holds ``[[segment]]`` entries, most likely to buy again first, each with ``name``, ``r``
    and ``fm`` (lists of scores 1-5): the segment holds every R in ``r`` with
    every FM in ``fm``. A name may appear in several entries; its cells are their
    union. The default map, ``DEFAULT_SEGMENT_MAP_PATH``, documents the format in
    its comments.

    Raises
    ------
    InvoiceDataError
        One line naming the file, what is wrong and what to do: a file that
        cannot be read or is not TOML, a missing, unknown or malformed key, a
        score that is not a whole number 1-5, a cell in two segments or in none.
    """
    source: Traversable = resources.files(__package__).joinpath("segment_map.toml") if path is None else Path(path)
    return segment_map_from_document(_parse_toml(_read_text(source), source), source)


def segment_map_from_document(document: dict, source: str | Traversable) -> SegmentMap:
    """The segment map of a parsed document (``{"segment": [{"name", "r", "fm"}, ...]}``, as a TOML map
    file or ``model.json`` holds it), checked as :func:`load_segment_map` checks a file; errors name ``source``."""
    entries = _segment_entries(document, source)
    cells = _cells_of(entries, source)
    _check_no_gap(cells, source)
    names = tuple(dict.fromkeys(entry["name"] for entry in entries))
    return SegmentMap(names=names, cells={cell: cells[cell] for cell in sorted(cells)})


def _cells_of(entries: list[dict], source: Traversable) -> dict[tuple[int, int], str]:
    """(R, FM) -> name of each checked entry's cells, refusing a cell claimed by two names."""
    cells: dict[tuple[int, int], str] = {}
    for number, entry in enumerate(entries, start=1):
        name = _check_entry(entry, number, source)
        for cell in ((r, fm) for r in entry["r"] for fm in entry["fm"]):
            if cells.get(cell, name) != name:
                _fail(source, f"cell R={cell[0]}, FM={cell[1]} is in both {cells[cell]!r} and {name!r}; "
                              "each (R, FM) cell must be in exactly one segment.")
            cells[cell] = name
    return cells


def _fail(source: Traversable, problem: str) -> NoReturn:
    raise InvoiceDataError(" ".join(f"{source}: segment map: {problem}".splitlines()))


def _read_text(source: Traversable) -> str:
    if source.is_dir():
        _fail(source, "is a folder, not a file; give the path of a segment map .toml file.")
    try:
        return source.read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(source, "no such file; check the path, or leave it out for the default map.")
    except UnicodeDecodeError as error:
        _fail(source, f"is not UTF-8 text (byte {error.start}); save the file as UTF-8.")
    except OSError as error:
        _fail(source, f"cannot be read ({error.strerror}); check the file's permissions.")


def _parse_toml(text: str, source: Traversable) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        _fail(source, f"is not valid TOML: {error}; fix the syntax (the default map shows the format).")


def _segment_entries(document: dict, source: Traversable) -> list[dict]:
    unknown = sorted(set(document) - {"segment"})
    if unknown:
        _fail(source, f"unknown top-level key {unknown[0]!r}; the file holds only [[segment]] entries.")
    entries = document.get("segment", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        _fail(source, "`segment` is not a list of tables; write each segment as a [[segment]] entry.")
    if not entries:
        _fail(source, "has no [[segment]] entries; add one per segment, each with name, r and fm.")
    return entries


def _check_entry(entry: dict, number: int, source: Traversable) -> str:
    """The entry's name, once its keys, name and scores are checked."""
    label = f"[[segment]] entry {number}" + (f" ({entry['name']!r})" if isinstance(entry.get("name"), str) else "")
    unknown = [key for key in entry if key not in SEGMENT_KEYS]
    if unknown:
        _fail(source, f"{label} has the unknown key {unknown[0]!r}; an entry has only name, r and fm.")
    missing = [key for key in SEGMENT_KEYS if key not in entry]
    if missing:
        _fail(source, f"{label} has no {missing[0]}; each [[segment]] needs name, r and fm.")
    if not isinstance(entry["name"], str):
        _fail(source, f"{label} has the name {entry['name']!r}, not text; quote it, e.g. name = \"Champions\".")
    if not entry["name"].strip():
        _fail(source, f"{label} has an empty name; give each segment a name, e.g. name = \"Champions\".")
    if not entry["name"].isprintable():
        _fail(source, f"{label} has a name with a line break or control character; give one line of text.")
    for key in ("r", "fm"):
        _check_scores(entry[key], f"{label}: {key}", source)
    return entry["name"]


def _check_scores(scores: object, label: str, source: Traversable) -> None:
    example = "e.g. r = [4, 5]"
    if not isinstance(scores, list):
        _fail(source, f"{label} is {scores!r}, not a list of scores; write a list, {example}.")
    if not scores:
        _fail(source, f"{label} is an empty list; list at least one score from 1 to 5, {example}.")
    for score in scores:
        if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
            _fail(source, f"{label} holds {score!r}, not a whole number from 1 to 5; write scores 1-5, {example}.")


def _check_no_gap(cells: dict[tuple[int, int], str], source: Traversable) -> None:
    gap = [(r, fm) for r in SCORES for fm in SCORES if (r, fm) not in cells]
    if gap:
        listed = ", ".join(f"R={r} FM={fm}" for r, fm in gap)
        which = "cell" if len(gap) == 1 else "cells"
        _fail(source, f"{which} {listed} belong{'s' if len(gap) == 1 else ''} to no segment; "
                      "each (R, FM) cell must be in exactly one segment.")


def segment_customers(scores: pd.DataFrame, segment_map: SegmentMap) -> pd.Series:
    """The named segment of each scored customer, from its (R_Score, FM_Score) cell.

    Parameters
    ----------
    scores
        One row per customer, as :func:`score_customers` returns: at least the
        columns R_Score and FM_Score (Int64, 1-5, <NA> where not scored).
    segment_map
        From :func:`load_segment_map`.

    Returns
    -------
    pandas.Series
        Named ``columns.RFM_SEGMENT``, the same index, an ordered categorical
        whose categories are ``segment_map.names`` (most likely to buy again first), so sorting
        follows the map; <NA> where either score is missing.
    """
    r, fm = (_score_codes(scores, name) for name in (c.R_SCORE, c.FM_SCORE))
    scored = (r >= 0) & (fm >= 0)
    grid = np.array([[segment_map.names.index(segment_map.cells[(row, column)]) for column in SCORES]
                     for row in SCORES])
    codes = np.where(scored, grid[r.clip(0), fm.clip(0)], -1)
    dtype = pd.CategoricalDtype(list(segment_map.names), ordered=True)
    segments = pd.Categorical.from_codes(codes, dtype=dtype)
    return pd.Series(segments, index=scores.index.copy(), name=c.RFM_SEGMENT)


def _score_codes(scores: pd.DataFrame, name: str) -> np.ndarray:
    """Each score minus one (0-4), -1 where missing."""
    if name not in scores.columns:
        raise InvoiceDataError(f"the score table has no {name} column; make it with score_customers.")
    values = scores[name].astype("Int64")
    if not values.dropna().isin(SCORES).all():
        raise InvoiceDataError(f"{name} holds values outside 1-5; make the scores with score_customers.")
    return values.fillna(0).to_numpy(dtype="int64") - 1


def segment_map_document(segment_map: SegmentMap) -> dict:
    """``segment_map`` as the document :func:`segment_map_from_document` reads: one entry per name and
    set of FM scores, most likely to buy again first, with the R scores that have that set."""
    entries = []
    for name in segment_map.names:
        by_r = {r: [fm for fm in SCORES if segment_map.cells[(r, fm)] == name] for r in SCORES}
        for fms in dict.fromkeys(tuple(fms) for fms in by_r.values() if fms):
            entries.append({"name": name, "r": [r for r in SCORES if tuple(by_r[r]) == fms], "fm": list(fms)})
    return {"segment": entries}


def describe_segment_map(segment_map: SegmentMap) -> pd.DataFrame:
    """The map as a 5 x 5 grid of segment names, for display.

    One row per R score, 5 (most recent) first; one column per FM score, 1 to 5;
    index named R_Score, columns named FM_Score.
    """
    rows = pd.Index(SCORES[::-1], name=c.R_SCORE)
    columns = pd.Index(SCORES, name=c.FM_SCORE)
    grid = [[segment_map.cells[(r, fm)] for fm in columns] for r in rows]
    return pd.DataFrame(grid, index=rows, columns=columns)


def name_clusters(labels: pd.Series, segments: pd.Series, segment_map: SegmentMap) -> tuple[str, ...]:
    """Names for clusters 0..k-1 from the rule segments of their customers, each name used once.

    ``labels`` are cluster numbers 0..k-1 (<NA> for customers not clustered) and
    ``segments`` the same customers' :func:`segment_customers`. Each cluster
    takes the name of a map segment by an optimal one-to-one assignment: the
    one that maximises the number of clustered customers whose cluster name is
    their own rule segment (so a cluster gets the segment most of its customers
    are in, unless a cluster with more of them needs that name). Names are
    unique, come from the map a marketer reads, and carry no numbers.

    Raises
    ------
    InvoiceDataError
        If there are more clusters than the map has segments.
    """
    from scipy.optimize import linear_sum_assignment  # scipy comes with scikit-learn

    k = int(labels.max()) + 1 if labels.notna().any() else 0
    names = segment_map.names
    if k > len(names):
        raise InvoiceDataError(
            f"{k} RFM clusters, but the segment map names only {len(names)} segments; ask for at most "
            f"{len(names)} clusters (CLI: --rfm-k, or --k with --features rfm) or give a map with more segments "
            "(--segment-map)."
        )
    both = labels.notna().to_numpy() & segments.notna().to_numpy()
    codes = pd.Categorical(segments, categories=list(names)).codes
    overlap = np.zeros((k, len(names)), dtype="int64")
    np.add.at(overlap, (labels.to_numpy(dtype="float64")[both].astype("int64"), codes[both]), 1)
    clusters, chosen = linear_sum_assignment(overlap, maximize=True)
    assigned = dict(zip(clusters.tolist(), chosen.tolist(), strict=True))
    return tuple(names[assigned[cluster]] for cluster in range(k))


def name_agreement(labels: pd.Series, cluster_names: pd.Series, segments: pd.Series) -> pd.Series:
    """Per cluster (index Cluster): the share of its customers whose rule segment is the cluster's name.

    ``cluster_names`` is each customer's cluster name (a clustering's ``segments``).
    """
    clustered = labels.notna()
    same = (cluster_names[clustered].astype("str") == segments[clustered].astype("str")).astype("float64")
    return same.groupby(labels[clustered].astype("int64")).mean().rename_axis(c.CLUSTER).rename(c.NAME_AGREEMENT)
