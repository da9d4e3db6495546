"""The answer loop's parts wired together for one service process: cases, loop, webhook, metrics."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from gigmatch.core.times import market_now
from service.loop.cases import CaseBook
from service.loop.feed import publish_answer
from service.loop.runner import ANSWER_KIND, AnswerLoop
from service.loop.stats import followups, loop_stats
from service.loop.webhook import WebhookSender
from service.store import Store


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
    """

    def __init__(self, store: Store, scorer: Callable[[], object], settings, metrics: CollectorRegistry):
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
        """Start the loop (when enabled) and the webhook sender (when configured)."""
        if self.settings.answer_loop:
            self.loop.start()
        if self.webhook is not None:
            self.webhook.start()

    def stop(self) -> None:
        """Stop both threads (before the store closes)."""
        self.loop.stop()
        if self.webhook is not None:
            self.webhook.stop()

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
        )

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
