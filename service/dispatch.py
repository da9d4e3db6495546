"""Real-time dispatch in the service (issue #15): jobs put by the platform are offered to workers in
windows, each window solved exactly.

When ``GIGMATCH_DISPATCH_WINDOW_S`` is set, a background thread wakes every window; the replica holding
the lease ``dispatch`` (so that several replicas over one store dispatch once):

1. reads the store's current snapshot and the durable dispatch records (record kinds
   ``dispatch_job``: the jobs it has taken in, and ``dispatch_offer``: every offer ever made);
2. takes as candidates the open jobs that arrived by ``PUT /v1/jobs`` since dispatch first ran on this
   store (the jobs stored when that process started are its baseline and never dispatched), with slots
   neither hired nor on a live offer;
3. rebuilds a :class:`matcher.dispatch.Dispatcher` over the snapshot with the workers' commitments:
   live offers (not yet expired) and hires (``hired`` events) hold the worker at that job's time, and
   every pair ever offered is never offered again (a lapsed offer goes to the next best worker);
4. closes the window with :meth:`~matcher.dispatch.Dispatcher.close_window` (the exact shift solver:
   no overlapping jobs, hours and daily caps respected);
5. writes the offers to ``dispatch_offer`` **first**, then appends them to the stream ``offers`` and
   publishes each to the answer feed (kind ``job``, code ``dispatch_offer``). A crash between the two
   leaves records without a stream cursor, which the next lease holder appends (after checking the
   stream), so a restart neither loses an offer nor offers a job slot twice; the feed gets each offer
   at least once (the stream exactly once).

An offer is answered by the platform's events for that job and worker: ``hired`` fills the slot,
``declined`` frees it at once; without either it lapses at ``expires_at``. A freed slot is offered in a
later window to the next best worker (never again to one who was asked for that job).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd

from gigmatch.core.hours import WeeklyHours
from gigmatch.core.times import market_now
from matcher.dispatch import Dispatcher, WindowLog
from matcher.retrieval import CandidateRetriever
from matcher.shifts import SECONDS_PER_DAY, job_shifts
from service.store import Store

log = logging.getLogger("gigmatch.dispatch")

LEASE = "dispatch"
JOB_KIND = "dispatch_job"
OFFER_KIND = "dispatch_offer"
META_KIND = "dispatch_meta"
STREAM_FIELDS = ("offer_id", "job_id", "worker_id", "score", "distance_km", "window_start", "expires_at")
OFFER_STREAM = "offers"


def _iso(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s").floor("ms").isoformat()


class DispatchLoop:
    """The dispatch thread over one store (see the module docstring).

    Parameters
    ----------
    store : Store
        The service's store.
    scorer : callable returning the serving Scorer
    window_s, offer_ttl_s : float
        Window length and offer lifetime, seconds (positive).
    max_km : float
        A job's search radius, km.
    publish : callable(kind, entity_id, content), optional
        Publishes an answer to the feed (:meth:`service.loop.hub.LoopService.publish_answer`).
    on_window : callable(WindowLog), optional
        Called after each solved window (metrics: offers, method, proven gap).
    """

    def __init__(
        self,
        store: Store,
        scorer: Callable[[], object],
        *,
        window_s: float,
        offer_ttl_s: float,
        max_km: float,
        publish: Callable[[str, str, dict], object] | None = None,
        on_window: Callable[[WindowLog], None] | None = None,
    ):
        self.store, self.scorer = store, scorer
        self.window_s, self.offer_ttl_s, self.max_km = window_s, offer_ttl_s, max_km
        self.publish = publish
        self.on_window = on_window or (lambda window: None)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self.jobs: dict[str, dict] = {}
        self.offers: dict[str, dict] = {}
        self._held = False
        self._idle: tuple | None = None  # (snapshot, live offers) of the last window that offered nothing
        self._worker_cache: tuple | None = None
        self._answer_cache: tuple | None = None
        self._ends_cache: tuple | None = None
        self.windows = 0
        self.last_window: WindowLog | None = None  # the last solved window (its exactness and time)
        # the jobs stored when the service started (before it serves a request): dispatch's baseline
        # when it first runs on this store
        self._startup_jobs = [str(j) for j in store.snapshot().jobs.ids]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- one window -----------------------------------------------------------------------------
    def tick(self) -> int:
        """Close one window; returns the number of offers made (0 when another replica holds the lease)."""
        repo = self.store.repo
        if not repo.acquire_lease(LEASE, self.holder, max(10.0, 5 * self.window_s)):
            self._held = False
            return 0
        snap = self.store.snapshot()
        if not self._held:  # (re)gained the lease: another replica may have dispatched meanwhile
            self.jobs = repo.read_records(JOB_KIND)
            self.offers = repo.read_records(OFFER_KIND)
            if not repo.read_records(META_KIND):
                # first run on this store: the jobs stored when this process started are the baseline
                baseline = {j: {"baseline": True} for j in self._startup_jobs}
                repo.put_records(JOB_KIND, baseline)
                repo.put_records(META_KIND, {"started": {"at": market_now(), "baseline_jobs": len(baseline)}})
                self.jobs = {**baseline, **self.jobs}
            self._stream_unstreamed()
            self._held = True  # only now: a failure above is retried from the start next window
        now = market_now()
        fresh = {
            str(j): {"baseline": False, "arrived_s": now} for j in snap.jobs.ids if str(j) not in self.jobs
        }
        if fresh:
            repo.put_records(JOB_KIND, fresh)
            self.jobs.update(fresh)
        made = self._window(snap, now)
        self.windows += 1
        return made

    def _window(self, snap, now: float) -> int:
        J_all = snap.jobs
        cand = np.flatnonzero(
            snap.job_open
            & np.fromiter(
                (not self.jobs.get(str(j), {}).get("baseline", True) for j in J_all.ids), bool, len(J_all)
            )
        )
        if len(cand) == 0:
            return 0
        market = self.store.market(events=True)
        hired_pairs, declined = self._answers(market.events)
        # live offers: not lapsed, not answered (a hire fills the slot, a decline frees it at once)
        answered = hired_pairs | declined
        live = {
            k: o
            for k, o in self.offers.items()
            if o["expires_s"] > now and (o["job_id"], o["worker_id"]) not in answered
        }
        # nothing changed since a window that offered nothing (same snapshot, same live offers): skip
        key = (snap, frozenset(live))
        if self._idle is not None and self._idle[0] is snap and self._idle[1] == key[1]:
            return 0
        on_offer_of = Counter(o["job_id"] for o in live.values())
        slots = J_all.headcount[cand] - snap.job_hired[cand]
        slots -= np.fromiter((on_offer_of.get(str(j), 0) for j in J_all.ids[cand]), np.int64, len(cand))
        if not (slots > 0).any():
            self._idle = key
            return 0
        # the jobs in play: the candidates, and every job a worker holds (a live offer or a hire) that
        # has not ended, since it makes that worker busy at its time
        ends = self._job_ends(market.jobs, now)
        hired_now = {(j, w) for j, w in hired_pairs if ends.get(j, 0.0) > now}  # hires of jobs not ended
        held_pairs = {(o["job_id"], o["worker_id"]) for o in live.values()} | hired_now
        rows = set(cand.tolist()) | {snap.job_row[j] for j, _ in held_pairs if j in snap.job_row}
        rows = np.array(sorted(rows), dtype=np.int64)
        J = J_all.take(rows)
        local = {str(j): i for i, j in enumerate(J.ids)}
        frame = market.jobs.set_index("job_id").loc[J.ids].reset_index()
        day0 = np.floor(now / SECONDS_PER_DAY) * SECONDS_PER_DAY
        shifts = job_shifts(frame, now)
        ptr, s, e = shifts
        keep_end = np.maximum.reduceat(e, ptr[:-1]) if len(e) else np.zeros(0)
        day0 = min(day0, np.floor(s.min() / SECONDS_PER_DAY) * SECONDS_PER_DAY) if len(s) else day0
        n_days = int(max(1, np.ceil((e.max() - day0) / SECONDS_PER_DAY))) if len(e) else 1
        hours, caps, retriever = self._workers(snap, market)
        d = Dispatcher(
            snap.workers,
            hours,
            caps,
            snap.history,
            J,
            shifts,
            self.scorer(),
            window_s=self.window_s,
            offer_ttl_s=self.offer_ttl_s,
            day0_s=day0,
            n_days=n_days,
            max_km=self.max_km,
            retriever=retriever,
        )
        # the commitments: held jobs make their workers busy; every pair ever offered is never asked again
        for job_id, worker_id in held_pairs:
            j, w = local.get(job_id), snap.worker_row.get(worker_id)
            if j is None or w is None or keep_end[j] <= now:
                continue
            d.held.setdefault(w, []).append(j)
            d.hours_held[w] += d.day_hours[j]
        on_offer = np.zeros(len(J), dtype=np.int64)
        for o in self.offers.values():
            j, w = local.get(o["job_id"]), snap.worker_row.get(o["worker_id"])
            if j is not None and w is not None:
                d.asked.add((j, w))
        for o in live.values():
            if (j := local.get(o["job_id"])) is not None:
                on_offer[j] += 1
        is_cand = np.isin(rows, cand)
        open_slots = np.where(is_cand, J.headcount - snap.job_hired[rows] - on_offer, 0)
        d.open_slots[:] = np.maximum(open_slots, 0)
        if not d.open_slots.any():
            return 0
        offers = d.close_window(now)
        if d.windows:
            self.last_window = d.windows[-1]
            self.on_window(self.last_window)
        if not offers:
            self._idle = key
            return 0
        records = {}
        for o in offers:
            records[o.offer_id] = {
                "offer_id": o.offer_id,
                "job_id": o.job_id,
                "worker_id": o.worker_id,
                "score": round(o.score, 6),
                "distance_km": round(o.distance_km, 3),
                "window_start": _iso(now - self.window_s),
                "offered_s": now,
                "expires_s": o.expires_s,
                "expires_at": _iso(o.expires_s),
                "cursor": None,
            }
        # durable first: a crash after this never offers these slots again (the stream catches up)
        self.store.repo.put_records(OFFER_KIND, records)
        self.offers.update(records)
        self._append(list(records.values()))
        window = d.windows[-1]
        log.info(
            "dispatch window: %d jobs, %d slots, %d offers (%s, gap %.3g)",
            window.jobs,
            window.open_slots,
            window.offers,
            window.method,
            window.optimality_gap,
        )
        return len(offers)

    def _answers(self, events: pd.DataFrame) -> tuple[set, set]:
        """The (job_id, worker_id) pairs hired, and those declined and not hired; read again only when
        the event log changed (the store hands back the same compacted frame until then)."""
        if self._answer_cache is None or self._answer_cache[0] is not events:
            answered = events.loc[
                events["event"].isin(["hired", "declined"]), ["job_id", "worker_id", "event"]
            ].astype(str)
            pairs = list(zip(answered["job_id"], answered["worker_id"], strict=True))
            hired = {p for p, e in zip(pairs, answered["event"], strict=True) if e == "hired"}
            self._answer_cache = (events, hired, set(pairs) - hired)
        return self._answer_cache[1], self._answer_cache[2]

    def _job_ends(self, jobs: pd.DataFrame, now: float) -> dict[str, float]:
        """``{job_id: end of its last shift}``, market seconds; computed again when the jobs change."""
        if self._ends_cache is None or self._ends_cache[0] is not jobs:
            ptr, _, e = job_shifts(jobs, now)
            last = np.maximum.reduceat(e, ptr[:-1]) if len(e) else np.zeros(0)
            self._ends_cache = (jobs, dict(zip(jobs["job_id"].astype(str), last.tolist(), strict=True)))
        return self._ends_cache[1]

    def _workers(self, snap, market) -> tuple[WeeklyHours, np.ndarray, CandidateRetriever]:
        """The workers' hours, daily caps and retriever, built once per worker table."""
        if self._worker_cache is None or self._worker_cache[0] is not snap.workers:
            workers = market.workers.set_index("worker_id").loc[snap.workers.ids]
            cells = workers["available_hours"] if "available_hours" in workers else [None] * len(workers)
            caps = (
                workers["max_hours_per_day"].to_numpy(dtype=np.float64)
                if "max_hours_per_day" in workers
                else np.full(len(workers), np.nan)
            )
            hours = WeeklyHours.from_cells(list(cells))
            self._worker_cache = (snap.workers, hours, caps, CandidateRetriever(snap.workers))
        return self._worker_cache[1:]

    def _append(self, records: list[dict]) -> None:
        """Append offers to the stream, publish them to the answer feed, then note their cursors.

        A crash before the cursors are noted is repaired by :meth:`_stream_unstreamed`, which publishes
        again what it finds streamed: the feed gets every offer at least once (like the answer loop).
        """
        rows = [{k: r[k] for k in STREAM_FIELDS} for r in records]
        cursors = self.store.repo.append(OFFER_STREAM, rows)
        self._publish(rows)
        done = {r["offer_id"]: {**r, "cursor": c} for r, c in zip(records, cursors, strict=True)}
        self.store.repo.put_records(OFFER_KIND, done)
        self.offers.update(done)

    def _publish(self, rows: list[dict]) -> None:
        if self.publish is None:
            return
        for row in rows:
            self.publish(
                "job",
                row["job_id"],
                {
                    "code": "dispatch_offer",
                    "message": f"已向工人 {row['worker_id']} 发出派单，{row['expires_at']} 前有效",
                    "message_en": f"offered to worker {row['worker_id']} until {row['expires_at']}",
                    **{k: row[k] for k in STREAM_FIELDS},
                },
            )

    def _stream_unstreamed(self) -> None:
        """Append offers recorded but not streamed (a crash between the two writes), once."""
        missing = {k: r for k, r in self.offers.items() if r.get("cursor") is None}
        if not missing:
            return
        # the whole stream, once after a crash: robust to any order of the interrupted writes
        after, found = 0, {}
        while page := self.store.repo.read_stream(OFFER_STREAM, after=after, limit=1000):
            for seq, row in page:
                if row["offer_id"] in missing:
                    found[row["offer_id"]] = {**missing[row["offer_id"]], "cursor": seq}
            after = page[-1][0]
        if found:
            self._publish(list(found.values()))
            self.store.repo.put_records(OFFER_KIND, found)
            self.offers.update(found)
        rest = [r for k, r in missing.items() if k not in found]
        if rest:
            self._append(rest)

    # ---- the thread -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the dispatch thread (once)."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(self.window_s):
                try:
                    self.tick()
                except Exception:  # the next window retries; offers and records are durable
                    log.exception("dispatch window failed")

        self._thread = threading.Thread(target=loop, name="gigmatch-dispatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for the window in progress (at most 30 s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


def read_offers(store: Store, after: int = 0, limit: int = 100) -> list[dict]:
    """Up to ``limit`` offers with cursor > ``after``, in cursor order."""
    return [
        {**row, "cursor": seq} for seq, row in store.repo.read_stream(OFFER_STREAM, after=after, limit=limit)
    ]
