"""A seeded generator of synthetic invoice lines shaped like UCI "Online Retail".

One row of the generated table is one line of one invoice, in the canonical
columns :data:`segmentation.columns.INVOICE_COLUMNS`. The lines carry the mess
of the real data so that loading, cleaning and feature code meets it in tests
and in the bundled sample:

* heavy-tailed spend per customer: most customers place a few small orders, a
  handful of wholesale buyers order large quantities many times;
* mostly "United Kingdom" lines, then Germany, France, EIRE and a long tail of
  other countries; a few customers order from two countries;
* about a fifth of the lines have no CustomerID (guest orders, on their own
  invoices);
* about 2% cancellation lines on "C" invoices with negative quantities: most
  return an item the same customer bought earlier in the window, some return
  an item bought before the window starts, a few are discounts ("D"), manual
  corrections ("M") or bank charges;
* about 1% exact duplicate lines, a few zero prices, the non-product codes
  POST, DOT, M, C2 and BANK CHARGES, and some product codes sold under two
  spellings of their description.

Every draw comes from one ``numpy.random.default_rng(seed)``: the same seed
gives the same table, and :func:`write_sample` the same bytes.

Run ``python -m segmentation.reading.synthetic`` to regenerate the bundled sample.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segmentation import columns, config
from segmentation.errors import InvoiceDataError

# --- names of the statistics returned by describe_shape -------------------------
NO_CUSTOMER_SHARE = "no_customer_share"
UK_SHARE = "uk_share"
CANCELLATION_SHARE = "cancellation_share"
DUPLICATE_SHARE = "duplicate_share"
LINES_PER_CUSTOMER_MEDIAN = "lines_per_customer_median"
LINES_PER_CUSTOMER_P90 = "lines_per_customer_p90"
SPEND_P25 = "spend_p25"
SPEND_P50 = "spend_p50"
SPEND_P75 = "spend_p75"
SPEND_P90 = "spend_p90"
SPEND_P99 = "spend_p99"
SPEND_P99_OVER_MEDIAN = "spend_p99_over_median"

#: Quantile of spend per customer behind each spend statistic.
SPEND_QUANTILES: dict[str, float] = {
    SPEND_P25: 0.25,
    SPEND_P50: 0.5,
    SPEND_P75: 0.75,
    SPEND_P90: 0.9,
    SPEND_P99: 0.99,
}

#: Every statistic of :func:`describe_shape`, in the order it returns them.
SHAPE_STATISTICS: tuple[str, ...] = (
    NO_CUSTOMER_SHARE,
    UK_SHARE,
    CANCELLATION_SHARE,
    DUPLICATE_SHARE,
    LINES_PER_CUSTOMER_MEDIAN,
    LINES_PER_CUSTOMER_P90,
    *SPEND_QUANTILES,
    SPEND_P99_OVER_MEDIAN,
)

UNITED_KINGDOM = "United Kingdom"
#: Invoice numbers of cancellations start with this letter.
CANCELLATION_PREFIX = "C"

#: Non-product stock codes and the descriptions the shop uses for them.
POSTAGE = ("POST", "POSTAGE")
DOTCOM_POSTAGE = ("DOT", "DOTCOM POSTAGE")
MANUAL = ("M", "Manual")
CARRIAGE = ("C2", "CARRIAGE")
BANK_CHARGES = ("BANK CHARGES", "Bank Charges")
DISCOUNT = ("D", "Discount")

#: How the CSV sample writes dates and prices.
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
PRICE_FORMAT = "%.2f"

# --- shape of the generated data -------------------------------------------------
_FIRST_INVOICE_NUMBER = 536365
_LAST_INVOICE_NUMBER = 999_999
_FIRST_CUSTOMER_ID = 12346

#: Share of all lines that come from guest (no CustomerID) invoices.
_GUEST_LINE_SHARE = 0.21
#: Share of all lines that are on cancellation invoices.
_CANCELLATION_LINE_SHARE = 0.02
#: Share of lines written twice.
_DUPLICATE_LINE_SHARE = 0.012
#: Share of product lines sold at a price of zero.
_ZERO_PRICE_SHARE = 0.003
#: Share of products listed under two spellings, and how often the second is used.
_ALTERNATE_SPELLING_SHARE = 0.10
_ALTERNATE_SPELLING_USE = 0.35

#: Country of a customer with an ID, by share of customers.
_CUSTOMER_COUNTRIES: dict[str, float] = {
    UNITED_KINGDOM: 0.920,
    "Germany": 0.022,
    "France": 0.020,
    "Spain": 0.008,
    "Netherlands": 0.005,
    "Belgium": 0.006,
    "Switzerland": 0.005,
    "Portugal": 0.005,
    "EIRE": 0.003,
    "Italy": 0.004,
    "Sweden": 0.004,
    "Australia": 0.004,
    "Norway": 0.003,
    "Channel Islands": 0.003,
    "Denmark": 0.003,
    "Finland": 0.003,
    "Austria": 0.003,
    "Cyprus": 0.002,
    "Poland": 0.002,
    "Japan": 0.002,
    "Greece": 0.002,
    "USA": 0.002,
    "Canada": 0.002,
    "Iceland": 0.001,
    "Malta": 0.001,
    "Lithuania": 0.001,
    "Singapore": 0.001,
    "Israel": 0.001,
    "Bahrain": 0.001,
}
#: Countries of the few wholesale buyers.
_WHOLESALE_COUNTRIES: dict[str, float] = {
    UNITED_KINGDOM: 0.7,
    "EIRE": 0.2,
    "Netherlands": 0.1,
}
#: Share of guest invoices from the United Kingdom; the rest come from abroad.
_GUEST_UK_SHARE = 0.985
#: Countries whose orders carry a carriage line instead of postage.
_CARRIAGE_COUNTRIES = ("EIRE", "Channel Islands")

#: Relative order volume by weekday (Monday first); nothing ships on Saturdays.
_WEEKDAY_WEIGHTS = np.array([1.0, 1.0, 0.95, 1.05, 0.75, 0.0, 0.8])
#: Relative order volume by month (January first): busy before Christmas.
_MONTH_WEIGHTS = np.array([0.72, 0.67, 0.95, 0.78, 0.81, 0.91, 0.76, 0.76, 0.96, 1.35, 1.78, 1.55])
#: Shop hours and the relative order volume in each (lines by hour of day).
_FIRST_HOUR = 7
_HOUR_WEIGHTS = np.array(
    [744, 7076, 33992, 44211, 64106, 81136, 78049, 74042, 57790, 39539, 29040, 9017, 5384, 1334],
    dtype=float,
)
_MINUTES_PER_DAY = 24 * 60
_LAST_MINUTE = (_FIRST_HOUR + len(_HOUR_WEIGHTS)) * 60 - 1

#: Pack sizes quantities are rounded to.
_PACK_SIZES = np.array(
    [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 18, 20, 24, 25, 30, 32, 36, 40, 48, 50, 60, 64, 72, 80,
     96, 100, 120, 144, 160, 192, 200, 240, 288, 300, 360, 384, 400, 432, 480, 500, 576, 600,
     640, 720, 800, 960, 1000, 1200, 1440, 1728, 2000, 2400, 2880, 3000, 3600, 4320, 4800],
    dtype=float,
)
#: Price points the shop charges.
_PRICE_POINTS = np.array(
    [0.19, 0.21, 0.29, 0.36, 0.39, 0.42, 0.55, 0.65, 0.72, 0.79, 0.85, 0.95, 1.25, 1.45, 1.65,
     1.69, 1.85, 1.95, 2.10, 2.46, 2.55, 2.95, 3.25, 3.39, 3.75, 4.25, 4.95, 5.45, 5.95, 6.75,
     7.95, 8.50, 9.95, 10.95, 12.75, 14.95, 16.95, 18.00, 24.95, 29.95, 39.95]
)

# --- the product catalogue ---------------------------------------------------------
_CATALOGUE_SIZE = 420
_MOTIFS = (
    "RED RETROSPOT", "PINK POLKADOT", "BLUE POLKADOT", "WHITE HANGING HEART",
    "VINTAGE PAISLEY", "REGENCY", "SPACEBOY", "DOLLY GIRL", "WOODLAND", "JAM MAKING",
    "PANTRY DESIGN", "SKULLS", "ENGLISH ROSE", "UNION JACK", "SWALLOWS", "BIRD ORNAMENT",
    "VINTAGE LEAF", "STRAWBERRY", "GREEN APPLES", "LOVE HEART", "SPOTTY", "BAROQUE",
    "FRENCH BLUE", "IVORY", "ANTIQUE SILVER", "GLASS STAR", "HEN HOUSE", "FAIRY CAKE",
    "PARISIENNE", "CHERRY BLOSSOM", "SCANDINAVIAN", "VINTAGE CHRISTMAS", "SNOWFLAKE",
    "RABBIT", "OWL", "CIRCUS PARADE", "TOADSTOOL", "ROSES REGENCY", "GREEN REGENCY",
    "ZINC HEART", "WILD FLOWER", "ALPHABET", "DINOSAUR", "PEACE AND LOVE", "DAISY",
    "FLYING DUCKS", "CHRISTMAS TREE", "GINGHAM",
)
#: Object sold, with the base unit price of its plain version.
_OBJECTS: dict[str, float] = {
    "LUNCH BAG": 1.65, "JUMBO BAG": 1.95, "CAKE CASES": 0.55, "T-LIGHT HOLDER": 1.25,
    "MUG": 1.25, "TEACUP AND SAUCER": 2.95, "NAPKINS": 0.85, "PAPER CHAIN KIT": 2.95,
    "CHILDRENS APRON": 1.95, "TEA TOWEL": 1.25, "CAKE STAND": 9.95, "PICNIC BASKET": 4.95,
    "ALARM CLOCK": 3.75, "HOT WATER BOTTLE": 4.25, "DOORMAT": 7.95, "NOTEBOOK": 1.65,
    "WRAP": 0.42, "PARTY BUNTING": 4.95, "RECIPE BOX": 2.95, "STORAGE TIN": 3.75,
    "PURSE": 2.10, "SHOPPING BAG": 2.46, "PLASTERS IN TIN": 1.65, "LANTERN": 3.75,
    "CUSHION COVER": 3.75, "DRAWER KNOB": 1.25, "PHOTO FRAME": 2.55, "WALL CLOCK": 8.50,
    "SNACK BOXES": 2.95, "PAPER PLATES": 0.85, "PAPER CUPS": 0.65, "BOWL": 1.25,
    "BAKING SET": 4.95, "STICKER SHEET": 0.85, "GIFT BAG": 0.42, "CANDLE": 1.25,
    "COASTERS": 0.42, "KEY RING": 0.65, "PARASOL": 2.95, "HAND WARMER": 2.10,
    "HANGING DECORATION": 0.85, "MEMO BOARD": 4.95, "TRINKET BOX": 1.25, "RIBBONS": 1.65,
    "CHALKBOARD": 2.95, "WATERING CAN": 1.25,
}
#: Size or pack prefix of a description, with its price factor and how common it is.
_PREFIXES: dict[str, tuple[float, float]] = {
    "": (1.0, 0.62),
    "SMALL ": (0.7, 0.08),
    "LARGE ": (1.5, 0.08),
    "MINI ": (0.5, 0.05),
    "SET OF 3 ": (2.4, 0.07),
    "SET/6 ": (1.7, 0.05),
    "PACK OF 12 ": (0.8, 0.05),
}
#: Second spellings: the first substitution that applies, else the words reordered.
_RESPELLINGS = (
    ("T-LIGHT", "TLIGHT"),
    ("SET OF 3", "SET/3"),
    ("CHRISTMAS", "XMAS"),
    ("CHILDRENS", "CHILDREN'S"),
    ("RETROSPOT", "RETRO SPOT"),
    ("POLKADOT", "POLKA DOT"),
    ("COLOUR", "COLOR"),
)
#: First digits of product codes: the shop's code ranges.
_CODE_RANGES = ((20600, 23400), (35000, 37500), (47000, 48200), (71000, 72900),
                (79000, 79400), (84000, 85250), (90000, 90215))
_CODE_SUFFIXES = "ABCDEPW"


@dataclass(frozen=True)
class _Catalogue:
    """One entry per product: code, two spellings, price and popularity."""

    codes: np.ndarray
    descriptions: np.ndarray
    alternates: np.ndarray  # "" where the product has one spelling
    prices: np.ndarray
    popularity: np.ndarray  # sums to 1


@dataclass(frozen=True)
class _Customers:
    """One entry per customer with an ID and the draws that shape its orders."""

    ids: np.ndarray
    countries: np.ndarray
    n_invoices: np.ndarray
    basket: np.ndarray  # mean lines per invoice
    log_quantity: np.ndarray  # log of the typical quantity per line


@dataclass(frozen=True)
class _Heads:
    """One entry per invoice: who, where and when; customer 0 is a guest."""

    customer: np.ndarray
    country: np.ndarray
    day: np.ndarray  # position in the trading-day calendar
    minute: np.ndarray  # minute of the day
    cancelled: np.ndarray


@dataclass(frozen=True)
class _Lines:
    """One entry per invoice line; ``head`` is the position of its invoice."""

    head: np.ndarray
    code: np.ndarray
    description: np.ndarray
    quantity: np.ndarray
    price: np.ndarray


# --- public API --------------------------------------------------------------------
def generate_invoices(
    n_customers: int,
    *,
    seed: int,
    start: str | pd.Timestamp = "2010-12-01",
    end: str | pd.Timestamp = "2011-12-09",
) -> pd.DataFrame:
    """Generate synthetic invoice lines in the UCI "Online Retail" schema.

    Parameters
    ----------
    n_customers : int
        Number of customers with a CustomerID; guest lines come on top, about a
        fifth of all lines.
    seed : int
        Seed of the one random generator; the same seed gives the same table.
    start, end : str or Timestamp
        First and last calendar day of the window (both included).

    Returns
    -------
    DataFrame
        One row per invoice line, columns :data:`columns.INVOICE_COLUMNS` in that
        order: InvoiceNo (str, six digits, "C" + six digits for cancellations,
        increasing with date), StockCode (str), Description (str), Quantity
        (int64, negative on cancellations), InvoiceDate (datetime64, one per
        invoice, within shop hours), UnitPrice (float64, pounds), CustomerID
        (Int64, missing on guest invoices) and Country (str). Rows are ordered
        by invoice number, lines of an invoice in the order they were entered.

    Raises
    ------
    ValueError
        If ``n_customers`` is below 1, the window holds no trading day, or the
        invoices would need more than six-digit numbers.
    """
    if int(n_customers) < 1:
        raise ValueError(f"n_customers must be at least 1, got {n_customers}")
    days, day_weights = _trading_days(pd.Timestamp(start), pd.Timestamp(end))
    if len(days) == 0:
        raise ValueError(f"no trading day between start={start} and end={end}")
    rng = np.random.default_rng(seed)
    return _generate(int(n_customers), days, day_weights, rng)


def describe_shape(invoices: pd.DataFrame) -> pd.Series:
    """Summarise the shape of raw invoice lines in a few numbers.

    Parameters
    ----------
    invoices : DataFrame
        One row per invoice line, with at least the canonical columns
        :data:`columns.INVOICE_COLUMNS` (the real "Online Retail" files work once
        renamed to them); nothing is cleaned first.

    Returns
    -------
    Series
        Indexed by :data:`SHAPE_STATISTICS`:

        * shares of all lines with no CustomerID, from the United Kingdom, on
          cancellation invoices (InvoiceNo starting with "C") and repeating an
          earlier line exactly;
        * median and 90th percentile of lines per customer (all lines with an ID);
        * quantiles of spend per customer, the sum of Quantity x UnitPrice over
          the lines with positive quantity and positive price of each customer
          with an ID, and the ratio of its 99th percentile to its median.

    Raises
    ------
    InvoiceDataError
        If a canonical column is missing.
    """
    missing = [name for name in columns.INVOICE_COLUMNS if name not in invoices.columns]
    if missing:
        raise InvoiceDataError(
            f"describe_shape needs the canonical columns; missing: {', '.join(missing)}"
        )
    return _describe_shape(invoices)


def write_sample(path: str | Path, *, n_customers: int, seed: int) -> Path:
    """Write generated invoice lines as a UTF-8 CSV file that is the same on every run.

    One row of the file is one invoice line; the header is the canonical column
    names. InvoiceDate is written as :data:`DATE_FORMAT`, UnitPrice as
    :data:`PRICE_FORMAT`, CustomerID as an integer or nothing, lines end in "\\n".

    Parameters
    ----------
    path : str or Path
        File to write; its folder is created if needed.
    n_customers, seed : int
        Passed to :func:`generate_invoices`.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    invoices = generate_invoices(n_customers, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    _format_for_csv(invoices).to_csv(
        path, index=False, encoding="utf-8", lineterminator="\n", float_format=PRICE_FORMAT
    )
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the bundled sample file from the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m segmentation.reading.synthetic",
        description="Write synthetic invoice lines in the UCI Online Retail schema.",
    )
    parser.add_argument("--out", type=Path, default=config.SAMPLE_PATH, help="CSV file to write")
    parser.add_argument(
        "--customers", type=int, default=config.SAMPLE_CUSTOMERS, help="customers with an ID"
    )
    parser.add_argument("--seed", type=int, default=config.SAMPLE_SEED, help="random seed")
    options = parser.parse_args(argv)
    path = write_sample(options.out, n_customers=options.customers, seed=options.seed)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


