"""The oracle: the cleaning rules in pandas and numpy, independent of the package's SQL (segmentation.rules.rulebook).

Cleaning rules for invoice lines, applied in order, each counted in a ledger.

One row of the input and of the output is one invoice line in canonical columns
(see :mod:`segmentation.reading.load`). Each rule is a small function that returns a
boolean mask of the lines it removes; :data:`RULES` fixes their order. A line
is counted against the first rule that removes it, so the ledger's removed rows
add up exactly: rows in = rows kept + sum of rows removed.

After cleaning, a line with Quantity > 0 is a purchase and one with
Quantity < 0 a return.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.reading.load import require_summable
from segmentation.rules.clean import CleanResult, ledger_from_counts


def missing_customer(invoices: pd.DataFrame) -> pd.Series:
    """Lines with no CustomerID: they cannot be attributed to a customer."""
    return invoices[c.CUSTOMER_ID].isna()


def duplicate(invoices: pd.DataFrame) -> pd.Series:
    """Exact repeats of an earlier line (every input column equal); the first is kept.

    Each line is hashed; only lines whose hash repeats are compared value by
    value, so a line is removed only if it equals an earlier one.
    """
    return pd.Series(_repeats(invoices, row_hashes(invoices)), index=invoices.index)


#: The columns a line's hash is made of: enough to tell lines apart (lines that share them are
#: compared in full), few enough to hash fast.
HASHED_COLUMNS = (c.INVOICE, c.STOCK_CODE, c.QUANTITY, c.UNIT_PRICE)


def row_hashes(invoices: pd.DataFrame) -> np.ndarray:
    """A uint64 hash of each line's :data:`HASHED_COLUMNS`; equal lines hash equal, whatever the
    columns' dtypes or categories."""
    return pd.util.hash_pandas_object(invoices[list(HASHED_COLUMNS)], index=False).to_numpy()


def _repeats(invoices: pd.DataFrame, hashes: np.ndarray) -> np.ndarray:
    """Lines equal to an earlier line of ``invoices``: hashes first, values compared where they repeat."""
    repeated = pd.Series(hashes).duplicated(keep=False).to_numpy()
    removed = np.zeros(len(invoices), dtype=bool)
    if repeated.any():
        removed[repeated] = invoices[repeated].duplicated(keep="first").to_numpy()
    return removed


def non_positive_price(invoices: pd.DataFrame) -> pd.Series:
    """Lines with UnitPrice <= 0: free samples, write-offs and bad-debt adjustments."""
    return invoices[c.UNIT_PRICE] <= 0


def zero_quantity(invoices: pd.DataFrame) -> pd.Series:
    """Lines with Quantity = 0: neither a purchase nor a return."""
    return invoices[c.QUANTITY] == 0


def inconsistent_cancellation(invoices: pd.DataFrame) -> pd.Series:
    """Lines on a cancellation invoice ("C...") whose Quantity is positive."""
    cancelled = _text_starts_with(invoices[c.INVOICE], "c")
    return cancelled & (invoices[c.QUANTITY] > 0)


def test_line(invoices: pd.DataFrame) -> pd.Series:
    """Lines whose StockCode starts with "TEST" (any case): test orders, not sales."""
    return _text_starts_with(invoices[c.STOCK_CODE], "test")


def _text_starts_with(text: pd.Series, prefix: str) -> pd.Series:
    """True where ``text`` starts with the lower-case ASCII ``prefix``, in any case; False where missing.

    Only the first ``len(prefix)`` characters are lower-cased, so no other
    letter can turn into one of the prefix's ("ſ" upper-cases to "S"). A
    categorical column is tested once per category, not once per line.
    """
    if isinstance(text.dtype, pd.CategoricalDtype):
        categories = pd.Series(text.cat.categories, dtype="str")
        matches = (categories.str[: len(prefix)].str.lower() == prefix).to_numpy()
        codes = text.cat.codes.to_numpy()
        return pd.Series((codes >= 0) & matches[codes], index=text.index)
    return (text.astype("str").str[: len(prefix)].str.lower() == prefix) & text.notna()


