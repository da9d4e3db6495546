"""The service's state: settings, keys, the store, the serving model and the metrics (one per app)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gigmatch.core.contract import ContractError, load_market
from models.registry import Registry, RegistryError
from models.scorer import Scorer, load_scorer
from service.config import Settings
from service.dispatch import DispatchLoop
from service.experiments import Experiment, load_scorers, parse_experiment
from service.loop.hub import LoopService
from service.loop.process import LoopProcess
from service.store import Store, open_store

log = logging.getLogger("gigmatch.service")


def check_paths(settings: Settings) -> None:
    """Refuse a model or market path that does not exist before any store is opened (issue #20).

    Raises
    ------
    models.registry.RegistryError
        ``settings.model`` does not exist (:func:`models.scorer.load_scorer`'s rule).
    gigmatch.core.contract.ContractError
        ``settings.data`` does not exist or is not a folder.
    """
    if settings.model is not None and not Path(settings.model).exists():
        raise RegistryError(
            f"{settings.model}: does not exist (give a model registry or version folder, or no model)"
        )
    if settings.data is not None and not Path(settings.data).is_dir():
        raise ContractError(
            f"{settings.data}: "
            + ("not a market folder" if Path(settings.data).exists() else "does not exist")
        )


def new_store_file(url: str) -> Path | None:
    """The SQLite file that opening ``url`` would create, or None (it exists, or the store is a server)."""
    return None if "://" in url or Path(url).exists() else Path(url)


def remove_store_file(path: Path | None) -> None:
    """Remove a SQLite store file this start created, its WAL files and the lock files opening it made
    (``NAME.migrate.lock``, ``NAME.seed.lock``): a failed start leaves nothing behind."""
    if path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        for lock in path.parent.glob(f"{path.name}.*.lock"):
            lock.unlink(missing_ok=True)


def seed_store(settings: Settings) -> tuple[dict[str, int], str]:
    """Open the store once (migrating it), seed it from ``settings.data`` when it has no workers (under
    the store's lock, so replicas starting together seed once), close it; returns its row counts and
    its URL (without a password). A store file this call created is removed again if seeding fails."""
    check_paths(settings)
    created = new_store_file(settings.store_url())
    store = open_store(settings.store_url(), events_refresh_s=settings.events_refresh_s)
    seeded = False
    try:
        _seed_once(store, settings)
        seeded = True
        return store.counts(), store.repo.url
    finally:
        store.close()
        if not seeded:
            remove_store_file(created)


def _seed_once(store: Store, settings: Settings) -> None:
    if settings.data is None:
        return
    with store.repo.exclusive("seed"):
        if store.counts()["workers"] == 0:
            log.info("seeding the empty store from %s", settings.data)
            store.seed(load_market(settings.data))


class ServiceState:
    """Everything a request needs.

    Parameters
    ----------
    settings : Settings
        The validated configuration; the store is opened (and seeded from ``settings.data`` when
        empty), the model loaded and the first snapshot built before the first request.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.keys = settings.keys()
        # everything that can be refused without the store is checked before the store is opened, so a
        # mistyped --model or --data leaves no empty database file behind
        check_paths(settings)
        settings.webhook()  # a bad webhook setting stops the start with one line, before anything is loaded
        # the answer loop's process starts first: its imports overlap this start (service/loop/process.py)
        self.loop_process = (
            LoopProcess(settings, version=lambda: self.scorer.version)
            if settings.answer_loop and settings.answer_process
            else None
        )
        if self.loop_process is not None:
            self.loop_process.spawn()
        self.scorer: Scorer = load_scorer(settings.model)
        # an online experiment (issue #17): its variants' models are loaded once, here, before the store
        self.experiment: Experiment | None = (
            load_scorers(parse_experiment(settings.experiment), settings.model)
            if settings.experiment
            else None
        )
        if not self.scorer.is_model:
            where = (
                "no model configured" if settings.model is None else f"no trained model in {settings.model}"
            )
            log.info("%s: serving the heuristic scorer (%s, cold start)", where, self.scorer.version)
        created = new_store_file(settings.store_url())
        self.store: Store = open_store(settings.store_url(), events_refresh_s=settings.events_refresh_s)
        self.store.follow_s = settings.follow_s
        try:
            _seed_once(self.store, settings)  # replicas starting together: one seeds, the others find it full
        except BaseException:
            self.store.close()
            remove_store_file(created)
            raise
        self.model_lock = threading.Lock()
        self.work = threading.BoundedSemaphore(settings.max_inflight)
        self.metrics = CollectorRegistry()
        self.latency = Histogram(
            "gigmatch_request_seconds",
            "request latency",
            ["endpoint", "status"],
            registry=self.metrics,
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.model_info = Gauge(
            "gigmatch_model_info", "serving model version", ["version"], registry=self.metrics
        )
        self.store_size = Gauge("gigmatch_store_rows", "rows in the store", ["table"], registry=self.metrics)
        self.events_in = Counter(
            "gigmatch_events_ingested_total", "events accepted", ["outcome"], registry=self.metrics
        )
        self.rejected = Counter(
            "gigmatch_rejected_total", "requests refused before work", ["reason"], registry=self.metrics
        )
        self.experiment_requests = Counter(
            "gigmatch_experiment_requests_total",
            "requests served per experiment variant ('interleave' for interleaved lists)",
            ["experiment", "variant", "endpoint"],
            registry=self.metrics,
        )
        self.experiment_items = Counter(
            "gigmatch_experiment_items_total",
            "items returned per experiment variant (under interleaving: per team)",
            ["experiment", "variant", "endpoint"],
            registry=self.metrics,
        )
        self.model_info.labels(self.scorer.version).set(1)
        self.store.snapshot()  # build the read cache before the first request
        self.store.start_refresher()
        self.store.start_follower()  # other replicas' writes (and this process's other workers')
        # the answer loop (事事有回音): cases, answers in the background, feed and webhook
        self.loop = LoopService(
            self.store, lambda: self.scorer, settings, self.metrics, process=self.loop_process
        )
        self.loop.start()
        # real-time dispatch (issue #15): windows of jobs offered to free workers, when switched on
        self.dispatch = None
        if settings.dispatch_window_s > 0:
            offers = Counter(
                "gigmatch_dispatch_offers_total", "offers made by real-time dispatch", registry=self.metrics
            )
            windows = Counter(
                "gigmatch_dispatch_windows_total",
                "dispatch windows solved, by method (flow or mip)",
                ["method"],
                registry=self.metrics,
            )
            gap = Gauge(
                "gigmatch_dispatch_last_gap",
                "proven optimality gap of the last solved dispatch window (0 = optimal)",
                registry=self.metrics,
            )

            def on_window(window) -> None:
                offers.inc(window.offers)
                windows.labels(window.method).inc()
                gap.set(window.optimality_gap)

            self.dispatch = DispatchLoop(
                self.store,
                lambda: self.scorer,
                window_s=settings.dispatch_window_s,
                offer_ttl_s=settings.dispatch_offer_ttl_s,
                max_km=settings.default_max_km,
                publish=self.loop.publish_answer,
                on_window=on_window,
            )
            self.dispatch.start()
        self._stop = threading.Event()
        self._refused_version: str | None = None
        if settings.model is not None and settings.model_poll_s > 0:
            threading.Thread(
                target=self._follow_registry, name="gigmatch-model-follower", daemon=True
            ).start()

    def _follow_registry(self) -> None:
        """Every ``model_poll_s``: load the registry's ``current`` model when it is not the one served
        (a promotion or rollback made anywhere reaches every replica). A version that fails to load is
        logged once and not retried until ``current`` changes again; the old model keeps serving."""
        registry = Registry(self.settings.model)
        while not self._stop.wait(self.settings.model_poll_s):
            try:
                current = registry.current() if registry.is_registry else None
                if current is None or current in (self.scorer.version, self._refused_version):
                    continue
                scorer = load_scorer(self.settings.model)  # built fully before the swap
                if scorer.version != self.scorer.version:
                    previous = self.swap_model(scorer)
                    log.info(
                        "serving model %s (was %s): the registry's current changed", scorer.version, previous
                    )
            except Exception as exc:
                self._refused_version = current
                log.warning("model %s not loaded, still serving %s: %s", current, self.scorer.version, exc)

    def close(self) -> None:
        """Stop the background threads and close the store."""
        self._stop.set()
        if self.dispatch is not None:
            self.dispatch.stop()
        self.loop.stop()  # before the store: a tick in progress writes to it
        self.store.close()

    def swap_model(self, scorer: Scorer) -> str:
        """Serve ``scorer`` from now on; returns the previous version."""
        with self.model_lock:
            previous = self.scorer.version
            self.model_info.remove(previous)
            self.scorer = scorer
            self.model_info.labels(scorer.version).set(1)
            return previous