# --- shape statistics ----------------------------------------------------------------
def _describe_shape(invoices: pd.DataFrame) -> pd.Series:
    """The statistics of :func:`describe_shape`; the columns are known to be there."""
    customer = invoices[columns.CUSTOMER_ID]
    known = invoices[customer.notna()]
    lines_per_customer = known.groupby(columns.CUSTOMER_ID).size()
    bought = known[(known[columns.QUANTITY] > 0) & (known[columns.UNIT_PRICE] > 0)]
    spend = (
        (bought[columns.QUANTITY] * bought[columns.UNIT_PRICE])
        .groupby(bought[columns.CUSTOMER_ID])
        .sum()
    )
    spend_quantiles = {name: spend.quantile(q) for name, q in SPEND_QUANTILES.items()}
    numbers = {
        NO_CUSTOMER_SHARE: customer.isna().mean(),
        UK_SHARE: (invoices[columns.COUNTRY] == UNITED_KINGDOM).mean(),
        CANCELLATION_SHARE: invoices[columns.INVOICE]
        .astype(str)
        .str.startswith(CANCELLATION_PREFIX)
        .mean(),
        DUPLICATE_SHARE: invoices.duplicated(subset=list(columns.INVOICE_COLUMNS)).mean(),
        LINES_PER_CUSTOMER_MEDIAN: lines_per_customer.median(),
        LINES_PER_CUSTOMER_P90: lines_per_customer.quantile(0.9),
        **spend_quantiles,
        SPEND_P99_OVER_MEDIAN: spend_quantiles[SPEND_P99] / spend_quantiles[SPEND_P50],
    }
    return pd.Series(numbers, dtype=float)[list(SHAPE_STATISTICS)]


