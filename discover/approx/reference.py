"""Exact values of a target, in high precision, cached on disk.

:func:`exact` returns ``(hi, lo)``, float64 arrays with ``hi + lo`` the target's value
at each (float64) point to about 106 bits (mpmath at 40 digits, split into a
double-double), enough to measure float64 errors to 1e-15 ULP. mpmath is slow (~20 µs a
point), so results are cached in ``$DISCOVER_CACHE`` (default ``~/.cache/discover``)
under ``approx/``, keyed by the target and the points' bytes.

:func:`exact_float64` is the fast reference for exhaustive float32 sweeps: the target's
float64 NumPy/SciPy function, accurate to well under 1e-8 float32 ULP.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import mpmath as mp
import numpy as np

from ..atomic import write_bytes_atomic
from .targets import Target

__all__ = ["exact", "exact_float64", "cache_dir"]

DIGITS = 40


def cache_dir() -> Path:
    root = os.environ.get("DISCOVER_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "discover")
    return Path(root) / "approx"


def _compute(target: Target, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hi = np.empty(x.shape, np.float64)
    lo = np.empty(x.shape, np.float64)
    with mp.workdps(DIGITS):
        for i, xi in enumerate(x.tolist()):
            try:
                v = target.mp_fn(mp.mpf(xi))
                v = mp.mpf(v) if not isinstance(v, mp.mpc) else (mp.mpf(v.real) if v.imag == 0 else mp.nan)
            except (ValueError, ZeroDivisionError, OverflowError):
                v = mp.nan
            h = float(v) if mp.isfinite(v) else (float(v) if not mp.isnan(v) else np.nan)
            hi[i] = h
            lo[i] = float(v - h) if np.isfinite(h) else 0.0
    return hi, lo


def exact(target: Target, x, cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(hi, lo)`` with ``hi + lo = target(x)`` to ~106 bits (NaN where undefined)."""
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    key = hashlib.sha1(repr((target.name, DIGITS)).encode() + x.tobytes()).hexdigest()[:24]
    path = cache_dir() / f"{key}.npz"
    if cache and path.exists():
        try:
            with np.load(path) as data:
                return data["hi"], data["lo"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is recomputed
    hi, lo = _compute(target, x)
    if cache:
        import io

        buf = io.BytesIO()
        np.savez(buf, hi=hi, lo=lo)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, buf.getvalue())
        except OSError:
            pass  # an unwritable cache only costs time
    return hi, lo


def exact_float64(target: Target, x) -> np.ndarray:
    """The target in float64 (NumPy/SciPy): the reference for float32 sweeps."""
    with np.errstate(all="ignore"):
        return np.asarray(target.np_fn(np.asarray(x, dtype=np.float64)), dtype=np.float64)
