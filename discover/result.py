"""The result of a formula fit, and its JSON file: the one definition of the schema.

A result file (``discover fit ... --output result.json``) is a JSON object::

    {
      "schema": "discover.fit/1",
      "data": "examples/data/x.h5",        # the data file, as given
      "target": "y",                        # the target's name
      "variables": ["x0", "x1"],            # input names, in column order
      "settings": {...},                    # the Regressor parameters used
      "equations": [                        # the Pareto front, by complexity
        {"complexity": 5, "loss": 0.01, "score": 0.3, "sympy": "2.5*x0**2"}, ...
      ],
      "selected": 2,                        # index into "equations"
      "model_selection": "best",
      "stats": {"iterations": ..., "evaluations": ..., "seconds": ..., "stopped_by": ...}
    }

``sympy`` strings parse back with :func:`parse_equation` (explicit Symbols for the
variable names, so names such as ``gamma`` or ``I`` stay plain symbols).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import write_text_atomic
from .errors import UserError

if TYPE_CHECKING:
    import sympy

# NumPy, SymPy and codegen.text are imported where they are used: the commands import
# this module (result_path, read_json) while they build their parsers and check the input.

SCHEMA = "discover.fit/1"


@dataclass
class Equation:
    """One member of the Pareto front."""

    complexity: int
    loss: float
    score: float
    sympy: str


@dataclass
class FitResult:
    """Everything a fit produced; serialises to the schema above."""

    data: str | None
    target: str
    variables: list[str]
    settings: dict[str, Any]
    equations: list[Equation]
    selected: int
    model_selection: str
    stats: dict[str, Any] = field(default_factory=dict)

    def selected_equation(self) -> Equation:
        return self.equations[self.selected]

    def to_json(self) -> str:
        return dumps({"schema": SCHEMA, **asdict(self)})

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically: an interrupted write never leaves a broken file."""
        write_text_atomic(path, self.to_json() + "\n")


def dumps(payload: dict) -> str:
    """The JSON text of a result payload: strict JSON, so infinite and NaN numbers (a model
    that blew up, an error without bound) are the strings "inf", "-inf" and "nan" (what
    Python's json writes for them, ``Infinity``, other readers reject)."""
    import numpy as np

    def strict(value):
        if isinstance(value, dict):
            return {k: strict(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [strict(v) for v in value]
        if isinstance(value, (float, np.floating)) and not math.isfinite(value):
            return str(float(value))
        return value
    return json.dumps(strict(payload), indent=2, default=jsonable, allow_nan=False)


def jsonable(value: Any) -> Any:
    """``json.dumps(default=...)`` for NumPy scalars, sets and tuples."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def read_json(path: str | os.PathLike) -> Any:
    """The parsed JSON of a result file; UserError when it is missing, unreadable or not JSON."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise UserError(f"result file not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a directory, not a result file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a discover result file (invalid JSON: {exc})") from None


def read_payload(path: str | os.PathLike, schema: str, kind: str = "") -> dict:
    """The JSON object of a result file of ``schema``; UserError when it is missing, not
    JSON or of another schema (``kind``, e.g. ``"PDE "``, names the expected file)."""
    payload = read_json(path)
    if not isinstance(payload, dict) or payload.get("schema") != schema:
        raise UserError(f"{path} is not a discover {kind}result file (expected schema {schema!r})")
    return payload


def result_path(output: str | None, data: str, suffix: str) -> Path:
    """``--output``, or ``<data stem><suffix>`` in the current directory; UserError, before
    the job runs, when it is a directory, the input ``data`` itself, or in a directory that
    does not exist or cannot be written."""
    path = Path(output) if output else Path(Path(data).stem + suffix)
    if path.is_dir():
        raise UserError(f"--output {path} is a directory; give a file name such as {path / 'result.json'}")
    if not path.parent.exists():
        raise UserError(f"--output {path}: the directory {path.parent} does not exist")
    if path.exists() and Path(data).exists() and os.path.samefile(path, data):
        raise UserError(f"--output {path} is the input data file; give another name for the result")
    try:   # the real test of a directory that takes new files (permissions, read-only mounts, /proc)
        tempfile.TemporaryFile(dir=path.parent).close()
    except OSError as exc:
        raise UserError(f"--output {path}: cannot write in {path.parent} ({exc.strerror})") from None
    return path


def load_result(path: str | os.PathLike) -> FitResult:
    """Read a result file; a missing or malformed file is a :class:`UserError`."""
    from codegen.text import check_text

    payload = read_payload(path, SCHEMA)
    try:
        equations = [Equation(**eq) for eq in payload["equations"]]
        if not 0 <= int(payload["selected"]) < len(equations):
            raise ValueError(f"'selected' is {payload['selected']}, but the file has {len(equations)} equations")
        names = symbols_for(list(payload["variables"]))
        for i, eq in enumerate(equations):   # every formula, not only the one read first: a file is shared
            try:
                check_text(str(eq.sympy), names)
            except ValueError as exc:
                raise ValueError(f"equation {i}: {exc}") from None
        return FitResult(
            data=payload.get("data"),
            target=payload["target"],
            variables=list(payload["variables"]),
            settings=dict(payload.get("settings", {})),
            equations=equations,
            selected=int(payload["selected"]),
            model_selection=payload.get("model_selection", "best"),
            stats=dict(payload.get("stats", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise malformed(path, exc) from None


def malformed(path: str | os.PathLike, exc: Exception, kind: str = "") -> UserError:
    """The UserError for a result file whose fields do not fit its schema (``exc`` from
    reading them: a KeyError names the missing field)."""
    if isinstance(exc, KeyError):
        reason = f"it has no {exc.args[0]!r} field"
    else:
        reason = str(exc)
    return UserError(f"{path} is a malformed discover {kind}result file ({reason})")


def symbols_for(names: list[str]) -> dict[str, sympy.Symbol]:
    """An explicit ``locals`` dict so that every name parses as a plain Symbol."""
    import sympy

    return {name: sympy.Symbol(name) for name in names}


def parse_equation(text: str, variables: list[str]) -> sympy.Expr:
    """Parse a ``sympy`` string of a result back into an expression over ``variables``."""
    from codegen.text import sympify_text

    return sympify_text(text, symbols_for(variables))
