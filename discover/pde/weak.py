"""Weak form of PDE terms with compactly supported, separable test functions (WSINDy).

Following Messenger & Bortz (2021), "Weak SINDy for partial differential equations": a
term ``∂^α g(U)`` of a PDE is never differentiated numerically.  It is tested against
smooth bumps ``φ_k`` and the derivatives are moved onto them by integration by parts,

    ∫ φ_k ∂^α g dt dx = (-1)^{|α|} ∫ (∂^α φ_k) g dt dx,

which holds because ``φ_k`` and its derivatives up to order ``p - 1`` vanish on the border of
its support.  The test functions are separable tensor products

    φ_k(t, x[, y]) = ψ_t((t - t_k) / (m_t Δt)) · ψ_x((x - x_k) / (m_x Δx)) [· ψ_y(...)],
    ψ(s) = (1 - s²)^p on [-1, 1], 0 outside,

with half-width ``m`` grid points and degree ``p`` per axis.  Quadrature is the plain sum
over grid points times the cell volume, which equals the trapezoid rule because the
integrand vanishes at the support's ends, and converges fast because it vanishes smoothly.

Arrays: fields are ``(nt, nx)`` or ``(nt, nx, ny)``; axis 0 is time (never periodic),
spatial axes may be periodic (supports then wrap around).  The query centers form a tensor
grid ``(Kt, Kx[, Ky])``; results are ravelled in C order to ``(K,)``, ``K = Kt·Kx[·Ky]``:
query ``(i_t, i_x, i_y)`` is row ``(i_t·Kx + i_x)·Ky + i_y``.
"""

from __future__ import annotations

from functools import lru_cache
from math import comb, log, pi, sqrt

import numpy as np
import scipy.sparse as sp

from ..errors import DataError

__all__ = [
    "WeakForm",
    "bump",
    "choose_half_widths",
    "default_degree",
    "half_width_for_corner",
    "minimum_half_width",
    "spectral_corner",
]

AXIS_NAMES = ("t", "x", "y", "z")
#: Degree rule: |ψ^(r)(1 - 1/m)| <= TAU · max|ψ^(r)| at the last grid point inside the support.
TAU = 1e-10
#: The data's spectral corner sits TAU_HAT standard deviations out in ψ's spectrum.
TAU_HAT = 2.0
#: Default highest derivative order that test functions must carry: 1 in time, 4 in space.
DEFAULT_MAX_ORDERS = (1, 4, 4, 4)


# --------------------------------------------------------------------- test functions


def _falling(p: int, i: int) -> int:
    """``p (p-1) ... (p-i+1)``, the i-th derivative factor of ``s^p``."""
    out = 1
    for j in range(i):
        out *= p - j
    return out


def bump(s: np.ndarray, degree: int, order: int = 0) -> np.ndarray:
    """``ψ^(order)(s)`` for ``ψ(s) = (1 - s²)^degree`` on ``[-1, 1]``, 0 outside; shape of ``s``.

    Evaluated through Leibniz on ``(1 - s)^p (1 + s)^p``:

        ψ^(r)(s) = Σ_i C(r, i) (-1)^i p!/(p-i)! (1-s)^{p-i} · p!/(p-r+i)! (1+s)^{p-r+i},

    every factor non-negative on the support, so there is no cancellation between the large
    binomial coefficients of the expanded polynomial (which would cost ~1e-8 near the ends).
    Requires ``order < degree`` so that ``ψ^(order)`` is continuous and vanishes at ``±1``.
    """
    p, r = int(degree), int(order)
    if not 0 <= r < p:
        raise ValueError(f"bump of degree {p} has no continuous derivative of order {r}")
    s = np.asarray(s, dtype=np.float64)
    a = np.clip(1.0 - s, 0.0, None)
    b = np.clip(1.0 + s, 0.0, None)
    out = np.zeros_like(s)
    for i in range(r + 1):
        c = comb(r, i) * (-1) ** i * _falling(p, i) * _falling(p, r - i)
        out += c * a ** (p - i) * b ** (p - r + i)
    out[np.abs(s) > 1.0] = 0.0
    return out


