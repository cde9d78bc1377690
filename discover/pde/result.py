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
          "alternatives": [{"rhs": "...", "loss": 0.3, "residual": 0.01}]
      }],
      "library": ["1", "u", "(u^2)_x", ...],  # sparse methods
      "rows": "K = 20 x 64 = 1280 test functions ...",   # what the regression used
      "settings": {...},
      "stats": {"seconds": 1.2},
      "extra": {...}                          # method-specific (stability of a solver fit)
    }

The ``rhs`` strings parse back with :func:`parse_rhs` and compile with ``codegen`` like
any formula (variables: the fields and their derivative symbols).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import sympy

from ..atomic import write_text_atomic
from ..errors import UserError

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
        return json.dumps({"schema": SCHEMA, **asdict(self)}, indent=2, default=_jsonable)

    def save(self, path: str | os.PathLike) -> None:
        write_text_atomic(path, self.to_json() + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def load_pde_result(path: str | os.PathLike) -> PDEResult:
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except FileNotFoundError:
        raise UserError(f"result file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a discover result file (invalid JSON: {exc})") from None
    if not isinstance(payload, dict) or payload.get("schema") != SCHEMA:
        raise UserError(f"{path} is not a discover PDE result file (expected schema {SCHEMA!r})")
    payload.pop("schema")
    try:
        return PDEResult(**payload)
    except TypeError as exc:
        raise UserError(f"{path} is a malformed PDE result file ({exc})") from None


def parse_rhs(text: str) -> sympy.Expr:
    """A result's ``rhs`` as SymPy; every name (``u``, ``u_xx``) is a plain Symbol."""
    functions = {"sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "Abs", "asin"}
    names = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text)) - functions
    return sympy.sympify(text, locals={name: sympy.Symbol(name) for name in names})
