"""The market's vocabulary in the service: seeded, served at /v1/taxonomy, used to read API bodies (#11)."""

from __future__ import annotations

from gigmatch.core.contract import load_market
from gigmatch.testing import Server
from service.store import Store
from tests.helpers import WORKERS, county


class TestServiceVocabulary:
    def test_store_seeds_the_vocabulary_and_reads_api_rows_with_it(self, tmp_path):
        m = load_market(county(tmp_path, own_vocabulary=True))
        store = Store(tmp_path / "s.db")
        store.seed(m)
        store.upsert_worker(
            {"worker_id": "w9", "lat": 26.7, "lon": 117.4, "skills": ["大厨"], "certificates": ["健康证明"]}
        )
        store.close()
        again = Store(tmp_path / "s.db")  # the vocabulary survives a restart
        snap = again.snapshot()
        assert snap.taxonomy.fingerprint() == m.taxonomy.fingerprint()
        row = again.market().workers.set_index("worker_id").loc["w9"]
        assert row["skills"] == ["cook"] and row["certificates"] == ["cert_health"]
        again.close()


def test_service_serves_the_market_vocabulary_and_explains_empty_answers(tmp_path):
    plain = county(tmp_path, own_vocabulary=False)
    (plain / "workers.csv").write_text(
        WORKERS.replace("健康证", ""), encoding="utf-8"
    )  # nobody holds health_cert
    own = county(tmp_path, own_vocabulary=True)
    servers = {
        name: Server(tmp_path / f"{name}.db", data=folder)
        for name, folder in (("own", own), ("plain", plain))
    }
    try:
        with servers["own"].client() as c:
            tax = c.get("/v1/taxonomy").json()
            assert tax["source"] == "market" and {t["code"] for t in tax["trades"]} == {
                "cook",
                "kitchen",
                "nanny",
                "cleaner",
            }
            ranked = c.post("/v1/rank", json={"job_id": "j1", "limit": 10}).json()
            assert {x["worker_id"] for x in ranked["candidates"]} == {"w1", "w5", "w6"}
            assert ranked["message"] is None
            inline = c.post("/v1/rank", json={"job": {"trade": "炒菜师傅", "lat": 26.7, "lon": 117.4}}).json()
            assert {x["worker_id"] for x in inline["candidates"]} == {
                "w1",
                "w5",
                "w6",
            }  # read as the market's cook
        with servers["plain"].client() as c:
            assert c.get("/v1/taxonomy").json()["source"] == "built-in"
            empty = c.post("/v1/rank", json={"job_id": "j1", "limit": 10}).json()
            assert empty["candidates"] == []
            assert "health_cert" in empty["message"] and "built-in taxonomy" in empty["message"]
            far = c.post("/v1/rank", json={"job": {"trade": "moving", "lat": 40.0, "lon": 100.0}}).json()
            assert far["message"] == "no worker lives within 15 km of the job"
    finally:
        for srv in servers.values():
            srv.stop()
