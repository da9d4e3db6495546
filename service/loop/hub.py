"""The answer loop's parts wired together for one service process: cases, loop, webhook, metrics."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from gigmatch.core.times import market_now
from service.loop.cases import CaseBook
from service.loop.feed import publish_answer
from service.loop.process import LoopProcess
from service.loop.runner import ANSWER_KIND, AnswerLoop
from service.loop.stats import followups, loop_stats
from service.loop.webhook import WebhookSender
from service.store import Store

log = logging.getLogger("gigmatch.loop")

READY_TIMEOUT_S = 120.0  # the service waits this long for the loop's process before serving


class LoopService:
    """Cases, the answer loop thread and the webhook sender of one process, with their metrics.

    Parameters
    ----------
    store : Store
        The service's store.
    scorer : callable returning the serving Scorer
    settings : service.config.Settings
        ``answer_*``, ``followup_days`` and ``webhook_*`` settings (validated).
    metrics : CollectorRegistry
        Where the loop's counters and gauges are registered.
    process : LoopProcess, optional
        The loop's child process (already spawned, so that its start overlapped the service's);
        None: the loop runs as a thread of this process (``answer_process`` off) or not at all.
    """

    def __init__(
        self,
        store: Store,
        scorer: Callable[[], object],
        settings,
        metrics: CollectorRegistry,
        process: LoopProcess | None = None,
    ):
        self.store = store
        self.settings = settings
        self.cases = CaseBook(store.repo)
        self.published = Counter(
            "gigmatch_answers_published_total", "answers published to the feed", ["kind"], registry=metrics
        )
        self.webhook_deliveries = Counter(
            "gigmatch_webhook_deliveries_total",
            "webhook POSTs by outcome (failed attempts are retried)",
            ["outcome"],
            registry=metrics,
        )
        self.open_cases = Gauge("gigmatch_cases_open", "open cases", ["kind"], registry=metrics)
        self.closed_cases = Gauge(
            "gigmatch_cases_closed", "closed cases by outcome", ["kind", "outcome"], registry=metrics
        )
        self.within_sla = Gauge(
            "gigmatch_answered_within_sla_ratio",
            "share of cases first answered within the SLA",
            registry=metrics,
        )
        self.median_first = Gauge(
            "gigmatch_first_answer_median_seconds",
            "median time from opening to first answer",
            registry=metrics,
        )
        self.followups_due = Gauge(
            "gigmatch_followups_due", "open worker cases due a follow-up", registry=metrics
        )
        for outcome in ("delivered", "failed"):
            self.webhook_deliveries.labels(outcome)  # exported at 0 before the first attempt
        self.loop = AnswerLoop(
            store,
            self.cases,
            scorer,
            tick_s=settings.answer_tick_s,
            sweep_s=settings.answer_sweep_s,
            max_km=settings.default_max_km,
            cpu_share=settings.answer_cpu_share,
            on_publish=lambda kind, n: self.published.labels(kind).inc(n),
        )
        # the loop's computing runs in a child process by default (service/loop/process.py); this
        # process then only follows the cases it writes (closes, hires, PUTs by other replicas)
        self.process = process
        if process is not None:
            process.on_publish = lambda kind, n: self.published.labels(kind).inc(n)
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        url, secret = settings.webhook()
        self.webhook = (
            WebhookSender(
                store.repo,
                url,
                secret,
                backoff_s=settings.webhook_backoff_s,
                on_result=lambda outcome: self.webhook_deliveries.labels(outcome).inc(),
                holder=self.loop.holder,
            )
            if url
            else None
        )

    def publish_answer(self, kind: str, entity_id: str, content: dict) -> dict:
        """Publish an answer to a worker or job now (:func:`service.loop.feed.publish_answer`), counted
        in ``gigmatch_answers_published_total``; for other code that answers (dispatch offers)."""
        row = publish_answer(self.store.repo, kind, entity_id, content)
        self.published.labels(kind).inc()
        return row

    def start(self) -> None:
        """Start the loop (when enabled: its process, or its thread) and the webhook sender (when
        configured). Without the loop's thread in this process, a light thread applies the case changes
        that the loop's process and other replicas write (every ``answer_tick_s``)."""
        if self.process is not None:
            self.process.start()
            if not self.process.wait_ready(READY_TIMEOUT_S):
                log.warning("the answer loop's process is not up after %.0f s; serving on", READY_TIMEOUT_S)
        elif self.settings.answer_loop:
            self.loop.start()
        if self.process is not None or not self.settings.answer_loop:
            self._follower = threading.Thread(target=self._follow_cases, name="gigmatch-cases", daemon=True)
            self._follower.start()
        if self.webhook is not None:
            self.webhook.start()

    def _follow_cases(self) -> None:
        while not self._stop.wait(self.settings.answer_tick_s):
            try:
                self.cases.refresh()
            except Exception as exc:  # the database is away: the next pass catches up
                log.warning("following the cases failed (%s); retrying", str(exc).splitlines()[0])

    def stop(self) -> None:
        """Stop the loop (process or thread), the cases' follower and the webhook sender (before the
        store closes)."""
        self._stop.set()
        if self.process is not None:
            self.process.stop()
        self.loop.stop()
        if self._follower is not None:
            self._follower.join(5)
        if self.webhook is not None:
            self.webhook.stop()

    def runner(self) -> dict:
        """Where the loop runs: ``mode`` (``process``, ``thread`` or ``off``), the process's ``pid``
        and ``restarts``, and the ``model`` version it answers with."""
        if self.process is not None:
            return {
                "mode": "process",
                "pid": self.process.pid,
                "restarts": self.process.restarts,
                "model": self.process.model_version,
            }
        if self.settings.answer_loop:
            return {"mode": "thread", "pid": None, "restarts": 0, "model": self.loop.scorer().version}
        return {"mode": "off", "pid": None, "restarts": 0, "model": None}

    def _inputs(self):
        answered = self.store.repo.read_records(ANSWER_KIND)
        return self.cases.cases, answered, self.store.market(events=True).events

    def stats(self, as_of_s: float | None = None) -> dict:
        """:func:`service.loop.stats.loop_stats` now (or at ``as_of_s``, market seconds)."""
        cases, answered, events = self._inputs()
        return loop_stats(
            cases,
            answered,
            events,
            market_now() if as_of_s is None else as_of_s,
            self.settings.answer_sla_s,
            self.settings.followup_days,
        ) | {"runner": self.runner()}

    def followups(self, as_of_s: float | None = None) -> list[dict]:
        """:func:`service.loop.stats.followups` now (or at ``as_of_s``, market seconds)."""
        cases, answered, events = self._inputs()
        return followups(
            cases, answered, events, market_now() if as_of_s is None else as_of_s, self.settings.followup_days
        )

    def update_gauges(self) -> None:
        """Set the Prometheus gauges from :meth:`stats` (called when ``/metrics`` is scraped)."""
        s = self.stats()
        for kind, n in s["open_cases"].items():
            self.open_cases.labels(kind).set(n)
        for kind, outcomes in s["closed_by_outcome"].items():
            for outcome, n in outcomes.items():
                self.closed_cases.labels(kind, outcome).set(n)
        self.within_sla.set(
            s["answered_within_sla"] if s["answered_within_sla"] is not None else float("nan")
        )
        self.median_first.set(
            s["median_first_answer_s"] if s["median_first_answer_s"] is not None else float("nan")
        )
        self.followups_due.set(s["followups_due"])
