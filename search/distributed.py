"""The search on a Dask cluster: groups of islands on workers, migration through the scheduler.

The driver (the process that calls :func:`search_on_cluster`) splits the
``settings.populations`` islands into groups (or gives every group that many islands),
one group per worker by default, and submits one
long task per group: :func:`search.evolve.search` on that group's islands, in the
worker's process.  After an iteration, at most every :data:`EXCHANGE_SECONDS`, the
task's ``exchange`` hook

1. publishes the group's state to the scheduler (``Client.set_metadata``): every island
   member (what a rerun resumes from), its hall of fame and its counters;
2. reads the global front the driver last published, and deals it to its islands as
   migrants (the island model's migration, through the scheduler);
3. reads the stop flag.

The driver polls the groups' states every ``poll`` seconds, merges their halls of fame
into one (the front lives in the driver, so a lost worker never loses it), publishes the
merged front, reports progress, checkpoints, and raises the stop flag on tolerance, time
or Ctrl-C.  At the end it finishes the merged hall of fame with ``problem.finish``, as the
in-process search does.

A lost worker: the scheduler reruns its task on another worker, and the rerun starts from
the group's last published members (``initial_population``), so a group loses at most
the work since its last publication (half a second, or one iteration of
``ncycles_per_iteration`` generations where that takes longer).  The run still
stops at its deadline (an absolute wall-clock time handed to every task) and returns the
front.

Message sizes (measured by ``benchmarks/scale.py``): per group and publication, one upload of
its state (its members, a few hundred expressions) and one download of the merged front
(at most ``maxsize`` members).  Unlike the in-process search, a distributed run is not
deterministic: which migrants arrive when depends on timing.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Callable

from .evolve import Progress, SearchResult, SearchSettings, search
from .expression import Expr
from .pareto import HallOfFame, Member
from .problem import Problem

#: Least seconds between two exchanges of a group with the scheduler (the driver reads
#: and republishes every ``poll`` = 0.5 s by default). Exchanging after every iteration
#: (10 or more a second on a fast core, three round trips each) cost a lone worker 22 %
#: of its rate (``benchmarks/scale.py``, AMD EPYC Zen 5; under 2 % with this interval).
EXCHANGE_SECONDS = 0.5
#: Seconds the driver waits past the deadline for the groups' final states.
GRACE_SECONDS = 15.0
#: Seconds to wait for the first worker of a cluster.
WORKER_WAIT_SECONDS = 120.0
#: The embedded cluster's periodic callbacks, slowed from Dask's defaults (20 ms, 500 ms,
#: 100 ms; see :func:`connect`): they only feed diagnostics and memory-limit checks.
QUIET_INTERVALS = {"distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "5s",
                   "distributed.worker.memory.monitor-interval": "1s"}


class ClusterError(RuntimeError):
    """The cluster could not be reached, had no workers, or every group's task failed."""


#: What a script that starts local workers needs (each worker process imports it again).
UNGUARDED = ("a script that starts local workers (cluster=N, --workers) must run them under "
             "`if __name__ == \"__main__\":`, since every worker process imports the script again")