@lru_cache(maxsize=None)
def default_degree(half_width: int, max_order: int, tau: float = TAU) -> int:
    """Default degree ``p`` of the test function along one axis ("smooth enough" rule).

    The smallest ``p >= max_order + 2`` such that the highest derivative the weak form
    uses is ``tau``-small at the last grid point inside the support,

        |ψ^(r)(1 - 1/m)| <= tau · max_s |ψ^(r)(s)|,   r = max_order

    (WSINDy's rule ``ψ(1 - 1/m) <= tau``, applied to the derivative actually integrated).
    Near ``s = ±1`` the bump and its derivatives then meet zero smoothly on the grid, and the
    quadrature error is of order ``tau``.  Larger ``p`` narrows the bump, a Gaussian of
    standard deviation ``m / sqrt(2p)`` points, until the grid no longer resolves it (its
    spectrum at the grid's Nyquist scale is ``~exp(-π² m² / p)``), so ``p`` is capped at
    ``π² m² / ln(1/tau)``; only small ``m`` (< ~7) hit the cap.  Examples, ``tau = 1e-10``:
    max_order 1: m = 8 → 19, 12 → 15, 20 → 12, 40 → 10; max_order 4: m = 8 → 24,
    12 → 20, 16 → 18, 24 → 16, 48 → 13.
    """
    m, r = int(half_width), int(max_order)
    if m < 2:
        raise ValueError(f"test-function half-width must be at least 2 grid points, got {m}")
    lowest = r + 2
    cap = max(lowest, int(pi**2 * m**2 / log(1.0 / tau)))
    s = np.linspace(-1.0, 1.0, 4001)
    edge = np.array([1.0 - 1.0 / m])
    for p in range(lowest, cap):
        if abs(bump(edge, p, r)[0]) <= tau * np.abs(bump(s, p, r)).max():
            return p
    return cap


def minimum_half_width(max_order: int) -> int:
    """Smallest half-width (grid points) accepted by :func:`choose_half_widths`: ``max_order + 2``."""
    return int(max_order) + 2


# ------------------------------------------------------------------------ query grids


