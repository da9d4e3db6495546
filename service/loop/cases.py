"""Cases: every worker looking for work and every open job is followed until it ends.

A **worker case** opens when the worker is first stored (created by a PUT, or seeded) and again when
a PUT re-registers a worker whose case is closed. It ends with an outcome: ``hired`` (a ``hired``
event), a platform close (``found_work_elsewhere``, ``not_looking``, ``unreachable``, ``other``, with
a note) or ``deleted``. A worker whose case is closed without a hire is not ranked for jobs until a
PUT re-opens it (:meth:`CaseBook.blocked_rows`).

A **job case** opens when a job is first seen open (posted, or re-posted by a PUT after it ended) and
ends ``filled``, ``started`` (started before it was filled), ``employer_blacklisted`` or ``deleted``.

Storage (the repository's generic kinds, so every backend keeps them): the current state of each case
is a record of kind ``case`` keyed ``worker:<id>`` / ``job:<id>``; every change (opening, closing, a
PUT's ``changed``) is also appended to the stream ``case_history`` with the case's new state, which
is how other replicas follow the cases incrementally (:meth:`CaseBook.refresh`). Times are market time in seconds (as every stored time).
Each PUT also stamps the case's ``changed_at``, which tells the answer loop (maybe in another replica)
that the worker or job changed and deserves a fresh answer.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from service.store.repository import MarketRepository

CASE_KIND = "case"
HISTORY_STREAM = "case_history"
CLOSE_REASONS = ("found_work_elsewhere", "not_looking", "unreachable", "other")
KINDS = ("worker", "job")


def case_key(kind: str, entity_id: str) -> str:
    """The record key of a case: ``"worker:<id>"`` or ``"job:<id>"``."""
    return f"{kind}:{entity_id}"


class CaseBook:
    """The cases of one market, in memory and in the repository.

    Every change is written to the repository (committed) before it is applied in memory; other
    replicas see it at their next :meth:`refresh` (the answer loop's tick).

    Parameters
    ----------
    repo : MarketRepository
        Where the ``case`` records and the ``case_history`` stream live.
    """

    def __init__(self, repo: MarketRepository):
        self.repo = repo
        self._lock = threading.RLock()
        # the end of the history first, then the records: a change made in between is in both, and
        # re-applying its history row gives the same state
        self._seq = 0  # the last history row applied
        while rows := repo.read_stream(HISTORY_STREAM, after=self._seq, limit=5000):
            self._seq = rows[-1][0]
        # by key; replaced as a whole on every change, never mutated in place, so a reader may iterate
        # the dict it took without a lock
        self.cases: dict[str, dict] = repo.read_records(CASE_KIND)
        self.version = 0  # bumped on every change; caches keyed on it
        self._reconciled_ids: tuple[set, set] | None = None  # worker and job ids at the last reconcile
        self._blocked_cache: tuple | None = None

    # ---- reads ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Apply the changes written since the last refresh (by this or another replica).

        Every change appends a history row carrying the case's new state, so this reads only the
        rows after the last one applied: O(changes), not O(cases).
        """
        while rows := self.repo.read_stream(HISTORY_STREAM, after=self._seq, limit=5000):
            with self._lock:
                fresh = {
                    case_key(r["case"]["kind"], r["case"]["id"]): r["case"] for _, r in rows if "case" in r
                }
                self.cases = {**self.cases, **fresh}  # a new dict: readers keep a consistent one
                self._seq = max(self._seq, rows[-1][0])
                self.version += 1

    def get(self, kind: str, entity_id: str) -> dict | None:
        """The case of a worker or job (a copy), or None."""
        case = self.cases.get(case_key(kind, entity_id))
        return dict(case) if case is not None else None

    def open_ids(self, kind: str) -> list[str]:
        """Ids of the open cases of one kind, in the order they were first stored."""
        return [c["id"] for c in self.cases.values() if c["kind"] == kind and c["status"] == "open"]

    def history(self, kind: str, entity_id: str) -> list[dict]:
        """Every opening and closing of one case, oldest first (reads the whole history stream)."""
        key, out, after = case_key(kind, entity_id), [], 0
        while True:
            rows = self.repo.read_stream(HISTORY_STREAM, after=after, limit=5000)
            if not rows:
                return out
            out += [
                {k: v for k, v in r.items() if k != "case"}
                for _, r in rows
                if case_key(r["kind"], r["id"]) == key
            ]
            after = rows[-1][0]

    def blocked_rows(self, worker_ids: np.ndarray) -> np.ndarray:
        """bool array of shape (n_workers,): workers whose case is closed without a hire.

        Cached per (worker ids array, book version), so the ranking path pays a lookup, not a scan.
        """
        cache = self._blocked_cache
        if cache is not None and cache[0] is worker_ids and cache[1] == self.version:
            return cache[2]
        with self._lock:
            closed = [
                c["id"]
                for c in self.cases.values()
                if c["kind"] == "worker" and c["status"] == "closed" and c["outcome"] not in ("hired",)
            ]
            version = self.version
        mask = pd.Index(worker_ids).isin(closed) if closed else np.zeros(len(worker_ids), dtype=bool)
        mask = np.asarray(mask, dtype=bool)
        self._blocked_cache = (worker_ids, version, mask)
        return mask

    # ---- writes --------------------------------------------------------------------------------
    def _write(self, changes: list[tuple[dict, dict | None]]) -> None:
        """Store new case states (and their history rows) and apply them in memory."""
        if not changes:
            return
        self.repo.put_records(CASE_KIND, {case_key(c["kind"], c["id"]): c for c, _ in changes})
        history = [
            {
                **(h or {"kind": c["kind"], "id": c["id"], "action": "changed", "outcome": None, "note": ""}),
                "at": (h or {}).get("at", c.get("changed_at")),
                "case": c,
            }
            for c, h in changes
        ]
        self.repo.append(HISTORY_STREAM, history)
        with self._lock:
            # copy on write: threads iterating the previous dict (the loop, the stats) are not disturbed
            self.cases = {**self.cases, **{case_key(c["kind"], c["id"]): c for c, _ in changes}}
            self.version += 1

    def _opening(self, kind: str, entity_id: str, at: float, action: str) -> tuple[dict, dict]:
        old = self.cases.get(case_key(kind, entity_id))
        case = {
            "kind": kind,
            "id": entity_id,
            "status": "open",
            "outcome": None,
            "note": "",
            "opened_at": at,
            "closed_at": None,
            "changed_at": at,
            "openings": (old or {}).get("openings", 0) + 1,
            "previous_closed_at": (old or {}).get("closed_at"),
        }
        return case, {"kind": kind, "id": entity_id, "action": action, "outcome": None, "note": "", "at": at}

    def on_put(self, kind: str, entity_id: str, at: float) -> str:
        """A PUT of a worker or job: open its case (``"opened"``), re-open a closed one
        (``"reopened"``), or stamp an open one as changed (``"changed"``)."""
        with self._lock:
            old = self.cases.get(case_key(kind, entity_id))
            if old is not None and old["status"] == "open":
                self._write([({**old, "changed_at": at}, None)])
                return "changed"
            action = "opened" if old is None else "reopened"
            self._write([self._opening(kind, entity_id, at, action)])
            return action

    def close(self, kind: str, entity_id: str, outcome: str, at: float, note: str = "") -> dict | None:
        """Close an open case with ``outcome``; returns the closed case, or None when it was not open."""
        return self.close_many(kind, [entity_id], outcome, at, note).get(entity_id)

    def close_many(self, kind: str, ids, outcome: str, at: float, note: str = "") -> dict[str, dict]:
        """Close the open cases among ``ids`` with one outcome, in one write; returns them by id."""
        with self._lock:
            changes = []
            for entity_id in dict.fromkeys(ids):
                old = self.cases.get(case_key(kind, entity_id))
                if old is None or old["status"] != "open":
                    continue
                case = {**old, "status": "closed", "outcome": outcome, "note": note, "closed_at": at}
                changes.append(
                    (
                        case,
                        {
                            "kind": kind,
                            "id": entity_id,
                            "action": "closed",
                            "outcome": outcome,
                            "note": note,
                            "at": at,
                        },
                    )
                )
            self._write(changes)
            return {c["id"]: c for c, _ in changes}

    def on_events(self, events: pd.DataFrame, at: float) -> int:
        """Close the open cases of workers with a ``hired`` event among ``events``; how many closed."""
        hired = events.loc[events["event"] == "hired", ["worker_id", "ts"]]
        if not len(hired):
            return 0
        ts = hired["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
        cases = self.cases
        # a hire logged before the case's previous closing (an old event sent again after a PUT
        # re-opened it) belongs to the earlier case; any other hire, however late reported, closes it
        ids = [
            w
            for w, t in zip(hired["worker_id"], ts, strict=True)
            if (c := cases.get(case_key("worker", w))) is not None
            and c["status"] == "open"
            and (c.get("previous_closed_at") is None or t > c["previous_closed_at"])
        ]
        return len(self.close_many("worker", ids, "hired", at))

    def reconcile(
        self,
        worker_ids: np.ndarray,
        job_ids: np.ndarray,
        job_state: np.ndarray,
        at: float,
        is_stored=None,
    ) -> int:
        """Bring the cases in line with the stored market; returns how many new entities were left
        without a case for now (the caller reconciles again at its next pass when any were).

        Workers without a case get an open one (seeded or stored before the loop ran), from the
        second reconcile that sees them on (the first time, their PUT is about to open it); open jobs
        without a case likewise; open job cases whose job is no longer open are closed with its
        state as the outcome; cases of entities no longer stored are closed ``deleted``.

        Parameters
        ----------
        worker_ids : object array of shape (n_workers,)
        job_ids : object array of shape (n_jobs,)
        job_state : object array of shape (n_jobs,)
            ``"open"``, ``"filled"``, ``"started"`` or ``"employer_blacklisted"`` per job.
        at : float
            Now, market time in seconds.
        is_stored : callable(kind, id) -> bool, optional
            Asked before a case is closed ``deleted``: whether the entity is stored *now* (one stored
            after the snapshot behind ``worker_ids``/``job_ids`` was taken must not be closed).
        """
        still = is_stored or (lambda kind, entity_id: False)
        stored_workers = set(worker_ids)
        # an entity that appeared since the last reconcile gets its case from its own PUT (the server
        # opens it right after storing it, maybe in another process): opening it here too would open
        # it twice. Only one still without a case at the next reconcile is opened here (seeded or
        # stored while no loop ran); at the first reconcile, every one.
        seen = self._reconciled_ids
        with self._lock:
            cases = self.cases
            job_at = {j: s for j, s in zip(job_ids, job_state, strict=True)}
            missing = [("worker", w) for w in worker_ids if case_key("worker", w) not in cases] + [
                ("job", j) for j, s in job_at.items() if s == "open" and case_key("job", j) not in cases
            ]
            due = [(kind, i) for kind, i in missing if seen is None or i in seen[kind == "job"]]
            self._write([self._opening(kind, i, at, "opened") for kind, i in due])
            deferred = len(missing) - len(due)
        self._reconciled_ids = (stored_workers, set(job_at))
        gone = [
            c["id"]
            for c in list(cases.values())
            if c["kind"] == "worker"
            and c["status"] == "open"
            and c["id"] not in stored_workers
            and not still("worker", c["id"])
        ]
        self.close_many("worker", gone, "deleted", at)
        by_outcome: dict[str, list[str]] = {}
        for c in list(self.cases.values()):
            if c["kind"] != "job" or c["status"] != "open":
                continue
            s = job_at.get(c["id"], "deleted")
            if s == "deleted" and still("job", c["id"]):
                continue
            if s != "open":
                by_outcome.setdefault(s, []).append(c["id"])
        for outcome, ids in by_outcome.items():
            self.close_many("job", ids, outcome, at)
        return deferred


def job_states(
    job_open: np.ndarray, job_hired: np.ndarray, headcount: np.ndarray, blacklisted: np.ndarray
) -> np.ndarray:
    """Each job's state for :meth:`CaseBook.reconcile`, from the snapshot's open-job rule.

    Parameters
    ----------
    job_open, blacklisted : bool arrays of shape (n_jobs,)
    job_hired, headcount : int arrays of shape (n_jobs,)

    Returns
    -------
    object array of shape (n_jobs,)
        ``"open"``, ``"filled"``, ``"employer_blacklisted"`` or ``"started"`` (the first that applies).
    """
    return np.select(
        [job_open, job_hired >= headcount, blacklisted],
        ["open", "filled", "employer_blacklisted"],
        "started",
    ).astype(object)