# --- generation ------------------------------------------------------------------------
def _generate(
    n_customers: int, days: pd.DatetimeIndex, day_weights: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    catalogue = _draw_catalogue(rng)
    customers = _draw_customers(n_customers, rng)
    heads, n_lines = _draw_customer_heads(customers, day_weights, rng)
    log_quantity = np.concatenate([[np.log(2.0)], customers.log_quantity])
    guest_lines = round(n_lines.sum() * _GUEST_LINE_SHARE / (1 - _GUEST_LINE_SHARE))
    guest_heads, guest_n_lines = _draw_guest_heads(guest_lines, day_weights, rng)
    heads = _concat_heads(heads, guest_heads)
    n_lines = np.concatenate([n_lines, guest_n_lines])
    products = _draw_product_lines(heads, n_lines, catalogue, log_quantity, rng)
    services = _draw_service_lines(heads, rng)
    purchases = _concat_lines(products, services)
    n_cancellation_lines = round(
        len(purchases.head) * _CANCELLATION_LINE_SHARE / (1 - _CANCELLATION_LINE_SHARE)
    )
    heads, cancellations = _draw_cancellations(
        heads, products, catalogue, n_cancellation_lines, day_weights, rng
    )
    lines = _concat_lines(purchases, cancellations)
    numbers = _number_invoices(heads, rng)
    return _assemble(heads, lines, numbers, customers.ids, days, rng)


def _trading_days(start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Calendar days of the window the shop trades on, and their relative volume."""
    calendar = pd.date_range(start.normalize(), end.normalize(), freq="D")
    weights = _WEEKDAY_WEIGHTS[calendar.day_of_week] * _MONTH_WEIGHTS[calendar.month - 1]
    trading = weights > 0
    return calendar[trading], weights[trading] / weights[trading].sum()


def _draw_catalogue(rng: np.random.Generator) -> _Catalogue:
    object_names = list(_OBJECTS)
    pairs = rng.choice(len(_MOTIFS) * len(object_names), size=_CATALOGUE_SIZE, replace=False)
    motif = np.array(_MOTIFS)[pairs // len(object_names)]
    object_index = pairs % len(object_names)
    obj = np.array(object_names)[object_index]
    prefix_names = list(_PREFIXES)
    prefix_factor = np.array([factor for factor, _ in _PREFIXES.values()])
    prefix_share = np.array([share for _, share in _PREFIXES.values()])
    prefix = rng.choice(len(prefix_names), size=_CATALOGUE_SIZE, p=prefix_share)
    motif_first = rng.random(_CATALOGUE_SIZE) < 0.6
    descriptions = [
        f"{prefix_names[p]}{m} {o}" if first else f"{prefix_names[p]}{o} {m}"
        for p, m, o, first in zip(prefix, motif, obj, motif_first, strict=True)
    ]
    base_price = np.array([_OBJECTS[o] for o in obj]) * prefix_factor[prefix]
    prices = _snap(base_price * rng.lognormal(0.15, 0.25, _CATALOGUE_SIZE), _PRICE_POINTS)
    respelled = rng.random(_CATALOGUE_SIZE) < _ALTERNATE_SPELLING_SHARE
    alternates = [
        _respell(text, prefix_names[p], m, o) if second else ""
        for text, p, m, o, second in zip(descriptions, prefix, motif, obj, respelled, strict=True)
    ]
    rank = rng.permutation(_CATALOGUE_SIZE)
    popularity = 1.0 / (rank + 8.0) ** 1.1
    return _Catalogue(
        codes=_draw_product_codes(object_index, rng),
        descriptions=np.array(descriptions, dtype=object),
        alternates=np.array(alternates, dtype=object),
        prices=prices,
        popularity=popularity / popularity.sum(),
    )


def _respell(description: str, prefix: str, motif: str, obj: str) -> str:
    """A second spelling of ``description``: a known variant, else words reordered."""
    for old, new in _RESPELLINGS:
        if old in description:
            return description.replace(old, new)
    if description == f"{prefix}{motif} {obj}":
        return f"{prefix}{obj} {motif}"
    return f"{prefix}{motif} {obj}"


def _draw_product_codes(object_index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Five-digit codes; variants of one object often share digits with a letter each."""
    pool = np.concatenate([np.arange(low, high) for low, high in _CODE_RANGES])
    bases = rng.choice(pool, size=len(object_index), replace=False)
    codes = np.array([str(base) for base in bases], dtype=object)
    for obj in np.unique(object_index):
        members = np.flatnonzero(object_index == obj)
        if len(members) < 2 or rng.random() > 0.35:
            continue
        family = members[: min(len(members), 1 + rng.integers(1, 4))]
        letters = rng.choice(list(_CODE_SUFFIXES), size=len(family), replace=False)
        codes[family] = [f"{bases[family[0]]}{letter}" for letter in letters]
    return codes


def _draw_customers(n_customers: int, rng: np.random.Generator) -> _Customers:
    """Customers with an ID: a long tail of occasional buyers and a few wholesale buyers.

    Orders per customer are Poisson with a lognormal rate, so most customers
    order a few times and some dozens of times; frequent buyers also buy larger
    quantities. About 0.6% of customers (at least one) are wholesale buyers with
    30 to 70 orders of 30 to 90 units per line.
    """
    id_pool = np.arange(_FIRST_CUSTOMER_ID, _FIRST_CUSTOMER_ID + max(6_000, 3 * n_customers))
    ids = np.sort(rng.choice(id_pool, size=n_customers, replace=False))
    country_names = np.array(list(_CUSTOMER_COUNTRIES), dtype=object)
    country_share = np.array(list(_CUSTOMER_COUNTRIES.values()))
    countries = rng.choice(country_names, size=n_customers, p=country_share / country_share.sum())
    activity = rng.lognormal(np.log(2.2), 1.05, n_customers)
    n_invoices = 1 + rng.poisson(activity)
    basket = rng.lognormal(np.log(11.0), 0.55, n_customers)
    log_quantity = rng.normal(np.log(6.0), 0.6, n_customers) + 0.2 * np.log(activity)
    n_wholesale = max(1, round(n_customers * 0.006))
    wholesale = rng.choice(n_customers, size=n_wholesale, replace=False)
    wholesale_names = np.array(list(_WHOLESALE_COUNTRIES), dtype=object)
    countries[wholesale] = rng.choice(
        wholesale_names, size=n_wholesale, p=list(_WHOLESALE_COUNTRIES.values())
    )
    n_invoices[wholesale] = rng.integers(30, 70, n_wholesale)
    basket[wholesale] = rng.lognormal(np.log(14.0), 0.3, n_wholesale)
    log_quantity[wholesale] = np.log(rng.uniform(30.0, 90.0, n_wholesale))
    return _Customers(ids, countries, n_invoices, basket, log_quantity)


def _draw_times(
    n: int, day_weights: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Trading-day positions and shop-hour minutes of ``n`` invoices."""
    day = rng.choice(len(day_weights), size=n, p=day_weights)
    hour_share = _HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()
    hour = _FIRST_HOUR + rng.choice(len(_HOUR_WEIGHTS), size=n, p=hour_share)
    return day, hour * 60 + rng.integers(0, 60, n)


def _draw_customer_heads(
    customers: _Customers, day_weights: np.ndarray, rng: np.random.Generator
) -> tuple[_Heads, np.ndarray]:
    """Purchase invoices of customers with an ID and the number of product lines on each."""
    customer = np.repeat(np.arange(1, len(customers.ids) + 1), customers.n_invoices)
    country = customers.countries[customer - 1].copy()
    day, minute = _draw_times(len(customer), day_weights, rng)
    travellers = np.flatnonzero(customers.n_invoices >= 3)
    n_travellers = min(len(travellers), max(1, round(len(customers.ids) * 0.004)))
    for traveller in rng.choice(travellers, size=n_travellers, replace=False):
        own = np.flatnonzero(customer == traveller + 1)
        elsewhere = rng.choice(own, size=max(1, len(own) // 3), replace=False)
        home = customers.countries[traveller]
        abroad = [name for name in _CUSTOMER_COUNTRIES if name != home]
        country[elsewhere] = abroad[rng.integers(0, min(6, len(abroad)))]
    spread = rng.gamma(3.0, 1.0 / 3.0, len(customer))
    n_lines = 1 + rng.poisson(customers.basket[customer - 1] * spread)
    heads = _Heads(customer, country, day, minute, np.zeros(len(customer), dtype=bool))
    return heads, n_lines


def _draw_guest_heads(
    n_lines_wanted: int, day_weights: np.ndarray, rng: np.random.Generator
) -> tuple[_Heads, np.ndarray]:
    """Guest invoices, many of one line and some large, adding up to about ``n_lines_wanted``."""
    n_draws = max(1, n_lines_wanted // 3)
    big = rng.random(n_draws) < 0.4
    sizes = np.where(big, 2 + rng.poisson(rng.lognormal(np.log(18.0), 0.8, n_draws)), 1)
    n_heads = int(np.searchsorted(np.cumsum(sizes), n_lines_wanted)) + 1
    sizes = sizes[: min(n_heads, n_draws)]
    abroad = [name for name in _CUSTOMER_COUNTRIES if name != UNITED_KINGDOM]
    country = np.where(
        rng.random(len(sizes)) < _GUEST_UK_SHARE,
        UNITED_KINGDOM,
        rng.choice(np.array(abroad, dtype=object), size=len(sizes)),
    ).astype(object)
    day, minute = _draw_times(len(sizes), day_weights, rng)
    guest = np.zeros(len(sizes), dtype=np.int64)
    return _Heads(guest, country, day, minute, np.zeros(len(sizes), dtype=bool)), sizes


def _draw_product_lines(
    heads: _Heads,
    n_lines: np.ndarray,
    catalogue: _Catalogue,
    log_quantity: np.ndarray,
    rng: np.random.Generator,
) -> _Lines:
    """Product lines of purchase invoices, each product at most once per invoice.

    Popular products come up more often. Quantities are rounded to pack sizes;
    cheap products sell in larger quantities, and lines of 100 units or more
    get 15% off the list price.
    """
    head = np.repeat(np.arange(len(n_lines)), n_lines)
    item = rng.choice(len(catalogue.codes), size=len(head), p=catalogue.popularity)
    _, first = np.unique(head * len(catalogue.codes) + item, return_index=True)
    keep = np.sort(first)
    head, item = head[keep], item[keep]
    list_price = catalogue.prices[item]
    log_q = (
        log_quantity[heads.customer[head]]
        - 0.8 * np.log(list_price / 2.0)
        + rng.normal(0.0, 0.6, len(head))
    )
    quantity = _snap(np.exp(log_q), _PACK_SIZES).astype(np.int64)
    price = np.where(quantity >= 100, np.round(list_price * 0.85, 2), list_price)
    price = np.where(rng.random(len(head)) < _ZERO_PRICE_SHARE, 0.0, price)
    has_alternate = catalogue.alternates[item] != ""
    respelled = has_alternate & (rng.random(len(head)) < _ALTERNATE_SPELLING_USE)
    description = np.where(respelled, catalogue.alternates[item], catalogue.descriptions[item])
    return _Lines(head, catalogue.codes[item], description.astype(object), quantity, price)


def _draw_service_lines(heads: _Heads, rng: np.random.Generator) -> _Lines:
    """Postage, dotcom postage, carriage, manual and bank-charge lines of purchase invoices."""
    n = len(heads.customer)
    guest = heads.customer == 0
    abroad = (heads.country != UNITED_KINGDOM) & ~np.isin(heads.country, _CARRIAGE_COUNTRIES)
    chance = rng.random((5, n))
    blocks = [
        (POSTAGE, ~guest & np.where(abroad, chance[0] < 0.7, chance[0] < 0.004),
         rng.choice([1, 2, 3, 4], size=n, p=[0.5, 0.3, 0.15, 0.05]),
         rng.choice([18.0, 28.0, 40.0, 15.0], size=n, p=[0.7, 0.12, 0.1, 0.08])),
        (DOTCOM_POSTAGE, guest & (chance[1] < 0.35), np.ones(n, dtype=np.int64),
         np.round(rng.lognormal(np.log(90.0), 0.7, n), 2)),
        (CARRIAGE, ~guest & np.isin(heads.country, _CARRIAGE_COUNTRIES) & (chance[2] < 0.6),
         np.ones(n, dtype=np.int64), np.full(n, 50.0)),
        (MANUAL, chance[3] < 0.01, rng.choice([1, 1, 1, 2, 4, 12], size=n),
         np.round(rng.lognormal(np.log(6.0), 1.3, n), 2)),
        (BANK_CHARGES, chance[4] < 0.0015, np.ones(n, dtype=np.int64), np.full(n, 15.0)),
    ]
    parts = []
    for (code, description), wanted, quantity, price in blocks:
        head = np.flatnonzero(wanted)
        parts.append(_Lines(
            head,
            np.full(len(head), code, dtype=object),
            np.full(len(head), description, dtype=object),
            np.asarray(quantity, dtype=np.int64)[head],
            np.asarray(price, dtype=float)[head],
        ))
    return _concat_lines(*parts)


@dataclass(frozen=True)
class _Sales:
    """Purchase invoices and their product lines, indexed for drawing returns."""

    heads: _Heads
    products: _Lines
    catalogue: _Catalogue
    day_weights: np.ndarray
    by_head: np.ndarray  # positions of product lines, ordered by invoice
    customer_heads: np.ndarray  # positions of invoices with a CustomerID
    guest_heads: np.ndarray  # positions of guest invoices


#: A drawn cancellation invoice: (customer, country, day, minute) and its lines
#: as (code, description, quantity, price); None when the draw is unusable.
_Drawn = tuple[tuple[int, str, int, int], list[tuple[str, str, int, float]]] | None

#: Cancellation invoices by kind, as cumulative shares: returns of an earlier
#: purchase, returns of goods bought before the window, then adjustments.
_RETURN_SHARE = 0.80
_RETURN_OR_EARLIER_SHARE = 0.92


def _draw_cancellations(
    heads: _Heads,
    products: _Lines,
    catalogue: _Catalogue,
    n_lines_wanted: int,
    day_weights: np.ndarray,
    rng: np.random.Generator,
) -> tuple[_Heads, _Lines]:
    """Cancellation invoices and their lines, about ``n_lines_wanted`` lines in all.

    Most return products of one earlier purchase invoice of the same customer
    (at most the quantity bought, at the price paid); some return products the
    customer never bought in the window, early in the window; a few are a
    discount, a manual correction, a refunded bank charge or a guest's return.
    """
    sales = _Sales(
        heads, products, catalogue, day_weights,
        by_head=np.argsort(products.head, kind="stable"),
        customer_heads=np.flatnonzero(heads.customer > 0),
        guest_heads=np.flatnonzero(heads.customer == 0),
    )
    new_heads: list[tuple[int, str, int, int]] = []
    new_lines: list[tuple[int, str, str, int, float]] = []
    for _ in range(100 + 50 * n_lines_wanted):
        if len(new_lines) >= n_lines_wanted:
            break
        kind = rng.random()
        if kind < _RETURN_SHARE:
            drawn = _draw_return(sales, rng)
        elif kind < _RETURN_OR_EARLIER_SHARE:
            drawn = _draw_return_from_before_window(sales, rng)
        else:
            drawn = _draw_adjustment(sales, rng)
        if drawn is not None:
            head, lines = drawn
            head_id = len(heads.customer) + len(new_heads)
            new_heads.append(head)
            new_lines.extend((head_id, *line) for line in lines)
    return _append_cancellation_heads(heads, new_heads), _lines_from_records(new_lines)


def _draw_return(sales: _Sales, rng: np.random.Generator) -> _Drawn:
    """Some products of one purchase invoice sent back later by the same customer."""
    if len(sales.customer_heads) == 0:
        return None
    source = int(rng.choice(sales.customer_heads))
    lo, hi = np.searchsorted(sales.products.head[sales.by_head], [source, source + 1])
    when = _later_time(sales, source, rng)
    if hi == lo or when is None:
        return None
    size = min(hi - lo, int(rng.geometric(0.5)))
    lines = []
    for line in sales.by_head[lo + rng.choice(hi - lo, size=size, replace=False)]:
        bought = int(sales.products.quantity[line])
        returned = bought if rng.random() < 0.6 else int(rng.integers(1, bought + 1))
        lines.append((sales.products.code[line], sales.products.description[line],
                      -returned, float(sales.products.price[line])))
    head = (int(sales.heads.customer[source]), sales.heads.country[source], *when)
    return head, lines


def _draw_return_from_before_window(sales: _Sales, rng: np.random.Generator) -> _Drawn:
    """Products a customer never bought in the window, sent back early in it."""
    if len(sales.customer_heads) == 0:
        return None
    source = int(rng.choice(sales.customer_heads))
    customer = int(sales.heads.customer[source])
    own_lines = np.isin(sales.products.head, np.flatnonzero(sales.heads.customer == customer))
    catalogue = sales.catalogue
    never = np.flatnonzero(~np.isin(catalogue.codes, sales.products.code[own_lines]))
    if len(never) == 0:
        return None
    size = min(len(never), int(rng.geometric(0.5)))
    lines = [
        (catalogue.codes[item], catalogue.descriptions[item],
         -int(rng.choice([1, 2, 3, 6, 12])), float(catalogue.prices[item]))
        for item in rng.choice(never, size=size, replace=False)
    ]
    day = int(rng.integers(0, min(40, len(sales.day_weights))))
    minute = int(_draw_times(1, sales.day_weights, rng)[1][0])
    return (customer, sales.heads.country[source], day, minute), lines


def _draw_adjustment(sales: _Sales, rng: np.random.Generator) -> _Drawn:
    """One line after a purchase: discount, manual correction, bank charge or guest return."""
    kind = rng.random()
    pool = sales.customer_heads if kind < 0.87 else sales.guest_heads
    if len(pool) == 0:
        return None
    source = int(rng.choice(pool))
    when = _later_time(sales, source, rng)
    if when is None:
        return None
    if kind < 0.5:
        code, description = DISCOUNT
        price = float(np.round(rng.lognormal(np.log(12.0), 0.8), 2))
    elif kind < 0.7:
        code, description = MANUAL
        price = float(np.round(rng.lognormal(np.log(6.0), 1.3), 2))
    elif kind < 0.87:
        code, description = BANK_CHARGES
        price = 15.0
    else:
        catalogue = sales.catalogue
        item = int(rng.choice(len(catalogue.codes), p=catalogue.popularity))
        code, description = catalogue.codes[item], catalogue.descriptions[item]
        price = float(catalogue.prices[item])
    head = (int(sales.heads.customer[source]), sales.heads.country[source], *when)
    return head, [(code, description, -1, price)]


def _later_time(sales: _Sales, source: int, rng: np.random.Generator) -> tuple[int, int] | None:
    """A shop-hour time after invoice ``source``, often the same day; None past the window."""
    day, minute = int(sales.heads.day[source]), int(sales.heads.minute[source])
    later_day = day + int(rng.geometric(0.25)) - 1
    if later_day == day:
        later_minute = minute + int(rng.integers(5, 240))
        if later_minute <= _LAST_MINUTE:
            return day, later_minute
        later_day += 1
    if later_day >= len(sales.day_weights):
        return None
    return later_day, int(_draw_times(1, sales.day_weights, rng)[1][0])


def _append_cancellation_heads(heads: _Heads, records: list[tuple[int, str, int, int]]) -> _Heads:
    """``heads`` followed by cancellation invoices given as (customer, country, day, minute)."""
    table = np.array(records, dtype=object).reshape(-1, 4)
    cancellations = _Heads(
        customer=table[:, 0].astype(np.int64),
        country=table[:, 1],
        day=table[:, 2].astype(np.int64),
        minute=table[:, 3].astype(np.int64),
        cancelled=np.ones(len(table), dtype=bool),
    )
    return _concat_heads(heads, cancellations)


def _lines_from_records(records: list[tuple[int, str, str, int, float]]) -> _Lines:
    """Lines given as (head, code, description, quantity, price)."""
    table = np.array(records, dtype=object).reshape(-1, 5)
    return _Lines(
        head=table[:, 0].astype(np.int64),
        code=table[:, 1],
        description=table[:, 2],
        quantity=table[:, 3].astype(np.int64),
        price=table[:, 4].astype(float),
    )


def _number_invoices(heads: _Heads, rng: np.random.Generator) -> np.ndarray:
    """Six-digit invoice numbers, increasing with time, with a few numbers skipped."""
    chronological = np.lexsort((np.arange(len(heads.day)), heads.minute, heads.day))
    steps = 1 + rng.poisson(0.3, len(chronological))
    numbers = np.empty(len(chronological), dtype=np.int64)
    numbers[chronological] = _FIRST_INVOICE_NUMBER + np.cumsum(steps) - steps[0]
    if numbers.max() > _LAST_INVOICE_NUMBER:
        raise ValueError(
            f"{len(numbers):,} invoices do not fit six-digit invoice numbers; use fewer customers"
        )
    return numbers


def _assemble(
    heads: _Heads,
    lines: _Lines,
    numbers: np.ndarray,
    customer_ids: np.ndarray,
    days: pd.DatetimeIndex,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The canonical table, lines in invoice order, a few written twice."""
    prefix = np.where(heads.cancelled, CANCELLATION_PREFIX, "")
    invoices = np.array([p + str(n) for p, n in zip(prefix, numbers, strict=True)], dtype=object)
    order = np.lexsort((np.arange(len(lines.head)), numbers[lines.head]))
    copies = 1 + (rng.random(len(order)) < _DUPLICATE_LINE_SHARE)
    order = np.repeat(order, copies)
    head = lines.head[order]
    when = days.values[heads.day].astype("datetime64[m]") + heads.minute.astype("timedelta64[m]")
    ids = np.concatenate([[0], customer_ids])[heads.customer[head]]
    return pd.DataFrame({
        columns.INVOICE: pd.array(invoices[head], dtype="str"),
        columns.STOCK_CODE: pd.array(lines.code[order], dtype="str"),
        columns.DESCRIPTION: pd.array(lines.description[order], dtype="str"),
        columns.QUANTITY: lines.quantity[order].astype(np.int64),
        columns.INVOICE_DATE: when[head].astype("datetime64[ns]"),
        columns.UNIT_PRICE: lines.price[order].astype(np.float64),
        columns.CUSTOMER_ID: pd.arrays.IntegerArray(ids.astype(np.int64), mask=ids == 0),
        columns.COUNTRY: pd.array(heads.country[head], dtype="str"),
    })


def _format_for_csv(invoices: pd.DataFrame) -> pd.DataFrame:
    """The lines with dates as text; one row is still one invoice line."""
    return invoices.assign(
        **{columns.INVOICE_DATE: invoices[columns.INVOICE_DATE].dt.strftime(DATE_FORMAT)}
    )


# --- small helpers -------------------------------------------------------------------------
def _snap(values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Each value replaced by the nearest of the sorted ``points`` on a log scale."""
    edges = np.sqrt(points[:-1] * points[1:])
    return points[np.searchsorted(edges, values)]


def _concat_heads(*parts: _Heads) -> _Heads:
    """The invoices of ``parts`` one after the other."""
    return _Heads(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Heads)))


def _concat_lines(*parts: _Lines) -> _Lines:
    """The lines of ``parts`` one after the other."""
    return _Lines(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Lines)))


if __name__ == "__main__":
    raise SystemExit(main())


#: Customers per generated block of :func:`write_synthetic_parquet` (about a million lines).
BLOCK_CUSTOMERS = 12_000
#: CustomerIDs of block b are offset by b times this, so blocks never share a customer.
BLOCK_ID_STRIDE = 10_000_000


def write_synthetic_parquet(path: str | Path, *, n_lines: int, seed: int) -> Path:
    """Write exactly ``n_lines`` synthetic invoice lines to a Parquet file, block by block.

    Each block is :func:`generate_invoices` with ``BLOCK_CUSTOMERS`` customers
    and seed ``seed + block``; its CustomerIDs are offset by
    ``block * BLOCK_ID_STRIDE`` and its invoice numbers prefixed with the block
    number (``"0003-536365"``, ``"C0003-536379"``), so blocks are distinct
    customers and invoices. Memory stays at one block whatever ``n_lines`` is;
    the same arguments give the same file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(
        [
            (columns.INVOICE, pa.string()), (columns.STOCK_CODE, pa.string()), (columns.DESCRIPTION, pa.string()),
            (columns.QUANTITY, pa.int64()), (columns.INVOICE_DATE, pa.timestamp("ns")),
            (columns.UNIT_PRICE, pa.float64()),
            (columns.CUSTOMER_ID, pa.int64()), (columns.COUNTRY, pa.string()),
        ]
    )
    written, block = 0, 0
    temporary = path.with_name(f".{path.name}.tmp")
    with pq.ParquetWriter(temporary, schema) as writer:
        while written < n_lines:
            lines = generate_invoices(BLOCK_CUSTOMERS, seed=seed + block).head(n_lines - written)
            invoice = lines[columns.INVOICE].str.replace(r"^(C?)", rf"\g<1>{block:04d}-", regex=True)
            lines = lines.assign(
                **{columns.INVOICE: invoice, columns.CUSTOMER_ID: lines[columns.CUSTOMER_ID] + block * BLOCK_ID_STRIDE}
            )
            writer.write_table(pa.Table.from_pandas(lines, schema=schema, preserve_index=False))
            written += len(lines)
            block += 1
    temporary.replace(path)
    return path
