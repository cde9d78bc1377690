"""The Dask worker plugin of the embedded cluster (:func:`search.distributed.connect`).

Its own module so that importing :mod:`search.distributed` does not import Dask.
"""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin


class OneThreadCpuPool(WorkerPlugin):
    """:func:`search.evaluate.one_thread_pool_for_search` (the builtin operators) in every
    worker as it joins (also in one that replaces a lost worker), before its first task
    deserialises JAX arrays."""

    def setup(self, worker) -> None:
        from search.evaluate import one_thread_pool_for_search

        one_thread_pool_for_search()


class IgnoreInterrupts(WorkerPlugin):
    """Embedded workers ignore SIGINT: Ctrl-C in a terminal reaches the whole process
    group, and each worker printed a KeyboardInterrupt traceback (and its nanny an error)
    while the driver was already stopping the search and closing the cluster."""

    def setup(self, worker) -> None:
        import signal

        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:   # not the process's main thread: leave the default
            pass
