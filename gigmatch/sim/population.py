"""Who is in a simulated market: workers, employers and jobs, with their hidden traits.

Each ``draw_*`` function returns a frozen dataclass holding the table written to the market (``table``,
in the data contract's columns) and the arrays the rest of the simulator works with, including the
latent traits no table shows (a worker's quality, reliability and activity; an employer's quality).
Trades and certificates are indices into :class:`Vocabulary` (the taxonomy, sorted by code).

Workers
    1-3 skills (50/35/15%) drawn by trade popularity, years ~ round(Exponential(4)) per skill; each
    skill preferred w.p. 0.6 plus any trade w.p. 0.02; each certificate a skill needs held w.p. 0.6
    plus any w.p. 0.02; 15% of certificates expire between 400 days before the log's start and 4 days
    after its end, the rest 200-1500 days after its start. Latent: reliability ~ Beta(9, 1.2)
    (probability to turn up), quality ~ N(0, 1), activity ~ N(0, 1). History before the log: jobs
    ~ Poisson(exp(N(1.5, 1))), no-shows ~ Binomial(jobs, 0.5 (1 - reliability)), ratings on 60% of
    completed jobs averaging 4 + 0.5 quality plus noise. Minimum daily wage ~ 0.8 x the main trade's
    typical wage x LogNormal(0, 0.15), in tens of yuan; maximum travel 5-30 km.
Employers
    One per five jobs; rating ~ 4 + 0.5 quality + N(0, 0.3) over Poisson(8) ratings; 3% blacklisted.
Jobs
    Trade by popularity, placed at a work site of the trade's kind (:mod:`gigmatch.sim.geography`);
    headcount 1-10 at factories and farms, 1-2 elsewhere; employer uniform; daily wage = typical wage x
    the employer's generosity LogNormal(0, 0.1) x LogNormal(0, 0.15), in tens of yuan; posted uniformly
    over the log, starting 2-4 days later at 08:00 and lasting 1-5 days to 17:00. 10% of installation
    and electrical jobs also need a work-at-height licence.

Every function draws from the generator it is given in a fixed order: the seed stream depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gigmatch.core.regions import Region
from gigmatch.core.taxonomy import Taxonomy
from gigmatch.sim.geography import TOWN, WorkSites, place_jobs, site_kinds, to_latlon

# relative popularity of trades among workers' skills and jobs (others 1.0)
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

HEIGHT_CERT = "height_work_cert"  # the licence some installation and electrical jobs add


@dataclass(frozen=True)
class Vocabulary:
    """A taxonomy as the index arrays the simulator works in (trades and certificates sorted by code).

    Attributes
    ----------
    taxonomy : Taxonomy
        The market's vocabulary.
    trades : list of str, length n_trades
        Trade codes, sorted; a trade index points into it.
    certificates : list of str, length n_certificates
        Certificate codes, sorted; a certificate index points into it.
    popularity : ndarray of float64, shape (n_trades,)
        Probability of a trade among skills and jobs (sums to 1).
    typical_wage : ndarray of float64, shape (n_trades,)
        Typical daily wage in yuan (:data:`DEFAULT_DAILY_WAGE` where the vocabulary gives none).
    trade_certificates : list of list of int, length n_trades
        Certificate indices every job of the trade needs.
    related : ndarray of float64, shape (n_trades, n_trades)
        ``related[job_trade, skill_trade]``: credit in [0, 1] a skill gives towards a job's trade.
    """

    taxonomy: Taxonomy
    trades: list[str]
    certificates: list[str]
    popularity: np.ndarray
    typical_wage: np.ndarray
    trade_certificates: list[list[int]]
    related: np.ndarray

    @classmethod
    def from_taxonomy(cls, tax: Taxonomy) -> Vocabulary:
        """Index a taxonomy.

        Parameters
        ----------
        tax : Taxonomy
            The built-in taxonomy or a market's own.

        Returns
        -------
        Vocabulary
        """
        trades = sorted(tax.trades)
        popularity = np.array([POPULAR.get(t, 1.0) for t in trades])
        popularity /= popularity.sum()
        wage = np.array([tax.trades[t].typical_daily_wage for t in trades])
        wage = np.where(np.isfinite(wage), wage, DEFAULT_DAILY_WAGE)  # a market may leave it out
        certs = sorted(tax.certificates)
        c_index = {c: i for i, c in enumerate(certs)}
        t_index = {t: i for i, t in enumerate(trades)}
        related = np.zeros((len(trades), len(trades)))
        for job, skill, c in tax.related_pairs():
            if job in t_index and skill in t_index:
                related[t_index[job], t_index[skill]] = c
        return cls(
            taxonomy=tax,
            trades=trades,
            certificates=certs,
            popularity=popularity,
            typical_wage=wage,
            trade_certificates=[[c_index[c] for c in tax.required_certificates(t)] for t in trades],
            related=related,
        )

    @property
    def trade_index(self) -> dict[str, int]:
        """Trade code -> trade index."""
        return {t: i for i, t in enumerate(self.trades)}

    @property
    def certificate_index(self) -> dict[str, int]:
        """Certificate code -> certificate index."""
        return {c: i for i, c in enumerate(self.certificates)}

    def related_credit(self, skills: np.ndarray) -> np.ndarray:
        """Best related-trade credit towards each trade from any skill a worker has (simulator truth).

        Parameters
        ----------
        skills : ndarray of bool, shape (n_workers, n_trades)
            Which trades each worker has as skills.

        Returns
        -------
        ndarray of float64, shape (n_workers, n_trades)
            Credit in [0, 1] towards each trade; 0 when no skill is related (an exact skill is not
            counted here).
        """
        out = np.zeros(skills.shape)
        for s in range(len(self.trades)):  # loop over the ~30 trades, vectorised over workers
            out = np.maximum(out, skills[:, [s]] * self.related[:, s][None, :])
        return out


@dataclass(frozen=True)
class Workers:
    """Simulated workers: the ``workers`` table and the arrays behind it.

    Attributes
    ----------
    table : pandas.DataFrame, n_workers rows
        The contract's ``workers`` table (ids ``w000000``, ...).
    lat, lon : ndarray of float64, shape (n_workers,)
        Home, WGS84 degrees.
    skills : ndarray of bool, shape (n_workers, n_trades)
        Trades the worker has as skills.
    years : ndarray of float64, shape (n_workers, n_trades)
        Years of experience per skill (0 where not a skill).
    preferred : ndarray of bool, shape (n_workers, n_trades)
        Trades the worker prefers.
    related_credit : ndarray of float64, shape (n_workers, n_trades)
        See :meth:`Vocabulary.related_credit`.
    certificates : ndarray of bool, shape (n_workers, n_certificates)
        Certificates held (valid or not).
    expiry_day : ndarray of int64, shape (n_workers, n_certificates)
        Expiry of each certificate, days since 1970-01-01 (valid through that day; meaningful where held).
    reliability : ndarray of float64, shape (n_workers,)
        Latent probability of turning up for a job, in (0, 1).
    quality : ndarray of float64, shape (n_workers,)
        Latent quality of work, standard normal.
    activity : ndarray of float64, shape (n_workers,)
        Latent eagerness to apply, standard normal.
    min_daily_wage : ndarray of float64, shape (n_workers,)
        Yuan per day.
    max_travel_km : ndarray of float64, shape (n_workers,)
        Km.
    """

    table: pd.DataFrame
    lat: np.ndarray
    lon: np.ndarray
    skills: np.ndarray
    years: np.ndarray
    preferred: np.ndarray
    related_credit: np.ndarray
    certificates: np.ndarray
    expiry_day: np.ndarray
    reliability: np.ndarray
    quality: np.ndarray
    activity: np.ndarray
    min_daily_wage: np.ndarray
    max_travel_km: np.ndarray

    def __len__(self) -> int:
        return len(self.lat)


def draw_workers(
    rng: np.random.Generator,
    vocab: Vocabulary,
    lat: np.ndarray,
    lon: np.ndarray,
    start: pd.Timestamp,
    days: int,
) -> Workers:
    """Skills, certificates, latent traits, history and terms of workers living at the given homes.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every draw.
    vocab : Vocabulary
        Trades and certificates.
    lat, lon : ndarray of float64, shape (n_workers,)
        Homes, WGS84 degrees (see :mod:`gigmatch.sim.geography`).
    start : pandas.Timestamp
        First day of the log; registrations fall in the 720 days before it.
    days : int
        Length of the log in days (some certificates expire during it).

    Returns
    -------
    Workers
    """
    trades, certs = vocab.trades, vocab.certificates
    n_w, n_t, n_c = len(lat), len(trades), len(certs)
    n_skills = rng.choice([1, 2, 3], size=n_w, p=[0.5, 0.35, 0.15])
    skill_mat = np.zeros((n_w, n_t), dtype=bool)
    for k in range(3):  # at most three draws; vectorised over workers
        draw = rng.choice(n_t, size=n_w, p=vocab.popularity)
        skill_mat[np.arange(n_w)[n_skills > k], draw[n_skills > k]] = True
    years = np.where(skill_mat, np.round(rng.exponential(4.0, (n_w, n_t))), 0.0)
    pref_mat = (skill_mat & (rng.random((n_w, n_t)) < 0.6)) | (rng.random((n_w, n_t)) < 0.02)
    need = np.zeros((n_w, n_c), dtype=bool)
    for ti, cs in enumerate(vocab.trade_certificates):
        for ci in cs:
            need[:, ci] |= skill_mat[:, ti]
    cert_mat = (need & (rng.random((n_w, n_c)) < 0.6)) | (rng.random((n_w, n_c)) < 0.02)
    start_day = (start - pd.Timestamp(0)).days
    expired = rng.random((n_w, n_c)) < 0.15
    expiry_day = np.where(
        expired,
        start_day + rng.integers(-400, days + 5, (n_w, n_c)),
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
    min_wage = np.round(0.8 * vocab.typical_wage[main_trade] * rng.lognormal(0, 0.15, n_w) / 10) * 10
    max_travel = rng.choice([5.0, 10.0, 15.0, 20.0, 30.0], size=n_w, p=[0.15, 0.3, 0.3, 0.15, 0.1])
    registered = start - pd.to_timedelta(rng.integers(1, 720, n_w), unit="D")

    rows_s = [np.flatnonzero(r) for r in skill_mat]
    rows_c = [np.flatnonzero(r) for r in cert_mat]
    rows_p = [np.flatnonzero(r) for r in pref_mat]
    table = pd.DataFrame(
        {
            "worker_id": [f"w{i:06d}" for i in range(n_w)],
            "lat": lat,
            "lon": lon,
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
    return Workers(
        table=table,
        lat=lat,
        lon=lon,
        skills=skill_mat,
        years=years,
        preferred=pref_mat,
        related_credit=vocab.related_credit(skill_mat),
        certificates=cert_mat,
        expiry_day=expiry_day,
        reliability=reliability,
        quality=quality,
        activity=activity,
        min_daily_wage=min_wage,
        max_travel_km=max_travel,
    )


@dataclass(frozen=True)
class Employers:
    """Simulated employers: the ``employers`` table and the arrays behind it.

    Attributes
    ----------
    table : pandas.DataFrame, n_employers rows
        The contract's ``employers`` table (ids ``e00000``, ...).
    quality : ndarray of float64, shape (n_employers,)
        Latent quality, standard normal.
    rating_avg : ndarray of float64, shape (n_employers,)
        Average rating, 1-5 stars; NaN without ratings.
    blacklisted : ndarray of bool, shape (n_employers,)
        The platform shows none of their jobs.
    """

    table: pd.DataFrame
    quality: np.ndarray
    rating_avg: np.ndarray
    blacklisted: np.ndarray

    def __len__(self) -> int:
        return len(self.quality)


def draw_employers(rng: np.random.Generator, n: int) -> Employers:
    """Employers' quality, ratings and blacklisting.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every draw.
    n : int
        Number of employers, at least 1.

    Returns
    -------
    Employers
    """
    quality = rng.normal(0, 1, n)
    rating_count = rng.poisson(8, n)
    rating = np.where(
        rating_count > 0, np.round(np.clip(4.0 + 0.5 * quality + rng.normal(0, 0.3, n), 1, 5), 2), np.nan
    )
    blacklisted = rng.random(n) < 0.03
    table = pd.DataFrame(
        {
            "employer_id": [f"e{i:05d}" for i in range(n)],
            "rating_avg": rating,
            "rating_count": rating_count,
            "blacklisted": blacklisted,
        }
    )
    return Employers(table=table, quality=quality, rating_avg=rating, blacklisted=blacklisted)


@dataclass(frozen=True)
class Jobs:
    """Simulated jobs: the ``jobs`` table and the arrays behind it.

    Attributes
    ----------
    table : pandas.DataFrame, n_jobs rows
        The contract's ``jobs`` table (ids ``j000000``, ...).
    lat, lon : ndarray of float64, shape (n_jobs,)
        Work place, WGS84 degrees.
    trade : ndarray of int64, shape (n_jobs,)
        Trade index (into :attr:`Vocabulary.trades`).
    employer : ndarray of int64, shape (n_jobs,)
        Employer index (into the employers).
    daily_wage : ndarray of float64, shape (n_jobs,)
        Yuan per day.
    posted, start, end : pandas.DatetimeIndex, length n_jobs
        When the job was posted, starts and ends (naive local time, whole seconds).
    required_certificates : list of list of int, length n_jobs
        Certificate indices the job needs: its trade's, then its own.
    """

    table: pd.DataFrame
    lat: np.ndarray
    lon: np.ndarray
    trade: np.ndarray
    employer: np.ndarray
    daily_wage: np.ndarray
    posted: pd.DatetimeIndex
    start: pd.DatetimeIndex
    end: pd.DatetimeIndex
    required_certificates: list[list[int]]

    def __len__(self) -> int:
        return len(self.lat)


def draw_jobs(
    rng: np.random.Generator,
    n: int,
    vocab: Vocabulary,
    employers: Employers,
    sites: WorkSites,
    region: Region,
    start: pd.Timestamp,
    days: int,
) -> Jobs:
    """Trades, places, headcounts, employers, wages and times of jobs posted over the log.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every draw (the employers' wage generosity is drawn here too).
    n : int
        Number of jobs.
    vocab : Vocabulary
        Trades and certificates.
    employers : Employers
        Who posts the jobs.
    sites : WorkSites
        Where jobs cluster (see :func:`gigmatch.sim.geography.place_jobs`).
    region : Region
        The county (radius and seat for coordinates).
    start : pandas.Timestamp
        First day of the log.
    days : int
        Length of the log in days; jobs are posted uniformly over it.

    Returns
    -------
    Jobs
    """
    trades, t_index, c_index = vocab.trades, vocab.trade_index, vocab.certificate_index
    job_trade = rng.choice(len(trades), size=n, p=vocab.popularity)
    kind = site_kinds(trades)[job_trade]
    x, y = place_jobs(rng, sites, kind, region.radius_km)
    lat, lon = to_latlon(region, x, y)
    big = kind < TOWN  # factories and farms
    headcount = np.where(
        big,
        rng.choice([1, 2, 3, 5, 10], size=n, p=[0.4, 0.2, 0.15, 0.15, 0.1]),
        rng.choice([1, 2], size=n, p=[0.85, 0.15]),
    )
    employer = rng.integers(0, len(employers), n)
    generosity = rng.lognormal(0, 0.1, len(employers))
    wage = (
        np.round(vocab.typical_wage[job_trade] * generosity[employer] * rng.lognormal(0, 0.15, n) / 10) * 10
    )
    posted = start + pd.to_timedelta(rng.random(n) * days * 86400, unit="s").round("s")
    begin = (posted + pd.to_timedelta(rng.integers(2, 5, n), unit="D")).normalize() + pd.Timedelta(hours=8)
    end = begin + pd.to_timedelta(rng.integers(0, 5, n), unit="D") + pd.Timedelta(hours=9)
    extra_height = (
        (rng.random(n) < 0.1)
        & np.isin(job_trade, [t_index.get("installation", -1), t_index.get("electrical", -1)])
        & (HEIGHT_CERT in c_index)
    )
    table = pd.DataFrame(
        {
            "job_id": [f"j{i:06d}" for i in range(n)],
            "trade": [trades[t] for t in job_trade],
            "lat": lat,
            "lon": lon,
            "headcount": headcount,
            "employer_id": employers.table["employer_id"].to_numpy()[employer],
            "required_certificates": [[HEIGHT_CERT] if e else [] for e in extra_height],
            "daily_wage": wage,
            "start_time": begin,
            "end_time": end,
            "posted_at": posted,
            "risk_level": np.clip(
                1 + np.array([len(vocab.trade_certificates[t]) for t in job_trade]) + extra_height, 1, 4
            ),
        }
    )
    required = [
        vocab.trade_certificates[t] + ([c_index[HEIGHT_CERT]] if e else [])
        for t, e in zip(job_trade, extra_height, strict=True)
    ]
    return Jobs(
        table=table,
        lat=lat,
        lon=lon,
        trade=job_trade,
        employer=employer,
        daily_wage=wage,
        posted=posted,
        start=begin,
        end=end,
        required_certificates=required,
    )
