"""Pseudo-spectral ETDRK4 simulators for periodic PDEs: the data behind the PDE benchmarks.

Every problem has the form, per field f (u, or u and v),

    f_t = L_f f + N_f(fields, derivatives, x[, y])

on a periodic box [low, high) per axis, where L_f is diagonal in Fourier space (a constant
times a pure derivative of f itself: 0.1*u_xx -> -0.1 k^2, -u_xxx -> i k^3, u -> 1) and
N_f is everything else, evaluated pseudo-spectrally: derivatives by FFT, products on the
grid, the result transformed back and 2/3-rule dealiased (modes |m| > n/3 zeroed on each
axis) whenever it is nonlinear.  Time stepping is ETDRK4 (Cox & Matthews 2002) with the
coefficients of Kassam & Trefethen (2005):

    E = e^{hL},  E2 = e^{hL/2}
    Q  = h <(e^{z/2} - 1) / z>
    f1 = h <(-4 - z + e^z (4 - 3z + z^2)) / z^3>
    f2 = h <(2 + z + e^z (z - 2)) / z^3>
    f3 = h <(-4 - 3z - z^2 + e^z (4 - z)) / z^3>

where <g(z)> is the mean of g over M = 32 points z = hL + e^{i pi (j - 1/2) / 16} on the
unit circle around each hL (a contour integral that avoids the cancellation of the
direct formulas near z = 0; computed in NumPy float64 / complex128), and one step is

    a = E2 v + Q N(v);  b = E2 v + Q N(a);  c = E2 a + Q (2 N(b) - N(v))
    v <- E v + f1 N(v) + 2 f2 (N(a) + N(b)) + f3 N(c)

for the Fourier coefficients v (``rfft`` / ``rfftn``: shape (F, nx//2+1) in 1-D,
(F, nx, ny//2+1) in 2-D, F fields).  The stepping runs in JAX (``lax.fori_loop`` inside
``lax.scan``, one ``jit`` per problem) in float64 (``jax.enable_x64``).  Snapshots are
saved at t = linspace(0, t_end, n_snapshots) exactly: the internal step divides the
snapshot interval.

Benchmark cases (``CASES``; /work/shared/benchmarks/README.md section 2, plus ``heat``).
"accuracy" is the self-convergence error max|u_dt - u_{dt/2}| / max|u| over all snapshots
and points (float64); "tail" is the largest Fourier amplitude with n/4 < |m| <= n/3 (the
outer part of the dealiased band) relative to the largest one, over the snapshots
(spatial resolution); "time" is the simulation alone, after JIT compilation, on 2 CPU
cores (``discover simulate`` adds about 3 s of start-up and compilation).

============  =======  =====  ============================  ======  ======================
case          dt       steps  accuracy                      time    tail
============  =======  =====  ============================  ======  ======================
heat          0.02     1      3e-15 (e^{hL} is exact)       0.1 s   1e-16
burgers       0.005    20     2e-10                         0.3 s   2e-8 (steepest, t~1.3)
kdv           0.00025  400    3e-10                         3 s     2e-8
ks            0.00125  320    9e-10 (round-off floor)       3 s     1e-10
allen_cahn    0.01     5      3e-10                         0.3 s   2e-16
fisher_kpp    0.01     20     1e-10 to t = 10, 1e-8 to      0.3 s   8e-11
                              t = 15, 2e-6 at t = 20
lambda_omega  0.0025   20     3e-10                         7 s     3e-3 at t = 0.25,
                                                                    2e-5 at t = 10
============  =======  =====  ============================  ======  ======================

("steps" per snapshot interval.)  KS is chaotic: it amplifies round-off, so its error
stops shrinking below dt = 0.00125 (dt 0.0025 gives 2e-8).  Fisher–KPP: ahead of
the fronts u = 0 is unstable (growth rate 1), and round-off of the global Fourier
representation (about 1e-16 of the mean mode per step) grows by e^t there; by t = 20 the
far field (x < 3, x > 37, where u ~ 1e-6) carries a few 1e-6 of it whatever dt is.  It
is not a time-step error, and, having grown under the PDE itself, it still satisfies the
PDE locally.

KdV: two solitons u = c/2 sech^2(sqrt(c)/2 (x - x0)), c = 4 at x0 = -15 and c = 1 at
x0 = 2 (their tails are below 1e-12 at the box edges, so the initial condition is periodic
to that level, and 8e-8 at each other).  The fast one overtakes the slow one around
t = 5.7 near x = 8 (phase shifts ln 3 forward and 2 ln 3 backward), runs out through
x = 30 near t = 11 and re-enters at x = -30 (it travels 80 in a box of 60), and ends near
x = 6 behind the slow one (near x = 20); they would meet again only near t = 25.

lambda_omega: the spiral initial condition tanh(r) cos(theta - r) (r, theta from x, y) is
not periodic on [-10, 10)^2: it jumps across the box edges, as in PDE-FIND's data.  The
128^2 data is the spectral solution on that grid (the tail above is that jump), and near
the edges it is not converged in space: 128^2 and 512^2 runs differ there by 0.1-0.5, and
in the interior |x|, |y| < 7.5 by 5e-4 early, 5e-5 at t = 2.5 and 1e-2 at t = 10 (the edge
defects travel inwards).  Methods that use interior test functions are the fair
comparison.  The cubic terms are dealiased with the 2/3 rule (exact for quadratic terms).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import os
import re
import types
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import sympy
from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations
from tokenize import TokenError

from codegen.text import check_text

from ..atomic import write_bytes_atomic
from ..errors import UserError, check_seed
from ..sympy_checks import non_finite_number

AXES = ("x", "y")
CONTOUR_POINTS = 32


class SimulationInputError(UserError, ValueError):
    """A right-hand side, initial condition, domain or option the simulator cannot use."""


# --------------------------------------------------------------------------- cases


@dataclasses.dataclass(frozen=True)
class Case:
    """A periodic PDE problem and how to simulate it.

    ``domain`` holds (low, high, n) per spatial axis (x, then y): the grid is
    low + (high - low) * arange(n) / n.  ``rhs`` maps each field to its right-hand side
    as a SymPy-parsable string in the fields, their derivatives (``u_x``, ``u_xx``,
    ``u_xxxx``, ``u_yy``, ``u_xy``, ...) and x[, y]; ``initial`` maps each field to its
    initial condition in x[, y].  ``known`` / ``hidden`` split the right-hand side of a
    hidden-term case (rhs = known + hidden); both are empty when the whole equation is
    to be found.  ``dt`` is the internal time step; it must divide the snapshot
    interval t_end / (n_snapshots - 1).  ``None`` chooses it automatically (see
    :func:`choose_dt`).
    """

    name: str
    equation: str
    fields: tuple[str, ...]
    domain: tuple[tuple[float, float, int], ...]
    t_end: float
    n_snapshots: int
    rhs: Mapping[str, str]
    initial: Mapping[str, str]
    dt: float | None
    known: Mapping[str, str] = dataclasses.field(default_factory=dict)
    hidden: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for name in ("rhs", "initial", "known", "hidden"):
            object.__setattr__(self, name, types.MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "domain", tuple((float(lo), float(hi), int(n)) for lo, hi, n in self.domain))

    def __reduce__(self):  # MappingProxyType does not pickle; rebuild from plain dicts
        values = (getattr(self, f.name) for f in dataclasses.fields(self))
        return Case, tuple(dict(v) if isinstance(v, types.MappingProxyType) else v for v in values)

    @property
    def axes(self) -> tuple[str, ...]:
        return AXES[: len(self.domain)]

    @property
    def interval(self) -> float:
        """Time between saved snapshots."""
        return self.t_end / (self.n_snapshots - 1)

    def grid(self) -> dict[str, np.ndarray]:
        """The 1-D coordinates per axis: {"x": (nx,), ["y": (ny,)]}."""
        return {a: lo + (hi - lo) * np.arange(n) / n for a, (lo, hi, n) in zip(self.axes, self.domain)}


def _lambda_omega_rhs(own: str, other: str, sign: str) -> str:
    # u_t = 0.1 Δu + (1 - A²) u + A² v,  v_t = 0.1 Δv - A² u + (1 - A²) v,  A² = u² + v²
    return f"0.1*{own}_xx + 0.1*{own}_yy + (1 - (u**2 + v**2))*{own} {sign} (u**2 + v**2)*{other}"


_SPIRAL_R = "sqrt(x**2 + y**2)"

CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case("heat", "u_t = 0.1*u_xx", ("u",), ((0.0, 2 * math.pi, 128),), 2.0, 101,
             {"u": "0.1*u_xx"}, {"u": "sin(x) + 0.5*cos(3*x)"}, dt=0.02),
        Case("burgers", "u_t = -u*u_x + 0.1*u_xx", ("u",), ((-8.0, 8.0, 256),), 10.0, 101,
             {"u": "-u*u_x + 0.1*u_xx"}, {"u": "exp(-(x + 2)**2)"}, dt=0.005),
        Case("kdv", "u_t = -6*u*u_x - u_xxx", ("u",), ((-30.0, 30.0, 512),), 20.0, 201,
             {"u": "-6*u*u_x - u_xxx"},
             {"u": "2*sech(x + 15)**2 + 0.5*sech(0.5*(x - 2))**2"}, dt=0.00025),
        Case("ks", "u_t = -u*u_x - u_xx - u_xxxx", ("u",), ((0.0, 32 * math.pi, 512),), 100.0, 251,
             {"u": "-u*u_x - u_xx - u_xxxx"}, {"u": "cos(x/16)*(1 + sin(x/16))"}, dt=0.00125),
        Case("allen_cahn", "u_t = 0.01*u_xx + [u - u**3]", ("u",), ((-1.0, 1.0, 256),), 5.0, 101,
             {"u": "0.01*u_xx + u - u**3"}, {"u": "0.5*sin(pi*x) + 0.2*cos(3*pi*x)"}, dt=0.01,
             known={"u": "0.01*u_xx"}, hidden={"u": "u - u**3"}),
        Case("fisher_kpp", "u_t = 0.1*u_xx + [u*(1 - u)]", ("u",), ((0.0, 40.0, 256),), 20.0, 101,
             {"u": "0.1*u_xx + u*(1 - u)"}, {"u": "0.5*exp(-(x - 20)**2/4)"}, dt=0.01,
             known={"u": "0.1*u_xx"}, hidden={"u": "u*(1 - u)"}),
        Case("lambda_omega",
             "u_t = 0.1*(u_xx + u_yy) + (1 - A2)*u + A2*v; v_t = 0.1*(v_xx + v_yy) - A2*u + (1 - A2)*v; "
             "A2 = u**2 + v**2",
             ("u", "v"), ((-10.0, 10.0, 128), (-10.0, 10.0, 128)), 10.0, 201,
             {"u": _lambda_omega_rhs("u", "v", "+"), "v": _lambda_omega_rhs("v", "u", "-")},
             {"u": f"tanh({_SPIRAL_R})*cos(atan2(y, x) - {_SPIRAL_R})",
              "v": f"tanh({_SPIRAL_R})*sin(atan2(y, x) - {_SPIRAL_R})"}, dt=0.0025),
    )
}


def get_case(case: str | Case) -> Case:
    """The registered case of that name (or ``case`` itself); a clear error otherwise."""
    if isinstance(case, Case):
        return case
    if case not in CASES:
        raise SimulationInputError(f"unknown case '{case}'; valid cases: {', '.join(CASES)}")
    return CASES[case]


# --------------------------------------------------------------------------- parsing


class _Symbols(NamedTuple):
    """The names a right-hand side may use: fields, derivatives and coordinates."""

    fields: dict[str, sympy.Symbol]
    coords: dict[str, sympy.Symbol]
    derivatives: dict[sympy.Symbol, tuple[str, tuple[int, ...]]]  # symbol -> (field, order per axis)


def _symbols_for(texts: Sequence[str], fields: Sequence[str], axes: Sequence[str]) -> _Symbols:
    """Symbols for the fields, the coordinates and every derivative name in ``texts``.

    A derivative name is ``<field>_<axes letters>``: ``u_xxx`` is d^3u/dx^3, ``u_xy`` is
    d^2u/dxdy.  A name that looks like a derivative of a field along an axis the domain
    does not have (``u_y`` in 1-D, ``u_t``) is an error.
    """
    field_syms = {f: sympy.Symbol(f) for f in fields}
    coords = {a: sympy.Symbol(a) for a in axes}
    derivatives: dict[sympy.Symbol, tuple[str, tuple[int, ...]]] = {}
    for text in texts:
        for token in set(re.findall(r"[A-Za-z_]\w*", text)):
            field, sep, letters = token.partition("_")
            if not sep or field not in field_syms or token in field_syms:
                continue
            if not letters or any(c not in axes for c in letters):
                raise SimulationInputError(
                    f"'{token}' is not a derivative on this domain: write {field}_x, {field}_xx, ... "
                    f"with letters from {', '.join(axes)}")
            derivatives[sympy.Symbol(token)] = (field, tuple(letters.count(a) for a in axes))
    return _Symbols(field_syms, coords, derivatives)


def _parse(text: str, symbols: _Symbols, what: str, allowed: set[sympy.Symbol]) -> sympy.Expr:
    """``text`` as a SymPy expression in ``allowed`` symbols only (``^`` is a power)."""
    local = {**{s.name: s for s in symbols.derivatives}, **symbols.fields, **symbols.coords}
    if not text.strip():
        raise SimulationInputError(f"{what} is empty")
    try:
        check_text(text, local)
        expr = parse_expr(text, local_dict=local, transformations=standard_transformations + (convert_xor,))
    except (SyntaxError, TypeError, ValueError, AttributeError, sympy.SympifyError, TokenError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SimulationInputError(f"cannot parse {what} '{text}': {reason}") from None
    if not isinstance(expr, sympy.Expr):
        raise SimulationInputError(f"{what} '{text}' is not an expression")
    if expr.has(sympy.Derivative, sympy.Integral):
        raise SimulationInputError(f"{what} '{text}': write derivatives by name (u_x, u_xx, u_xy, ...), "
                                   "not Derivative(...) or Integral(...)")
    bad_number = non_finite_number(expr)
    if bad_number is not None:
        raise SimulationInputError(f"{what} '{text}' has the non-finite value {bad_number}; "
                                   "give finite coefficients")
    unknown = sorted(str(s) for s in expr.free_symbols - allowed)
    functions = sorted({str(f.func) for f in expr.atoms(sympy.core.function.AppliedUndef)})
    if unknown or functions:
        names = ", ".join(unknown + [f"{f}()" for f in functions])
        usable = ", ".join(sorted(str(s) for s in allowed))
        raise SimulationInputError(f"{what} '{text}' uses unknown name(s) {names}; usable: {usable}")
    return expr


class _Split(NamedTuple):
    """A right-hand side split into its diagonal linear part and the rest."""

    linear: list[tuple[float, tuple[int, ...]]]  # (coefficient, derivative order per axis)
    nonlinear: sympy.Expr


def _split_linear(expr: sympy.Expr, field: str, symbols: _Symbols) -> _Split:
    """Terms c * D f (c a real number, D a pure derivative of f or the identity) -> L.

    Everything else (products, other fields, x-dependent coefficients, constants) stays in
    the nonlinear remainder.  The expression is expanded first so that u*(1 - u) gives
    the linear term u.
    """
    ndim = len(symbols.coords)
    own = {symbols.fields[field]: (0,) * ndim}
    own.update({s: orders for s, (f, orders) in symbols.derivatives.items() if f == field})
    dependent = [*symbols.fields.values(), *symbols.derivatives, *symbols.coords.values()]
    linear, rest = [], []
    terms = sympy.Add.make_args(sympy.expand(expr, power_exp=False, power_base=False, log=False))
    for term in terms:
        coeff, dep = term.as_independent(*dependent, as_Add=False)
        if dep in own and coeff.is_number and coeff.is_real:
            linear.append((float(coeff), own[dep]))
        else:
            rest.append(term)
    return _Split(linear, sympy.Add(*rest))


# --------------------------------------------------------------------------- spectral problem


def _wavenumbers(domain: Sequence[tuple[float, float, int]], odd: bool) -> list[np.ndarray]:
    """Angular wavenumbers per axis, broadcast to the rfftn layout (nx[, ny//2+1]).

    With ``odd`` the Nyquist wavenumber is 0: an odd derivative of the Nyquist mode
    cos(pi x / dx) is zero on the grid (and keeps the data real).
    """
    ks = []
    ndim = len(domain)
    for axis, (lo, hi, n) in enumerate(domain):
        last = axis == ndim - 1
        m = np.fft.rfftfreq(n, 1.0 / n) if last else np.fft.fftfreq(n, 1.0 / n)
        if odd and n % 2 == 0:
            m = np.where(np.abs(m) == n // 2, 0.0, m)
        shape = [1] * ndim
        shape[axis] = m.size
        ks.append((2 * np.pi / (hi - lo) * m).reshape(shape))
    return ks


def _multiplier(domain, orders: tuple[int, ...]) -> np.ndarray:
    """Fourier multiplier prod_a (i k_a)^{p_a} of the derivative with orders p (rfftn layout)."""
    out = np.ones((), dtype=complex)
    for p, k_even, k_odd in zip(orders, _wavenumbers(domain, False), _wavenumbers(domain, True)):
        if p:
            out = out * (1j * (k_odd if p % 2 else k_even)) ** p
    return out


def _spectral_shape(domain) -> tuple[int, ...]:
    ns = [n for _, _, n in domain]
    return (*ns[:-1], ns[-1] // 2 + 1)


def _dealias_mask(domain) -> np.ndarray:
    """1 where every axis's mode index |m| <= n/3 (2/3 rule), else 0; rfftn layout."""
    mask = np.ones(_spectral_shape(domain), dtype=bool)
    ndim = len(domain)
    for axis, (_, _, n) in enumerate(domain):
        m = np.fft.rfftfreq(n, 1.0 / n) if axis == ndim - 1 else np.fft.fftfreq(n, 1.0 / n)
        shape = [1] * ndim
        shape[axis] = m.size
        mask = mask & (np.abs(m) <= n // 3).reshape(shape)
    return mask


class Coefficients(NamedTuple):
    """ETDRK4 coefficient arrays, each (F, *spectral_shape)."""

    E: Any
    E2: Any
    Q: Any
    f1: Any
    f2: Any
    f3: Any


def etdrk4_coefficients(L: np.ndarray, h: float, points: int = CONTOUR_POINTS) -> Coefficients:
    """Kassam–Trefethen ETDRK4 coefficients for the diagonal operator ``L`` and step ``h``.

    The phi-function combinations are means over ``points`` points on the unit circle
    around each z = hL (complex128).  Real ``L`` gives real coefficients.
    """
    L = np.asarray(L, dtype=complex)
    z = h * L[..., None] + np.exp(2j * np.pi * (np.arange(1, points + 1) - 0.5) / points)
    ez = np.exp(z)

    def mean(g):
        out = h * np.mean(g, axis=-1)
        return out.real.copy() if np.all(L.imag == 0) else out

    E = np.exp(h * L)
    E2 = np.exp(h * L / 2)
    if np.all(L.imag == 0):
        E, E2 = E.real, E2.real
    return Coefficients(
        E=E,
        E2=E2,
        Q=mean((np.exp(z / 2) - 1) / z),
        f1=mean((-4 - z + ez * (4 - 3 * z + z**2)) / z**3),
        f2=mean((2 + z + ez * (z - 2)) / z**3),
        f3=mean((-4 - 3 * z - z**2 + ez * (4 - z)) / z**3),
    )


@dataclasses.dataclass
class SpectralProblem:
    """u_t = L u + N(u) for the stacked fields, in rfftn coordinates.

    ``L``: (F, *spectral_shape) complex; ``nonlinear(v) -> N_hat`` maps Fourier
    coefficients (F, *spectral_shape) to those of N (JAX, traceable), or is ``None``
    when N = 0.
    """

    fields: tuple[str, ...]
    domain: tuple[tuple[float, float, int], ...]
    L: np.ndarray
    nonlinear: Any
    dealiased: bool

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(n for _, _, n in self.domain)


def build_problem(rhs: Mapping[str, str], domain: Sequence[tuple[float, float, int]]) -> SpectralProblem:
    """Parse the right-hand sides and split them into L (diagonal) and N (pseudo-spectral).

    ``rhs``: field -> right-hand side string (see :class:`Case`).  Raises
    :class:`SimulationInputError` for anything it cannot use.
    """
    fields = tuple(rhs)
    axes = AXES[: len(domain)]
    for f in fields:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", f) or f in ("t", *AXES):
            raise SimulationInputError(
                f"field name '{f}' must be letters and digits (no '_'), and not a coordinate's name (t, "
                f"{', '.join(AXES)})")
    symbols = _symbols_for(list(rhs.values()), fields, axes)
    allowed = {*symbols.fields.values(), *symbols.coords.values(), *symbols.derivatives}
    splits = {f: _split_linear(_parse(text, symbols, f"right-hand side of {f}_t", allowed), f, symbols)
              for f, text in rhs.items()}
    spectral = _spectral_shape(domain)
    L = np.zeros((len(fields), *spectral), dtype=complex)
    for i, f in enumerate(fields):
        for coeff, orders in splits[f].linear:
            L[i] = L[i] + coeff * _multiplier(domain, orders)
    exprs = [splits[f].nonlinear for f in fields]
    if all(e == 0 for e in exprs):
        return SpectralProblem(fields, tuple(domain), L, None, False)
    field_syms = [*symbols.fields.values(), *symbols.derivatives]
    dealias = not all(_is_linear(e, field_syms) for e in exprs)
    nonlinear = _nonlinear_function(exprs, fields, symbols, tuple(domain), dealias)
    return SpectralProblem(fields, tuple(domain), L, nonlinear, dealias)


def _is_linear(expr: sympy.Expr, field_syms) -> bool:
    """Degree <= 1 in the fields and derivatives with constant coefficients (no aliasing)."""
    if expr.free_symbols - set(field_syms):
        return False
    return expr.is_polynomial(*field_syms) and sympy.Poly(expr, *field_syms).total_degree() <= 1


def _nonlinear_function(exprs, fields, symbols: _Symbols, domain, dealias: bool):
    """N_hat(v): the nonlinear parts, pseudo-spectrally, as a traceable JAX function.

    Every field or derivative the expressions use is one row of a stacked array
    v[field_index] * multiplier, brought to the grid by a single batched irfftn; the
    nonzero right-hand sides are evaluated there (SymPy lambdified to jax.numpy) and
    brought back by a single batched rfftn.
    """
    import jax.numpy as jnp

    used = sorted(set().union(*(e.free_symbols for e in exprs)), key=str)
    values = [s for s in used if s in symbols.derivatives or s in symbols.fields.values()]
    coords = [s for s in used if s in symbols.coords.values()]
    ndim = len(domain)
    index, mults = [], []
    for s in values:
        field, orders = symbols.derivatives.get(s, (s.name, (0,) * ndim))
        index.append(fields.index(field))
        mults.append(np.broadcast_to(_multiplier(domain, orders), _spectral_shape(domain)))
    index = np.array(index, dtype=int)
    mults = np.stack(mults) if mults else np.zeros((0, *_spectral_shape(domain)), dtype=complex)
    shape = tuple(n for _, _, n in domain)
    axes = tuple(range(1, ndim + 1))
    grid = np.meshgrid(*(lo + (hi - lo) * np.arange(n) / n for lo, hi, n in domain), indexing="ij")
    coord_values = [grid[AXES.index(s.name)] for s in coords]
    active = [i for i, e in enumerate(exprs) if e != 0]
    function = sympy.lambdify([*values, *coords], [exprs[i] for i in active], modules="jax")
    mask = _dealias_mask(domain) if dealias else None

    def nonlinear(v):
        physical = jnp.fft.irfftn(v[index] * mults, s=shape, axes=axes) if len(values) else []
        outs = function(*physical, *coord_values)
        grid_values = jnp.stack([jnp.broadcast_to(jnp.asarray(o, dtype=jnp.float64), shape) for o in outs])
        n_hat = jnp.fft.rfftn(grid_values, axes=axes)
        if mask is not None:
            n_hat = n_hat * mask
        if len(active) == len(fields):
            return n_hat
        full = jnp.zeros((len(fields), *_spectral_shape(domain)), dtype=n_hat.dtype)
        return full.at[np.array(active)].set(n_hat)

    return nonlinear


# --------------------------------------------------------------------------- time stepping


def _etdrk4_step(c: Coefficients, v, nonlinear):
    """One ETDRK4 step of v (F, *spectral_shape) complex."""
    if nonlinear is None:
        return c.E * v
    nv = nonlinear(v)
    a = c.E2 * v + c.Q * nv
    na = nonlinear(a)
    b = c.E2 * v + c.Q * na
    nb = nonlinear(b)
    cc = c.E2 * a + c.Q * (2 * nb - nv)
    nc = nonlinear(cc)
    return c.E * v + c.f1 * nv + 2 * c.f2 * (na + nb) + c.f3 * nc


def _compiled(problem: SpectralProblem, n_out: int):
    """jit(run)(coeffs, v0, steps) -> (n_out, F, *shape) grid values after each block of steps.

    ``steps`` (per saved snapshot) is a traced integer, so one compilation serves every
    step size (the automatic choice of dt tries several).
    """
    import jax
    import jax.numpy as jnp

    shape = problem.shape
    axes = tuple(range(1, len(shape) + 1))
    nonlinear = problem.nonlinear

    def run(coeffs, v0, steps):
        def block(v, _):
            v = jax.lax.fori_loop(0, steps, lambda _, w: _etdrk4_step(coeffs, w, nonlinear), v)
            return v, jnp.fft.irfftn(v, s=shape, axes=axes)

        return jax.lax.scan(block, v0, None, length=n_out)[1]

    return jax.jit(run)


def integrate(problem: SpectralProblem, u0: np.ndarray, dt: float, steps: int, n_out: int,
              runner=None) -> np.ndarray:
    """Grid values (n_out, F, *shape) after each of ``n_out`` blocks of ``steps`` ETDRK4 steps.

    ``u0``: (F, *shape) float64 initial grid values.
    """
    import jax
    import jax.numpy as jnp
    from search.jax_setup import configure

    configure()  # the persistent compilation cache: a second run of a case starts at once
    with jax.enable_x64(True):
        runner = runner or _compiled(problem, n_out)
        coeffs = Coefficients(*(jnp.asarray(c) for c in etdrk4_coefficients(problem.L, dt)))
        v0 = jnp.fft.rfftn(jnp.asarray(u0, dtype=jnp.float64), axes=tuple(range(1, u0.ndim)))
        out = runner(coeffs, v0, jnp.int32(steps))
        return np.asarray(out, dtype=np.float64)


#: at most this many time steps in one simulation with a given dt, and this many bytes of
#: record (snapshots x fields x grid points, float64): beyond, one clear line, not hours
#: of silent stepping or an allocation the machine cannot make
MAX_STEPS = 10**7
MAX_RECORD_BYTES = 4 * 2**30
#: :func:`choose_dt`'s first step (at most) and its largest number of steps per interval
FIRST_DT = 0.01
CHOOSE_DT_MAX_STEPS = 1 << 16


def choose_dt(problem: SpectralProblem, u0: np.ndarray, interval: float, tol: float = 1e-9,
              max_steps: int = CHOOSE_DT_MAX_STEPS) -> float:
    """A step that divides ``interval``, by self-convergence over the first interval.

    Starting from dt = interval / ceil(interval / 0.01), halve dt until two steps of dt/2
    and one of dt differ after one interval by less than ``tol`` * max|u|; return the
    smaller step.  ETDRK4 is fourth order, so its error is then about tol / 15 over that
    interval; errors that grow later (chaotic or long runs) are not seen: give ``dt``
    explicitly and check by halving it for those.
    """
    steps = max(1, math.ceil(interval / FIRST_DT - 1e-9))
    runner = _compiled(problem, 1)
    previous = integrate(problem, u0, interval / steps, steps, 1, runner)
    scale = max(np.max(np.abs(u0)), 1e-300)
    while steps < max_steps:
        steps *= 2
        current = integrate(problem, u0, interval / steps, steps, 1, runner)
        if np.all(np.isfinite(current)) and np.max(np.abs(current - previous)) <= tol * scale:
            return interval / steps
        previous = current
    raise SimulationInputError(
        f"no time step down to {interval / max_steps:.3g} reaches accuracy {tol:g} over the first snapshot "
        "interval; the solution may blow up, or give --dt")


def steps_per_snapshot(interval: float, dt: float) -> int:
    """interval / dt as a whole number; an error if dt does not divide interval."""
    steps = round(interval / dt)
    if steps < 1 or abs(steps * dt - interval) > 1e-9 * interval:
        raise SimulationInputError(
            f"the time step {dt:g} does not divide the snapshot interval {interval:g} into whole steps")
    return steps


# --------------------------------------------------------------------------- solving a case


def initial_values(case: Case) -> np.ndarray:
    """The initial condition on the grid: (F, nx[, ny]) float64."""
    grid = np.meshgrid(*case.grid().values(), indexing="ij")
    missing = [f for f in case.fields if f not in case.initial]
    if missing:
        raise SimulationInputError(f"no initial condition for {', '.join(missing)}")
    return np.stack([_initial_field(f"initial condition of {f}", case.initial[f], case.axes, grid)
                     for f in case.fields])


def periodicity_notes(case: Case, u0: np.ndarray, tolerance: float = 1e-6) -> list[str]:
    """One line per field and axis where the initial condition differs at the two ends of
    the periodic interval by more than ``tolerance`` of its largest value on the grid
    (``u0``, :func:`initial_values`): the simulator wraps the field around, so there it
    starts with a jump (a user's ``--ic x`` on [0, 2π))."""
    notes = []
    axes = case.axes
    coordinates = list(case.grid().values())
    for i, f in enumerate(case.fields):
        scale = float(np.max(np.abs(u0[i])))
        function = _initial_function(f"initial condition of {f}", case.initial[f], axes)
        for a, (lo, hi, _) in enumerate(case.domain):
            ends = [np.meshgrid(*(coordinates[:a] + [np.array([value])] + coordinates[a + 1:]), indexing="ij")
                    for value in (lo, hi)]
            with np.errstate(all="ignore"):
                # the ends are not grid points: not checked as _initial_field checks the grid
                low, high = (np.broadcast_to(np.asarray(function(*g), dtype=np.float64), g[0].shape) for g in ends)
            if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                continue   # singular at an end, which is not a grid point: nothing to compare
            gap = float(np.max(np.abs(high - low)))
            if gap > tolerance * max(scale, 1e-300):
                notes.append(f"the initial condition of {f} is not periodic in {axes[a]} on [{lo:g}, {hi:g}): its "
                             f"values at the two ends differ by up to {gap:.3g}, so it starts with a jump there")
    return notes


def _initial_function(what: str, text: str, axes: Sequence[str]):
    """``text`` (a SymPy expression in the coordinates) as a NumPy function of them."""
    symbols = _Symbols({}, {a: sympy.Symbol(a) for a in axes}, {})
    expr = _parse(text, symbols, what, set(symbols.coords.values()))
    return sympy.lambdify(list(symbols.coords.values()), expr, modules="numpy")


def _initial_field(what: str, text: str, axes: Sequence[str], grid: list[np.ndarray]) -> np.ndarray:
    """``text`` (a SymPy expression in the coordinates) evaluated on the meshgrid ``grid``."""
    function = _initial_function(what, text, axes)
    with np.errstate(all="ignore"):
        try:
            values = np.broadcast_to(np.asarray(function(*grid)), grid[0].shape)
        except (TypeError, ValueError) as exc:
            raise SimulationInputError(f"{what} '{text}' cannot be evaluated: {exc}") from None
    if values.dtype.kind not in "biufc" or (values.dtype.kind == "c" and np.any(values.imag != 0)):
        raise SimulationInputError(f"{what} '{text}' is not real on the grid")
    values = values.real.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise SimulationInputError(f"{what} '{text}' is not finite on the grid")
    return values


def validate(case: Case) -> None:
    """Check a case's shape and numbers (cheap; parsing happens in :func:`build_problem`)."""
    if set(case.rhs) != set(case.fields) or set(case.initial) - set(case.fields):
        raise SimulationInputError(
            f"fields {', '.join(case.fields)} need one right-hand side and one initial condition each")
    if not 1 <= len(case.domain) <= 2:
        raise SimulationInputError(f"1-D or 2-D domains only, not {len(case.domain)}-D")
    for axis, (lo, hi, n) in zip(case.axes, case.domain):
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise SimulationInputError(f"{axis} domain [{lo:g}, {hi:g}) must have high > low")
        if n < 4 or n % 2:
            raise SimulationInputError(f"{axis}: the number of points must be even and at least 4, not {n}")
    if not (math.isfinite(case.t_end) and case.t_end > 0):
        raise SimulationInputError(f"t_end must be positive, not {case.t_end:g}")
    if case.n_snapshots < 2:
        raise SimulationInputError(f"at least 2 snapshots are needed, not {case.n_snapshots}")
    grid = math.prod(n for *_, n in case.domain)
    record = case.n_snapshots * len(case.fields) * grid * 8
    if record > MAX_RECORD_BYTES:
        raise SimulationInputError(
            f"the record would take {record / 2**30:.1f} GiB ({case.n_snapshots:,} snapshots of {grid:,} grid points "
            f"per field; at most {MAX_RECORD_BYTES / 2**30:g} GiB): use fewer points (--points) or snapshots")
    if case.dt is not None:
        if not (math.isfinite(case.dt) and case.dt > 0):
            raise SimulationInputError(f"dt must be positive, not {case.dt:g}")
        total = case.interval / case.dt * (case.n_snapshots - 1)
        if total > MAX_STEPS:
            raise SimulationInputError(
                f"a time step of {case.dt:g} over t in [0, {case.t_end:g}] is {total:.3g} steps (at most "
                f"{MAX_STEPS:.0e}): give a larger time step (--dt) or a shorter run (--t-end)")
        steps_per_snapshot(case.interval, case.dt)
    elif case.interval / FIRST_DT > CHOOSE_DT_MAX_STEPS:
        raise SimulationInputError(
            f"the time step is chosen over one snapshot interval, and {case.interval:g} is too long for that "
            f"(at most {CHOOSE_DT_MAX_STEPS * FIRST_DT:g}): give more snapshots or a time step (--dt)")


def solve(case: Case) -> dict[str, np.ndarray]:
    """The clean simulation: {"t": (nt,), "x": (nx,), ["y": (ny,)], field: (nt, nx[, ny])}."""
    validate(case)
    problem = build_problem(case.rhs, case.domain)
    _check_well_posed(problem, case)
    u0 = initial_values(case)
    _check_rhs_finite(problem, u0)
    dt = case.dt if case.dt is not None else choose_dt(problem, u0, case.interval)
    steps = steps_per_snapshot(case.interval, dt)
    later = integrate(problem, u0, dt, steps, case.n_snapshots - 1)
    values = np.concatenate([u0[None], later])  # (nt, F, *shape)
    if not np.all(np.isfinite(values)):
        first = int(np.argmin(np.isfinite(values).reshape(len(values), -1).all(axis=1)))
        t_bad = first * case.interval
        raise SimulationInputError(f"the solution of {case.name} blew up (inf/nan) by t = {t_bad:.3g} (finite at "
                                   f"t = {t_bad - case.interval:.3g}); the equation may have no solution past that "
                                   "(try a smaller --t-end) or need a smaller time step (--dt)")
    data: dict[str, np.ndarray] = {"t": np.linspace(0.0, case.t_end, case.n_snapshots), **case.grid()}
    for i, f in enumerate(case.fields):
        data[f] = np.ascontiguousarray(values[:, i])
    return data


#: the largest growth factor, as a power of e, that the linear part of an ill-posed
#: equation may give its finest Fourier mode over the run before the simulation is refused
ILL_POSED_GROWTH = 20.0


def _check_well_posed(problem: SpectralProblem, case: Case) -> None:
    """Refuse a linear part whose growth rate rises with the wavenumber (backward
    diffusion, ``u_t = -u_xx``): ill-posed, its finest modes grow by ``e**(rate t)`` and
    the record would be rounding noise amplified (1e257 for ``-0.1*u_xx`` over t = 10),
    however fine the time step.  The test: the fastest growth is among the finest modes
    (|k| within 10 % of the grid's largest), beyond the constant mode's, and large over
    the run.  Kuramoto–Sivashinsky (``-u_xx - u_xxxx``: growth peaks at |k| = 0.7 and the
    finest modes decay) and Swift–Hohenberg pass."""
    k2 = sum(k**2 for k in _wavenumbers(problem.domain, False))
    finest = np.broadcast_to(k2 >= 0.81 * k2.max(), problem.L.shape[1:])
    for i, f in enumerate(problem.fields):
        rates = problem.L[i].real
        fastest, at_zero = rates.max(), rates.flat[0]
        if rates[finest].max() >= fastest > max(at_zero, 0.0) and fastest * case.t_end > ILL_POSED_GROWTH:
            raise SimulationInputError(
                f"the linear part of {f}_t grows its finest Fourier modes like exp({fastest:.3g} t), faster the finer "
                f"the mode: an ill-posed equation (backward diffusion such as u_t = -u_xx?); check the signs of "
                "its derivative terms")


def _check_rhs_finite(problem: SpectralProblem, u0: np.ndarray) -> None:
    """The right-hand side's nonlinear part at the initial condition must be finite."""
    if problem.nonlinear is None:
        return
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        v0 = jnp.fft.rfftn(jnp.asarray(u0, dtype=jnp.float64), axes=tuple(range(1, u0.ndim)))
        values = np.asarray(problem.nonlinear(v0))
    if not np.all(np.isfinite(values)):
        raise SimulationInputError("the right-hand side is not finite at the initial condition (log or sqrt of a "
                                   "negative value, a division by zero?); change the initial condition or the "
                                   "right-hand side")


@functools.lru_cache(maxsize=4)
def _solve_registered(name: str) -> dict[str, np.ndarray]:
    data = solve(CASES[name])
    for array in data.values():
        array.flags.writeable = False
    return data


# --------------------------------------------------------------------------- public API


def simulate(case: str | Case, *, noise: float = 0.0, snapshots: int | None = None,
             sensors: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Simulate a case, subsample it and add noise.

    Returns {"t": (nt,), "x": (nx,), ["y": (ny,)], field: (nt, nx[, ny]) float64, ...,
    "case", "equation", "rhs", "known", "hidden" (dicts), "noise", "seed"}.

    ``snapshots=N`` keeps N snapshots evenly spaced over the time span (indices
    round(linspace(0, nt - 1, N))); ``sensors=M`` keeps every (n/M)-th grid point along
    each spatial axis (M must divide n, so the data stays a uniform periodic grid).
    Noise (after subsampling): Gaussian, std = ``noise`` * RMS(field) per field, from
    ``numpy.random.default_rng(seed)``, fields in order.  Registered cases are simulated
    once per process and cached.
    """
    case = get_case(case)
    check_options(case, noise=noise, snapshots=snapshots, sensors=sensors, seed=seed)
    clean = _solve_registered(case.name) if CASES.get(case.name) is case else solve(case)
    data = subsample(clean, case.fields, snapshots=snapshots, sensors=sensors)
    data = add_noise(data, case.fields, noise, seed)
    data.update(case=case.name, equation=case.equation, rhs=dict(case.rhs), known=dict(case.known),
                hidden=dict(case.hidden), noise=float(noise), seed=int(seed))
    return data


def simulate_rhs(rhs: Mapping[str, str], domain: Sequence[tuple[float, float]], n: int | Sequence[int],
                 t_end: float, n_snapshots: int, initial: Mapping[str, str] | str,
                 dt: float | None = None, *, noise: float = 0.0, sensors: int | None = None,
                 seed: int = 0) -> dict[str, Any]:
    """Simulate any periodic right-hand side: ``simulate_rhs({"u": "-u*u_x + 0.1*u_xx"}, ...)``.

    ``domain``: (low, high) per axis (x[, y]); ``n``: points per axis (one int for all);
    ``initial``: field -> SymPy expression in x[, y] (a bare string for a single field).
    ``dt=None`` chooses the step automatically (:func:`choose_dt`); a given ``dt`` that
    does not divide the snapshot interval is reduced to the next one that does.  Returns
    what :func:`simulate` returns, with case "custom".
    """
    return simulate(custom_case(rhs, domain, n, t_end, n_snapshots, initial, dt),
                    noise=noise, sensors=sensors, seed=seed)


def custom_case(rhs: Mapping[str, str], domain: Sequence[tuple[float, float]], n: int | Sequence[int],
                t_end: float, n_snapshots: int, initial: Mapping[str, str] | str,
                dt: float | None = None) -> Case:
    """A :class:`Case` named "custom" for a user's right-hand side (see :func:`simulate_rhs`)."""
    fields = tuple(rhs)
    if not fields:
        raise SimulationInputError("give at least one right-hand side")
    if isinstance(initial, str):
        if len(fields) != 1:
            raise SimulationInputError(f"give one initial condition per field ({', '.join(fields)})")
        initial = {fields[0]: initial}
    domain = [tuple(d) for d in domain]
    if any(len(d) != 2 for d in domain):
        raise SimulationInputError("domain: give (low, high) per axis")
    ns = [int(n)] * len(domain) if np.ndim(n) == 0 else [int(m) for m in n]
    if len(ns) != len(domain):
        raise SimulationInputError(f"{len(ns)} point counts for {len(domain)} axes")
    missing = [f for f in fields if f not in initial]
    if missing:
        raise SimulationInputError(f"no initial condition for {', '.join(missing)}")
    if n_snapshots < 2:
        raise SimulationInputError(f"at least 2 snapshots are needed, not {n_snapshots}")
    if dt is not None and dt > 0 and t_end > 0:
        interval = t_end / (n_snapshots - 1)
        dt = interval / max(1, math.ceil(interval / dt - 1e-9))
    equation = "; ".join(f"{f}_t = {text}" for f, text in rhs.items())
    return Case("custom", equation, fields, [(lo, hi, m) for (lo, hi), m in zip(domain, ns)], float(t_end),
                int(n_snapshots), dict(rhs), dict(initial), dt)


def check_options(case: Case, *, noise: float, snapshots: int | None, sensors: int | None, seed: int = 0) -> None:
    """Errors for options that do not fit the case (before any simulation runs)."""
    if not (math.isfinite(noise) and noise >= 0):
        raise SimulationInputError(f"noise must be a non-negative number, not {noise:g}")
    try:
        check_seed(seed)
    except UserError as exc:
        raise SimulationInputError(str(exc)) from None
    if snapshots is not None and not 2 <= snapshots <= case.n_snapshots:
        raise SimulationInputError(
            f"snapshots must be between 2 and {case.n_snapshots} (the simulated ones), not {snapshots}")
    if snapshots is not None and (case.n_snapshots - 1) % (snapshots - 1):
        valid = [n for n in range(2, case.n_snapshots + 1) if (case.n_snapshots - 1) % (n - 1) == 0]
        raise SimulationInputError(
            f"{snapshots} snapshots cannot be evenly spaced among the {case.n_snapshots} simulated ones; "
            f"choose one of {', '.join(map(str, valid))}")
    if sensors is not None:
        for axis, (_, _, n) in zip(case.axes, case.domain):
            if sensors < 2 or n % sensors:
                divisors = [d for d in range(2, n + 1) if n % d == 0]
                raise SimulationInputError(
                    f"sensors must divide the {n} grid points along {axis} (uniform periodic subgrid); "
                    f"choose one of {', '.join(map(str, divisors))}, not {sensors}")


def subsample(data: Mapping[str, np.ndarray], fields: Sequence[str], *, snapshots: int | None = None,
              sensors: int | None = None) -> dict[str, np.ndarray]:
    """Keep ``snapshots`` evenly spaced times and every (n/``sensors``)-th point per axis (copies)."""
    out = {k: np.array(v) for k, v in data.items()}
    nt = out["t"].size
    t_index = np.rint(np.linspace(0, nt - 1, snapshots)).astype(int) if snapshots else np.arange(nt)
    axes = [a for a in AXES if a in out]
    strides = [out[a].size // sensors if sensors else 1 for a in axes]
    out["t"] = out["t"][t_index]
    for a, s in zip(axes, strides):
        out[a] = out[a][::s]
    space = tuple(slice(None, None, s) for s in strides)
    for f in fields:
        out[f] = np.ascontiguousarray(out[f][t_index][(slice(None), *space)])
    return out


def add_noise(data: dict[str, np.ndarray], fields: Sequence[str], level: float, seed: int) -> dict[str, np.ndarray]:
    """Gaussian noise of std level * RMS(field), per field, from default_rng(seed)."""
    if level == 0:
        return data
    rng = np.random.default_rng(seed)
    for f in fields:
        values = data[f]
        rms = float(np.sqrt(np.mean(values**2)))
        data[f] = values + rng.normal(0.0, level * rms, values.shape)
    return data


# --------------------------------------------------------------------------- files

_METADATA = ("case", "equation", "rhs", "known", "hidden", "noise", "seed")
_JSON_ATTRS = ("rhs", "known", "hidden")


def _arrays_and_attrs(data: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in data.items() if k not in _METADATA}
    attrs: dict[str, Any] = {
        "case": str(data.get("case", "custom")),
        "equation": str(data.get("equation", "")),
        **{k: json.dumps(dict(data.get(k) or {})) for k in _JSON_ATTRS},
        "noise": float(data.get("noise", 0.0)),
        "seed": int(data.get("seed", 0)),
        "periodic": True,
    }
    return arrays, attrs


def write_h5(path: str | os.PathLike, data: Mapping[str, Any]) -> None:
    """Write the data as HDF5, atomically (temporary file in the same directory, then rename).

    One dataset per field ((nt, nx) or (nt, nx, ny)) and ``t``, ``x``[, ``y``]; root
    attributes case, equation, rhs / known / hidden (JSON strings), noise, seed, periodic.
    """
    import h5py

    arrays, attrs = _arrays_and_attrs(data)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", track_order=True) as handle:
        for name, values in arrays.items():
            handle.create_dataset(name, data=values)
        for name, value in attrs.items():
            handle.attrs[name] = value
    write_bytes_atomic(path, buffer.getvalue())


def write_npz(path: str | os.PathLike, data: Mapping[str, Any]) -> None:
    """Write the data as NPZ (same keys as HDF5; attributes as 0-d arrays), atomically."""
    arrays, attrs = _arrays_and_attrs(data)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **{k: np.array(v) for k, v in attrs.items()})
    write_bytes_atomic(path, buffer.getvalue())


def write(path: str | os.PathLike, data: Mapping[str, Any]) -> None:
    """:func:`write_npz` for a path ending in .npz, else :func:`write_h5`."""
    (write_npz if str(path).lower().endswith(".npz") else write_h5)(path, data)
