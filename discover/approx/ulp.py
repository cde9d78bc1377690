"""Units in the last place: the error measure of function approximations.

For a float format with precision ``p`` (24 for float32, 53 for float64, 11 for float16,
8 for bfloat16 is not a NumPy dtype and is not handled here) and smallest normal
exponent ``emin``, the ULP at a real ``y`` is ``2**(max(e, emin) - p + 1)`` with ``e =
floor(log2 |y|)`` (Goldberg's definition at the exact value ``y``; at ``y = 0`` it is the
smallest subnormal). The error of a computed ``f`` against the exact ``y`` is
``|f - y| / ulp(y)``: 0.5 means correctly rounded at worst.

Exact cases that this measure must get right (each has a test): errors across zero,
results that overflow (``f = inf`` where ``|y|`` exceeds the largest finite value plus
half an ULP is exact, error 0; ``inf`` where ``y`` is finite is an infinite error),
subnormal results (the ULP stops shrinking at the smallest subnormal), NaN where the exact
value is undefined (error 0) or defined (infinite).

:func:`ulp_distance` is the other measure: the number of representable floats between two
floats of one format (through the ordered integer view of the bits), used to compare
programs with each other bit for bit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FORMATS", "ulp", "ulp_error", "ulp_distance", "ordinal", "check_format"]

#: the float formats the job supports, by name
FORMATS = ("float16", "float32", "float64")

_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def check_format(dtype: str) -> np.dtype:
    if str(dtype) not in FORMATS:
        raise ValueError(f"unsupported precision {dtype!r}: choose one of {', '.join(FORMATS)}")
    return np.dtype(dtype)


def ulp(y, dtype: str = "float32") -> np.ndarray:
    """ULP of format ``dtype`` at the exact values ``y`` (float64 array; |y| as given)."""
    info = np.finfo(check_format(dtype))
    y = np.abs(np.asarray(y, dtype=np.float64))
    _, e = np.frexp(y)                       # y = m * 2**e with m in [0.5, 1)
    e = np.where(y > 0, np.maximum(e - 1, info.minexp), info.minexp)  # floor(log2 |y|), clamped
    return np.ldexp(1.0, e - info.nmant).astype(np.float64)


def ulp_error(f, y_hi, dtype: str = "float32", y_lo=None) -> np.ndarray:
    """``|f - y| / ulp(y)`` for computed ``f`` and exact ``y = y_hi + y_lo`` (double-double).

    ``y_lo`` carries the exact value's bits beyond float64 (needed for float64 targets;
    ``None`` for float32 and float16, whose errors float64 resolves to ~1e-8 ULP).
    """
    info = np.finfo(check_format(dtype))
    f = np.asarray(f, dtype=np.float64)
    y_hi = np.asarray(y_hi, dtype=np.float64)
    with np.errstate(all="ignore"):
        diff = f - y_hi
        if y_lo is not None:
            diff = diff - np.asarray(y_lo, np.float64)
        err = np.abs(diff) / ulp(y_hi, dtype)
        # overflow: the exact value rounds to inf when |y| >= max + ulp(max)/2
        limit = float(info.max) + float(ulp(float(info.max), dtype)) / 2
        rounds_to_inf = np.abs(y_hi) >= limit
        same_inf = np.isinf(f) & (np.sign(f) == np.sign(y_hi)) & (rounds_to_inf | np.isinf(y_hi))
        err = np.where(same_inf, 0.0, err)
        err = np.where(np.isinf(f) & ~same_inf, np.inf, err)
        err = np.where(~np.isinf(f) & np.isinf(y_hi), np.inf, err)
        both_nan = np.isnan(f) & np.isnan(y_hi)
        err = np.where(both_nan, 0.0, np.where(np.isnan(f) | np.isnan(y_hi), np.inf, err))
    return err


def ordinal(x, dtype: str = "float32") -> np.ndarray:
    """Integers ordered like the floats ``x`` (``-0`` and ``+0`` map to the same 0)."""
    dt = check_format(dtype)
    bits = np.ascontiguousarray(np.asarray(x, dtype=dt)).view(_INT[dt.itemsize]).astype(np.int64)
    sign_mask = np.int64(1) << (8 * dt.itemsize - 1)
    return np.where(bits < 0, -(bits & (sign_mask - 1)), bits)


def ulp_distance(a, b, dtype: str = "float32") -> np.ndarray:
    """How many floats of ``dtype`` lie between ``a`` and ``b`` (0 if equal; across zero
    and up to inf counted exactly; NaN anywhere gives -1)."""
    da, db = ordinal(a, dtype), ordinal(b, dtype)
    out = np.abs(da - db)
    nan = np.isnan(np.asarray(a, np.float64)) | np.isnan(np.asarray(b, np.float64))
    return np.where(nan, -1, out)
