"""The one exception type for input the project cannot use as given."""

from __future__ import annotations


class InvoiceDataError(ValueError):
    """Input that cannot be used as given.

    The message is one line a user can act on: which file, which column, which
    rows or values, and what to do about it.
    """
