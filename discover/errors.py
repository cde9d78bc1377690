"""User-facing errors.

A :class:`UserError` is bad input from the person running the tool: a missing file, a
malformed dataset, an unknown operator.  The CLI prints its message as one line and
exits non-zero, without a traceback.  Numerical trouble inside the search (NaN, inf,
domain errors of candidates) is never a UserError: it is an infinite loss.
"""


class UserError(Exception):
    """Bad user input; the message says what is wrong and what to do."""


class DataError(UserError, ValueError):
    """Data that cannot be used as given (a file, or arrays passed to ``Regressor.fit``).

    Also a ``ValueError``, the exception scikit-learn's conventions expect for bad
    input (``sklearn.utils.estimator_checks``)."""
