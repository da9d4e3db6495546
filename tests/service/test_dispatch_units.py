"""Real-time dispatch's loop in process (issue #15): the baseline, offers recorded before they are
streamed, and the recovery of a crash between the two writes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from models.heuristic import HeuristicScorer
from service.dispatch import OFFER_KIND, DispatchLoop, read_offers
from service.store import Store
from tests.helpers import make_market

SOON = (datetime.now() + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0).isoformat()


def _job(jid: str, headcount: int) -> dict:
    return {
        "job_id": jid,
        "trade": "packaging",
        "lat": "26.7",
        "lon": "117.0",
        "headcount": str(headcount),
        "daily_wage": "200",
        "start_time": SOON,
    }


@pytest.fixture()
def store(tmp_path):
    workers = [
        {"worker_id": f"w{i}", "lat": "26.7", "lon": str(117.0 + 0.001 * i), "skills": "packaging"}
        for i in range(6)
    ]
    s = Store(tmp_path / "dispatch.db")
    s.seed(make_market(workers, [_job("j_old", 2)]))
    yield s
    s.close()


def loop(store, holder: str = "test", published: list | None = None) -> DispatchLoop:
    publish = (
        (lambda kind, jid, content: published.append((kind, jid, content))) if published is not None else None
    )
    d = DispatchLoop(store, HeuristicScorer, window_s=0.5, offer_ttl_s=300, max_km=15, publish=publish)
    d.holder = holder
    return d


def test_baseline_then_offers_recorded_then_streamed(store):
    d = loop(store)
    assert d.tick() == 0  # the first window takes the stored jobs as the baseline
    store.upsert_job(_job("j_new", 2))
    assert d.tick() == 2
    streamed = read_offers(store)
    records = store.repo.read_records(OFFER_KIND)
    assert {o["job_id"] for o in streamed} == {"j_new"} and len(streamed) == 2
    assert {r["offer_id"]: r["cursor"] for r in records.values()} == {
        o["offer_id"]: o["cursor"] for o in streamed
    }
    assert d.tick() == 0  # both slots on offer: nothing more
    # a new loop over the same store (a restart) neither re-baselines nor re-offers
    store.upsert_job(_job("j_later", 1))
    d2 = loop(store)
    assert d2.tick() == 1
    assert [o["job_id"] for o in read_offers(store)] == ["j_new", "j_new", "j_later"]


def test_a_crash_between_record_and_stream_is_repaired_once(store):
    d = loop(store)
    d.tick()
    store.upsert_job(_job("j_new", 3))
    assert d.tick() == 3
    streamed = [o["offer_id"] for o in read_offers(store)]
    records = store.repo.read_records(OFFER_KIND)
    # as if the process died twice: once after appending an offer but before writing its cursor back,
    # once after recording an offer but before appending it
    appended = streamed[0]
    unasked = next(f"j_new|w{i}" for i in range(6) if f"j_new|w{i}" not in records)
    lost = {**records[appended], "offer_id": unasked, "worker_id": unasked.split("|")[1], "cursor": None}
    store.repo.put_records(OFFER_KIND, {appended: {**records[appended], "cursor": None}, unasked: lost})
    published = []
    d2 = loop(store, published=published)
    assert d2.tick() == 0  # 3 slots, 4 live offers: nothing new
    after = read_offers(store)
    assert [o["offer_id"] for o in after] == [*streamed, unasked]  # the lost one once, nothing twice
    fixed = store.repo.read_records(OFFER_KIND)
    assert {k: r["cursor"] for k, r in fixed.items()} == {o["offer_id"]: o["cursor"] for o in after}
    assert loop(store).tick() == 0 and len(read_offers(store)) == 4
    # the feed gets both again (at least once): the one never published, the one maybe published
    assert sorted(c["offer_id"] for _, _, c in published) == sorted([appended, unasked])
    assert {(k, j, c["code"]) for k, j, c in published} == {("job", "j_new", "dispatch_offer")}
