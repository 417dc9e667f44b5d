"""Run independent jobs in this process, on a local process pool, or on a Dask cluster.

A job is ``func(context, job)``: ``func`` a module-level function, ``context`` the base data
shared by every job (run spec, market, settings) and ``job`` a small description of one run
(a path index, a parameter set). The context travels to each worker ONCE:

* process pool: the pool's initializer stores it in a worker-global; tasks carry only ``job``;
* Dask: ``client.scatter(context, broadcast=True)`` places one copy on every worker and each
  task receives that copy by reference. (Make the context an object such as a dataclass:
  Dask rebuilds a plain dict or list argument for every task.)

Results come back in job order whichever executor ran them, so for deterministic jobs (every
random stream seeded from the job itself) the output is identical for any executor and any
number of workers. A tqdm progress bar shows runs done, rate and ETA. Ctrl-C (or any
``KeyboardInterrupt``) drops the queued jobs, lets the workers finish the run in hand and exit,
and returns the results of the jobs that had finished, with ``interrupted=True``.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from autostock.errors import ConfigError
from autostock.extras import require

_WORKER: dict[str, Any] = {}


@dataclass
class JobResults:
    """Results of the finished jobs, in job order.

    ``results[i]`` belongs to ``jobs[indices[i]]``; when ``interrupted`` is false every job
    finished and ``indices == range(len(jobs))``.
    """

    results: list[Any] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    total: int = 0
    interrupted: bool = False
    executor: str = "serial"

    @property
    def complete(self) -> bool:
        return not self.interrupted and len(self.results) == self.total


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _pool_init(func: Callable, context: Any) -> None:
    # the parent handles Ctrl-C; workers ignore it so the pool is never broken mid-task
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER["func"] = func
    _WORKER["context"] = context


def _pool_call(index: int, job: Any) -> tuple[int, Any]:
    return index, _WORKER["func"](_WORKER["context"], job)


def _dask_call(func: Callable, context: Any, index: int, job: Any) -> tuple[int, Any]:
    return index, func(context, job)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    class _Bar(tqdm):
        monitor_interval = 0  # no monitor thread: the pool forks its workers while the bar is open

    return _Bar(total=total, desc=desc, unit="run", file=sys.stderr, disable=not enabled, dynamic_ncols=True)


class Executor:
    """Where jobs run: ``workers`` local processes (1: this process) or a Dask cluster.

    Parameters
    ----------
    workers : int or None
        Local worker processes; ``None`` means all cores. With ``dask="local"`` it is the
        number of LocalCluster workers.
    dask : str or None
        ``None`` for the local pool, ``"local"`` for a LocalCluster on loopback, or a scheduler
        address such as ``tcp://host:8786`` (its workers must have autostock installed).
    progress : bool
        Show a progress bar on stderr.
    """

    def __init__(self, workers: int | None = None, dask: str | None = None, progress: bool = True) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}")
        if dask is not None and dask != "local" and "://" not in dask:
            raise ConfigError(f"dask must be 'local' or a scheduler address like tcp://host:8786, got {dask!r}")
        self.workers = workers if workers is not None else default_workers()
        self.dask = dask
        self.progress = progress
        self._pool: ProcessPoolExecutor | None = None
        self._pool_key: tuple | None = None
        self._pool_context: Any = None
        self._client: Any = None
        self._cluster: Any = None
        self._shared: tuple[Any, Any] | None = None

    @property
    def name(self) -> str:
        if self.dask:
            return f"dask({self.dask})"
        return "serial" if self.workers == 1 else f"processes({self.workers})"

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop the pool / disconnect from Dask (a LocalCluster is shut down)."""
        self._drop_pool(cancel=False)
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        self._shared = None

    def map(self, func: Callable[[Any, Any], Any], context: Any, jobs: Iterable[Any], desc: str = "runs") -> JobResults:
        """Run ``func(context, job)`` for every job; results in job order.

        The pool (or the Dask client and the scattered context) stays up between calls with
        the same ``func`` and ``context`` until :meth:`close`, so batched searches (Optuna)
        ship the base data once.
        """
        jobs = list(jobs)
        out = JobResults(total=len(jobs), executor=self.name)
        if not jobs:
            return out
        done: dict[int, Any] = {}
        bar = _progress(len(jobs), desc, self.progress)
        try:
            if self.dask:
                self._run_dask(func, context, jobs, done, bar)
            elif self.workers == 1:
                for i, job in enumerate(jobs):
                    done[i] = func(context, job)
                    bar.update(1)
            else:
                self._run_pool(func, context, jobs, done, bar)
        except KeyboardInterrupt:
            out.interrupted = True
        finally:
            bar.close()
        out.indices = sorted(done)
        out.results = [done[i] for i in out.indices]
        return out

    def _drop_pool(self, cancel: bool) -> None:
        pool, self._pool, self._pool_key, self._pool_context = self._pool, None, None, None
        if pool is None:
            return
        if cancel:
            # drop the queue; a job already running finishes (one run), then its worker exits
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            pool.shutdown(wait=True)

    def _get_pool(self, func: Callable, context: Any) -> ProcessPoolExecutor:
        import multiprocessing as mp

        key = (func, id(context))
        if self._pool is not None and self._pool_key == key and self._pool_context is context:
            return self._pool
        self._drop_pool(cancel=False)
        method = "fork" if "fork" in mp.get_all_start_methods() else None
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=mp.get_context(method) if method else None,
            initializer=_pool_init,
            initargs=(func, context),
        )
        self._pool_key, self._pool_context = key, context
        return self._pool

    def _run_pool(self, func: Callable, context: Any, jobs: list, done: dict, bar) -> None:
        pool = self._get_pool(func, context)
        pending: set = set()
        try:
            pending = {pool.submit(_pool_call, i, job) for i, job in enumerate(jobs)}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    index, result = fut.result()
                    done[index] = result
                    bar.update(1)
        except BaseException:
            # cancel the queued futures ourselves: shutdown(cancel_futures=True) is skipped by
            # the pool's manager thread once the executor object has been garbage collected
            for fut in pending:
                fut.cancel()
            self._drop_pool(cancel=True)
            raise

    def _get_client(self):
        distributed = require("scale", "distributed")
        Client, LocalCluster = distributed.Client, distributed.LocalCluster

        if self._client is not None:
            return self._client
        if self.dask == "local":
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
            )
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(self.dask, timeout=30)
            except OSError as exc:
                raise ConfigError(f"cannot reach Dask scheduler {self.dask}: {exc}") from None
        return self._client

    def _run_dask(self, func: Callable, context: Any, jobs: list, done: dict, bar) -> None:
        as_completed = require("scale", "distributed").as_completed

        client = self._get_client()
        if self._shared is None or self._shared[0] is not context:
            # one copy of the base data on every worker, referenced by every task
            self._shared = (context, client.scatter(context, broadcast=True, hash=False))
        shared = self._shared[1]
        futures: list = []
        try:
            futures = [client.submit(_dask_call, func, shared, i, job, pure=False) for i, job in enumerate(jobs)]
            for fut in as_completed(futures):
                index, result = fut.result()
                done[index] = result
                bar.update(1)
        except BaseException:
            if futures:
                client.cancel(futures)
            raise


def run_jobs(
    func: Callable[[Any, Any], Any],
    context: Any,
    jobs: Iterable[Any],
    workers: int | None = None,
    dask: str | None = None,
    progress: bool = True,
    desc: str = "runs",
) -> JobResults:
    """Run the jobs on a fresh :class:`Executor` and close it."""
    with Executor(workers, dask, progress) as executor:
        return executor.map(func, context, jobs, desc)
