"""Market simulator: a county's workers, employers, jobs and an event log from a behavioural model.

Geography
    Workers live in the county seat (40%) and in villages scattered over the county disc (see
    :mod:`gigmatch.core.regions`); jobs cluster at work sites by trade: factories near the seat, farms out in
    the villages, everything else in town centres (the seat and a few townships).

Logging policy (what the platform showed)
    For each job the platform takes the 200 nearest workers and shows the job to ``shown_per_job`` of
    them, sampled without replacement (Gumbel top-k) with weight ``exp(skill + 0.5 related - d/8)``: a
    noisy policy, so the log covers good and bad pairs. Jobs of blacklisted employers are never shown.

Behavioural model (per shown pair; z are the pair's hidden standard-normal noises)
    apply     p_a = sigmoid(-1.0 + 1.6 exact + 0.8 related + 0.7 preferred - 0.15 d_km
                            - 0.6 max(0, d_km - max_travel_km) + 2.0 log(wage / min_wage)
                            + 0.4 (employer_rating - 4) + 0.8 activity + 0.5 z1)
    hire      p_h = 0 without every required certificate valid at the start, else
              sigmoid(-0.3 + 1.2 exact + 0.5 related + 0.08 min(years, 10) + 0.9 quality)
    complete  p_c = reliability * exp(-d_km / 150); no-show otherwise
    rating    latent ~ Normal(4.0 + 0.5 quality + 0.3 exact, 0.6); rated w.p. 0.7 after completion;
              the rating is the latent rounded and clipped to 1-5.

Directions the tests rely on: acceptance falls with distance and rises with wage over the worker's
minimum. Hires are drawn independently per applicant (headcount is not enforced on the log), which
keeps each pair's expected outcome exact. ``truth/oracle.csv`` holds, per shown pair, p_apply,
p_hire, p_complete, p_top_rating and the expected label and gain under the grading of
:mod:`models.labels`; it is written beside the market, not in it. ``expected_gain_no_pair_noise`` is
the expected gain averaged over the pair's own apply noise z1: the ceiling of a ranker that could
know every worker's and job's latent variables but, like any real ranker, not a pair's taste draw.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr
from sklearn.neighbors import BallTree

from gigmatch.core.contract import Market, write_market
from gigmatch.core.geo import EARTH_RADIUS_KM, haversine_km, offset_km_to_deg
from gigmatch.core.regions import Region, find_region
from gigmatch.core.taxonomy import Taxonomy, default_taxonomy

FACTORY = {
    "welding",
    "lathe",
    "packaging",
    "moving",
    "forklift_driving",
    "handicraft",
    "installation",
    "security_guard",
}
FARM = {"fruit_picking", "tree_pruning", "farm_labour", "village_cleanup"}
POPULAR = {
    "construction_labour": 3.0,
    "moving": 2.5,
    "packaging": 2.5,
    "fruit_picking": 2.0,
    "farm_labour": 2.0,
    "cleaning": 2.0,
    "handicraft": 1.8,
    "housekeeping": 1.5,
    "kitchen_helper": 1.2,
    "village_cleanup": 1.2,
}


DEFAULT_DAILY_WAGE = 200.0  # yuan, for trades whose vocabulary gives no typical wage


@dataclass(frozen=True)
class SimulationConfig:
    region: str = "将乐县"
    workers: int = 10_000
    jobs: int = 2_000
    days: int = 30
    seed: int = 7
    start: str = "2026-09-01"
    shown_per_job: int = 30
    pool_size: int = 200


def _disc(rng: np.random.Generator, n: int, radius: float) -> tuple[np.ndarray, np.ndarray]:
    r = radius * np.sqrt(rng.random(n))
    t = rng.random(n) * 2 * np.pi
    return r * np.cos(t), r * np.sin(t)


def _clip_to_disc(x: np.ndarray, y: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    r = np.hypot(x, y)
    scale = np.where(r > radius, radius / np.maximum(r, 1e-9), 1.0)
    return x * scale, y * scale


def _to_latlon(region: Region, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlat, dlon = offset_km_to_deg(region.lat, x, y)
    return np.round(region.lat + dlat, 6), np.round(region.lon + dlon, 6)


def simulate_market(
    config: SimulationConfig, taxonomy: Taxonomy | None = None
) -> tuple[Market, pd.DataFrame]:
    """Simulate a market. Returns the market and the oracle table (one row per shown pair)."""
    if config.workers < 1 or config.jobs < 1 or config.days < 1:
        raise ValueError("workers, jobs and days must each be at least 1")
    tax = taxonomy or default_taxonomy()
    region = find_region(config.region)
    rng = np.random.default_rng(config.seed)
    R = region.radius_km
    t0 = pd.Timestamp(config.start)
    trades = sorted(tax.trades)
    n_t = len(trades)
    t_index = {t: i for i, t in enumerate(trades)}
    popularity = np.array([POPULAR.get(t, 1.0) for t in trades])
    popularity /= popularity.sum()
    wage_typ = np.array([tax.trades[t].typical_daily_wage for t in trades])
    wage_typ = np.where(np.isfinite(wage_typ), wage_typ, DEFAULT_DAILY_WAGE)  # a market may leave it out
    certs = sorted(tax.certificates)
    c_index = {c: i for i, c in enumerate(certs)}
    trade_certs = [[c_index[c] for c in tax.required_certificates(t)] for t in trades]

    # ---- geography ------------------------------------------------------------------------------
    n_w = config.workers
    n_villages = int(np.clip(n_w // 250, 8, 120))
    vx, vy = _disc(rng, n_villages, 0.9 * R)
    in_seat = rng.random(n_w) < 0.4
    village = rng.integers(0, n_villages, n_w)
    wx = np.where(in_seat, rng.normal(0, R / 8, n_w), vx[village] + rng.normal(0, R / 30, n_w))
    wy = np.where(in_seat, rng.normal(0, R / 8, n_w), vy[village] + rng.normal(0, R / 30, n_w))
    wx, wy = _clip_to_disc(wx, wy, R)
    w_lat, w_lon = _to_latlon(region, wx, wy)

    # ---- workers ----------------------------------------------------------------------------------
    n_skills = rng.choice([1, 2, 3], size=n_w, p=[0.5, 0.35, 0.15])
    skill_mat = np.zeros((n_w, n_t), dtype=bool)
    for k in range(3):  # at most three draws; vectorised over workers
        draw = rng.choice(n_t, size=n_w, p=popularity)
        skill_mat[np.arange(n_w)[n_skills > k], draw[n_skills > k]] = True
    years = np.where(skill_mat, np.round(rng.exponential(4.0, (n_w, n_t))), 0.0)
    pref_mat = (skill_mat & (rng.random((n_w, n_t)) < 0.6)) | (rng.random((n_w, n_t)) < 0.02)
    n_c = len(certs)
    need = np.zeros((n_w, n_c), dtype=bool)
    for ti, cs in enumerate(trade_certs):
        for ci in cs:
            need[:, ci] |= skill_mat[:, ti]
    cert_mat = (need & (rng.random((n_w, n_c)) < 0.6)) | (rng.random((n_w, n_c)) < 0.02)
    start_day = (t0 - pd.Timestamp(0)).days
    expired = rng.random((n_w, n_c)) < 0.15
    expiry_day = np.where(
        expired,
        start_day + rng.integers(-400, config.days + 5, (n_w, n_c)),
        start_day + rng.integers(200, 1500, (n_w, n_c)),
    )
    reliability = rng.beta(9, 1.2, n_w)
    quality = rng.normal(0, 1, n_w)
    activity = rng.normal(0, 1, n_w)
    history = rng.poisson(np.exp(rng.normal(1.5, 1.0, n_w)))
    no_shows = rng.binomial(history, np.clip(1 - reliability, 0, 1) * 0.5)
    completed = history - no_shows
    rating_count = rng.binomial(completed, 0.6)
    rating_avg = np.where(
        rating_count > 0,
        np.round(
            np.clip(
                4.0 + 0.5 * quality + rng.normal(0, 0.6, n_w) / np.sqrt(np.maximum(rating_count, 1)), 1, 5
            ),
            2,
        ),
        np.nan,
    )
    main_trade = np.argmax(skill_mat * rng.random((n_w, n_t)), axis=1)
    min_wage = np.round(0.8 * wage_typ[main_trade] * rng.lognormal(0, 0.15, n_w) / 10) * 10
    max_travel = rng.choice([5.0, 10.0, 15.0, 20.0, 30.0], size=n_w, p=[0.15, 0.3, 0.3, 0.15, 0.1])
    registered = t0 - pd.to_timedelta(rng.integers(1, 720, n_w), unit="D")

    rows_s = [np.flatnonzero(r) for r in skill_mat]
    rows_c = [np.flatnonzero(r) for r in cert_mat]
    rows_p = [np.flatnonzero(r) for r in pref_mat]
    workers = pd.DataFrame(
        {
            "worker_id": [f"w{i:06d}" for i in range(n_w)],
            "lat": w_lat,
            "lon": w_lon,
            "skills": [[trades[j] for j in r] for r in rows_s],
            "skill_years": [years[i, r].tolist() for i, r in enumerate(rows_s)],
            "certificates": [[certs[j] for j in r] for r in rows_c],
            "certificate_expiry": [expiry_day[i, r].astype(float).tolist() for i, r in enumerate(rows_c)],
            "preferred_trades": [[trades[j] for j in r] for r in rows_p],
            "rating_avg": rating_avg,
            "rating_count": rating_count,
            "jobs_completed": completed,
            "no_shows": no_shows,
            "max_travel_km": max_travel,
            "min_daily_wage": min_wage,
            "registered_at": registered,
            "available_from": pd.NaT,
            "available_until": pd.NaT,
        }
    )

    # ---- employers ----------------------------------------------------------------------------------
    n_e = max(1, config.jobs // 5)
    emp_quality = rng.normal(0, 1, n_e)
    emp_rc = rng.poisson(8, n_e)
    emp_rating = np.where(
        emp_rc > 0, np.round(np.clip(4.0 + 0.5 * emp_quality + rng.normal(0, 0.3, n_e), 1, 5), 2), np.nan
    )
    blacklisted = rng.random(n_e) < 0.03
    employers = pd.DataFrame(
        {
            "employer_id": [f"e{i:05d}" for i in range(n_e)],
            "rating_avg": emp_rating,
            "rating_count": emp_rc,
            "blacklisted": blacklisted,
        }
    )

    # ---- jobs ------------------------------------------------------------------------------------------
    n_j = config.jobs
    n_fact, n_farm, n_town = max(3, n_villages // 4), max(3, n_villages // 3), max(2, n_villages // 10)
    fx, fy = _disc(rng, n_fact, 0.5 * R)
    px, py = vx[rng.integers(0, n_villages, n_farm)], vy[rng.integers(0, n_villages, n_farm)]
    tx, ty = np.r_[0.0, _disc(rng, n_town - 1, 0.7 * R)[0]], np.r_[0.0, _disc(rng, n_town - 1, 0.7 * R)[1]]
    job_trade = rng.choice(n_t, size=n_j, p=popularity)
    kind = np.array([0 if trades[t] in FACTORY else 1 if trades[t] in FARM else 2 for t in job_trade])
    site_x = np.select(
        [kind == 0, kind == 1],
        [fx[rng.integers(0, n_fact, n_j)], px[rng.integers(0, n_farm, n_j)]],
        tx[rng.integers(0, n_town, n_j)],
    )
    site_y = np.select(
        [kind == 0, kind == 1],
        [fy[rng.integers(0, n_fact, n_j)], py[rng.integers(0, n_farm, n_j)]],
        ty[rng.integers(0, n_town, n_j)],
    )
    jx, jy = _clip_to_disc(site_x + rng.normal(0, 0.5, n_j), site_y + rng.normal(0, 0.5, n_j), R)
    j_lat, j_lon = _to_latlon(region, jx, jy)
    big = kind < 2
    headcount = np.where(
        big,
        rng.choice([1, 2, 3, 5, 10], size=n_j, p=[0.4, 0.2, 0.15, 0.15, 0.1]),
        rng.choice([1, 2], size=n_j, p=[0.85, 0.15]),
    )
    employer = rng.integers(0, n_e, n_j)
    generosity = rng.lognormal(0, 0.1, n_e)
    wage = np.round(wage_typ[job_trade] * generosity[employer] * rng.lognormal(0, 0.15, n_j) / 10) * 10
    posted = t0 + pd.to_timedelta(rng.random(n_j) * config.days * 86400, unit="s").round("s")
    start = (posted + pd.to_timedelta(rng.integers(2, 5, n_j), unit="D")).normalize() + pd.Timedelta(hours=8)
    end = start + pd.to_timedelta(rng.integers(0, 5, n_j), unit="D") + pd.Timedelta(hours=9)
    extra_height = (
        (rng.random(n_j) < 0.1)
        & np.isin(job_trade, [t_index.get("installation", -1), t_index.get("electrical", -1)])
        & ("height_work_cert" in c_index)
    )
    jobs = pd.DataFrame(
        {
            "job_id": [f"j{i:06d}" for i in range(n_j)],
            "trade": [trades[t] for t in job_trade],
            "lat": j_lat,
            "lon": j_lon,
            "headcount": headcount,
            "employer_id": employers["employer_id"].to_numpy()[employer],
            "required_certificates": [["height_work_cert"] if e else [] for e in extra_height],
            "daily_wage": wage,
            "start_time": start,
            "end_time": end,
            "posted_at": posted,
            "risk_level": np.clip(
                1 + np.array([len(trade_certs[t]) for t in job_trade]) + extra_height, 1, 4
            ),
        }
    )

    # ---- logging policy: who was shown each job ----------------------------------------------------
    shown_jobs = np.flatnonzero(~blacklisted[employer])
    k_pool = min(config.pool_size, n_w)
    tree = BallTree(np.radians(np.c_[w_lat, w_lon]), metric="haversine")
    _, nn = tree.query(np.radians(np.c_[j_lat[shown_jobs], j_lon[shown_jobs]]), k=k_pool)
    pj = np.repeat(shown_jobs, k_pool)
    pw = nn.ravel()
    d = haversine_km(j_lat[pj], j_lon[pj], w_lat[pw], w_lon[pw])
    jt = job_trade[pj]
    exact = skill_mat[pw, jt].astype(float)
    rel = _related_credit(tax, trades, skill_mat)[pw, jt]
    logit = exact + 0.5 * rel - d / 8.0
    key = logit + rng.gumbel(size=len(pj))
    order = np.lexsort((-key, pj))
    # every shown job holds exactly k_pool rows, and sorting by job keeps them in blocks of k_pool
    rank = np.arange(len(pj)) - np.repeat(np.arange(len(shown_jobs)) * k_pool, k_pool)
    keep = order[rank < config.shown_per_job]
    pj, pw, d, jt, exact, rel = pj[keep], pw[keep], d[keep], jt[keep], exact[keep], rel[keep]
    n_p = len(pj)

    # ---- behavioural model -----------------------------------------------------------------------------
    pref = pref_mat[pw, jt].astype(float)
    wage_ratio = np.log(wage[pj] / min_wage[pw])
    emp_r = np.nan_to_num(emp_rating[employer[pj]], nan=4.0)
    z1 = rng.normal(0, 1, n_p)
    apply_logit = (
        -1.0
        + 1.6 * exact
        + 0.8 * rel
        + 0.7 * pref
        - 0.15 * d
        - 0.6 * np.maximum(0, d - max_travel[pw])
        + 2.0 * wage_ratio
        + 0.4 * (emp_r - 4)
        + 0.8 * activity[pw]
    )
    p_apply = expit(apply_logit + 0.5 * z1)
    # the same probability averaged over the pair noise z1 (Gauss-Hermite, 32 nodes): what an oracle
    # that knows every latent variable except this pair's own draw would expect
    nodes, node_w = np.polynomial.hermite_e.hermegauss(32)
    p_apply_no_noise = expit(apply_logit[:, None] + 0.5 * nodes[None, :]) @ (node_w / np.sqrt(2 * np.pi))
    start_days = ((start - pd.Timestamp(0)) // pd.Timedelta(days=1)).to_numpy()
    licensed = np.ones(n_p, dtype=bool)
    req_lists = [
        trade_certs[t] + ([c_index["height_work_cert"]] if e else [])
        for t, e in zip(job_trade, extra_height, strict=True)
    ]
    for slot in range(3):
        cert_at = np.array([r[slot] if len(r) > slot else -1 for r in req_lists])[pj]
        has = cert_at >= 0
        ok = cert_mat[pw, np.maximum(cert_at, 0)] & (expiry_day[pw, np.maximum(cert_at, 0)] >= start_days[pj])
        licensed &= ~has | ok
    yrs = years[pw, jt]
    p_hire = np.where(
        licensed, expit(-0.3 + 1.2 * exact + 0.5 * rel + 0.08 * np.minimum(yrs, 10) + 0.9 * quality[pw]), 0.0
    )
    p_complete = reliability[pw] * np.exp(-d / 150.0)
    mu = 4.0 + 0.5 * quality[pw] + 0.3 * exact
    p_rated = 0.7
    p_top = ndtr((mu - 4.5) / 0.6)

    applied = rng.random(n_p) < p_apply
    hired = applied & (rng.random(n_p) < p_hire)
    completed_ev = hired & (rng.random(n_p) < p_complete)
    no_show = hired & ~completed_ev
    rated = completed_ev & (rng.random(n_p) < p_rated)
    rating = np.clip(np.round(rng.normal(mu, 0.6)), 1, 5)
    declined = ~applied & (rng.random(n_p) < 0.5)

    posted_p = posted[pj]
    start_p, end_p = start[pj], end[pj]
    t_shown = posted_p + pd.to_timedelta(rng.random(n_p) * 6 * 3600, unit="s").round("s")
    t_resp = t_shown + pd.to_timedelta(1800 + rng.random(n_p) * 20 * 3600, unit="s").round("s")
    t_hire = t_resp + pd.to_timedelta(3600 + rng.random(n_p) * 10 * 3600, unit="s").round("s")
    t_noshow = start_p + pd.Timedelta(hours=2)
    t_rated = end_p + pd.to_timedelta(3600 + rng.random(n_p) * 40 * 3600, unit="s").round("s")
    job_ids = jobs["job_id"].to_numpy()[pj]
    worker_ids = workers["worker_id"].to_numpy()[pw]
    parts = []
    for name, mask, ts in (
        ("shown", np.ones(n_p, bool), t_shown),
        ("declined", declined, t_resp),
        ("applied", applied, t_resp),
        ("hired", hired, t_hire),
        ("completed", completed_ev, end_p),
        ("no_show", no_show, t_noshow),
        ("rated", rated, t_rated),
    ):
        parts.append(
            pd.DataFrame(
                {
                    "ts": ts[mask],
                    "job_id": job_ids[mask],
                    "worker_id": worker_ids[mask],
                    "event": name,
                    "rating": np.where(name == "rated", rating[mask], np.nan),
                }
            )
        )
    events = (
        pd.concat(parts, ignore_index=True)
        .sort_values(["ts", "job_id", "worker_id"], kind="stable")
        .reset_index(drop=True)
    )
    events["event_id"] = [f"ev{i:08d}" for i in range(len(events))]

    # expected graded label (models.labels): applied 1, hired 2, completed 3, completed and rated >= 4.5 4
    def label_probs(pa: np.ndarray) -> np.ndarray:  # P(label = 0..4), shape (n_p, 5)
        ph, pc = pa * p_hire, pa * p_hire * p_complete
        p4 = pc * p_rated * p_top
        return np.stack([1 - pa, pa - ph, ph * (1 - p_complete), pc - p4, p4], axis=1)

    probs = label_probs(p_apply)
    labels = np.arange(5)
    oracle = pd.DataFrame(
        {
            "job_id": job_ids,
            "worker_id": worker_ids,
            "p_apply": p_apply,
            "p_hire": p_hire,
            "p_complete": p_complete,
            "p_top_rating": p_top,
            "expected_label": probs @ labels,
            "expected_gain": probs @ (2.0**labels - 1),
            "expected_gain_no_pair_noise": label_probs(p_apply_no_noise) @ (2.0**labels - 1),
        }
    )
    market = Market(workers=workers, jobs=jobs, employers=employers, events=events, taxonomy=tax)
    return market, oracle


def _related_credit(tax: Taxonomy, trades: list[str], skill_mat: np.ndarray) -> np.ndarray:
    """(n_workers, n_trades) best related-trade credit from any skill the worker has (simulator truth)."""
    t_index = {t: i for i, t in enumerate(trades)}
    rel = np.zeros((len(trades), len(trades)))
    for job, skill, c in tax.related_pairs():
        if job in t_index and skill in t_index:
            rel[t_index[job], t_index[skill]] = c
    out = np.zeros(skill_mat.shape)
    for s in range(len(trades)):  # loop over the ~30 trades, vectorised over workers
        out = np.maximum(out, skill_mat[:, [s]] * rel[:, s][None, :])
    return out


def write_simulation(
    config: SimulationConfig, out: str | Path, fmt: str = "csv", taxonomy: Taxonomy | None = None
) -> dict:
    """Simulate and write the market to ``out`` and the oracle to ``out/truth/``; returns a summary.

    With a market ``taxonomy`` (not the built-in one) the market speaks that vocabulary and its
    ``trades``/``certificates`` tables are written beside the others.
    """
    market, oracle = simulate_market(config, taxonomy)
    out = Path(out)
    write_market(market, out, fmt=fmt)
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    oracle.to_csv(truth / "oracle.csv", index=False)
    region = find_region(config.region)
    summary = {
        "config": asdict(config),
        "region": {**asdict(region), "full_name": region.full_name},
        "workers": len(market.workers),
        "jobs": len(market.jobs),
        "events": len(market.events),
        "shown_pairs": len(oracle),
        "earth_radius_km": EARTH_RADIUS_KM,
    }
    (truth / "simulation.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
    return summary
