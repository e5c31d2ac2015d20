"""Result tables as people read them, and the one way each kind of number is written.

Every table the notebook and its report show goes through :func:`for_people`,
and every sentence of :mod:`segmentation.presentation.findings` writes its numbers with the
formatters here, so a number in a sentence is spelled exactly as in the table
above it. The kind of a column is read from its name, by one rule:

- money (£, whole pounds with thousands separators, pence below £10): the customer money features,
  the ledger's ``amount`` and any statistic of them (``median_Total_Bill_Size``);
- shares (``share_…``) and probabilities (``P_Alive``, ``P_Purchase``): a percentage with one decimal;
- days and purchases (``Recency_Days``, ``Purchase_Interval_Days``,
  ``Frequency`` and their statistics): at most one decimal;
- whole numbers (integer columns, counts): thousands separators;
- inertia (a sum of squares): one decimal, thousands separators;
- other decimals (silhouette, Jaccard, ARI): three decimals;
- dates: ``YYYY-MM-DD``; yes/no for flags; text as it is.
"""

from __future__ import annotations

import math

import pandas as pd

from segmentation import columns as c

#: Columns that hold pounds, and the suffix that marks a statistic of one.
MONEY_COLUMNS: tuple[str, ...] = (*c.MONEY_FEATURES, c.LEDGER_AMOUNT, c.EXPECTED_SPEND, c.CLV)
#: Columns of probabilities, written as shares.
PROBABILITY_COLUMNS: tuple[str, ...] = (c.P_ALIVE, c.P_PURCHASE)
#: Columns of days or of purchases: whole numbers whose medians may end in .5.
DAY_COLUMNS: tuple[str, ...] = (c.RECENCY_DAYS, c.PURCHASE_INTERVAL_DAYS, c.FREQUENCY)
SHARE_PREFIX = "share_"
#: Amounts below this many pounds are written with pence.
PENCE_BELOW = 10


def money(value: float) -> str:
    """``£1,234`` (whole pounds, halves rounded away from zero) from £10 up; ``£0.73`` below; ``−£12`` when negative.

    Pence are kept under ``PENCE_BELOW`` pounds, so a customer who spent 73p is
    not shown as having spent £1; exactly zero is ``£0``.
    """
    amount = abs(float(value))
    sign = "−" if value < 0 else ""
    if amount == 0:
        return "£0"
    if amount < PENCE_BELOW:
        pence = math.floor(amount * 100 + 0.5)
        return f"{sign}£{pence // 100}.{pence % 100:02d}" if pence else "£0"
    return f"{sign}£{math.floor(amount + 0.5):,}"


def share(value: float) -> str:
    """``12.3%`` from 0.123."""
    return f"{float(value):.1%}"


def count(value: float) -> str:
    """``4,261``."""
    return f"{int(value):,}"


def days(value: float) -> str:
    """``12`` or ``214.5`` days (at most one decimal, none when whole)."""
    value = round(float(value), 1)
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def decimal(value: float) -> str:
    """``0.421`` (three decimals)."""
    return f"{float(value):.3f}"


def date(value: pd.Timestamp) -> str:
    """``2010-12-09``."""
    return f"{pd.Timestamp(value):%Y-%m-%d}"


def kind_of(name: object) -> str:
    """The kind of number a column named ``name`` holds: money, share, days, or '' (by dtype)."""
    text = str(name)
    if text.startswith(SHARE_PREFIX) or text in PROBABILITY_COLUMNS:
        return "share"
    if any(text == column or text.endswith("_" + column) for column in MONEY_COLUMNS):
        return "money"
    if any(text == column or text.endswith("_" + column) for column in DAY_COLUMNS):
        return "days"
    if text == c.INERTIA:
        return "inertia"
    return ""


