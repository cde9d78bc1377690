"""One reader for the result file of every job: :func:`load_result`.

The ``schema`` field of a JSON result names the job, and each job's own module is the one
definition of its file:

==================  ===================================================  ========================
schema              returns                                              written by
==================  ===================================================  ========================
discover.fit/1      :class:`discover.result.FitResult`                   ``discover fit``
discover.pde/1      :class:`discover.pde.result.PDEResult`               ``discover pde``
discover.approx/1   :class:`discover.approx.result.ApproxResult`         ``discover approx``
==================  ===================================================  ========================

A path ending in ``.csv`` is read as a PySR ``hall_of_fame.csv``
(:func:`discover.pysr.read_hall_of_fame`).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError
from .result import read_json

__all__ = ["readers", "load_result"]


def readers() -> dict:
    """schema -> reader of that job's file, keyed by each job's own ``SCHEMA`` constant
    (imported here, not at start: the job modules pull in their numerical stacks)."""
    from .approx import result as approx
    from .pde import result as pde
    from . import result as fit

    return {fit.SCHEMA: fit.load_result, pde.SCHEMA: pde.load_pde_result, approx.SCHEMA: approx.load_approx_result}


def load_result(path: str | os.PathLike):
    """The result object of any job's file; a missing file, invalid JSON or an unknown
    schema is a :class:`~discover.errors.UserError` with one line.

    ``discover.fit/1`` -> :class:`discover.result.FitResult`; ``discover.pde/1`` ->
    :class:`discover.pde.result.PDEResult`; ``discover.approx/1`` ->
    :class:`discover.approx.result.ApproxResult`; a ``.csv`` path: a PySR hall of fame
    as a ``FitResult``."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        if not path.is_file():
            raise UserError(f"result file not found: {path}")
        from .pysr import read_hall_of_fame

        return read_hall_of_fame(path)
    payload = read_json(path)
    schema = payload.get("schema") if isinstance(payload, dict) else None
    known = readers()
    reader = known.get(schema) if isinstance(schema, str) else None
    if reader is None:
        found = f"schema {schema!r}" if isinstance(schema, str) else "no 'schema' field"
        raise UserError(f"{path} is not a discover result file ({found}; expected one of {', '.join(known)})")
    return reader(path)
