"""Encode validated market tables into flat arrays that the pairwise features index into.

Skill, preference and certificate sets are CSR matrices (rows = workers, columns = codes of a
:class:`Vocab`); a pair lookup ``(worker, code)`` is one vectorised ``searchsorted`` over the CSR's
row-major keys, so no Python loop ever runs over pairs. Times are float seconds since 1970-01-01
(market-local wall clock), NaN when missing; certificate expiry is a whole day number, ``inf`` when none.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.market import MarketStats
from gigmatch.core.contract import Market
from gigmatch.core.taxonomy import Taxonomy, default_taxonomy

SECONDS_PER_DAY = 86_400.0


class Vocab:
    """An ordered set of codes; ``index`` maps codes to columns (-1 for unknown codes)."""

    def __init__(self, codes=()):
        self.codes: list[str] = []
        self._index: dict[str, int] = {}
        for c in codes:
            self.add(c)

    def add(self, code: str) -> int:
        """Add ``code`` if it is new (as the next column) and return its column index."""
        if code not in self._index:
            self._index[code] = len(self.codes)
            self.codes.append(code)
        return self._index[code]

    def index(self, codes) -> np.ndarray:
        """Column index of each code; -1 for codes not in the vocabulary (nothing is added).

        Parameters
        ----------
        codes : sequence of str of length n
            Anything with ``len``; a list or an object array.

        Returns
        -------
        ndarray of shape (n,), int64
        """
        get = self._index.get
        return np.fromiter((get(c, -1) for c in codes), dtype=np.int64, count=len(codes))

    def __len__(self) -> int:
        return len(self.codes)


def _seconds(values) -> np.ndarray:
    """datetime64 values (NaT allowed) -> float seconds since epoch with NaN."""
    arr = pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[ns]")
    out = arr.astype("int64").astype(np.float64) / 1e9
    out[np.isnat(arr)] = np.nan
    return out


def to_seconds(ts) -> float:
    """A timestamp (str, datetime or Timestamp) -> float seconds since epoch."""
    return pd.Timestamp(ts).value / 1e9


def _csr(
    rows: list[list[str]], values: list[list[float]] | None, vocab: Vocab, extend: bool
) -> sp.csr_matrix:
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    flat = [c for r in rows for c in r]
    if extend:
        for c in flat:
            vocab.add(c)
    cols = vocab.index(flat)
    data = (
        np.fromiter((v for r in values for v in r), dtype=np.float64, count=len(flat))
        if values is not None
        else np.ones(len(flat))
    )
    row = np.repeat(np.arange(len(rows)), lengths)
    keep = cols >= 0
    row, cols, data = row[keep], cols[keep], data[keep]
    # Duplicated codes in one cell keep their largest value (most years, latest expiry).
    order = np.lexsort((-data, cols, row))
    row, cols, data = row[order], cols[order], data[order]
    first = np.r_[True, (row[1:] != row[:-1]) | (cols[1:] != cols[:-1])][: len(row)]
    row, cols, data = row[first], cols[first], data[first]
    indptr = np.r_[0, np.cumsum(np.bincount(row, minlength=len(rows)))]
    # Built directly so explicit zeros (0 years of experience) stay stored.
    return sp.csr_matrix((data, cols, indptr), shape=(len(rows), max(len(vocab), 1)))


def csr_positions(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Storage position of ``matrix[rows[i], cols[i]]`` for many pairs at once; -1 where not stored.

    Columns < 0 (unknown codes) are never stored. Vectorised: one ``searchsorted`` over row-major keys.
    """
    keys = _csr_keys(matrix)
    if len(keys) == 0:
        return np.full(len(rows), -1, dtype=np.int64)
    q = rows.astype(np.int64) * matrix.shape[1] + np.maximum(cols, 0)
    pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
    return np.where((keys[pos] == q) & (cols >= 0), pos, -1)


def csr_lookup(
    matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray, missing: float = np.nan
) -> np.ndarray:
    """Values of ``matrix[rows[i], cols[i]]`` for many pairs at once; ``missing`` where not stored."""
    pos = csr_positions(matrix, rows, cols)
    return np.where(pos >= 0, matrix.data[np.maximum(pos, 0)] if matrix.nnz else missing, missing)


