"""The answer loop: a background thread that answers every open case, and again when it matters.

Every ``tick_s`` the replica holding the lease ``answer_loop`` (so that, with several replicas over
one store, each piece of work runs once; the others only refresh their view of the cases):

1. brings the cases in line with the stored market (:meth:`CaseBook.reconcile`);
2. picks the cases **due** an answer: open cases not yet answered since they (re-)opened, oldest
   first; cases whose worker or job was changed by a PUT since their last answer; the workers within
   reach of a job that opened or changed, and the jobs within reach of a worker who did (a new job
   nearby, a worker who now qualifies); and, every ``sweep_s`` when the snapshot changed, all open
   cases (what events changed: filled jobs, histories);
3. computes their answers in vectorised batches (:mod:`service.loop.answers`);
4. publishes an answer (:func:`service.loop.feed.publish_answers`) when the case has none yet, or its
   code changed, or a job (worker) now qualifies that the last answer did not include, or the case
   changed and the listed jobs (workers) differ; otherwise it only notes the check.

What was answered is kept per case in the record kind ``case_answer``: first and last answer times
(market time), the answer count, the last code, the ids that qualified, the last cursor. Publishing
comes before that record is written, so a crash in between repeats an answer rather than losing one.
Answers are computed here, never on the request path of ``/v1/rank``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

import numpy as np

from gigmatch.core.times import market_now
from service.loop.answers import REACH_FACTOR, REACH_KM, AnswerContext, job_answers, worker_answers
from service.loop.cases import CaseBook, case_key, job_states
from service.loop.feed import answer_row, publish_answers
from service.store import Store

log = logging.getLogger("gigmatch.loop")

ANSWER_KIND = "case_answer"
LEASE = "answer_loop"
MAX_PER_TICK = 5000  # cases of one kind answered per tick: a bounded tick under a burst
CHUNK = 500  # cases per vectorised batch (~0.1-0.2 s of work at 10k workers; the loop rests between)
SEEN_CAP = 300  # qualifying ids remembered per case


class AnswerLoop:
    """The loop over one store (see the module docstring).

    Parameters
    ----------
    store : Store
        The service's store (snapshot and repository).
    cases : CaseBook
        The cases.
    scorer : callable returning a Scorer
        The serving scorer at the time of the tick (hot reloads apply).
    tick_s, sweep_s : float
        Seconds between ticks; seconds between full sweeps.
    max_km : float
        A job's search radius, km.
    cpu_share : float, default=1.0
        At most this share of wall time spent computing answers: after each chunk the loop rests
        ``elapsed * (1 / cpu_share - 1)``, so that requests keep the cores (1.0 = never rests).
    on_publish : callable(kind, n), optional
        Called after answers are published (metrics).
    """

    def __init__(
        self,
        store: Store,
        cases: CaseBook,
        scorer: Callable[[], object],
        *,
        tick_s: float = 1.0,
        sweep_s: float = 60.0,
        max_km: float = 15.0,
        cpu_share: float = 1.0,
        on_publish: Callable[[str, int], None] | None = None,
    ):
        self.store = store
        self.cases = cases
        self.scorer = scorer
        self.tick_s = tick_s
        self.sweep_s = sweep_s
        self.max_km = max_km
        self.on_publish = on_publish or (lambda kind, n: None)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self.answered: dict[str, dict] = {}
        self._held = False
        self._ctx: AnswerContext | None = None
        self._swept_snapshot = None
        self._last_sweep = 0.0
        self._reconciled = None
        self._pending: dict[str, set] = {"worker": set(), "job": set()}  # neighbours due a re-answer
        self._first_due = 0  # cases due their first answer, as the last due scan found
        self._seen_state: tuple | None = None
        self.cpu_share = cpu_share
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_tick_s = 0.0

    # ---- one tick -------------------------------------------------------------------------------
    def tick(self) -> int:
        """One pass of the loop; returns how many answers were published (0 when not the lease holder)."""
        repo = self.store.repo
        if not repo.acquire_lease(LEASE, self.holder, max(10.0, 5 * self.tick_s)):
            self._held = False
            self.cases.refresh()
            return 0
        t0 = time.perf_counter()
        if not self._held:  # (re)gained the lease: another replica may have answered meanwhile
            self.answered = repo.read_records(ANSWER_KIND)
            self._held = True
        self.cases.refresh()
        # then the market, up to now: every entity whose case was just read is in the snapshot (a PUT
        # commits the entity before its case), so a case is never closed `deleted` for a worker that
        # another process stored a moment ago and this one has not followed yet
        self.store.sync()
        snap = self.store.snapshot()
        now = market_now()
        J = snap.jobs
        if snap is not self._reconciled:  # the market changed (entities, or events: filled jobs)
            deferred = self.cases.reconcile(
                snap.workers.ids,
                J.ids,
                job_states(snap.job_open, snap.job_hired, J.headcount, J.employer_blacklisted),
                now,
                is_stored=self._is_stored,
            )
            self._reconciled = None if deferred else snap  # new ones without a case: look again
        if self._ctx is None or self._ctx.snap is not snap:
            self._ctx = AnswerContext(snap, self._ctx)
        sweep = snap is not self._swept_snapshot and time.monotonic() - self._last_sweep >= self.sweep_s
        if sweep:
            self._swept_snapshot, self._last_sweep = snap, time.monotonic()
        state = (snap, self.cases.version)
        seen = self._seen_state  # by identity: a Snapshot holds arrays, so == between two is ambiguous
        if not sweep and seen is not None and seen[0] is snap and seen[1] == state[1]:
            self.last_tick_s = time.perf_counter() - t0
            return 0  # nothing changed since the last tick: nothing can be due
        due_w, changed_w = self._due("worker", snap.worker_row, sweep)
        due_j, changed_j = self._due("job", snap.job_row, sweep)
        # a job that opened or changed concerns the workers within reach; a worker, the jobs. These
        # re-answers wait while first answers are due (a burst of new workers is answered first, and
        # the jobs near them once, when it has passed, rather than again at every tick)
        W = snap.workers
        if len(changed_j):
            _, near_w = snap.worker_index.within(J.lat[changed_j], J.lon[changed_j], REACH_KM)
            self._pending["worker"].update(W.ids[near_w].tolist())
        if len(changed_w):
            _, near_j = snap.job_index.within(W.lat[changed_w], W.lon[changed_w], REACH_FACTOR * self.max_km)
            self._pending["job"].update(J.ids[near_j].tolist())
        first_due = self._first_due
        if not first_due and (self._pending["worker"] or self._pending["job"]):
            rows_w = [r for i in self._pending["worker"] if (r := snap.worker_row.get(i)) is not None]
            rows_j = [r for i in self._pending["job"] if (r := snap.job_row.get(i)) is not None]
            self._pending = {"worker": set(), "job": set()}
            due_w = self._open_rows("worker", W.ids, np.r_[due_w, np.asarray(rows_w, np.int64)], due_w)
            due_j = self._open_rows("job", J.ids, np.r_[due_j, np.asarray(rows_j, np.int64)], due_j)
        published = self._answer("worker", due_w, now) + self._answer("job", due_j, now)
        # what this tick saw; a tick cut short (MAX_PER_TICK), or with re-answers waiting, leaves work
        # for the next, so it does not count
        done = max(len(due_w), len(due_j)) < MAX_PER_TICK and not (
            self._pending["worker"] or self._pending["job"]
        )
        self._seen_state = (snap, self.cases.version) if done else None
        self.last_tick_s = time.perf_counter() - t0
        return published

    def _is_stored(self, kind: str, entity_id: str) -> bool:
        """Whether the store holds this worker or job now (its latest snapshot)."""
        snap = self.store.snapshot()
        return entity_id in (snap.worker_row if kind == "worker" else snap.job_row)

    def _due(self, kind: str, row_of: dict, sweep: bool) -> tuple[np.ndarray, np.ndarray]:
        """(rows due an answer, unanswered first then oldest; rows opened or changed since answered)."""
        first, rest, changed = [], [], []
        for case in self.cases.cases.values():
            if case["kind"] != kind or case["status"] != "open":
                continue
            row = row_of.get(case["id"])
            if row is None:
                continue
            done = self.answered.get(case_key(kind, case["id"]))
            if done is None or done.get("opened_at") != case["opened_at"]:
                first.append((case["opened_at"], row))
                changed.append(row)
            elif case.get("changed_at", 0) > done.get("basis", 0):
                rest.append((0, row))
                changed.append(row)
            elif sweep:
                rest.append((1, row))
        self._first_due = (self._first_due if kind == "job" else 0) + len(first)
        first.sort()
        rest.sort()
        rows = [r for _, r in first] + [r for _, r in rest]
        return np.asarray(rows[:MAX_PER_TICK], dtype=np.int64), np.asarray(changed, dtype=np.int64)

    def _open_rows(self, kind: str, ids: np.ndarray, rows: np.ndarray, head: np.ndarray) -> np.ndarray:
        """``rows`` whose case is open, without repeats, ``head`` first; at most :data:`MAX_PER_TICK`."""
        cases = self.cases.cases
        _, first = np.unique(rows, return_index=True)
        out = [
            int(r)
            for r in rows[np.sort(first)]
            if (c := cases.get(case_key(kind, ids[r]))) is not None and c["status"] == "open"
        ]
        return np.asarray(out[:MAX_PER_TICK], dtype=np.int64) if out else head

    def _answer(self, kind: str, rows: np.ndarray, now: float) -> int:
        if len(rows) == 0:
            return 0
        snap = self._ctx.snap
        scorer = self.scorer()
        blocked = self.cases.blocked_rows(snap.workers.ids) if kind == "job" else None
        published = 0
        for start in range(0, len(rows), CHUNK):
            t_chunk = time.perf_counter()
            part = rows[start : start + CHUNK]
            if kind == "worker":
                answers = worker_answers(self._ctx, scorer, part, now)
            else:
                answers = job_answers(self._ctx, scorer, part, now, max_km=self.max_km, blocked=blocked)
            out, records = [], {}
            for entity_id, content, seen in zip(answers.ids, answers.contents, answers.seen, strict=True):
                key = case_key(kind, entity_id)
                case = self.cases.cases.get(key)
                if case is None or case["status"] != "open":
                    continue
                done = self.answered.get(key)
                fresh = done is None or done.get("opened_at") != case["opened_at"]
                listed = [
                    x.get("job_id") or x.get("worker_id")
                    for x in content.get("jobs", content.get("workers", []))
                ]
                changed = case.get("changed_at", 0) > (done or {}).get("basis", 0)
                publish = (
                    fresh
                    or done.get("code") != content["code"]
                    or bool(set(seen) - set(done.get("seen", [])))
                    or (changed and listed != done.get("listed"))
                )
                record = {
                    "opened_at": case["opened_at"],
                    "basis": case.get("changed_at", case["opened_at"]),
                    "checked_at": now,
                    "first_at": now if fresh else done.get("first_at"),
                    "last_at": now if publish else done.get("last_at"),
                    "answers": (0 if fresh else done.get("answers", 0)) + int(publish),
                    "code": content["code"],
                    "seen": seen[:SEEN_CAP],
                    "listed": listed,
                    "cursor": None if fresh else done.get("cursor"),
                }
                if publish:
                    out.append(answer_row(kind, entity_id, content, created_s=now))
                records[key] = record
            rows_out = publish_answers(self.store.repo, out)
            for row in rows_out:
                records[case_key(kind, row[f"{kind}_id"])]["cursor"] = row["cursor"]
            if records:
                self.store.repo.put_records(ANSWER_KIND, records)
                self.answered.update(records)
            if rows_out:
                self.on_publish(kind, len(rows_out))
            published += len(rows_out)
            if self.cpu_share < 1.0:  # leave the cores to the requests for a while
                self._stop.wait((time.perf_counter() - t_chunk) * (1.0 / self.cpu_share - 1.0))
        return published

    # ---- the thread -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the loop thread (once)."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(self.tick_s):
                try:
                    self.tick()
                except Exception:  # the next tick retries; nothing is lost (cases and feed are durable)
                    log.exception("answer loop tick failed")

        self._thread = threading.Thread(target=loop, name="gigmatch-answer-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for the tick in progress (at most 30 s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
