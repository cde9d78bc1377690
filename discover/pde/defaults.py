"""Choices and defaults of the PDE job that ``discover pde`` needs while it builds its
parser, kept out of the modules that load the numerical stack (so every command starts
quickly).  Each is defined here once; :mod:`discover.pde.fit`, :mod:`.derivatives` and
:mod:`.library` read them from here."""

from __future__ import annotations

__all__ = ["METHODS", "DERIVATIVE_METHODS", "DEFAULT_MAX_QUERIES", "DEFAULT_MAX_DEGREE", "DEFAULT_DERIVATIVE_DEGREE"]

#: the sparse-regression methods of :func:`discover.pde.fit.fit_pde`
METHODS = ("weak", "strong")
#: the derivative estimators of :func:`discover.pde.derivatives.derivative`
DERIVATIVE_METHODS = ("fd", "spectral", "savgol")
#: most test functions in the weak form
DEFAULT_MAX_QUERIES = 4096
#: highest polynomial degree of the fields in the library
DEFAULT_MAX_DEGREE = 3
#: highest degree differentiated, as in (u^2)_x
DEFAULT_DERIVATIVE_DEGREE = 2