def _in_a_worker_rerunning_the_script() -> bool:
    """Whether this call comes from the top level of the parent's script while a spawned
    process imports it as ``__mp_main__`` (a worker of an embedded cluster whose script
    started the cluster unguarded); not from a function a guarded script's process pool
    runs."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__mp_main__":
            return True
        frame = frame.f_back
    return False


@dataclass
class GroupState:
    """What one group of islands last published."""

    members: list[Expr]
    hall: list[Member]
    evaluations: int
    iteration: int
    compilations: int = 0
    stopped_by: str | None = None
    runs: int = 1           # 2 or more: the group's task was rerun after a lost worker
    published: int = 0      # states this group has published (at most one per EXCHANGE_SECONDS)
    exchange_seconds: float = 0.0  # wall seconds the group's search spent in its exchanges


def connect(cluster: Any, one_thread_pool: bool = False):
    """A ``distributed.Client`` for ``cluster`` and a function that releases what was made.

    ``cluster`` is a ``Client`` (used as is), a Dask cluster object (``LocalCluster``,
    ``SLURMCluster`` ...), a scheduler address (``"tcp://host:8786"``) or an int ``N``:
    an embedded ``LocalCluster`` of ``N`` single-threaded worker processes, closed again
    by the returned function; with ``one_thread_pool`` (for the formula search) its workers
    get :class:`search.worker_plugin.OneThreadCpuPool`.  A bad ``cluster`` is a ValueError; a scheduler that cannot
    be reached, a :class:`ClusterError`.
    """
    import dask
    from distributed import Client, LocalCluster

    from .worker_plugin import IgnoreInterrupts, OneThreadCpuPool

    if isinstance(cluster, Client):
        return cluster, lambda: None
    if isinstance(cluster, bool) or not isinstance(cluster, (int, str)) and not hasattr(cluster, "scheduler_address"):
        raise ValueError(f"cluster must be a worker count, a scheduler address, a Dask cluster or a Client, "
                         f"not {cluster!r}")
    if isinstance(cluster, int):
        if cluster < 1:
            raise ValueError(f"the number of workers must be at least 1, not {cluster}")
        # Dask's statistical profiler samples every thread's stack every 10 ms, taking the
        # GIL from the search each time; the search reports its own progress.  Its servers'
        # periodic callbacks (the event-loop tick every 20 ms, the memory monitor every
        # 100 ms, the system monitor every 500 ms) wake a thread that takes the GIL too:
        # a search beside an idle embedded cluster ran 5 % slower with them and at its
        # full rate with these intervals (BENCHMARKS.md, seventeenth session).  (The
        # nannies hand this process's Dask configuration to their workers.)
        if _in_a_worker_rerunning_the_script():
            raise ClusterError(UNGUARDED)
        with dask.config.set({"distributed.worker.profile.enabled": False,
                              **QUIET_INTERVALS,
                              "distributed.nanny.pre-spawn-environ": _pre_spawn_environ(cluster)}):
            try:
                local = LocalCluster(n_workers=cluster, threads_per_worker=1, processes=True,
                                     dashboard_address=":0", silence_logs=logging.ERROR)
            except RuntimeError as exc:   # "Nanny failed to start": most often the script's top level
                raise ClusterError(f"the local Dask workers did not start ({exc}); {UNGUARDED}") from None
        try:
            client = Client(local)
            client.register_plugin(IgnoreInterrupts(), name="discover-ignore-interrupts")
            if one_thread_pool:  # before any task: the workers' JAX gets a one-thread CPU pool
                client.register_plugin(OneThreadCpuPool(), name="discover-one-thread-cpu-pool")
        except BaseException:
            local.close()
            raise

        def close() -> None:
            client.close()
            local.close()

        return client, close
    address = cluster if isinstance(cluster, str) else cluster.scheduler_address
    try:
        client = Client(address, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler {address}: {exc}") from None
    return client, client.close


def _pre_spawn_environ(n_workers: int) -> dict:
    """The environment of each of ``n_workers`` new local worker processes, set before they
    start (so before the numerical libraries read it): Dask's, with the thread counts of
    :func:`worker_thread_env` and without ``MALLOC_TRIM_THRESHOLD_``.

    Dask sets that to 64 KiB so that workers hand freed memory back at once; a fixed
    threshold also turns off glibc's adaptive mmap threshold, and the search, which
    allocates and frees arrays of tens to hundreds of kB every generation, then ran at
    about half its in-process rate in a worker (61,000 against 113,000 evaluations/s,
    AMD EPYC Zen 5). The embedded cluster's workers keep glibc's defaults.
    """
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return {**environ, **worker_thread_env(n_workers)}


#: The thread-count variables of the numerical libraries (OpenBLAS, MKL, OpenMP).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def worker_thread_env(n_workers: int) -> dict[str, str]:
    """The thread counts of each of ``n_workers`` local workers: their share of this
    machine's cores, unless the environment already sets them.

    Dask's nanny would set them to 1; the search's linear algebra uses more when it can,
    so a lone worker must not run on less than the in-process search does.
    """
    share = str(max(1, (os.cpu_count() or 1) // max(n_workers, 1)))
    return {name: os.environ.get(name, share) for name in THREAD_VARIABLES}


def group_settings(settings: SearchSettings, n_groups: int, per_group: bool = False) -> list[SearchSettings]:
    """The settings of each group, one seed each: ``settings.populations`` islands split as
    evenly as possible over at most that many groups, or with ``per_group`` that many
    islands in every one of the ``n_groups`` groups."""
    n_groups = max(1, n_groups if per_group else min(n_groups, settings.populations))
    base, extra = divmod(settings.populations * (n_groups if per_group else 1), n_groups)
    return [replace(settings, populations=base + (g < extra), random_state=settings.random_state + 7919 * g)
            for g in range(n_groups)]


def search_on_cluster(problem: Problem, settings: SearchSettings, cluster: Any,
                      callback: Callable[[Progress], None] | None = None,
                      checkpoint: Callable[[list[Member], Progress], None] | None = None,
                      checkpoint_interval: float = 10.0, n_groups: int | None = None,
                      poll: float = 0.5, stats: dict | None = None,
                      islands_per_worker: bool = False) -> SearchResult:
    """:func:`search.evolve.search` with its islands on the workers of ``cluster`` (see
    :func:`connect` for what ``cluster`` may be); same arguments and result.

    ``n_groups`` defaults to the number of workers.  The groups share
    ``settings.populations`` islands (at most one group per island), or, with
    ``islands_per_worker``, each group runs ``settings.populations`` islands, so the
    search grows with the cluster: a generation costs a group a fixed part whatever its
    number of islands (about 0.3 ms, against 0.1 ms per island; ``benchmarks/scale.py``),
    so splitting a fixed number of islands over more workers leaves each less to share
    that part with, and a fixed total would leave every worker past the islands' count idle.
    ``stats``, when given, receives the transport figures: ``states_published`` (by all
    groups, each at most one per :data:`EXCHANGE_SECONDS`), ``state_bytes_max`` and ``front_bytes_max`` (the largest
    pickled group state and merged front), ``states_read`` (group states the driver
    read), ``exchange_seconds`` (wall seconds the groups' searches spent blocked in their
    exchanges, summed); and ``reruns`` (group tasks rerun after a lost worker), ``failed_groups``.
    A :class:`ClusterError` when no worker joins or every group fails.
    """
    client, release = connect(cluster)
    try:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except TimeoutError:
            raise ClusterError(f"no Dask worker joined the scheduler {client.scheduler.address} within "
                               f"{WORKER_WAIT_SECONDS:g} s; start some with `dask worker ADDRESS`") from None
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        groups = group_settings(settings, n_groups or workers, islands_per_worker)
        return _drive(client, problem, settings, groups, callback, checkpoint, checkpoint_interval, poll,
                      stats if stats is not None else {})
    finally:
        release()


def search_with(client, problem: Problem, settings: SearchSettings,
                callback: Callable[[Progress], None] | None = None,
                checkpoint: Callable[[list[Member], Progress], None] | None = None,
                checkpoint_interval: float = 10.0, islands_per_worker: bool = False) -> SearchResult:
    """:func:`search.evolve.search` in this process when ``client`` is None, else
    :func:`search_on_cluster` on it (``islands_per_worker``: see there): the one place a
    caller's choice is dispatched."""
    if client is None:
        return search(problem, settings, callback, checkpoint, checkpoint_interval)
    return search_on_cluster(problem, settings, client, callback, checkpoint, checkpoint_interval,
                             islands_per_worker=islands_per_worker)


