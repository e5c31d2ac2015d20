"""The one exception type for input the project cannot use as given."""

from __future__ import annotations


class InvoiceDataError(ValueError):
    """Input that cannot be used as given.

    The message is one line a user can act on: which file, which column, which
    rows or values, and what to do about it. The command line prints it alone
    (exit code 2); a notebook shows it without a traceback.
    """

    def _render_traceback_(self) -> list[str]:
        """What IPython and Jupyter show instead of a traceback: the message alone."""
        return [f"{type(self).__name__}: {self}"]
