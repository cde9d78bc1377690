"""Defaults and bounds of the formula fit that ``discover fit`` needs while it builds its
parser, kept out of the modules that load the engine (so every command starts quickly)."""

from __future__ import annotations

__all__ = ["DEFAULT_BATCH_SIZE", "MAXSIZE_LIMIT"]

#: Rows a candidate is scored on while searching (the final front is refit on all rows).
DEFAULT_BATCH_SIZE = 500
#: The largest ``maxsize`` accepted: a search of 1000-node formulas still keeps to its time
#: limit, one of 20,000 spent 11 s setting up before its first iteration.
MAXSIZE_LIMIT = 1000
