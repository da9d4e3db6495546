"""A province market: its counties simulated one by one and written as one market, in bounded memory.

``gigmatch simulate --region 四川省`` (a province by name, with or without 省/市/自治区) simulates every
county-level region of the province in ``gigmatch/core/data/regions.csv`` as its own county market
(:func:`gigmatch.sim.simulate.simulate_market`) and appends it to the output tables, so memory
follows the largest county, not the province.

The spread rule
    Workers and jobs are shared out over the counties in proportion to the area of each county's
    disc (``radius_km ** 2``, the model of :mod:`gigmatch.core.regions`), by largest remainders so
    that the totals are exact and the same arguments always give the same split. A county that
    receives no worker or no job is left out (only when the totals are smaller than the number of
    counties); ``truth/simulation.json`` lists each county's share.

Ids and seeds
    Every id (workers, jobs, employers, events, and the oracle's) is prefixed with the county's
    adcode (``510104-w000012``), so ids stay unique across counties. County ``i`` draws from its own
    generator, seeded with ``(seed, adcode)``: the same arguments give the same files, and a
    county's market does not change when another county's share does.

Simplification: the behavioural model and its logging policy run within a county (a job is shown
to that county's workers), so the event log has no cross-county applications; the batch run still
matches across county lines wherever a worker lives within reach of another county's job.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gigmatch.core.contract import TABLES, serialise_table, write_vocabulary
from gigmatch.core.geo import EARTH_RADIUS_KM
from gigmatch.core.regions import Region, regions_table
from gigmatch.core.taxonomy import Taxonomy
from gigmatch.sim.config import SimulationConfig
from gigmatch.sim.simulate import simulate_market

_SUFFIXES = ("省", "市", "自治区", "壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区")
ID_COLUMNS = {
    "workers": ("worker_id",),
    "jobs": ("job_id", "employer_id"),
    "employers": ("employer_id",),
    "events": ("job_id", "worker_id", "event_id"),
}


def find_province(query: str) -> list[Region] | None:
    """The county-level regions of the province named ``query`` (``四川省`` or ``四川``), or None.

    Returns
    -------
    list of Region in adcode order, or None when ``query`` names no province.
    """
    q = query.strip()
    df = regions_table()
    names = df["province"].unique()
    match = [p for p in names if p == q or any(p == q + s for s in _SUFFIXES)]
    if len(q) < 2 or len(match) != 1:
        return None
    rows = df[df["province"] == match[0]].sort_values("adcode")
    return [
        Region(r.adcode, r["name"], r.province, r.city, float(r.lat), float(r.lon), float(r.radius_km))
        for _, r in rows.iterrows()
    ]


def spread(total: int, regions: list[Region]) -> np.ndarray:
    """``total`` shared out over ``regions`` in proportion to ``radius_km ** 2``, largest remainders.

    Returns
    -------
    int64 array of shape (len(regions),), summing to ``total``.
    """
    area = np.array([r.radius_km**2 for r in regions], dtype=np.float64)
    quota = total * area / area.sum()
    share = np.floor(quota).astype(np.int64)
    rest = int(total - share.sum())
    # ties in the remainder go to the earlier adcode (stable), so the split is reproducible
    order = np.argsort(-(quota - share), kind="stable")
    share[order[:rest]] += 1
    return share


def write_province_simulation(
    config: SimulationConfig,
    regions: list[Region],
    out: str | Path,
    fmt: str = "csv",
    taxonomy: Taxonomy | None = None,
    progress=None,
) -> dict:
    """Simulate every county of a province and write them as one market folder (module docstring).

    Parameters
    ----------
    config : SimulationConfig
        ``workers`` and ``jobs`` are the province's totals; ``region`` names the province.
    regions : list of Region
        The province's counties (:func:`find_province`).
    out : str or Path
        Market folder; ``out/truth/oracle.csv`` and ``out/truth/simulation.json`` beside it.
    fmt : {"csv", "parquet"}
        Format of the market's tables.
    taxonomy : Taxonomy, optional
        The vocabulary the market speaks; the built-in taxonomy by default.
    progress : callable, optional
        ``(done: int, total: int, county: str) -> None`` after each county.

    Returns
    -------
    dict
        The summary written to ``truth/simulation.json`` (totals and one entry per county).
    """
    if config.workers < 1 or config.jobs < 1 or config.days < 1:
        raise ValueError("workers, jobs and days must each be at least 1")
    out = Path(out)
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    workers_n, jobs_n = spread(config.workers, regions), spread(config.jobs, regions)
    sinks = {t: _TableSink(out / f"{t}.{fmt}", t) for t in TABLES}
    oracle_path = truth / "oracle.csv"
    oracle_path.unlink(missing_ok=True)
    counties, totals, tax = [], dict.fromkeys(TABLES, 0), taxonomy
    todo = [i for i in range(len(regions)) if workers_n[i] > 0 and jobs_n[i] > 0]
    for k, i in enumerate(todo, start=1):
        region = regions[i]
        seed = int(np.random.SeedSequence([config.seed, int(region.adcode)]).generate_state(1)[0])
        county = replace(
            config, region=region.adcode, workers=int(workers_n[i]), jobs=int(jobs_n[i]), seed=seed
        )
        market, oracle = simulate_market(county, taxonomy)
        tax = market.taxonomy
        prefix = f"{region.adcode}-"
        for table in TABLES:
            frame = getattr(market, table)
            for col in ID_COLUMNS[table]:
                if col in frame:
                    ids = frame[col].astype(object)
                    frame[col] = np.where(
                        ids.notna() & (ids.astype(str) != ""), prefix + ids.astype(str), ids
                    )
            sinks[table].append(frame)
            totals[table] += len(frame)
        oracle["job_id"] = prefix + oracle["job_id"].astype(str)
        oracle["worker_id"] = prefix + oracle["worker_id"].astype(str)
        oracle.to_csv(oracle_path, mode="a", header=k == 1, index=False)
        counties.append(
            {
                "adcode": region.adcode,
                "name": region.name,
                "radius_km": region.radius_km,
                "workers": int(workers_n[i]),
                "jobs": int(jobs_n[i]),
                "seed": seed,
            }
        )
        if progress is not None:
            progress(k, len(todo), region.name)
        del market, oracle
    for sink in sinks.values():
        sink.close()
    if tax is not None and not tax.is_built_in:
        write_vocabulary(tax, out, fmt)
    summary = {
        "config": asdict(config),
        "province": regions[0].province,
        "rule": "workers and jobs in proportion to each county's disc area (radius_km^2), largest remainders",
        "workers": totals["workers"],
        "jobs": totals["jobs"],
        "employers": totals["employers"],
        "events": totals["events"],
        "counties": counties,
        "earth_radius_km": EARTH_RADIUS_KM,
    }
    (truth / "simulation.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
    return summary


class _TableSink:
    """Appends a table's chunks to one CSV or Parquet file in contract form."""

    def __init__(self, path: Path, table: str):
        self.path, self.table = path, table
        self.writer: pq.ParquetWriter | None = None
        self.started = False
        path.unlink(missing_ok=True)

    def append(self, frame: pd.DataFrame) -> None:
        """Write ``frame`` (validated form) after what was written so far."""
        text = serialise_table(frame, self.table)
        if self.path.suffix == ".csv":
            text.to_csv(self.path, mode="a", header=not self.started, index=False)
        else:
            # every column as text: chunks then share one schema whatever their missing values
            text = text.astype(object).where(text.notna(), None).astype(str).where(text.notna(), None)
            table = pa.Table.from_pandas(text, preserve_index=False)
            table = table.cast(pa.schema([(c, pa.string()) for c in text.columns]))
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.path, table.schema)
            self.writer.write_table(table)
        self.started = True

    def close(self) -> None:
        """Finish the file (an empty table still gets its header)."""
        if not self.started:
            from gigmatch.core.contract import empty_table

            serialise_table(empty_table(self.table), self.table).to_csv(
                self.path.with_suffix(".csv"), index=False
            ) if self.path.suffix == ".csv" else empty_table(self.table).to_parquet(self.path, index=False)
        if self.writer is not None:
            self.writer.close()
