"""The result of ``discover approx``: the one definition of its JSON schema.

    {
      "schema": "discover.approx/1",
      "target": "exp", "dtype": "float32", "domain": [-inf, inf],
      "template": "exp", "valid": "every finite input ...", "core": "exp(r) on [-0.347, 0.347]",
      "max_ulp": 1.0,                               # the goal
      "front": [                                     # the search's programs (and a selected baseline), by cost
        {"name": "search", "cost": 17, "main_path_cost": 13, "error": 0.93, "code": ["t0 = ...", ...],
         "sympy": "...", "program": [[op, [operands], value], ...], "output": 12,
         "core": {...the core alone, same keys...}}, ...],
      "baselines": [{"name": "minimax-6 horner", "cost": 17, "main_path_cost": 13, "error": 0.98}, ...],
      "selected": 2,                                 # index into "front" (null: none met the goal)
      "verification": {"method": "exhaustive", "points": 4278190080, "max_ulp": 0.93,
                       "worst_input": ..., "correctly_rounded": 0.87, "seconds": 40.1, "stopped": false},
      "rejected_by_verification": [                  # within the goal on the training inputs only
        {"index": 1, "name": "search", "cost": 15, "error": 0.97, "method": "exhaustive",
         "points": 1048576, "max_ulp": 1.04, "worst_input": ..., ..., "stopped": true}],
      "error_unit": "ulp",                           # "relative" for the real-number task
      "training_inputs": 16384,
      "stats": {"seconds": 61.0, "evaluations": 5400,      # the search's
                "baseline_seconds": 4.2, "verification_seconds": 26.0}   # before it, after it
    }

The selection is the cheapest program within the goal, then the most accurate, among the
search's programs *and* the baselines (the same template, measured the same way): where
it is a baseline, that baseline is also a member of "front", by cost, under its own name
(``"name": "chebyshev-11 horner"``, every other member being ``"search"``), so that
``front[selected]`` is always the selected program with its code. Errors in
"front"/"baselines" are on the training inputs; "verification" is on every float32 input
of the domain (float64: a stated sample). ``"stopped": true`` marks a check that ended
at an input above the goal (a rejected candidate: ``max_ulp`` and ``worst_input`` are
that witness, ``points`` the inputs checked); a selected program within the goal was
always checked in full. ``rejected_by_verification`` entries give the front ``index`` of
a search program, null for a baseline (named by ``name``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from codegen.program import Instr

from ..atomic import write_text_atomic
from .program import SLP, code, to_sympy
from ..result import dumps, malformed, read_payload

__all__ = ["SCHEMA", "ApproxResult", "encode_program", "decode_program", "save", "load", "load_approx_result"]

SCHEMA = "discover.approx/1"


def encode_program(slp: SLP) -> dict:
    return {"program": [[i.op, list(i.operands), i.value] for i in slp.instrs], "output": slp.output,
            "code": code(slp), "sympy": str(to_sympy(slp))}


def decode_program(entry: dict, dtype: str) -> SLP:
    return SLP(dtype, tuple(Instr(op, tuple(ops), float(v)) for op, ops, v in entry["program"]), entry["output"])


def save(payload: dict, path: str | os.PathLike) -> None:
    """Write atomically (infinite numbers as the strings "inf"/"-inf": :func:`..result.dumps`)."""
    write_text_atomic(path, dumps({"schema": SCHEMA, **payload}) + "\n")


def load(path: str | os.PathLike) -> dict:
    return read_payload(path, SCHEMA, "approx ")


def _number(value):
    """A number of the file back as a float ("inf"/"-inf"/"nan" strings included)."""
    return float(value) if isinstance(value, (str, int, float)) else value


def _rows(payload: dict, key: str) -> list[dict]:
    return [{**row, "error": _number(row["error"])} for row in payload.get(key, [])]


@dataclass
class ApproxResult:
    """A ``discover.approx/1`` file as an object (the keys of the schema above).

    ``front`` and ``baselines`` stay the file's rows (dicts, errors as floats);
    :meth:`program` rebuilds a front member's straight-line program.
    """

    target: str
    dtype: str
    domain: tuple[float, float]
    max_ulp: float
    front: list[dict]
    baselines: list[dict]
    selected: int | None
    template: str | None = None
    valid: str = ""
    core: str = ""
    error_unit: str = "ulp"
    verification: dict | None = None
    training_inputs: int = 0
    rejected_by_verification: list = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def selected_name(self) -> str | None:
        """``"search"`` where the selected program is the search's, the baseline's name
        (``"minimax-6 horner"``) where a baseline was selected, None where none was."""
        return None if self.selected is None else str(self.front[self.selected].get("name", "search"))

    @property
    def program_dtype(self) -> str:
        """The precision the programs compute in (float64 for the real-number task)."""
        return "float64" if self.dtype == "real" else self.dtype

    def program(self, index: int, part: str = "full") -> SLP:
        """Front member ``index``: the whole program (``part="full"``) or its core."""
        if index is None:   # as ``selected`` is where no program met the goal
            raise IndexError("no front member given (None): the run selected no program within its goal; "
                             "pick one by its index in front")
        if not -len(self.front) <= index < len(self.front):
            raise IndexError(f"front member {index} does not exist: the front has {len(self.front)} "
                             f"(0 to {len(self.front) - 1})")
        entry = self.front[index]
        return decode_program(entry["core"] if part == "core" else entry, self.program_dtype)


def load_approx_result(path: str | os.PathLike) -> ApproxResult:
    """Read a ``discover.approx/1`` file; UserError when it is missing or malformed."""
    payload = load(path)
    try:
        a, b = payload["domain"]
        selected = payload.get("selected")
        return ApproxResult(
            target=str(payload["target"]), dtype=str(payload["dtype"]), domain=(_number(a), _number(b)),
            max_ulp=_number(payload["max_ulp"]), front=_rows(payload, "front"),
            baselines=_rows(payload, "baselines"),
            selected=None if selected is None else int(selected), template=payload.get("template"),
            valid=payload.get("valid", ""), core=payload.get("core", ""),
            error_unit=payload.get("error_unit", "ulp"), verification=payload.get("verification"),
            training_inputs=int(payload.get("training_inputs", 0)),
            rejected_by_verification=list(payload.get("rejected_by_verification", [])),
            stats=dict(payload.get("stats") or {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise malformed(path, exc, "approx ") from None