def _key(run_id: str, *parts: str) -> list[str]:
    return ["discover", run_id, *parts]


def _drive(client, problem: Problem, settings: SearchSettings, groups: list[SearchSettings],
           callback, checkpoint, checkpoint_interval: float, poll: float, stats: dict) -> SearchResult:
    run_id = uuid.uuid4().hex
    start = time.time()
    deadline = start + settings.timeout_in_seconds if settings.timeout_in_seconds is not None else None
    baseline = problem.baseline_loss()
    # In the task itself rather than scattered: a scattered copy dies with the workers
    # that hold it, a task's arguments live on the scheduler and survive any worker.
    # The groups never finish a front, so the polish (and the full data it holds) stays here.
    searched = replace(problem, polish=None)
    futures = [client.submit(_run_group, searched, g, run_id, i, deadline, key=f"discover-group-{run_id}-{i}",
                             pure=False)
               for i, g in enumerate(groups)]
    hall = HallOfFame()
    states: dict[int, GroupState] = {}
    progress = Progress()
    stopped_by = None
    last_checkpoint = 0.0
    published = None
    stats.update(states_read=0, state_bytes_max=0, front_bytes_max=0, groups=len(groups))

    def absorb(i: int, state: GroupState) -> None:
        states[i] = state
        for m in state.hall:
            hall.consider(m.expr, m.loss, m.complexity)

    def poll_states() -> None:
        # One round trip for all groups: the driver's cost does not grow with the workers'
        # number of messages, only with the bytes of their states.
        now = client.get_metadata(_key(run_id, "group"), default=None) or {}
        for name, raw in now.items():
            stats["states_read"] += 1
            stats["state_bytes_max"] = max(stats["state_bytes_max"], len(raw))
            absorb(int(name), pickle.loads(raw))

    def stop_all() -> None:
        client.set_metadata(_key(run_id, "stop"), True)

    try:
        try:
            while True:
                done = all(f.done() for f in futures)
                poll_states()
                front = hall.front()
                if front != published:
                    raw = pickle.dumps(front)
                    stats["front_bytes_max"] = max(stats["front_bytes_max"], len(raw))
                    client.set_metadata(_key(run_id, "front"), raw)
                    published = front
                progress.elapsed = time.time() - start
                progress.evaluations = sum(s.evaluations for s in states.values())
                progress.iteration = max((s.iteration for s in states.values()), default=0)
                progress.observe(front)
                if callback is not None:
                    callback(progress)
                if checkpoint is not None and front and progress.elapsed - last_checkpoint >= checkpoint_interval:
                    checkpoint(problem.finish(hall.members(), final=False), progress)
                    last_checkpoint = progress.elapsed
                if done:
                    break
                if stopped_by is None and progress.best_loss / baseline <= settings.tolerance:
                    stopped_by = "tolerance"
                    stop_all()
                if deadline is not None and time.time() >= deadline:
                    if stopped_by is None:
                        stopped_by = "timeout"
                        stop_all()
                    if time.time() >= deadline + GRACE_SECONDS:
                        break  # a group that does not answer in time: the front polled so far stands
                _until_one_finishes(futures, poll)
        except KeyboardInterrupt:
            stopped_by = "interrupt"
            stop_all()
            _wait_briefly(futures, 5.0)
            poll_states()

        compilations = 0
        failures = []
        for i, f in enumerate(futures):
            if f.status == "finished":
                state = f.result()
                absorb(i, state)
                compilations += state.compilations
                stopped_by = stopped_by or state.stopped_by
            elif f.status == "error":
                failures.append((i, f.exception()))
        if failures and not hall.members():
            i, exc = failures[0]
            raise ClusterError(f"the search failed on the workers (group {i}: {type(exc).__name__}: {exc}); "
                               "are discover and its dependencies installed on every worker?")
        stats["states_published"] = sum(s.published for s in states.values())
        stats["reruns"] = sum(s.runs - 1 for s in states.values())
        stats["exchange_seconds"] = sum(s.exchange_seconds for s in states.values())
        stats["failed_groups"] = len(failures)
    finally:
        # Whatever happened here (an error in a callback included): stop the groups and
        # free the scheduler's copy of their states.
        stop_all()
        for f in futures:
            if not f.done():
                f.cancel()
        client.set_metadata(_key(run_id), None)
    progress.elapsed = time.time() - start
    progress.evaluations = sum(s.evaluations for s in states.values())
    final = problem.finish(hall.members())
    progress.front = final
    return SearchResult(final, progress, stopped_by or "niterations", compilations, sum(g.populations for g in groups))


