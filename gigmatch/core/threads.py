"""How many threads a process may use, and keeping idle OpenMP threads from stealing the others' cores.

Two LightGBM processes on one 2-core machine (a retraining beside a batch run or the service, or the
workers of a Dask ``LocalCluster``) each start one OpenMP thread per core. With OpenMP's active wait
policy every idle thread spins between parallel regions, on a core the other process needs: measured
on this machine class, a training whose fit takes 7 s alone took 95 s beside a second one (issue
#20; ``benchmarks/bench_concurrent_train.py``). With the passive policy idle threads sleep, and two
trainings share the cores as two processes should (about twice the time of one each).

Every entry point that may load LightGBM calls :func:`configure_threads` before the first import:
the CLI (``gigmatch``, all commands), the service, and the Dask workers the CLI starts. Models take
their thread count from :func:`thread_budget`.

Environment
-----------
``GIGMATCH_THREADS``
    Threads this process may use (a positive whole number); default: the CPUs it may run on (its
    affinity mask, capped by a cgroup CPU quota).
``OMP_WAIT_POLICY``
    Set to ``PASSIVE`` unless already set: an explicit value wins.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

log = logging.getLogger("gigmatch")

# modules that load an OpenMP runtime; the wait policy is read once, when the runtime loads
_OPENMP_USERS = ("lightgbm", "sklearn", "numba", "xgboost", "torch")


def cpu_count() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup v2 CPU quota (``cpu.max``)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def thread_budget() -> int:
    """Threads this process should use: ``GIGMATCH_THREADS`` when set, else :func:`cpu_count`.

    Raises
    ------
    ValueError
        When ``GIGMATCH_THREADS`` is set but is not a positive whole number.
    """
    text = os.environ.get("GIGMATCH_THREADS", "").strip()
    if not text:
        return cpu_count()
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"GIGMATCH_THREADS={text!r}: must be a positive whole number of threads")
    return n


def openmp_loaded() -> bool:
    """Whether a module that loads an OpenMP runtime (LightGBM, scikit-learn, numba, ...) is imported."""
    return any(name in sys.modules for name in _OPENMP_USERS)


def passive_openmp() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless it is set; True when it can still take effect.

    The OpenMP runtime reads the variable once, when it loads, so this is called before the first
    import of LightGBM (:mod:`models.ranker` does so at its top) and by :func:`configure_threads`.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return not openmp_loaded()


def configure_threads(n_threads: int | None = None) -> int:
    """Make this process a good neighbour: passive OpenMP waiting, thread pools sized to its budget.

    Sets ``OMP_WAIT_POLICY=PASSIVE`` and ``OMP_NUM_THREADS`` unless they are already set (they only
    take effect when no OpenMP runtime is loaded yet, hence: call this first), and limits the BLAS
    and OpenMP pools already loaded that threadpoolctl can reach to ``n_threads``.

    Parameters
    ----------
    n_threads : int, optional
        Threads for this process; default :func:`thread_budget`.

    Returns
    -------
    int
        The thread count applied; pass it on as LightGBM's ``num_threads``.
    """
    n = n_threads or thread_budget()
    if not passive_openmp():
        log.debug("OMP_WAIT_POLICY set after an OpenMP runtime loaded; it may not take effect")
    # OpenMP runtimes loaded later (LightGBM's predict uses the runtime's default thread count)
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
    except ImportError:  # threadpoolctl is a dependency; a stripped environment still runs
        pass
    return n


def worker_environment(n_threads: int) -> dict[str, str]:
    """Environment for a worker process (a Dask worker) that may use ``n_threads`` threads.

    Parameters
    ----------
    n_threads : int
        The worker's threads (Dask ``nthreads``).

    Returns
    -------
    dict of str to str
        ``OMP_WAIT_POLICY`` (the parent's, else ``PASSIVE``), ``OMP_NUM_THREADS``, the BLAS pools'
        thread counts and ``GIGMATCH_THREADS``, all sized to ``n_threads``.
    """
    n = str(int(n_threads))
    return {
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
        "OMP_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "GIGMATCH_THREADS": n,
    }
