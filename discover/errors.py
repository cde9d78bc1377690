"""User-facing errors.

A :class:`UserError` is bad input from the person running the tool: a missing file, a
malformed dataset, an unknown operator.  The CLI prints its message as one line and
exits non-zero, without a traceback.  Numerical trouble inside the search (NaN, inf,
domain errors of candidates) is never a UserError: it is an infinite loss.
"""

import math
import numbers


class UserError(Exception):
    """Bad user input; the message says what is wrong and what to do."""


class DataError(UserError, ValueError):
    """Data that cannot be used as given (a file, or arrays passed to ``Regressor.fit``).

    Also a ``ValueError``, the exception scikit-learn's conventions expect for bad
    input (``sklearn.utils.estimator_checks``)."""


class ParameterError(UserError, ValueError):
    """A bad setting: a command-line option or a ``Regressor`` parameter.

    Also a ``ValueError``, what scikit-learn expects of an estimator's parameter checks."""


class OutputError(UserError, OSError):
    """An output file that cannot be written (its directory is missing or read-only ...).

    Also an ``OSError``, so callers that tolerate an unwritable file (a cache) still can."""


def check_seconds(value, name: str = "--time-limit") -> float:
    """``value`` if it is a finite number of seconds > 0, else :class:`ParameterError`; the
    one check of ``--time-limit`` (fit, pde, approx) and ``timeout_in_seconds``."""
    if not (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0):
        shown = value if isinstance(value, numbers.Real) else repr(value)
        raise ParameterError(f"{name} must be a positive number of seconds, not {shown}")
    return float(value)


#: the largest seed: every job stores its seed with its result, HDF5 attributes as int64
MAX_SEED = 2**63 - 1


def check_seed(value, name: str = "--seed") -> int:
    """``value`` if it is an integer in ``[0, MAX_SEED]``, else :class:`ParameterError`;
    the one check of ``--seed`` (fit, pde, simulate, approx)."""
    if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value <= MAX_SEED):
        raise ParameterError(f"{name} must be an integer from 0 to 2**63 - 1, not {value}")
    return int(value)
