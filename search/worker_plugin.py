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