def format_value(value: object, kind: str) -> str:
    """``value`` written for a person: by ``kind`` (see :func:`kind_of`), else by its type."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        return date(value)
    if isinstance(value, str):
        return value
    if kind == "money":
        return money(value)
    if kind == "share":
        return share(value)
    if kind == "days":
        return days(value)
    if kind == "inertia":
        return f"{float(value):,.1f}"
    if isinstance(value, int):
        return count(value)
    return decimal(value)


def for_people(table: pd.DataFrame, *, columns: list[str] | None = None) -> pd.DataFrame:
    """A copy of ``table`` (or of its ``columns``) with every cell as text and readable headers.

    Values follow the rule of this module's docstring; headers and index names
    have underscores turned into spaces. The index is kept (formatted the same
    way); nothing else changes, so rows and their order are those of ``table``.
    """
    shown = table[columns] if columns is not None else table
    body = pd.DataFrame(
        {name: [format_value(_python(value), kind_of(_last(name))) for value in shown[name]]
         for name in shown.columns},
        index=_format_index(shown.index),
    )
    if isinstance(shown.columns, pd.MultiIndex):
        body.columns = pd.MultiIndex.from_tuples([tuple(map(_header, name)) for name in shown.columns],
                                                 names=shown.columns.names)
        return body
    return body.rename(columns=_header)


def transpose_for_people(table: pd.DataFrame) -> pd.DataFrame:
    """``for_people`` of a wide table turned on its side: one row per column, one column per row.

    For a preview of a few customers with many features, which would
    otherwise overflow a page.
    """
    formatted = for_people(table)
    formatted.columns = [_header(name) for name in table.columns]
    return formatted.T.rename_axis(_header(table.index.name) if table.index.name else None, axis=1)


#: The statistics :func:`describe_features` shows, by column header.
STATISTICS: dict[str, str] = {"mean": "mean", "25%": "25th percentile", "50%": "median",
                              "75%": "75th percentile", "max": "largest"}


def describe_features(customers: pd.DataFrame, features: tuple[str, ...]) -> pd.DataFrame:
    """One row per feature: customers, mean, quartiles and largest value, each in the feature's own unit.

    Values are numbers (format with :func:`for_people_by_row`); columns are the
    keys of ``STATISTICS``' values.
    """
    numbers = customers[list(features)].astype("float64")
    table = numbers.describe().T
    table = table[["count", *STATISTICS]].rename(columns={"count": c.CUSTOMERS, **STATISTICS})
    return table.astype({c.CUSTOMERS: "int64"}).rename_axis("feature")


def for_people_by_row(table: pd.DataFrame) -> pd.DataFrame:
    """Like :func:`for_people`, but each row's kind comes from its index label (a feature name).

    For tables such as :func:`describe_features`, where a row is one feature
    and the columns are statistics of it; whole-number columns stay counts.
    """
    rows = {}
    for name, row in table.iterrows():
        rows[name] = [count(value) if column == c.CUSTOMERS else format_value(_python(value), kind_of(name))
                      for column, value in row.items()]
    body = pd.DataFrame.from_dict(rows, orient="index", columns=[_header(n) for n in table.columns])
    return body.rename_axis(_header(table.index.name) if table.index.name else None)


def _format_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        levels = [[format_value(_python(v), kind_of(name)) for v in index.get_level_values(i)]
                  for i, name in enumerate(index.names)]
        return pd.MultiIndex.from_arrays(levels, names=[_header(name) for name in index.names])
    values = [str(v) if isinstance(v, int) else format_value(v, kind_of(index.name))
              for v in map(_python, index)]  # whole-number labels (IDs, cluster numbers) as they are
    return pd.Index(values, name=_header(index.name) if index.name is not None else None)


def _last(name: object) -> object:
    """The last level of a column name (the measure, in a table of several feature sets)."""
    return name[-1] if isinstance(name, tuple) else name


def _python(value: object) -> object:
    """numpy scalars as plain Python values (bool, int, float), so one rule formats both."""
    if hasattr(value, "item") and not isinstance(value, (pd.Timestamp, str)):
        return value.item()
    return value


def _header(name: object) -> str:
    return str(name).replace("_", " ")
