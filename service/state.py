"""The service's state: settings, keys, the store, the serving model and the metrics (one per app)."""

from __future__ import annotations

import logging
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gigmatch.core.contract import load_market
from models.scorer import Scorer, load_scorer
from service.config import Settings
from service.experiments import Experiment, load_scorers, parse_experiment
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
        self.store: Store = open_store(settings.db, events_refresh_s=settings.events_refresh_s)
        if settings.data is not None and self.store.counts()["workers"] == 0:
            log.info("seeding the empty store from %s", settings.data)
            self.store.seed(load_market(settings.data))
        self.scorer: Scorer = load_scorer(settings.model)
        # an online experiment (issue #17): its variants' models are loaded once, here
        self.experiment: Experiment | None = (
            load_scorers(parse_experiment(settings.experiment), settings.model)
            if settings.experiment
            else None
        )
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

    def swap_model(self, scorer: Scorer) -> str:
        """Serve ``scorer`` from now on; returns the previous version."""
        with self.model_lock:
            previous = self.scorer.version
            self.model_info.remove(previous)
            self.scorer = scorer
            self.model_info.labels(scorer.version).set(1)
            return previous
