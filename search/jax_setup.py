"""JAX configuration shared by the engine: a persistent compilation cache, and a
one-thread CPU pool for processes that run the formula search.

XLA takes seconds to compile the evaluator for a new set of shapes; the on-disk cache
makes a second run on data of the same shape start at once.  The directory is
``$DISCOVER_CACHE_DIR`` (default ``~/.cache/discover/jax``); set it to an empty string
to disable the cache.

:func:`one_thread_cpu_pool` is for the processes this project owns that run the search
with the native evaluator (``discover fit``, the embedded cluster's workers:
:func:`search.evaluate.one_thread_pool_for_search`); a library call never changes its
caller's JAX.
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


def one_thread_cpu_pool() -> bool:
    """Create JAX's CPU client now with a one-thread intra-op pool; True if done.

    XLA sizes that pool from the process's CPU affinity when the client is created, and
    splits the loops of larger fusions across it.  The search's per-generation kernels
    lose more to that hand-off than they gain: while the variation step was a JAX program
    (a few hundred microseconds of small fusions) the search ran 11-14 % faster with one
    pool thread on 2 cores (AMD EPYC Zen 5), and two searches side by side 13 % faster
    each.  With the variation step native (:mod:`search.variation_native`) a 4-island
    search ran the same with and without it (206k-216k against 208k-212k evals/s).
    So the client is created while this thread's affinity holds one CPU, and then every
    thread of the process gets the whole affinity back (the pool stays one thread; the
    process keeps every core for the rest).  Nothing is done (False) where JAX's backends
    already exist, on one CPU, or where the platform has no ``sched_setaffinity``.
    """
    try:
        from jax._src.xla_bridge import backends_are_initialized
    except ImportError:  # a JAX without it: leave JAX as it is
        return False
    if backends_are_initialized() or not hasattr(os, "sched_setaffinity"):
        return False
    try:
        cpus = os.sched_getaffinity(0)
    except OSError:
        return False
    if len(cpus) < 2:
        return False
    try:
        os.sched_setaffinity(0, {min(cpus)})
        jax.devices()  # creates the clients (the CPU pool's threads inherit one CPU)
    finally:
        for tid in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else [0]:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except OSError:  # a thread that ended meanwhile
                pass
    return True
