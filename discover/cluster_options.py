"""``--workers N`` / ``--scheduler ADDRESS``: the one definition of the Dask options of
every sub-command that can spread its work over a cluster (``fit``, ``approx``, ``pde``)."""

from __future__ import annotations

import contextlib

from .errors import UserError


def add_cluster_arguments(parser, what: str) -> None:
    """Add the two options; ``what`` says what runs on the workers (for the help text)."""
    parser.add_argument("--workers", type=int, metavar="N",
                        help=f"run {what} on an embedded Dask LocalCluster of N worker processes")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help=f"run {what} on an existing Dask cluster, e.g. tcp://host:8786 "
                             "(started with `dask scheduler` / `dask worker`)")


def cluster_from_args(args):
    """What the options ask for, as ``search.distributed.connect`` and ``Regressor(cluster=...)``
    take it: an int (local workers), a scheduler address, or None (this process)."""
    if args.workers is not None and args.scheduler:
        raise UserError("give either --workers N (a local cluster) or --scheduler ADDRESS, not both")
    if args.workers is not None:
        if args.workers < 1:
            raise UserError(f"--workers must be at least 1, not {args.workers}")
        return args.workers
    if args.scheduler is not None and "://" not in args.scheduler:
        raise UserError(f"--scheduler {args.scheduler!r} is not a scheduler address; give e.g. tcp://host:8786")
    return args.scheduler


@contextlib.contextmanager
def using_cluster(cluster, one_thread_pool: bool = False):
    """``with using_cluster(cluster) as client``: a ``distributed.Client`` for what
    :func:`cluster_from_args` returned or ``Regressor(cluster=...)`` holds (None for None),
    released at the end (an embedded cluster is shut down).  A bad value, a cluster that
    cannot be reached or has no workers, and a search that failed on every worker are
    each one :class:`UserError`.  ``one_thread_pool``: see :func:`search.distributed.connect`
    (the formula search's embedded workers)."""
    if cluster is None:
        yield None
        return
    from search.distributed import ClusterError, connect

    try:
        client, release = connect(cluster, one_thread_pool)
    except ValueError as exc:
        raise UserError(f"cluster: {exc}") from None
    except ClusterError as exc:
        raise UserError(str(exc)) from None
    try:
        yield client
    except ClusterError as exc:
        raise UserError(str(exc)) from None
    finally:
        release()


def describe_cluster(cluster) -> str:
    """A short human-readable name of what ``cluster`` means (for progress displays)."""
    if isinstance(cluster, int):
        return f"local Dask cluster of {cluster} worker process{'es' if cluster != 1 else ''}"
    if isinstance(cluster, str):
        return f"Dask scheduler {cluster}"
    return f"Dask cluster {getattr(cluster, 'scheduler_address', cluster)!s}"