Rule = Callable[[pd.DataFrame], pd.Series]

#: The name of the rule that looks across lines.
DUPLICATE = "duplicate"

#: The rules, in the order they are applied. Each takes invoice lines and
#: returns a boolean mask of the lines it removes; all but ``duplicate`` look
#: at one line at a time.
RULES: tuple[tuple[str, Rule, str], ...] = (
    ("missing_customer", missing_customer, "CustomerID missing"),
    (DUPLICATE, duplicate, "exact duplicate of an earlier line"),
    ("non_positive_price", non_positive_price, "UnitPrice <= 0"),
    ("zero_quantity", zero_quantity, "Quantity = 0"),
    ("inconsistent_cancellation", inconsistent_cancellation, 'invoice starts with "C" but Quantity > 0'),
    ("test_line", test_line, 'StockCode starts with "TEST" (test orders)'),
)


#: The ledger's first and last steps: the lines read and the lines kept.
INPUT = "input"
KEPT = "kept"
#: Column of :attr:`CleanResult.counts`: an amount in micro-pounds.
MICROS = "micros"

#: Money is added up in whole micro-pounds (``config.MICROS_PER_POUND``).
MICROS_PER_POUND = config.MICROS_PER_POUND


def line_amounts(invoices: pd.DataFrame) -> pd.Series:
    """Quantity x UnitPrice of each line (negative for returns)."""
    return invoices[c.QUANTITY].astype("float64") * invoices[c.UNIT_PRICE]


def line_amount_micros(invoices: pd.DataFrame) -> pd.Series:
    """Quantity x UnitPrice of each line in whole micro-pounds (int64), for exact sums.

    Loading keeps every line under ``config.MAX_LINE_POUNDS`` (10^15 micro-pounds), so the
    cast cannot wrap.
    """
    return np.round(line_amounts(invoices) * MICROS_PER_POUND).astype("int64")


def pounds(micros: pd.Series | int) -> pd.Series | float:
    """Micro-pounds back to pounds."""
    return micros / MICROS_PER_POUND


#: Micro-pounds in a penny.
MICROS_PER_PENNY = MICROS_PER_POUND // 100


def pence(micros: pd.Series) -> pd.Series:
    """Whole micro-pounds (int64) to whole pence, halves rounded up, in integer arithmetic.

    The one rounding rule for money: a sum is rounded once, from its exact
    micro-pounds, so £1.015 is 102p on every platform and in every engine
    (rounding the binary float 1.015 would give 101p).
    """
    return (micros.astype("int64") + MICROS_PER_PENNY // 2) // MICROS_PER_PENNY


def clean_invoices(invoices: pd.DataFrame) -> CleanResult:
    """Apply :data:`RULES` in order and count what each one removes (a line under the first rule that
    removes it); the contract of ``segmentation.rules.clean.clean_invoices``."""
    abs_micros = line_amount_micros(invoices).abs().to_numpy()
    require_summable(abs_micros.sum(dtype="float64"), where="invoice lines")
    alive = np.ones(len(invoices), dtype=bool)
    steps = [_count(INPUT, alive, abs_micros)]
    for name, rule, _ in RULES:
        removed = rule(invoices).to_numpy(dtype=bool) & alive
        steps.append(_count(name, removed, abs_micros))
        alive &= ~removed
    steps.append(_count(KEPT, alive, abs_micros))
    counts = pd.DataFrame(steps).set_index(c.LEDGER_STEP)
    return CleanResult(invoices=invoices[alive].reset_index(drop=True), ledger=ledger_from_counts(counts),
                       counts=counts)


def _count(step: str, lines: np.ndarray, abs_micros: np.ndarray) -> dict[str, object]:
    """One step's count: the lines selected by the boolean mask ``lines`` and their micro-pounds."""
    return {c.LEDGER_STEP: step, c.LEDGER_ROWS: int(lines.sum()), MICROS: int(abs_micros[lines].sum())}
