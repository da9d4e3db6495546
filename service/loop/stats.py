"""Follow-ups due and the loop's figures, from the stored cases, answers and events.

Pure functions over what the repository holds (the ``case`` and ``case_answer`` records and the
event log), so the API (``/v1/followups``, ``/v1/loop/stats``, the Prometheus gauges) and the CLI
(``gigmatch loop-report``) compute them the same way, with any ``as_of`` instant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gigmatch.core.labels import zh

DAY_S = 86400.0


def _answer_of(case: dict, answered: dict[str, dict]) -> dict | None:
    """The answer state of the case's current opening, or None."""
    done = answered.get(f"{case['kind']}:{case['id']}")
    return done if done is not None and done.get("opened_at") == case["opened_at"] else None


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else pd.Timestamp(seconds, unit="s").floor("s").isoformat()


def followups(
    cases: dict[str, dict],
    answered: dict[str, dict],
    events: pd.DataFrame,
    as_of_s: float,
    days: float,
) -> list[dict]:
    """Open worker cases due a follow-up call (回访) at ``as_of_s``.

    A case is due when its last answer (its opening, when it has none yet) is at least ``days`` days
    before ``as_of_s`` and the worker has no ``applied`` or ``hired`` event since that answer.

    Parameters
    ----------
    cases, answered : dict
        The ``case`` and ``case_answer`` records by key.
    events : pandas.DataFrame
        The event log (columns ``ts`` as datetime64, ``worker_id``, ``event``).
    as_of_s : float
        The instant asked about, market time in seconds.
    days : float
        ``GIGMATCH_FOLLOWUP_DAYS``.

    Returns
    -------
    list of dict
        Longest waiting first: ``worker_id``, ``days_waiting``, ``last_answer_at``, ``last_code``,
        ``last_label``, ``answers``, ``profile_changed`` (a PUT since the last answer) and
        ``events_since`` (counts by event type since the last answer, up to ``as_of``).
    """
    due = []
    for case in cases.values():
        if case["kind"] != "worker" or case["status"] != "open" or case["opened_at"] > as_of_s:
            continue
        done = _answer_of(case, answered)
        last = (done or {}).get("last_at") or case["opened_at"]
        if as_of_s - last >= days * DAY_S:
            due.append((case, done, last))
    if not due:
        return []
    ts = events["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9 if len(events) else np.zeros(0)
    frame = pd.DataFrame(
        {
            "worker_id": events["worker_id"].to_numpy() if len(events) else [],
            "event": events["event"].to_numpy() if len(events) else [],
            "ts": ts,
        }
    )
    frame = frame[(frame["ts"] <= as_of_s) & frame["worker_id"].isin([c["id"] for c, _, _ in due])]
    by_worker = dict(tuple(frame.groupby("worker_id"))) if len(frame) else {}
    out = []
    for case, done, last in due:
        mine = by_worker.get(case["id"])
        since = mine[mine["ts"] > last] if mine is not None else None
        counts = since["event"].value_counts().to_dict() if since is not None else {}
        if counts.get("applied") or counts.get("hired"):
            continue
        code = (done or {}).get("code")
        out.append(
            {
                "worker_id": case["id"],
                "days_waiting": round((as_of_s - last) / DAY_S, 2),
                "opened_at": _iso(case["opened_at"]),
                "last_answer_at": _iso((done or {}).get("last_at")),
                "last_code": code,
                "last_label": zh(code) if code else None,
                "answers": int((done or {}).get("answers", 0)),
                "profile_changed": case.get("changed_at", 0) > (done or {}).get("basis", case["opened_at"]),
                "events_since": {str(k): int(v) for k, v in counts.items()},
            }
        )
    out.sort(key=lambda r: -r["days_waiting"])
    return out


def loop_stats(
    cases: dict[str, dict],
    answered: dict[str, dict],
    events: pd.DataFrame,
    as_of_s: float,
    sla_s: float,
    followup_days: float,
) -> dict:
    """The loop's figures at ``as_of_s``.

    Returns
    -------
    dict
        ``open_cases`` by kind; ``closed_by_outcome`` by kind and outcome; ``answered_within_sla``,
        the share of the current openings (opened by ``as_of``) whose first answer came within
        ``sla_s``, counting an opening still unanswered after ``sla_s`` as missed and leaving out
        those still inside their SLA (None when there is none); ``unanswered_open`` by kind;
        ``median_first_answer_s`` (None without answers); ``followups_due``; ``first_answer_s``,
        every time to first answer in seconds (for the loop page's chart).
    """
    open_cases = {"worker": 0, "job": 0}
    unanswered = {"worker": 0, "job": 0}
    closed: dict[str, dict[str, int]] = {"worker": {}, "job": {}}
    firsts, within, judged = [], 0, 0
    for case in cases.values():
        kind = case["kind"]
        if case["opened_at"] > as_of_s:
            continue
        if case["status"] == "closed" and case.get("closed_at") is not None and case["closed_at"] <= as_of_s:
            closed[kind][case["outcome"]] = closed[kind].get(case["outcome"], 0) + 1
        else:
            open_cases[kind] += 1
        done = _answer_of(case, answered)
        first = (done or {}).get("first_at")
        if first is not None and first <= as_of_s:
            delay = max(0.0, first - case["opened_at"])
            firsts.append(delay)
            judged += 1
            within += delay <= sla_s
        else:
            if case["status"] == "open":
                unanswered[kind] += 1
            if as_of_s - case["opened_at"] > sla_s and case["status"] == "open":
                judged += 1
    return {
        "as_of": _iso(as_of_s),
        "open_cases": open_cases,
        "unanswered_open": unanswered,
        "closed_by_outcome": closed,
        "answered_within_sla": round(within / judged, 4) if judged else None,
        "sla_s": sla_s,
        "median_first_answer_s": round(float(np.median(firsts)), 3) if firsts else None,
        "followups_due": len(followups(cases, answered, events, as_of_s, followup_days)),
        "followup_days": followup_days,
        "first_answer_s": [round(x, 3) for x in firsts],
    }
