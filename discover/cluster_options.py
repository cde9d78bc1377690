"""``--workers N`` / ``--scheduler ADDRESS``: the one definition of the Dask options of
every sub-command that can spread its work over a cluster (``fit``, ``approx``, ``pde``)."""

from __future__ import annotations

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


def open_client(cluster):
    """``(client, release)`` for what :func:`cluster_from_args` returned (``(None, no-op)``
    for None); a cluster that cannot be reached is a :class:`UserError`."""
    if cluster is None:
        return None, lambda: None
    from search.distributed import connect

    try:
        return connect(cluster)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserError(f"cannot reach the Dask cluster {cluster!r}: {exc}") from None
