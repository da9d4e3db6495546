"""The service's state: settings, keys, the store, the serving model and the metrics (one per app)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gigmatch.core.contract import ContractError, load_market
from models.scorer import Scorer, load_scorer
from service.config import Settings
from service.store import Store, open_store

log = logging.getLogger("gigmatch.service")


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
        self.scorer: Scorer = load_scorer(settings.model)
        if not self.scorer.is_model:
            where = (
                "no model configured" if settings.model is None else f"no trained model in {settings.model}"
            )
            log.info("%s: serving the heuristic scorer (%s, cold start)", where, self.scorer.version)
        if settings.data is not None and not Path(settings.data).is_dir():
            raise ContractError(
                f"{settings.data}: "
                + ("not a market folder" if Path(settings.data).exists() else "does not exist")
            )
        db_is_new = "://" not in str(settings.db) and not Path(settings.db).exists()
        self.store: Store = open_store(settings.db, events_refresh_s=settings.events_refresh_s)
        if settings.data is not None and self.store.counts()["workers"] == 0:
            log.info("seeding the empty store from %s", settings.data)
            try:
                self.store.seed(load_market(settings.data))
            except BaseException:
                self.store.close()
                if db_is_new:  # a store this start created and could not seed is not left behind
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{settings.db}{suffix}").unlink(missing_ok=True)
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
        self.model_info.labels(self.scorer.version).set(1)
        self.store.snapshot()  # build the read cache before the first request
        self.store.start_refresher()

    def swap_model(self, scorer: Scorer) -> str:
        """Serve ``scorer`` from now on; returns the previous version."""
        with self.model_lock:
            previous = self.scorer.version
            self.model_info.remove(previous)
            self.scorer = scorer
            self.model_info.labels(scorer.version).set(1)
            return previous
