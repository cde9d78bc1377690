"""Derivative estimators for fields sampled on uniform grids.

A field is an array shaped ``(nt, nx)`` or ``(nt, nx, ny)``: axis 0 is time, the others are
space.  Every function here differentiates along one axis and returns an array of the same
shape, in float64.  Three estimators:

``"fd"``
    Finite differences of a chosen (even) accuracy order.  Central stencils inside; on a
    periodic axis they wrap around, otherwise the first and last points use one-sided
    stencils of the same accuracy order.  Weights are exact rationals (solved once, cached).
``"spectral"``
    Multiplication by ``(i k)^order`` in Fourier space; periodic axes only.
``"savgol"``
    Savitzky–Golay: least-squares polynomial fits in a sliding window, differentiated.  The
    usual choice for noisy data.

``uniform_spacing`` checks a coordinate vector.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import factorial

import numpy as np
from scipy.signal import savgol_filter

from ..errors import DataError
from .defaults import DERIVATIVE_METHODS as METHODS

__all__ = ["METHODS", "central_points", "derivative", "edge_points", "fd_weights", "savgol_defaults",
           "uniform_spacing"]

#: Largest relative variation of the grid spacing still accepted as uniform (or the
#: rounding of the coordinates' own precision, where larger: float32 ``linspace(0, 100, 1001)``
#: varies by 7.6e-5). Coordinates written with 6 significant digits vary by about 1e-4;
#: the spacing used is the mean, ``(coord[-1] - coord[0]) / (n - 1)``, off by far less.
UNIFORM_RTOL = 1e-3


# ------------------------------------------------------------------------------- grid


def uniform_spacing(coord: np.ndarray, name: str) -> float:
    """Spacing ``h`` of a uniform 1-D grid ``coord[i] = coord[0] + i h``.

    Raises :class:`DataError` when ``coord`` has fewer than two points, is not finite, is not
    strictly increasing, or when ``(max(diff) - min(diff)) / h`` exceeds ``UNIFORM_RTOL`` and
    ``4 eps max|coord| / h``, the most that rounding each value to its precision (float32
    where every value is a float32, else float64: ``eps``) can make the spacings differ.
    Returns ``(coord[-1] - coord[0]) / (n - 1)``, the spacing least affected by rounding.
    """
    coord = np.asarray(coord)
    with np.errstate(over="ignore"):   # beyond float32: inf, unequal, so float64
        single = coord.dtype == np.float32 or (coord.dtype == np.float64 and np.all(coord.astype(np.float32) == coord))
    eps = float(np.finfo(np.float32 if single else np.float64).eps)
    coord = coord.astype(np.float64)
    if coord.ndim != 1 or coord.size < 2:
        raise DataError(f"coordinate '{name}' must be a 1-D array of at least 2 points (got shape {coord.shape})")
    if not np.all(np.isfinite(coord)):
        raise DataError(f"coordinate '{name}' contains NaN or infinite values")
    steps = np.diff(coord)
    if np.any(steps <= 0):
        raise DataError(f"coordinate '{name}' is not strictly increasing; sort the data along '{name}'")
    h = (coord[-1] - coord[0]) / (coord.size - 1)
    variation = (steps.max() - steps.min()) / h
    if variation > max(UNIFORM_RTOL, 4 * eps * np.max(np.abs(coord)) / h):
        raise DataError(
            f"coordinate '{name}' is not uniformly spaced (spacing varies by {100 * variation:.2g}%); "
            "resample the data onto a uniform grid"
        )
    return float(h)


# ---------------------------------------------------------------------- stencil weights


def _solve_exact(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """Solve a small square linear system exactly (Gauss–Jordan over the rationals)."""
    n = len(rhs)
    a = [row[:] + [b] for row, b in zip(matrix, rhs)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if a[r][col] != 0)
        a[col], a[pivot] = a[pivot], a[col]
        inv = 1 / a[col][col]
        a[col] = [v * inv for v in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0:
                f = a[r][col]
                a[r] = [v - f * w for v, w in zip(a[r], a[col])]
    return [a[r][n] for r in range(n)]


@lru_cache(maxsize=None)
def _fd_weights_cached(order: int, offsets: tuple[int, ...]) -> np.ndarray:
    # Vandermonde system: sum_j c_j o_j^k = k! delta_{k,order}, k = 0..len(offsets)-1.
    # Exact rationals because the integer Vandermonde matrix is badly conditioned.
    powers = [[Fraction(o) ** k for o in offsets] for k in range(len(offsets))]
    rhs = [Fraction(factorial(order)) if k == order else Fraction(0) for k in range(len(offsets))]
    weights = np.array([float(c) for c in _solve_exact(powers, rhs)])
    weights.setflags(write=False)
    return weights


def fd_weights(order: int, offsets) -> np.ndarray:
    """Weights ``c`` with ``f^(order)(x) ≈ sum_j c_j f(x + o_j h) / h^order``.

    ``offsets`` are distinct integers ``o_j`` (in grid steps); with ``n`` offsets the stencil
    is exact for polynomials of degree ``n - 1``, i.e. accuracy ``n - order`` (one more for
    symmetric stencils of even order).  Returns a read-only float64 array of length ``n``.
    """
    offsets = tuple(int(o) for o in offsets)
    if len(set(offsets)) != len(offsets) or len(offsets) <= order:
        raise ValueError(f"need more than {order} distinct offsets, got {offsets}")
    return _fd_weights_cached(int(order), offsets)


def central_points(order: int, accuracy: int) -> int:
    """Points in the central stencil of derivative ``order`` with the given even ``accuracy``."""
    return order + accuracy - (1 if order % 2 == 0 else 0)


def edge_points(order: int, accuracy: int) -> int:
    """Points in a one-sided stencil with the same accuracy: ``order + accuracy``."""
    return order + accuracy


# ------------------------------------------------------------------------- estimators


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _too_few(name: str, n: int, needed: int, what: str) -> DataError:
    return DataError(f"axis '{name}' has {n} points; {what} needs at least {needed}")


def _fd(v: np.ndarray, h: float, order: int, periodic: bool, accuracy: int, name: str) -> np.ndarray:
    """Finite differences along axis 0 of ``v`` (shape ``(n, ...)``)."""
    n = v.shape[0]
    width = central_points(order, accuracy)
    needed = width if periodic else edge_points(order, accuracy)
    if n < needed:
        what = f"a {_ordinal(order)} derivative with finite differences of accuracy {accuracy}"
        raise _too_few(name, n, needed, what)
    half = (width - 1) // 2
    scale = h**order
    weights = fd_weights(order, range(-half, half + 1)) / scale
    out = np.zeros_like(v)
    if periodic:
        for o, c in zip(range(-half, half + 1), weights):
            out += c * np.roll(v, -o, axis=0)  # np.roll(v, -o)[i] = v[i + o]
        return out
    for o, c in zip(range(-half, half + 1), weights):
        out[half : n - half] += c * v[half + o : n - half + o]
    edge = edge_points(order, accuracy)
    for i in range(half):
        left = fd_weights(order, range(-i, edge - i)) / scale
        out[i] = np.tensordot(left, v[:edge], axes=1)
        j = n - 1 - i  # mirror point, stencil on the last `edge` points
        right = fd_weights(order, range(n - edge - j, n - j)) / scale
        out[j] = np.tensordot(right, v[n - edge :], axes=1)
    return out


def _spectral(v: np.ndarray, h: float, order: int, periodic: bool, name: str) -> np.ndarray:
    """Fourier differentiation along axis 0: ``F^{-1}[(i k)^order F[v]]``."""
    if not periodic:
        raise ValueError(f"spectral derivatives need a periodic axis; axis '{name}' is not periodic")
    n = v.shape[0]
    needed = 2 * order + 1   # modes up to the order's own: fewer points leave only aliases
    if n < needed:
        raise _too_few(name, n, needed, f"a {_ordinal(order)} derivative with spectral differentiation")
    k = 2 * np.pi * np.fft.rfftfreq(n, d=h)
    factor = (1j * k) ** order
    if order % 2 == 1 and n % 2 == 0:
        factor[-1] = 0.0  # the Nyquist mode has no odd derivative on the grid
    factor = factor.reshape((-1,) + (1,) * (v.ndim - 1))
    return np.fft.irfft(np.fft.rfft(v, axis=0) * factor, n=n, axis=0)


def savgol_defaults(order: int, window: int | None, polyorder: int | None) -> tuple[int, int]:
    """Window and polynomial degree for a Savitzky–Golay derivative of ``order``.

    Defaults: ``window = 2 order + 7`` points, ``polyorder = order + 3`` (kept below the
    window).  The window must be odd and ``order <= polyorder < window``.
    """
    window = 2 * order + 7 if window is None else int(window)
    polyorder = min(order + 3, window - 1) if polyorder is None else int(polyorder)
    if window % 2 == 0 or window < 3:
        raise ValueError(f"Savitzky-Golay window must be an odd number >= 3, got {window}")
    if not order <= polyorder < window:
        raise ValueError(
            f"Savitzky-Golay needs derivative order <= polyorder < window; got order {order}, "
            f"polyorder {polyorder}, window {window}"
        )
    return window, polyorder


def _savgol(v, h, order, periodic, window, polyorder, name) -> np.ndarray:
    window, polyorder = savgol_defaults(order, window, polyorder)
    n = v.shape[0]
    if n < window:
        what = f"a Savitzky-Golay {_ordinal(order)} derivative with a {window}-point window"
        raise _too_few(name, n, window, what)
    mode = "wrap" if periodic else "interp"
    return savgol_filter(v, window, polyorder, deriv=order, delta=h, axis=0, mode=mode)


def derivative(
    u: np.ndarray,
    spacing: float,
    axis: int,
    order: int,
    method: str = "fd",
    periodic: bool = False,
    accuracy: int = 6,
    window: int | None = None,
    polyorder: int | None = None,
    name: str | None = None,
) -> np.ndarray:
    """``∂^order u / ∂ s^order`` along ``axis`` of ``u`` (any shape), grid spacing ``spacing``.

    ``method``: ``"fd"`` (finite differences of even ``accuracy`` order; wrap-around when
    ``periodic``, else one-sided stencils of the same accuracy at the ends), ``"spectral"``
    (FFT, periodic axes only; the Nyquist mode is zeroed for odd orders) or ``"savgol"``
    (Savitzky–Golay with ``window`` points and degree ``polyorder``, see
    :func:`savgol_defaults`; ends wrap when periodic, else are fitted by one polynomial).
    ``name`` labels the axis in error messages.

    Returns a float64 array shaped like ``u``.  Raises :class:`DataError` when the axis has
    too few points for the method, ``ValueError`` for invalid arguments.
    """
    u = np.asarray(u, dtype=np.float64)
    axis = axis % u.ndim if u.ndim else axis
    name = f"axis {axis}" if name is None else name
    order = int(order)
    if order < 1:
        raise ValueError(f"derivative order must be >= 1, got {order}")
    if not spacing > 0:
        raise ValueError(f"grid spacing must be positive, got {spacing}")
    if method not in METHODS:
        raise ValueError(f"unknown derivative method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "fd" and (accuracy < 2 or accuracy % 2):
        raise ValueError(f"finite-difference accuracy must be an even number >= 2, got {accuracy}")
    v = np.moveaxis(u, axis, 0)
    if method == "fd":
        out = _fd(v, spacing, order, periodic, int(accuracy), name)
    elif method == "spectral":
        out = _spectral(v, spacing, order, periodic, name)
    else:
        out = _savgol(v, spacing, order, periodic, window, polyorder, name)
    return np.ascontiguousarray(np.moveaxis(out, 0, axis))
