"""The answer loop in a child process of its own, at a lower CPU priority than the requests.

Why a process and not a thread: the loop's work is CPU-bound Python and NumPy (features of thousands
of pairs, the ranking, the answers' texts). As a thread of the serving process it competes for that
process's GIL: every time a request's thread wants the interpreter back (after each NumPy call that
released it) it may wait a whole switch interval (5 ms) behind the loop, several times per request,
and LightGBM's OpenMP threads of both compete for the same cores. Measured under issue #7's mixed load
(100 req/s, 10,000 workers, 2,000 jobs): ``/v1/rank`` p99 8 ms with the loop off, 58 ms with the loop
thread on (resting 3/4 of the time), against the 50 ms target (``benchmarks/bench_loop.py``).

A child process has its own interpreter, so it never holds the requests' GIL; it runs at nice
:data:`NICE` (the kernel gives the serving process about ten times its weight when both want a core)
with one thread for LightGBM and the BLAS pools. It opens the same store (SQLite in WAL mode or
PostgreSQL) as a replica does: it follows the store's change feed, so it sees every PUT, event and
case change, and it takes the ``answer_loop`` lease like any replica's loop. What it publishes goes to
the durable feed; the serving process still serves ``/v1/answers``, the cases and the webhook.

Protocol over one pipe: the parent starts the child early (:meth:`LoopProcess.spawn`: the imports
overlap its own start) and sends ``("go",)`` once the store is seeded; the child sends ``("published", kind, n)`` after publishing (the parent
counts them in ``/metrics``), ``("ready", pid, model_version)`` once up and ``("model", version)``
after loading another model; the parent sends ``("model", version)`` when it serves another model
(the child loads the same ``--model`` path again) and ``("stop",)``.
When the parent dies, even by SIGKILL, the child reads end-of-file and exits. When the child dies,
the parent starts a new one (after 1 s, doubling up to 60 s while it keeps dying) and logs it: a
crash loses no answer, the cases and the feed being durable.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable

log = logging.getLogger("gigmatch.loop")

NICE = 10  # the child's niceness above the server's: CFS weight 110 against 1024
LOOP_THREADS = 1  # LightGBM/BLAS threads in the child: the other core stays the requests'


def _child(values: dict, conn, nice: int) -> None:
    """The child's main: import, wait for the go, open the store, load the model, tick until told to
    stop or orphaned."""
    # Ctrl-C in a terminal reaches the whole process group: the server stops the loop itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.nice(nice)
    except OSError:  # not permitted: run at the parent's priority
        pass
    os.environ["GIGMATCH_THREADS"] = str(LOOP_THREADS)
    os.environ["OMP_NUM_THREADS"] = str(LOOP_THREADS)
    from gigmatch.core.threads import configure_threads

    configure_threads(LOOP_THREADS)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # the imports (most of a start) overlap the parent's own start; the store is opened only after the
    # parent has seeded it
    from models.scorer import load_scorer
    from service.config import Settings
    from service.loop.cases import CaseBook
    from service.loop.runner import AnswerLoop
    from service.store import open_store

    try:
        while (message := conn.recv())[0] != "go":
            if message[0] == "stop":
                return
    except (EOFError, OSError):
        return
    settings = Settings(**values)
    store = open_store(settings.store_url(), events_refresh_s=settings.events_refresh_s)
    store.follow_s = settings.follow_s
    scorer = [load_scorer(settings.model)]
    send_lock = threading.Lock()

    def send(message: tuple) -> None:
        with send_lock:
            try:
                conn.send(message)
            except OSError:  # the parent is gone; the main thread sees EOF and stops
                pass

    loop = AnswerLoop(
        store,
        CaseBook(store.repo),
        lambda: scorer[0],
        tick_s=settings.answer_tick_s,
        sweep_s=settings.answer_sweep_s,
        max_km=settings.default_max_km,
        cpu_share=settings.answer_cpu_share,
        on_publish=lambda kind, n: send(("published", kind, n)),
    )
    try:
        store.snapshot()
        store.start_refresher()
        store.start_follower()
        loop.start()
        send(("ready", os.getpid(), scorer[0].version))
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the parent died
                break
            if message[0] == "stop":
                break
            if message[0] == "model" and message[1] != scorer[0].version:
                try:
                    scorer[0] = load_scorer(settings.model)
                    send(("model", scorer[0].version))
                except Exception as exc:  # keep answering with the model we have
                    log.warning("answer loop: model %s not loaded: %s", message[1], exc)
    finally:
        loop.stop()
        store.close()


class LoopProcess:
    """Runs :class:`service.loop.runner.AnswerLoop` in a child process (see the module docstring).

    Parameters
    ----------
    settings : service.config.Settings
        The service's settings; the child rebuilds them from their values.
    version : callable returning str
        The version of the model the service serves now; the child follows it.

    Attributes
    ----------
    on_publish : callable(kind, n)
        Called in this process for every batch the child published (metrics); set before
        :meth:`start`.
    """

    def __init__(self, settings, version: Callable[[], str]):
        self.values = settings.model_dump()
        self.version = version
        self.on_publish: Callable[[str, int], None] = lambda kind, n: None
        self.pid: int | None = None  # the child's, once up
        self.model_version: str | None = None  # the model the child answers with
        self.restarts = 0
        self._ctx = multiprocessing.get_context("spawn")  # never fork a process with threads
        self._proc = None
        self._conn = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._monitor: threading.Thread | None = None

    def spawn(self) -> None:
        """Start the child process; it imports what it needs, then waits for :meth:`start`."""
        if self._proc is not None:
            return
        self._spawn()

    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(
            target=_child, args=(self.values, child, NICE), name="gigmatch-answer-loop", daemon=True
        )
        self._proc.start()
        child.close()
        self._conn = parent
        self._sent_version: str | None = None

    def start(self) -> None:
        """Start the child and the thread that relays its messages and restarts it when it dies."""
        if self._monitor is not None:
            return
        self.spawn()
        self._conn.send(("go",))
        self._monitor = threading.Thread(target=self._watch, name="gigmatch-answer-loop-watch", daemon=True)
        self._monitor.start()

    def wait_ready(self, timeout: float) -> bool:
        """Whether the child came up (opened the store and loaded the model) within ``timeout`` s."""
        return self._ready.wait(timeout)

    def _watch(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                version = self.version()
                if version != self._sent_version:
                    self._conn.send(("model", version))
                    self._sent_version = version
                while self._conn.poll(0.5):
                    message = self._conn.recv()
                    if message[0] == "published":
                        self.on_publish(message[1], message[2])
                    elif message[0] == "ready":
                        self.pid, self.model_version = message[1], message[2]
                        self._ready.set()
                        backoff = 1.0
                    elif message[0] == "model":
                        self.model_version = message[1]
            except (EOFError, OSError):
                pass
            if self._stop.is_set() or self._proc.is_alive():
                continue
            log.warning(
                "the answer loop's process exited (code %s); starting it again in %.0f s",
                self._proc.exitcode,
                backoff,
            )
            if self._stop.wait(backoff):
                break
            backoff = min(60.0, backoff * 2)
            self.restarts += 1
            self._spawn()
            try:
                self._conn.send(("go",))
            except OSError:
                pass

    def stop(self, timeout: float = 30.0) -> None:
        """Tell the child to stop after its tick in progress; terminate it if it does not within
        ``timeout`` seconds."""
        self._stop.set()
        if self._monitor is not None:
            self._monitor.join(5)
        if self._proc is None:
            return
        try:
            self._conn.send(("stop",))
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        self._proc.join(max(0.0, deadline - time.monotonic()))
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)
        self._conn.close()
