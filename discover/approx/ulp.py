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
_EXPONENT = np.int64(0x7FF0000000000000)   # a float64's exponent bits


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


def ulp_error(f, y_hi, dtype: str = "float32", y_lo=None, out: np.ndarray | None = None) -> np.ndarray:
    """``|f - y| / ulp(y)`` for computed ``f`` and exact ``y = y_hi + y_lo`` (double-double).

    ``y_lo`` carries the exact value's bits beyond float64 (needed for float64 targets;
    ``None`` for float32 and float16, whose errors float64 resolves to ~1e-8 ULP).
    ``out``: a float64 array of the result's shape to write the errors to.

    The ULP of a finite ``y`` is formed from its exponent bits alone (``2**floor(log2|y|)``
    is ``y`` with the sign and significand bits cleared), raised to the format's smallest
    normal and scaled by ``2**-nmant``: powers of two, so the quotient is the one
    :func:`ulp` gives, rounded once, with fewer passes over the arrays (the exhaustive
    float32 verification spends most of its time here). Where ``f`` or ``y`` is infinite
    or NaN the quotient is not finite and the rules of :func:`_special_error` replace it.
    """
    info = np.finfo(check_format(dtype))
    f = np.asarray(f)
    shape = np.broadcast_shapes(f.shape, np.shape(y_hi))
    y_hi = np.ascontiguousarray(y_hi, dtype=np.float64)   # (at least 1-d: its bits are viewed)
    with np.errstate(all="ignore"):
        err = np.subtract(f, y_hi, out=out, dtype=np.float64)
        if y_lo is not None:
            np.subtract(err, np.asarray(y_lo, np.float64), out=err)
        np.abs(err, out=err)
        bits = y_hi.view(np.int64) & _EXPONENT        # 2**floor(log2|y|) (0 below float64's normals) ...
        np.maximum(bits, np.float64(info.smallest_normal).view(np.int64), out=bits)   # ... at least the format's
        scale = np.multiply(bits.view(np.float64), 2.0 ** -info.nmant, out=bits.view(np.float64))   # ulp(y)
        np.divide(err, scale, out=err)
        finite = np.isfinite(err)
    if not finite.all():
        special = ~finite
        if np.count_nonzero(special) * 8 < special.size:   # a few: picked out
            f_s = np.broadcast_to(f, err.shape)[special]
            err[special] = _special_error(f_s, np.broadcast_to(y_hi, err.shape)[special], dtype)
        else:   # many (exp's inputs past overflow: half of them): the rules over the whole array
            np.copyto(err, _special_error(f, y_hi, dtype), where=special)
    return err if err.shape == shape else err.reshape(shape)


def _special_error(f, y, dtype) -> np.ndarray:
    """The error where ``f`` or ``y`` is infinite or NaN (see the module docstring)."""
    info = np.finfo(dtype)
    limit = float(info.max) + float(ulp(float(info.max), dtype)) / 2
    with np.errstate(all="ignore"):
        same_inf = np.isinf(f) & (np.sign(f) == np.sign(y)) & (np.abs(y) >= limit)   # inf >= limit too
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