def _union_profile(skills: sp.csr_matrix, related: sp.csr_matrix, preferred: sp.csr_matrix):
    """One CSR over the union of three (n_workers, n_trades) patterns, so a pair needs one lookup.

    Returns the union matrix (data = 1) and, aligned with its storage, years (NaN: not a skill),
    credit and preferred, each of shape (nnz,).
    """

    def pattern(m: sp.csr_matrix) -> sp.csr_matrix:  # explicit zeros (0 years) are still members
        return sp.csr_matrix((np.ones(m.nnz), m.indices, m.indptr), shape=m.shape)

    union = (pattern(skills) + pattern(related) + pattern(preferred)).tocsr()
    union = sp.csr_matrix((np.ones(union.nnz), union.indices, union.indptr), shape=union.shape)
    union.sort_indices()
    rows = np.repeat(np.arange(union.shape[0]), np.diff(union.indptr))
    cols = union.indices
    years = csr_lookup(skills, rows, cols, missing=np.nan)
    credit = np.where(~np.isnan(years), 1.0, csr_lookup(related, rows, cols, missing=0.0))
    pref = csr_lookup(preferred, rows, cols, missing=0.0)
    return union, years, credit, pref


def _csr_keys(matrix: sp.csr_matrix) -> np.ndarray:
    cached = getattr(matrix, "_gigmatch_keys", None)
    if cached is None:
        rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
        cached = rows * matrix.shape[1] + matrix.indices
        matrix._gigmatch_keys = cached
    return cached


