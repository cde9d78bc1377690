"""The result of ``discover pde`` and its JSON file: the one definition of the schema.

::

    {
      "schema": "discover.pde/1",
      "data": "burgers.h5",
      "method": "weak",                       # weak | strong | evolve | solver
      "fields": ["u"], "coords": ["t", "x"],
      "equations": [{
          "field": "u", "lhs": "u_t",
          "equation": "u_t = -1.0*u*u_x + 0.1*u_xx",   # readable, known part first
          "rhs": "-1.0*u*u_x + 0.1*u_xx",      # the found part, SymPy text in u, u_x, u_xx, ...
          "known": null,                        # the given part (hidden-term mode)
          "terms": [{"term": "u*u_x", "coefficient": -1.0, "std": 1e-6, "inclusion": 1.0}],
          "residual": 1e-7,                     # ‖G w - b‖ / ‖b‖ (weak/strong) or the method's own
          "alternatives": [{"rhs": "...", "loss": 0.3, "residual": 0.01}]   # the regression's candidates
      }],
      "library": ["1", "u", "(u^2)_x", ...],  # sparse methods
      "rows": "K = 20 x 64 = 1280 test functions ...",   # what the regression used
      "settings": {...},
      "stats": {"seconds": 1.2},
      "extra": {...}                          # method-specific: stability of a solver fit; for weak,
                                              # "trajectory_refit": {"applied": bool, "message": str}
    }

The ``rhs`` strings parse back with :func:`parse_rhs` and compile with ``codegen`` like
any formula (variables: the fields and their derivative symbols).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import sympy

from ..atomic import write_text_atomic
from ..errors import UserError
from ..result import dumps, read_payload
from .library import parse_expression

SCHEMA = "discover.pde/1"


@dataclass
class PDEResult:
    data: str | None
    method: str
    fields: list[str]
    coords: list[str]
    equations: list[dict]
    library: list[str] = field(default_factory=list)
    rows: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return dumps({"schema": SCHEMA, **asdict(self)})

    def save(self, path: str | os.PathLike) -> None:
        write_text_atomic(path, self.to_json() + "\n")


def load_pde_result(path: str | os.PathLike) -> PDEResult:
    payload = read_payload(path, SCHEMA, "PDE ")
    payload.pop("schema")
    try:
        return PDEResult(**payload)
    except TypeError as exc:
        raise UserError(f"{path} is a malformed PDE result file ({exc})") from None


def parse_rhs(text: str, fields: list[str], axes: list[str]) -> sympy.Expr:
    """A result's ``rhs`` as SymPy over the fields and their derivative symbols
    (``u``, ``u_xx``), e.g. ``parse_rhs(eq["rhs"], result.fields, result.coords[1:])``."""
    try:
        return parse_expression(text, fields, axes, what="right-hand side")
    except ValueError as exc:
        raise UserError(str(exc)) from None
