"""Cleaning rules for invoice lines, applied in order, each counted in a ledger.

One row of the input and of the output is one invoice line in canonical columns
(see :mod:`segmentation.reading.load`). The rules are written once, as SQL, in
:data:`segmentation.rules.rulebook.RULES` (their order) and
:data:`segmentation.rules.rulebook.CLASSIFY`; every engine runs those. A line is
counted against the first rule that removes it, so the ledger's removed rows
add up exactly: rows in = rows kept + sum of rows removed.

After cleaning, a line with Quantity > 0 is a purchase and one with
Quantity < 0 a return.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.reading.load import require_summable
from segmentation.rules import rulebook
from segmentation.rules.rulebook import DUPLICATE, INPUT, KEPT, MICROS, RULES

__all__ = ["DUPLICATE", "INPUT", "KEPT", "MICROS", "RULES", "CleanResult", "clean_invoices", "ledger_from_counts",
           "line_amount_micros", "line_amounts", "pounds"]


@dataclass(frozen=True)
class CleanResult:
    """Clean invoice lines and the ledger that accounts for every removed line.

    Attributes
    ----------
    invoices
        The kept lines, in input order, with a fresh ``RangeIndex``.
    ledger
        One row per step, index ``step``: ``input`` (lines read), one row per
        rule of :data:`RULES` (lines that rule removed), ``kept`` (lines left).
        Columns: ``rows``; ``amount``, the sum of ``|Quantity x UnitPrice|`` of
        those lines; ``meaning``, the rule in words.
    counts
        What the ledger is made from, in whole numbers: index ``step`` as in
        ``ledger``, columns ``rows`` and ``micros`` (the amount in
        micro-pounds). The counts of several batches of lines add up to the
        counts of the lines together (see :func:`ledger_from_counts`).
    """

    invoices: pd.DataFrame
    ledger: pd.DataFrame
    counts: pd.DataFrame

    @property
    def rows_in(self) -> int:
        return int(self.ledger.loc["input", c.LEDGER_ROWS])

    @property
    def rows_out(self) -> int:
        return int(self.ledger.loc["kept", c.LEDGER_ROWS])

    @property
    def rows_removed(self) -> int:
        return self.rows_in - self.rows_out


def line_amount_micros(invoices: pd.DataFrame) -> pd.Series:
    """Quantity x UnitPrice of each line in whole micro-pounds (int64, negative for returns), as the
    rules compute it (:data:`segmentation.rules.rulebook.LINE_MICROS`)."""
    return rulebook.line_micros(invoices)


def line_amounts(invoices: pd.DataFrame) -> pd.Series:
    """Quantity x UnitPrice of each line in pounds (negative for returns)."""
    return pounds(line_amount_micros(invoices))


def pounds(micros: pd.Series | int) -> pd.Series | float:
    """Micro-pounds back to pounds."""
    return micros / config.MICROS_PER_POUND


def clean_invoices(invoices: pd.DataFrame) -> CleanResult:
    """Apply :data:`RULES` in order and count what each one removes.

    Parameters
    ----------
    invoices
        Invoice lines in canonical columns, as returned by ``load_invoices``.
        The input is not modified. Any batch of lines that holds every copy of
        each of its lines gives the counts those lines give within the whole
        table, so an engine may clean batch by batch and add the counts.

    Returns
    -------
    CleanResult
        The kept lines, the ledger and its counts; see :class:`CleanResult`.
    """
    counts, kept = rulebook.classify_lines(invoices)
    return CleanResult(invoices=invoices.iloc[kept].reset_index(drop=True), ledger=ledger_from_counts(counts),
                       counts=counts)


def ledger_from_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """The ledger (see :class:`CleanResult`) from :attr:`CleanResult.counts`.

    ``counts`` may stack the counts of several batches of lines: rows of the
    same step are added (in whole micro-pounds, so exactly) before the amounts
    become pounds.
    """
    require_summable(sum(map(int, counts.loc[[INPUT], MICROS])), where="invoice lines")  # exact
    totals = counts.groupby(level=c.LEDGER_STEP, sort=False).sum()
    meanings = {
        INPUT: "lines read",
        **{name: f"removed: {meaning}" for name, _, meaning in RULES},
        KEPT: "lines kept for the analysis",
    }
    rows = [
        {
            c.LEDGER_STEP: step,
            c.LEDGER_ROWS: int(totals.loc[step, c.LEDGER_ROWS]),
            c.LEDGER_AMOUNT: float(pounds(int(totals.loc[step, MICROS]))),
            c.LEDGER_MEANING: meaning,
        }
        for step, meaning in meanings.items()
    ]
    return pd.DataFrame(rows).set_index(c.LEDGER_STEP)