@dataclass
class WorkerTable:
    """Workers as arrays; shapes are (n_workers,) unless stated."""

    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    max_travel_km: np.ndarray
    min_daily_wage: np.ndarray
    rating_avg: np.ndarray
    rating_count: np.ndarray
    jobs_completed: np.ndarray
    no_shows: np.ndarray
    registered_s: np.ndarray
    available_from_s: np.ndarray
    available_until_s: np.ndarray
    skills: sp.csr_matrix  # (n_workers, n_trades), data = years in the trade
    related: sp.csr_matrix  # (n_workers, n_trades), data = best related-trade credit in (0, 1]
    preferred: sp.csr_matrix  # (n_workers, n_trades), data = 1
    certificates: sp.csr_matrix  # (n_workers, n_certs), data = expiry day (inf: none)
    n_skills: np.ndarray
    n_preferred: np.ndarray
    trades: Vocab
    certs: Vocab
    profile: sp.csr_matrix  # union of skills, related and preferred; see the profile_* arrays
    profile_years: np.ndarray  # (profile.nnz,) years in the trade, NaN when not a skill
    profile_credit: np.ndarray  # (profile.nnz,) 1 for a skill, else the related-trade credit
    profile_preferred: np.ndarray  # (profile.nnz,) 1 when preferred
    lat_rad: np.ndarray
    lon_rad: np.ndarray
    cos_lat: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class JobTable:
    """Jobs as arrays; shapes are (n_jobs,) unless stated."""

    ids: np.ndarray
    trade: np.ndarray  # index into the workers' trade vocab, -1 when no worker lists it
    trade_code: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    headcount: np.ndarray
    daily_wage: np.ndarray
    stats: MarketStats  # point-in-time market statistics (the trade's local median wage as of a time)
    start_s: np.ndarray
    posted_s: np.ndarray
    open_to_all: np.ndarray
    restricted: np.ndarray  # the trade itself needs a licence
    req_ptr: np.ndarray  # (n_jobs + 1,) CSR row pointer into req_cert
    req_cert: np.ndarray  # required certificate index per entry, -1 when no worker holds that code
    req_code: np.ndarray  # required certificate codes, aligned with req_cert
    employer_ids: np.ndarray
    employer_rating_avg: np.ndarray
    employer_rating_count: np.ndarray
    employer_blacklisted: np.ndarray
    lat_rad: np.ndarray
    lon_rad: np.ndarray
    cos_lat: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: np.ndarray) -> JobTable:
        """The jobs at ``rows`` (int array of shape (n,)), in that order, as a table of their own.

        Market statistics are shared (they describe the whole market, not the subset), so a subset's
        features equal the whole table's for the same jobs.
        """
        rows = np.asarray(rows, dtype=np.int64)
        counts = self.req_ptr[rows + 1] - self.req_ptr[rows]
        entry = np.repeat(self.req_ptr[rows], counts) + (
            np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        per_job = {
            f.name: getattr(self, f.name)[rows]
            for f in fields(self)
            if f.name not in ("stats", "req_ptr", "req_cert", "req_code")
        }
        return JobTable(
            **per_job,
            stats=self.stats,
            req_ptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
            req_cert=self.req_cert[entry],
            req_code=self.req_code[entry],
        )


def encode_workers(
    workers: pd.DataFrame, taxonomy: Taxonomy | None = None, *, vocab_from: WorkerTable | None = None
) -> WorkerTable:
    """Encode a validated ``workers`` frame (see :func:`gigmatch.core.contract.validate_table`).

    ``vocab_from`` starts the code vocabularies from another table's, so that a single worker sent
    to the API lines up with jobs encoded against the store's workers.
    """
    tax = taxonomy or default_taxonomy()
    trades = Vocab(vocab_from.trades.codes if vocab_from else sorted(tax.trades))
    certs = Vocab(vocab_from.certs.codes if vocab_from else sorted(tax.certificates))
    skills = _csr(list(workers["skills"]), list(workers["skill_years"]), trades, extend=True)
    preferred = _csr(list(workers["preferred_trades"]), None, trades, extend=True)
    skills = sp.csr_matrix((skills.data, skills.indices, skills.indptr), shape=(len(workers), len(trades)))
    certificates = _csr(
        list(workers["certificates"]), list(workers["certificate_expiry"]), certs, extend=True
    )
    preferred = sp.csr_matrix(
        (preferred.data, preferred.indices, preferred.indptr), shape=(len(workers), len(trades))
    )
    related = _related_matrix(skills, trades, tax)
    profile, profile_years, profile_credit, profile_preferred = _union_profile(skills, related, preferred)
    lat = workers["lat"].to_numpy(dtype=np.float64)
    return WorkerTable(
        ids=workers["worker_id"].to_numpy(dtype=object),
        lat=workers["lat"].to_numpy(dtype=np.float64),
        lon=workers["lon"].to_numpy(dtype=np.float64),
        max_travel_km=workers["max_travel_km"].to_numpy(dtype=np.float64),
        min_daily_wage=workers["min_daily_wage"].to_numpy(dtype=np.float64),
        rating_avg=workers["rating_avg"].to_numpy(dtype=np.float64),
        rating_count=workers["rating_count"].to_numpy(dtype=np.float64),
        jobs_completed=workers["jobs_completed"].to_numpy(dtype=np.float64),
        no_shows=workers["no_shows"].to_numpy(dtype=np.float64),
        registered_s=_seconds(workers["registered_at"]),
        available_from_s=_seconds(workers["available_from"]),
        available_until_s=_seconds(workers["available_until"]),
        skills=skills,
        related=related,
        preferred=preferred,
        certificates=certificates,
        n_skills=np.diff(skills.indptr).astype(np.float64),
        n_preferred=np.diff(preferred.indptr).astype(np.float64),
        trades=trades,
        certs=certs,
        profile=profile,
        profile_years=profile_years,
        profile_credit=profile_credit,
        profile_preferred=profile_preferred,
        lat_rad=np.radians(lat),
        lon_rad=np.radians(workers["lon"].to_numpy(dtype=np.float64)),
        cos_lat=np.cos(np.radians(lat)),
    )


def _related_matrix(skills: sp.csr_matrix, trades: Vocab, tax: Taxonomy) -> sp.csr_matrix:
    """(n_workers, n_trades): best credit toward each trade from the worker's skills (max, not sum)."""
    links = [(trades.index([j])[0], trades.index([s])[0], c) for j, s, c in tax.related_pairs()]
    links = [(j, s, c) for j, s, c in links if j >= 0 and s >= 0]
    n_w, n_t = skills.shape
    if not links or skills.nnz == 0:
        return sp.csr_matrix((n_w, n_t))
    link_j, link_s, link_c = (np.array(x) for x in zip(*links, strict=True))
    by_skill = np.argsort(link_s, kind="stable")
    link_j, link_s, link_c = link_j[by_skill], link_s[by_skill], link_c[by_skill]
    start = np.searchsorted(link_s, np.arange(n_t))
    count = np.searchsorted(link_s, np.arange(n_t), side="right") - start
    w = np.repeat(np.arange(n_w), np.diff(skills.indptr))
    s = skills.indices
    reps = count[s]
    w_e = np.repeat(w, reps)
    offs = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    link = np.repeat(start[s], reps) + offs
    j_e, c_e = link_j[link], link_c[link]
    order = np.lexsort((-c_e, j_e, w_e))
    w_e, j_e, c_e = w_e[order], j_e[order], c_e[order]
    first = np.r_[True, (w_e[1:] != w_e[:-1]) | (j_e[1:] != j_e[:-1])][: len(w_e)]
    m = sp.csr_matrix((c_e[first], (w_e[first], j_e[first])), shape=(n_w, n_t))
    m.sort_indices()
    return m


def encode_jobs(
    jobs: pd.DataFrame,
    workers: WorkerTable,
    employers: pd.DataFrame | None = None,
    *,
    stats: MarketStats | None = None,
    taxonomy: Taxonomy | None = None,
) -> JobTable:
    """Encode a validated ``jobs`` frame against the workers' vocabularies.

    ``stats`` (point-in-time market statistics) defaults to those of ``jobs`` itself; the service
    passes the store's, so that a single posted job is compared with the whole local market.
    """
    tax = taxonomy or default_taxonomy()
    n = len(jobs)
    codes = jobs["trade"].to_numpy(dtype=object)
    req_lists = [
        list(dict.fromkeys([*tax.required_certificates(t), *extra]))
        for t, extra in zip(codes, jobs["required_certificates"], strict=True)
    ]
    req_code = np.array([c for r in req_lists for c in r], dtype=object)
    emp = (
        employers
        if employers is not None
        else pd.DataFrame(columns=["employer_id", "rating_avg", "rating_count", "blacklisted"])
    )
    emp = emp.set_index("employer_id")
    eid = jobs["employer_id"].to_numpy(dtype=object)
    pos = emp.index.get_indexer(eid) if len(emp) else np.full(n, -1)
    found = pos >= 0

    def emp_col(name: str, default: float) -> np.ndarray:
        out = np.full(n, default, dtype=np.float64)
        if found.any():
            out[found] = emp[name].to_numpy(dtype=np.float64)[pos[found]]
        return out

    return JobTable(
        ids=jobs["job_id"].to_numpy(dtype=object),
        trade=workers.trades.index(list(codes)),
        trade_code=codes,
        lat=jobs["lat"].to_numpy(dtype=np.float64),
        lon=jobs["lon"].to_numpy(dtype=np.float64),
        headcount=jobs["headcount"].to_numpy(dtype=np.int64),
        daily_wage=jobs["daily_wage"].to_numpy(dtype=np.float64),
        stats=stats if stats is not None else MarketStats.from_jobs(jobs),
        start_s=_seconds(jobs["start_time"]),
        posted_s=_seconds(jobs["posted_at"]),
        open_to_all=np.array([tax.open_to_all(t) for t in codes], dtype=bool),
        restricted=np.array([bool(tax.required_certificates(t)) for t in codes], dtype=bool),
        req_ptr=np.r_[0, np.cumsum([len(r) for r in req_lists])].astype(np.int64),
        req_cert=workers.certs.index(list(req_code)),
        req_code=req_code,
        employer_ids=eid,
        employer_rating_avg=emp_col("rating_avg", np.nan),
        employer_rating_count=emp_col("rating_count", 0.0),
        employer_blacklisted=emp_col("blacklisted", 0.0).astype(bool),
        lat_rad=np.radians(jobs["lat"].to_numpy(dtype=np.float64)),
        lon_rad=np.radians(jobs["lon"].to_numpy(dtype=np.float64)),
        cos_lat=np.cos(np.radians(jobs["lat"].to_numpy(dtype=np.float64))),
    )


def encode_market(market: Market) -> tuple[WorkerTable, JobTable]:
    """Workers and jobs of a validated market, encoded with the market's own vocabulary."""
    workers = encode_workers(market.workers, market.taxonomy)
    return workers, encode_jobs(market.jobs, workers, market.employers, taxonomy=market.taxonomy)
