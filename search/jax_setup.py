"""JAX configuration shared by the engine: a persistent compilation cache.

XLA takes seconds to compile the evaluator for a new set of shapes; the on-disk cache
makes a second run on data of the same shape start at once.  The directory is
``$DISCOVER_CACHE_DIR`` (default ``~/.cache/discover/jax``); set it to an empty string
to disable the cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

_configured = False


def configure() -> None:
    global _configured
    if _configured:
        return
    _configured = True
    directory = os.environ.get("DISCOVER_CACHE_DIR", str(Path.home() / ".cache" / "discover" / "jax"))
    if not directory:
        return
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # an unwritable cache is no reason to fail; compile every time instead
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
