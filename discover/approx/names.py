"""The named functions of ``discover approx`` and their range-reduction templates,
without their definitions: what ``discover approx --help`` lists, kept out of
:mod:`discover.approx.targets` (which loads SymPy and mpmath) so every command starts
quickly.  :data:`discover.approx.targets.NAMED` defines each of these, in this order, with
this template; it checks so when imported."""

from __future__ import annotations

__all__ = ["TEMPLATES"]

#: name -> the range-reduction template (templates.py) that extends a program on a small
#: interval to the function's whole domain, or None where there is none, in listing order
TEMPLATES: dict[str, str | None] = {
    "exp": "exp", "exp2": "exp2", "expm1": "expm1", "log": "log", "log2": "log2", "log1p": "log1p",
    "sin": "sin", "cos": "cos", "tan": None, "tanh": "tanh", "sinh": "sinh", "cosh": "cosh", "sigmoid": None,
    "erf": "erf", "erfc": None, "atan": "atan", "atanh": "atanh", "asinh": "asinh", "acosh": "acosh",
}
