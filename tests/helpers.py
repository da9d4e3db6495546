"""Test helpers shared by every test package: hand-made markets with a known right answer."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from gigmatch.core.contract import Market, validate_table

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared beside the repository


def make_market(
    workers: list[dict],
    jobs: list[dict],
    employers: list[dict] | None = None,
    events: list[dict] | None = None,
) -> Market:
    """A validated market from plain dicts (contract string form)."""

    def table(rows, name, cols):
        df = pd.DataFrame(rows) if rows else pd.DataFrame({c: [] for c in cols})
        return validate_table(df, name)

    return Market(
        workers=table(workers, "workers", ["worker_id", "lat", "lon", "skills"]),
        jobs=table(jobs, "jobs", ["job_id", "trade", "lat", "lon"]),
        employers=table(employers or [], "employers", ["employer_id"]),
        events=table(events or [], "events", ["ts", "job_id", "worker_id", "event"]),
    )


# A hand-made county that writes its own codes (cook, nanny, cert_health), as county platforms do;
# county(tmp_path, own_vocabulary=True) adds its trades/certificates tables (issue #11).
TRADES = """trade,name_zh,name_en,synonyms,required_certificates,skill_required,related,typical_daily_wage
cook,厨师,cook,炒菜师傅;大厨,cert_health,true,kitchen:0.5,220
kitchen,厨房杂工,kitchen hand,洗碗工,cert_health,false,,150
nanny,保姆,nanny,育儿嫂,健康证;cert_nanny,true,,260
cleaner,保洁,cleaner,,,false,,150
"""
CERTS = """certificate,name_zh,name_en,synonyms
cert_health,健康证,health certificate,健康证明
cert_nanny,育婴员证,nanny certificate,育婴师证
"""
WORKERS = """worker_id,lat,lon,skills,certificates,max_travel_km
w1,26.700,117.400,cook:5,cert_health,15
w2,26.701,117.401,cook:8,,15
w3,26.702,117.402,nanny,cert_health;cert_nanny,15
w4,26.703,117.403,cleaner,,15
w5,26.704,117.404,厨师:3,健康证,15
w6,26.705,117.405,kitchen,cert_health,15
"""
JOBS = """job_id,trade,lat,lon,headcount,start_time,posted_at,daily_wage
j1,cook,26.700,117.400,2,2030-01-05T08:00,2029-12-20T08:00,240
j2,nanny,26.701,117.401,1,2030-01-05T08:00,2029-12-20T08:00,280
j3,cleaner,26.702,117.402,1,2030-01-05T08:00,2029-12-20T08:00,150
j4,大厨,26.703,117.403,1,2030-01-05T08:00,2029-12-20T08:00,230
"""


def county(tmp_path, own_vocabulary: bool):
    folder = tmp_path / ("own" if own_vocabulary else "plain")
    folder.mkdir()
    (folder / "workers.csv").write_text(WORKERS, encoding="utf-8")
    (folder / "jobs.csv").write_text(JOBS, encoding="utf-8")
    if own_vocabulary:
        (folder / "trades.csv").write_text(TRADES, encoding="utf-8")
        (folder / "certificates.csv").write_text(CERTS, encoding="utf-8")
    return folder


def expire_leases(repo) -> None:
    """Let every lease in ``repo`` lapse at once, as when its holder died (SQLite or PostgreSQL)."""
    if hasattr(repo, "_db"):  # SQLite: one connection
        repo._db.execute("UPDATE leases SET expires = 0")
    else:  # PostgreSQL: a pooled connection, committed on leaving the block
        with repo._conn() as conn:
            conn.execute("UPDATE leases SET expires = 0")


def read_pages(client, path: str, key: str, after: int = 0, limit: int = 1000) -> list[dict]:
    """Every item of a cursor feed (``/v1/answers``, ``/v1/offers``) after ``after``, page by page."""
    out = []
    while True:
        r = client.get(path, params={"after": after, "limit": limit})
        assert r.status_code == 200, r.text
        page = r.json()
        out += page[key]
        if not page[key]:
            return out
        after = page["next_cursor"]


def wait_for(predicate, timeout: float = 20.0, step: float = 0.1):
    """``predicate()``'s first truthy value, polled every ``step`` s; fails after ``timeout`` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")
