"""Executors: same results in job order everywhere, base data shipped once, Ctrl-C keeps results."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pytest

from autostock.errors import ConfigError
from autostock.robustness.executor import Executor, run_jobs


@dataclass
class _Context:
    seed: int
    scale: float = 1.0
    sleep: float = 0.0
    log: str = ""
    payload: np.ndarray = field(default_factory=lambda: np.zeros(10_000))


def _seeded_job(context: _Context, job: int) -> tuple[int, float, int, int]:
    rng = np.random.default_rng([context.seed, job])
    return job, float(rng.normal() * context.scale), os.getpid(), id(context)


def _slow_job(context: _Context, job: int) -> int:
    time.sleep(context.sleep)
    with open(context.log, "a") as fh:
        fh.write(f"{job}\n")
    return job * job


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    yield cluster
    cluster.close()


def test_serial_pool_and_dask_return_identical_results_in_job_order(dask_cluster):
    context = _Context(seed=5, scale=2.0)
    jobs = list(range(12))
    serial = run_jobs(_seeded_job, context, jobs, workers=1, progress=False)
    pool = run_jobs(_seeded_job, context, jobs, workers=2, progress=False)
    dask = run_jobs(_seeded_job, context, jobs, dask=dask_cluster.scheduler_address, progress=False)
    for out in (serial, pool, dask):
        assert out.complete and out.indices == jobs
    values = [[r[:2] for r in out.results] for out in (serial, pool, dask)]
    assert values[0] == values[1] == values[2]
    assert len({r[2] for r in pool.results} - {os.getpid()}) >= 1  # really ran in other processes
    assert dask.executor.startswith("dask(")


def test_dask_local_starts_a_loopback_cluster_and_matches_serial():
    context = _Context(seed=8, scale=0.5)
    serial = run_jobs(_seeded_job, context, range(6), workers=1, progress=False)
    with Executor(workers=1, dask="local", progress=False) as ex:
        out = ex.map(_seeded_job, context, range(6))
        assert ex._cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert {r[2] for r in out.results} != {os.getpid()}  # a separate worker process
    assert ex._cluster is None and ex._client is None
    assert [r[:2] for r in out.results] == [r[:2] for r in serial.results]


def test_each_worker_receives_the_base_data_once(dask_cluster):
    context = _Context(seed=1)
    for kwargs in ({"workers": 2}, {"dask": dask_cluster.scheduler_address}):
        out = run_jobs(_seeded_job, context, range(16), progress=False, **kwargs)
        per_worker: dict[int, set[int]] = {}
        for _, _, pid, ctx_id in out.results:
            per_worker.setdefault(pid, set()).add(ctx_id)
        # every job on a worker saw the same context object: it was not re-sent per job
        assert all(len(ids) == 1 for ids in per_worker.values()), (kwargs, per_worker)


def test_pool_is_reused_between_maps_with_the_same_context():
    context = _Context(seed=2)
    with Executor(2, progress=False) as ex:
        first = ex.map(_seeded_job, context, range(4))
        pool = ex._pool
        second = ex.map(_seeded_job, context, range(4, 8))
        assert ex._pool is pool  # batched searches (Optuna) do not restart workers or resend data
        workers = set(pool._processes)
        assert {r[2] for r in first.results + second.results} <= workers
        ex.map(_seeded_job, _Context(seed=3), range(2))
        assert ex._pool is not pool  # a new context gets a fresh pool
    assert ex._pool is None


def test_ctrl_c_stops_the_pool_and_keeps_finished_results(tmp_path):
    log = tmp_path / "ran.txt"
    context = _Context(seed=0, sleep=0.25, log=str(log))
    timer = threading.Timer(0.9, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        out = run_jobs(_slow_job, context, range(40), workers=2, progress=False)
    finally:
        timer.cancel()
    elapsed = time.monotonic() - start
    assert out.interrupted and not out.complete
    assert 0 < len(out.results) < 40
    assert out.results == [i * i for i in out.indices]
    assert elapsed < 4.0  # 40 jobs take 5 s on 2 workers: map returned at once
    time.sleep(1.5)
    ran = log.read_text().split()
    # the queue was dropped: only the jobs in hand (and at most one queued per worker) still ran
    assert len(ran) <= len(out.results) + 6, (len(ran), len(out.results))


def test_ctrl_c_in_serial_mode_keeps_finished_results():
    def interrupting(context, job):
        if job == 3:
            raise KeyboardInterrupt
        return job

    out = run_jobs(interrupting, None, range(10), workers=1, progress=False)
    assert out.interrupted and out.results == [0, 1, 2] and out.indices == [0, 1, 2]


def test_bad_executor_settings_are_user_errors():
    with pytest.raises(ConfigError, match="^workers must be >= 1"):
        Executor(workers=0)
    with pytest.raises(ConfigError, match="^dask must be"):
        Executor(dask="somehost")