#: Seconds between the driver's checks of its futures while it waits for the next poll.
WAKE_SECONDS = 0.02


def _until_one_finishes(futures, seconds: float) -> None:
    """Wait ``seconds``, or less when a group's task ends first: a group that reaches the
    tolerance ends its task, and the driver stops the others at once rather than at its
    next poll (time to solution was quantised by the poll's 0.5 s).  ``Future.done`` is a
    local check, so this costs the scheduler nothing."""
    end = time.monotonic() + seconds
    pending = [f for f in futures if not f.done()]
    while pending and time.monotonic() < end:
        time.sleep(min(WAKE_SECONDS, max(end - time.monotonic(), 0.0)))
        if any(f.done() for f in pending):
            return


def _wait_briefly(futures, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end and not all(f.done() for f in futures):
        time.sleep(0.1)


def _run_group(problem: Problem, settings: SearchSettings, run_id: str, group: int,
               deadline: float | None) -> GroupState:
    """One group of islands, run in a worker: resumes from the group's last published
    state if there is one (a rerun after a lost worker), publishes after an iteration at
    most every :data:`EXCHANGE_SECONDS`."""
    from distributed import get_client

    client = get_client()
    key = _key(run_id, "group", str(group))
    saved = client.get_metadata(key, default=None)
    previous = pickle.loads(saved) if saved is not None else None
    done_before = previous.evaluations if previous else 0
    iteration_before = previous.iteration if previous else 0
    runs = previous.runs + 1 if previous else 1
    published = previous.published if previous else 0
    if deadline is not None:
        settings = replace(settings, timeout_in_seconds=max(deadline - time.time(), 0.5))
    if client.get_metadata(_key(run_id, "stop"), default=False):
        return previous or GroupState([], [], 0, 0, stopped_by="stop")

    exchange_seconds = previous.exchange_seconds if previous else 0.0

    def exchange(progress: Progress, members: list[Expr], hall: list[Member]) -> tuple[list[Member], bool]:
        nonlocal published, exchange_seconds
        t0 = time.perf_counter()
        published += 1
        state = GroupState(members, hall, done_before + progress.evaluations, iteration_before + progress.iteration,
                           runs=runs, published=published, exchange_seconds=exchange_seconds)
        client.set_metadata(key, pickle.dumps(state))
        raw = client.get_metadata(_key(run_id, "front"), default=None)
        immigrants = pickle.loads(raw) if raw is not None else []
        stop = bool(client.get_metadata(_key(run_id, "stop"), default=False))
        exchange_seconds += time.perf_counter() - t0
        return immigrants, stop

    result = search(problem, settings, initial_population=previous.members if previous else None,
                    exchange=exchange, exchange_interval=EXCHANGE_SECONDS, finish=False)
    return GroupState([], result.front, done_before + result.progress.evaluations,
                      iteration_before + result.progress.iteration, result.compilations, result.stopped_by, runs,
                      published, exchange_seconds)


__all__ = ["search_on_cluster", "search_with", "connect", "group_settings", "GroupState", "ClusterError", "GRACE_SECONDS"]