def _axis_count(n: int, m: int, stride: int, periodic: bool) -> int:
    """Number of query centers along an axis of ``n`` points."""
    if periodic:
        return -(-n // stride)
    return (n - 2 * m - 1) // stride + 1


def _axis_centers(n: int, m: int, stride: int, periodic: bool) -> np.ndarray:
    """Center indices: spread evenly around a periodic axis; elsewhere only where the whole
    support ``[c - m, c + m]`` is inside ``[0, n - 1]``, the unused slack split between ends."""
    k = _axis_count(n, m, stride, periodic)
    if periodic:
        return (np.arange(k) * n) // k
    slack = (n - 2 * m - 1) - (k - 1) * stride
    return m + slack // 2 + stride * np.arange(k)


def _coarsen(counts_of, strides: list[int], max_queries: int) -> list[int]:
    """Increase strides (the axis with the most centers first) until the product of the
    counts is at most ``max_queries``."""
    strides = list(strides)
    while True:
        counts = counts_of(strides)
        if int(np.prod(counts)) <= max_queries:
            return strides
        d = int(np.argmax(counts))  # first axis among ties: deterministic
        strides[d] += max(1, strides[d] // 4)


# --------------------------------------------------------------------------- WeakForm


class WeakForm:
    """Separable bump test functions on a tensor grid of query centers, and the integrals.

    Parameters
    ----------
    shape : ``(nt, nx[, ny])`` of the field arrays.
    spacings : ``(Δt, Δx[, Δy])`` grid spacings.
    half_widths : ``m`` per axis in grid points (support ``2m + 1`` points), ``m >= 2``.
    degrees : ``p`` per axis; default :func:`default_degree` of ``m`` and ``max_orders``.
    periodic : per *spatial* axis (length ``ndim - 1``); default all False.
    strides : distance between neighbouring centers per axis (grid points); default ``m``,
        so neighbouring supports overlap by about half.
    max_queries : if given, strides are coarsened until ``K <= max_queries``.
    max_orders : highest derivative order used per axis (default 1 in time, 4 in space);
        only used for the default degrees.
    axis_names : names for messages, default ``("t", "x", "y")``.

    Along time and non-periodic axes, centers lie only where the whole support fits in the
    data; along periodic axes supports wrap around (then ``2m + 1 <= n`` is required).
    """

    def __init__(
        self,
        shape,
        spacings,
        half_widths,
        degrees=None,
        periodic=None,
        strides=None,
        max_queries: int | None = None,
        max_orders=None,
        tau: float = TAU,
        axis_names=None,
    ):
        self.shape = tuple(int(n) for n in shape)
        ndim = len(self.shape)
        if ndim < 2:
            raise ValueError(f"fields must be (nt, nx[, ny]); got shape {self.shape}")
        self.ndim = ndim
        self.axis_names = tuple(axis_names) if axis_names is not None else AXIS_NAMES[:ndim]
        if len(self.axis_names) != ndim:
            raise ValueError(f"axis_names must have one entry per axis ({ndim}), got {self.axis_names}")
        self.spacings = self._per_axis(spacings, "spacings", float)
        self.half_widths = self._per_axis(half_widths, "half_widths", int)
        periodic = (False,) * (ndim - 1) if periodic is None else tuple(bool(p) for p in periodic)
        if len(periodic) != ndim - 1:
            raise ValueError(f"periodic must give one flag per spatial axis ({ndim - 1}), got {periodic}")
        self.periodic = (False,) + periodic  # time is never periodic
        max_orders = DEFAULT_MAX_ORDERS[:ndim] if max_orders is None else max_orders
        self.max_orders = self._per_axis(max_orders, "max_orders", int)
        self._check_sizes()
        if degrees is None:
            degrees = [default_degree(m, r, tau) for m, r in zip(self.half_widths, self.max_orders)]
        self.degrees = self._per_axis(degrees, "degrees", int)
        if any(p < 2 for p in self.degrees):
            raise ValueError(f"test-function degrees must be >= 2, got {self.degrees}")
        strides = self.half_widths if strides is None else strides
        strides = [max(1, s) for s in self._per_axis(strides, "strides", int)]
        if max_queries is not None:
            if max_queries < 1:
                raise ValueError(f"max_queries must be >= 1, got {max_queries}")
            strides = _coarsen(self._counts, strides, int(max_queries))
        self.strides = tuple(strides)
        self.centers = tuple(
            _axis_centers(n, m, s, per)
            for n, m, s, per in zip(self.shape, self.half_widths, self.strides, self.periodic)
        )
        self.grid_shape = tuple(len(c) for c in self.centers)
        self._rows: np.ndarray | None = None
        self._weights: dict[tuple[int, int], np.ndarray] = {}

    @classmethod
    def from_data(cls, u: np.ndarray, spacings, periodic=None, max_orders=None, **kwargs) -> "WeakForm":
        """A weak form whose half-widths are chosen from ``u`` by :func:`choose_half_widths`."""
        u = np.asarray(u)
        per = (False,) * (u.ndim - 1) if periodic is None else periodic
        m = choose_half_widths(u, spacings, per, max_orders=max_orders,
                               axis_names=kwargs.get("axis_names"))
        return cls(u.shape, spacings, m, periodic=per, max_orders=max_orders, **kwargs)

    # ---- construction helpers

    def _per_axis(self, values, what: str, kind) -> tuple:
        values = tuple(kind(v) for v in np.atleast_1d(values))
        if len(values) != self.ndim:
            raise ValueError(f"{what} must have one entry per axis ({self.ndim}), got {values}")
        return values

    def _check_sizes(self) -> None:
        for name, n, m, per, h in zip(self.axis_names, self.shape, self.half_widths, self.periodic, self.spacings):
            if not h > 0:
                raise ValueError(f"spacing along '{name}' must be positive, got {h}")
            if m < 2:
                raise ValueError(f"half-width along '{name}' must be at least 2 grid points, got {m}")
            if 2 * m + 1 > n:
                where = "time points" if name == self.axis_names[0] else f"points along '{name}'"
                raise DataError(
                    f"only {n} {where}: a test function of half-width {m} needs at least {2 * m + 1}; "
                    "use smaller half-widths or --method strong"
                )

    def _counts(self, strides) -> list[int]:
        return [_axis_count(n, m, s, per) for n, m, s, per in zip(self.shape, self.half_widths, strides, self.periodic)]

    # ---- per-axis matrices

    def axis_weights(self, axis: int, order: int) -> np.ndarray:
        """Dense ``(K_axis, n_axis)`` matrix ``W`` along ``axis`` for derivative ``order``.

        ``W[j, i] = ψ^(order)((z_i - z_{c_j}) / (m Δ)) / (m Δ)^order · Δ``: the ``order``-th
        derivative of the 1-D test function centred at ``c_j``, on the grid, times the
        quadrature weight ``Δ``.  (Offsets wrap modulo ``n`` on periodic axes.)  Cached,
        read-only.
        """
        key = (int(axis), int(order))
        if key not in self._weights:
            self._weights[key] = self._build_weights(*key)
        return self._weights[key]

    def _build_weights(self, axis: int, order: int) -> np.ndarray:
        n, m, p = self.shape[axis], self.half_widths[axis], self.degrees[axis]
        h = self.spacings[axis]
        if order >= p:
            raise ValueError(
                f"derivative order {order} along '{self.axis_names[axis]}' needs test functions of "
                f"degree > {order}; this weak form has degree {p}"
            )
        offsets = np.arange(-m, m + 1)
        stencil = bump(offsets / m, p, order) * (h / (m * h) ** order)
        centers = self.centers[axis]
        w = np.zeros((len(centers), n))
        cols = centers[:, None] + offsets[None, :]
        if self.periodic[axis]:
            cols %= n
        np.put_along_axis(w, cols, np.broadcast_to(stencil, cols.shape), axis=1)
        w.setflags(write=False)
        return w

    # ---- integrals

    def _alpha(self, alpha) -> tuple[int, ...]:
        alpha = tuple(int(a) for a in alpha)
        if len(alpha) != self.ndim or any(a < 0 for a in alpha):
            raise ValueError(f"alpha must be {self.ndim} non-negative orders (t, x[, y]), got {alpha}")
        return alpha

    def integrate(self, values: np.ndarray, alpha=None) -> np.ndarray:
        """``(K,)`` array of ``Σ_grid (∂^α φ_k) · values · ΔtΔx[Δy]`` ≈ ``∫ (∂^α φ_k) values``.

        ``values`` has shape ``self.shape``.  Computed by contracting one axis at a time with
        :meth:`axis_weights` (``(nt, nx, ny) → (Kt, nx, ny) → (Kt, Kx, ny) → (Kt, Kx, Ky)``,
        then ravelled in C order and restricted to the selected rows); no ``(K, N)`` matrix
        is formed.  Note the sign: this is the integral against ``∂^α φ``; see :meth:`term`.
        """
        alpha = self._alpha((0,) * self.ndim if alpha is None else alpha)
        values = np.asarray(values, dtype=np.float64)
        if values.shape != self.shape:
            raise ValueError(f"values have shape {values.shape}, the weak form expects {self.shape}")
        out = values
        for axis in range(self.ndim):
            w = self.axis_weights(axis, alpha[axis])
            out = np.moveaxis(np.tensordot(out, w, axes=([axis], [1])), -1, axis)
        out = out.reshape(-1)
        return out if self._rows is None else out[self._rows]

    def term(self, values: np.ndarray, alpha) -> np.ndarray:
        """Weak form of ``∂^α values``: ``∫ φ_k ∂^α values = (-1)^{|α|} integrate(values, α)``, ``(K,)``."""
        alpha = self._alpha(alpha)
        sign = -1.0 if sum(alpha) % 2 else 1.0
        return sign * self.integrate(values, alpha)

    def matrix(self, alpha=None) -> sp.csr_matrix:
        """Sparse ``(K, N)`` matrix ``Φ`` with ``Φ @ values.ravel() == integrate(values, alpha)``.

        ``N = nt·nx[·ny]`` (C-order ravel of the field).  Built as the Kronecker product of the
        per-axis matrices; it has ``K · Π(2 m_d - 1)`` non-zeros (ψ^(r) vanishes at the ends).
        """
        alpha = self._alpha((0,) * self.ndim if alpha is None else alpha)
        if self._rows is not None:
            return self._selected_rows_matrix(alpha)
        out = sp.csr_matrix(self.axis_weights(0, alpha[0]))
        for axis in range(1, self.ndim):
            out = sp.kron(out, sp.csr_matrix(self.axis_weights(axis, alpha[axis])), format="csr")
        return sp.csr_matrix(out)

    def _selected_rows_matrix(self, alpha) -> sp.csr_matrix:
        """:meth:`matrix` for the selected rows only, built row by row as the Kronecker
        product of the per-axis rows (the full matrix of a 2-D problem may not fit in memory)."""
        per_axis = [sp.csr_matrix(self.axis_weights(axis, alpha[axis])) for axis in range(self.ndim)]
        index = np.unravel_index(self._rows, self.grid_shape)
        data, columns, indptr = [], [], [0]
        for r in range(len(self._rows)):
            values, cols = np.ones(1), np.zeros(1, dtype=np.int64)
            for axis, matrix in enumerate(per_axis):
                row = matrix[int(index[axis][r])]
                values = np.outer(values, row.data).ravel()
                cols = (cols[:, None] * self.shape[axis] + row.indices[None, :]).ravel()
            data.append(values)
            columns.append(cols)
            indptr.append(indptr[-1] + len(values))
        N = int(np.prod(self.shape))
        return sp.csr_matrix((np.concatenate(data), np.concatenate(columns), np.asarray(indptr)),
                             shape=(len(self._rows), N))

    def gram(self, alpha, beta, weights: np.ndarray | None = None) -> np.ndarray:
        """Dense ``(K, K)`` matrix ``Φ_α diag(weights) Φ_βᵀ`` over the full query grid.

        Entry ``(k, l)`` is ``Σ_p ∂^αφ_k(p) w(p) ∂^βφ_l(p)`` (quadrature weights included),
        ``weights`` of ``self.shape`` (None: ones).  The test functions are products over
        the axes, so the sum is contracted one axis at a time, never forming the ``(K, N)``
        matrices: ``(n0, n1, ...) -> (K0 K0, n1, ...) -> (K0 K0, K1 K1, ...)``, one matrix
        product per axis with the pair products ``a_i(p) b_j(p)`` of its 1-D test functions
        -- about ``Σ_d Π_{e<=d} K_e² Π_{e>=d} n_e`` multiply-adds (3.6e9 for a
        201 x 128 x 128 grid with K = 15 x 16 x 16).  Rows and columns are the full
        (unrestricted) form's rows, in C order of the query grid.
        """
        alpha, beta = self._alpha(alpha), self._alpha(beta)
        out = np.ones(self.shape) if weights is None else np.asarray(weights, dtype=np.float64)
        if out.shape != self.shape:
            raise ValueError(f"weights have shape {out.shape}, the weak form expects {self.shape}")
        for axis in range(self.ndim):
            a, b = self.axis_weights(axis, alpha[axis]), self.axis_weights(axis, beta[axis])
            pairs = (a[:, None, :] * b[None, :, :]).reshape(-1, a.shape[1])     # (K_d², n_d)
            # out: (pairs of the axes before, n_axis, n_after...) -> (..., n_after..., K_d²)
            out = np.tensordot(out, pairs, axes=([axis], [1]))
            out = np.moveaxis(out, -1, axis)
        k = self.grid_shape
        out = out.reshape([x for kd in k for x in (kd, kd)])
        order = list(range(0, 2 * self.ndim, 2)) + list(range(1, 2 * self.ndim, 2))
        size = int(np.prod(k))
        return np.ascontiguousarray(out.transpose(order)).reshape(size, size)

    def support_size(self) -> int:
        """Grid points inside one test function's support where it is nonzero, ``Π(2 m_d - 1)``."""
        return int(np.prod([2 * m - 1 for m in self.half_widths]))

    # ---- queries

    @property
    def n_queries(self) -> int:
        """Number of test functions ``K`` (after any :meth:`restrict`)."""
        return int(np.prod(self.grid_shape)) if self._rows is None else len(self._rows)

    @property
    def rows(self) -> np.ndarray:
        """Indices of the selected queries into the full ravelled tensor grid, ``(K,)``."""
        return np.arange(int(np.prod(self.grid_shape))) if self._rows is None else self._rows.copy()

    def query_centers(self) -> np.ndarray:
        """``(K, ndim)`` grid indices ``(i_t, i_x[, i_y])`` of each query's center, in row order."""
        grids = np.meshgrid(*self.centers, indexing="ij")
        full = np.stack([g.reshape(-1) for g in grids], axis=1)
        return full if self._rows is None else full[self._rows]

    def restrict(self, rows) -> "WeakForm":
        """A weak form with only the queries ``rows`` (indices into this form's ``K`` rows, in
        the given order, repeats allowed: bootstraps).  Shares the cached matrices."""
        rows = np.asarray(rows, dtype=np.intp).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_queries):
            raise IndexError(f"query rows must be in [0, {self.n_queries}), got {rows.min()}..{rows.max()}")
        new = object.__new__(WeakForm)
        new.__dict__.update(self.__dict__)
        new._rows = self.rows[rows]
        return new

    def describe(self) -> str:
        """One line, e.g. ``K = 20 × 32 = 640 test functions, half-widths (12, 14) points, degrees (13, 12)``."""
        full = int(np.prod(self.grid_shape))
        grid = " × ".join(str(k) for k in self.grid_shape)
        count = f"{grid} = {full}" if self._rows is None else f"{self.n_queries} of {grid} = {full}"
        return (
            f"K = {count} test functions, half-widths {tuple(self.half_widths)} points, "
            f"degrees {tuple(self.degrees)}"
        )

    def __repr__(self) -> str:
        return f"WeakForm(shape={self.shape}, {self.describe()})"


# --------------------------------------------------------------- automatic half-widths


def _fiber_sample(u: np.ndarray, axis: int, max_fibers: int = 4096) -> np.ndarray:
    """``(F, n)``: at most about ``max_fibers`` evenly spaced 1-D slices of ``u`` along
    ``axis`` (strided views first, so only the sample is copied)."""
    others = [d for d in range(u.ndim) if d != axis]
    cap = max(1, int(max_fibers ** (1.0 / max(1, len(others)))))
    index = [slice(None)] * u.ndim
    for d in others:
        index[d] = slice(None, None, max(1, -(-u.shape[d] // cap)))
    sample = np.moveaxis(u[tuple(index)], axis, -1)
    return np.asarray(sample, dtype=np.float64).reshape(-1, u.shape[axis])


def spectral_corner(u: np.ndarray, axis: int, periodic: bool) -> int:
    """Wavenumber index ``k*`` where the data's spectrum along ``axis`` meets its noise floor.

    ``A_k`` = mean over the other axes of ``|FFT_k u|`` (mean mode ``k = 0`` dropped; on a
    non-periodic axis the line through the two end values is subtracted first, so the jump
    between the ends does not leak a ``1/k`` tail).  ``H_k = Σ_{j<=k} A_j`` rises steeply
    while the signal dominates and then linearly (white noise has a flat spectrum).  ``k*``
    is the break point of the best continuous-at-the-break two-line least-squares fit to
    ``H``, as in WSINDy.  Returns 0 when the field is constant along the axis.
    """
    v = _fiber_sample(np.asarray(u), axis)
    n = v.shape[1]
    if not periodic:
        ramp = np.linspace(0.0, 1.0, n)
        v = v - (v[:, :1] + (v[:, -1:] - v[:, :1]) * ramp)
    spectrum = np.abs(np.fft.rfft(v, axis=1)).mean(axis=0)[1:]
    if spectrum.size < 4 or not spectrum.sum() > 0:
        return 0
    k = np.arange(1, spectrum.size + 1, dtype=np.float64)
    H = np.cumsum(spectrum) / spectrum.sum()
    best, best_sse = 1, np.inf
    for b in range(1, k.size - 1):  # segments [0, b] and [b, end], each >= 2 points
        sse = _line_sse(k[: b + 1], H[: b + 1]) + _line_sse(k[b:], H[b:])
        if sse < best_sse:
            best, best_sse = b, sse
    return int(k[best])


def _line_sse(x: np.ndarray, y: np.ndarray) -> float:
    """Residual sum of squares of the least-squares line through ``(x, y)``."""
    xc, yc = x - x.mean(), y - y.mean()
    sxx = float(xc @ xc)
    return float(yc @ yc - (xc @ yc) ** 2 / sxx) if sxx > 0 else float(yc @ yc)


def half_width_for_corner(n: int, corner: int, max_order: int, tau: float = TAU, tau_hat: float = TAU_HAT) -> float:
    """Half-width ``m`` (grid points, unrounded) whose bump filters modes beyond ``corner``.

    ``ψ(j/m) = (1 - j²/m²)^p ≈ exp(-p j²/m²)``: a Gaussian of standard deviation
    ``m / sqrt(2p)`` grid points, whose spectrum over ``n`` points is a Gaussian in the
    wavenumber index of standard deviation ``σ_k = n sqrt(2p) / (2π m)``.  Solve
    ``corner = tau_hat · σ_k`` for ``m`` with ``p = default_degree(m)`` (fixed point).
    """
    m = float(n)
    for _ in range(50):
        p = default_degree(max(2, round(m)), max_order, tau)
        new = tau_hat * n * sqrt(2 * p) / (2 * pi * corner)
        if abs(new - m) < 0.5:
            return new
        m = new
    return m


def choose_half_widths(
    u: np.ndarray,
    spacings,
    periodic,
    max_orders=None,
    tau: float = TAU,
    tau_hat: float = TAU_HAT,
    axis_names=None,
) -> tuple[int, ...]:
    """Half-widths ``m`` (grid points) per axis chosen from the data ``u`` (``(nt, nx[, ny])``).

    Along each axis: find the spectral corner ``k*`` (:func:`spectral_corner`), then the
    ``m`` that puts ``k*`` at ``tau_hat`` standard deviations of the test function's
    spectrum (:func:`half_width_for_corner`), so modes beyond the corner (noise-dominated)
    are filtered out.  The result is clipped to ``[max_order + 2, (n - 1) // 4]``, which
    leaves room for at least a few queries along every axis.  ``spacings`` are not needed
    (``m`` counts grid points) and only checked; ``periodic`` is per spatial axis.

    Raises :class:`DataError` when an axis is shorter than ``4 (max_order + 2) + 1``.
    """
    u = np.asarray(u)
    ndim = u.ndim
    names = tuple(axis_names) if axis_names is not None else AXIS_NAMES[:ndim]
    if len(np.atleast_1d(spacings)) != ndim:
        raise ValueError(f"spacings must have one entry per axis ({ndim})")
    per = (False,) + tuple(bool(p) for p in periodic)
    if len(per) != ndim:
        raise ValueError(f"periodic must give one flag per spatial axis ({ndim - 1})")
    max_orders = DEFAULT_MAX_ORDERS[:ndim] if max_orders is None else tuple(int(r) for r in max_orders)
    out = []
    for axis in range(ndim):
        n, m_min = u.shape[axis], minimum_half_width(max_orders[axis])
        m_max = (n - 1) // 4
        if m_max < m_min:
            where = "time points" if axis == 0 else f"points along '{names[axis]}'"
            raise DataError(
                f"only {n} {where}: the weak form needs at least {4 * m_min + 1}; "
                "use --method strong, or --method solver for a few snapshots"
            )
        corner = spectral_corner(u, axis, per[axis])
        m = m_max if corner == 0 else half_width_for_corner(n, corner, max_orders[axis], tau, tau_hat)
        out.append(int(min(max(round(m), m_min), m_max)))
    return tuple(out)
