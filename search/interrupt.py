"""Ctrl-C (and SIGTERM) that long runs cannot lose.

Python raises ``KeyboardInterrupt`` at the next bytecode of whatever runs when the signal
arrives; when that is a garbage-collection callback (JAX registers one), the exception is
printed as "Exception ignored" and lost, and the run goes on to its time limit.
:func:`install` sets a handler that also remembers the signal; loops that run long call
:func:`check` (one attribute read), which raises the remembered interrupt where it can be
handled and forgets it.  An interrupt whose own exception was caught (a search that
stopped on it) stays remembered, so the run's later loops stop at their first check too.
"""

from __future__ import annotations

import signal

__all__ = ["install", "check", "clear", "described"]

_pending = False
_last = signal.SIGINT


def _handler(signum, frame):
    global _pending, _last
    _pending, _last = True, signum
    raise KeyboardInterrupt


def described() -> str:
    """How the last interrupt came, for messages: ``"Ctrl-C"`` (SIGINT, or a
    KeyboardInterrupt raised otherwise) or ``"SIGTERM"``."""
    return "SIGTERM" if _last == signal.SIGTERM else "Ctrl-C"


def install() -> None:
    """Handle SIGINT and SIGTERM so (the command-line entry point; a no-op outside the
    main thread and where SIGINT is ignored, as for a background job)."""
    try:
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, _handler)
        signal.signal(signal.SIGTERM, _handler)
    except ValueError:   # not the main thread
        pass


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a signal arrived and its exception was swallowed."""
    if _pending:
        clear()
        raise KeyboardInterrupt


def clear() -> None:
    global _pending
    _pending = False
