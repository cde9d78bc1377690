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
    if not y.flags.c_contiguous:
        y = y.copy()
    e = ((y.view(np.int64) >> 52) & 0x7FF) - 1023      # floor(log2 |y|) (subnormal: -1023)
    p = np.maximum(e, info.minexp) - info.nmant           # ulp = 2**p
    out = ((p + 1023) << 52).view(np.float64)             # 2**p from its exponent bits ...
    tiny = p < -1022
    if np.any(tiny):                                      # ... unless it is a float64 subnormal
        out = np.where(tiny, np.ldexp(1.0, np.maximum(p, -1074)), out)
    return out


def ulp_error(f, y_hi, dtype: str = "float32", y_lo=None) -> np.ndarray:
    """``|f - y| / ulp(y)`` for computed ``f`` and exact ``y = y_hi + y_lo`` (double-double).

    ``y_lo`` carries the exact value's bits beyond float64 (needed for float64 targets;
    ``None`` for float32 and float16, whose errors float64 resolves to ~1e-8 ULP).
    """
    f = np.asarray(f, dtype=np.float64)
    y_hi = np.asarray(y_hi, dtype=np.float64)
    with np.errstate(all="ignore"):
        diff = f - y_hi
        if y_lo is not None:
            diff = diff - np.asarray(y_lo, np.float64)
        err = np.abs(diff) / ulp(y_hi, dtype)
    special = ~(np.isfinite(f) & np.isfinite(y_hi))
    if np.any(special):
        err = np.where(special, _special_error(f, y_hi, dtype), err)
    return err


def _special_error(f, y, dtype) -> np.ndarray:
    """The error where ``f`` or ``y`` is infinite or NaN (see the module docstring)."""
    info = np.finfo(dtype)
    limit = float(info.max) + float(ulp(float(info.max), dtype)) / 2
    with np.errstate(all="ignore"):
        same_inf = np.isinf(f) & (np.sign(f) == np.sign(y)) & ((np.abs(y) >= limit) | np.isinf(y))
        both_nan = np.isnan(f) & np.isnan(y)
        out = np.where(same_inf | both_nan, 0.0, np.inf)
        # y overflows the format but f is finite: error against the (infinite) rounded value
        return out


def ordinal(x, dtype: str = "float32") -> np.ndarray:
    """Integers ordered like the floats ``x`` (``-0`` and ``+0`` map to the same 0)."""
    dt = check_format(dtype)
    bits = np.ascontiguousarray(np.asarray(x, dtype=dt)).view(_INT[dt.itemsize]).astype(np.int64)
    magnitude = np.int64((1 << (8 * dt.itemsize - 1)) - 1)
    return np.where(bits < 0, -(bits & magnitude), bits)


def ulp_distance(a, b, dtype: str = "float32") -> np.ndarray:
    """How many floats of ``dtype`` lie between ``a`` and ``b`` (0 if equal; across zero
    and up to inf counted exactly; NaN anywhere gives -1)."""
    da, db = ordinal(a, dtype), ordinal(b, dtype)
    out = np.abs(da - db)
    nan = np.isnan(np.asarray(a, np.float64)) | np.isnan(np.asarray(b, np.float64))
    return np.where(nan, -1, out)
