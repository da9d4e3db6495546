"""Geography of a simulated county: where workers live and where the work is.

The county is a disc of radius ``R = region.radius_km`` around its seat (see
:mod:`gigmatch.core.regions`); positions are east/north offsets in km from the seat until
:func:`to_latlon` turns them into WGS84 degrees.

Homes
    Villages are scattered uniformly over the disc of radius ``0.9 R`` (one per 250 workers, 8 to 120
    of them). Workers live in the county seat (40%, normal around the seat with sd ``R / 8``) or in a
    village (60%, normal around it with sd ``R / 30``).
Work sites
    Jobs cluster at work sites by trade: factories near the seat (uniform over ``0.5 R``), farms at
    villages, everything else in town centres (the seat and a few townships within ``0.7 R``). A job
    sits within about 0.5 km (sd) of a site of its kind.

Every position is clipped to the county disc. All functions draw from the generator they are given,
in a fixed order: the simulator's seed stream depends on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gigmatch.core.geo import offset_km_to_deg
from gigmatch.core.regions import Region

FACTORY_TRADES = frozenset(
    {
        "welding",
        "lathe",
        "packaging",
        "moving",
        "forklift_driving",
        "handicraft",
        "installation",
        "security_guard",
    }
)
FARM_TRADES = frozenset({"fruit_picking", "tree_pruning", "farm_labour", "village_cleanup"})

# work-site kinds; factory and farm jobs are the "big" ones (larger headcounts)
FACTORY, FARM, TOWN = 0, 1, 2


def disc(rng: np.random.Generator, n: int, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform over a disc around the seat.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws ``2 n`` uniforms (radii, then angles).
    n : int
        Number of points.
    radius : float
        Disc radius in km.

    Returns
    -------
    x, y : ndarray of float64, shape (n,)
        East and north offsets from the seat in km.
    """
    r = radius * np.sqrt(rng.random(n))
    t = rng.random(n) * 2 * np.pi
    return r * np.cos(t), r * np.sin(t)


def clip_to_disc(x: np.ndarray, y: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Pull points outside the disc radially back onto its edge.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        East and north offsets from the seat in km.
    radius : float
        Disc radius in km.

    Returns
    -------
    x, y : ndarray of float64, shape (n,)
        The offsets, each point at most ``radius`` km from the seat.
    """
    r = np.hypot(x, y)
    scale = np.where(r > radius, radius / np.maximum(r, 1e-9), 1.0)
    return x * scale, y * scale


def to_latlon(region: Region, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets from the county seat to WGS84 coordinates, rounded to 6 decimals (about 0.1 m).

    Parameters
    ----------
    region : Region
        The county; its centroid is the seat.
    x, y : ndarray of float64, shape (n,)
        East and north offsets from the seat in km.

    Returns
    -------
    lat, lon : ndarray of float64, shape (n,)
        Degrees.
    """
    dlat, dlon = offset_km_to_deg(region.lat, x, y)
    return np.round(region.lat + dlat, 6), np.round(region.lon + dlon, 6)


@dataclass(frozen=True)
class Villages:
    """Village centres of a county.

    Attributes
    ----------
    x, y : ndarray of float64, shape (n_villages,)
        East and north offsets from the seat in km.
    """

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def place_villages(rng: np.random.Generator, n_workers: int, radius: float) -> Villages:
    """Scatter ``clip(n_workers // 250, 8, 120)`` villages uniformly over the disc of ``0.9 radius``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws ``2 n_villages`` uniforms.
    n_workers : int
        Workers in the county (sets the number of villages).
    radius : float
        County radius in km.

    Returns
    -------
    Villages
    """
    n_villages = int(np.clip(n_workers // 250, 8, 120))
    return Villages(*disc(rng, n_villages, 0.9 * radius))


def place_homes(
    rng: np.random.Generator, villages: Villages, n: int, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Homes of ``n`` workers: 40% around the county seat, the rest around a uniformly chosen village.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws, in order: ``n`` uniforms (seat or village), ``n`` village indices, then ``4 n`` normals.
    villages : Villages
        Village centres.
    n : int
        Number of workers.
    radius : float
        County radius in km; homes are clipped to the disc.

    Returns
    -------
    x, y : ndarray of float64, shape (n,)
        East and north offsets from the seat in km.
    """
    R = radius
    in_seat = rng.random(n) < 0.4
    village = rng.integers(0, len(villages), n)
    x = np.where(in_seat, rng.normal(0, R / 8, n), villages.x[village] + rng.normal(0, R / 30, n))
    y = np.where(in_seat, rng.normal(0, R / 8, n), villages.y[village] + rng.normal(0, R / 30, n))
    return clip_to_disc(x, y, R)


@dataclass(frozen=True)
class WorkSites:
    """Where jobs cluster, by kind of site.

    Attributes
    ----------
    factory_x, factory_y : ndarray of float64, shape (n_factories,)
        Factories, offsets from the seat in km.
    farm_x, farm_y : ndarray of float64, shape (n_farms,)
        Farms (at village centres), offsets in km.
    town_x, town_y : ndarray of float64, shape (n_towns,)
        Town centres, the county seat ``(0, 0)`` first, offsets in km.
    """

    factory_x: np.ndarray
    factory_y: np.ndarray
    farm_x: np.ndarray
    farm_y: np.ndarray
    town_x: np.ndarray
    town_y: np.ndarray


def place_work_sites(rng: np.random.Generator, villages: Villages, radius: float) -> WorkSites:
    """Factories, farms and town centres; their numbers grow with the number of villages.

    ``max(3, n_villages // 4)`` factories uniform over ``0.5 radius``, ``max(3, n_villages // 3)``
    farms at uniformly chosen villages, and the seat plus ``max(2, n_villages // 10) - 1`` townships
    within ``0.7 radius`` (a township's x and y come from two separate disc draws).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws factories, farm villages (x then y), then townships.
    villages : Villages
        Village centres.
    radius : float
        County radius in km.

    Returns
    -------
    WorkSites
    """
    R, n_villages = radius, len(villages)
    n_fact, n_farm, n_town = max(3, n_villages // 4), max(3, n_villages // 3), max(2, n_villages // 10)
    fx, fy = disc(rng, n_fact, 0.5 * R)
    px, py = villages.x[rng.integers(0, n_villages, n_farm)], villages.y[rng.integers(0, n_villages, n_farm)]
    tx, ty = np.r_[0.0, disc(rng, n_town - 1, 0.7 * R)[0]], np.r_[0.0, disc(rng, n_town - 1, 0.7 * R)[1]]
    return WorkSites(fx, fy, px, py, tx, ty)


def site_kinds(trades: Sequence[str]) -> np.ndarray:
    """The kind of work site each trade's jobs are at.

    Parameters
    ----------
    trades : sequence of str
        Trade codes.

    Returns
    -------
    ndarray of int64, shape (n_trades,)
        :data:`FACTORY`, :data:`FARM` or :data:`TOWN` (every trade not named a factory or farm trade).
    """
    return np.array([FACTORY if t in FACTORY_TRADES else FARM if t in FARM_TRADES else TOWN for t in trades])


def place_jobs(
    rng: np.random.Generator, sites: WorkSites, kind: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of jobs: a site of the job's kind plus normal noise of sd 0.5 km, clipped to the disc.

    A job's x and y site coordinates are drawn independently among the sites of its kind.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws site indices for x (factory, farm, town), then for y, then ``2 n`` normals.
    sites : WorkSites
        The county's work sites.
    kind : ndarray of int, shape (n,)
        Kind of site of each job (:data:`FACTORY`, :data:`FARM` or :data:`TOWN`).
    radius : float
        County radius in km.

    Returns
    -------
    x, y : ndarray of float64, shape (n,)
        East and north offsets from the seat in km.
    """
    n = len(kind)
    n_fact, n_farm, n_town = len(sites.factory_x), len(sites.farm_x), len(sites.town_x)
    at_factory, at_farm = kind == FACTORY, kind == FARM
    site_x = np.select(
        [at_factory, at_farm],
        [sites.factory_x[rng.integers(0, n_fact, n)], sites.farm_x[rng.integers(0, n_farm, n)]],
        sites.town_x[rng.integers(0, n_town, n)],
    )
    site_y = np.select(
        [at_factory, at_farm],
        [sites.factory_y[rng.integers(0, n_fact, n)], sites.farm_y[rng.integers(0, n_farm, n)]],
        sites.town_y[rng.integers(0, n_town, n)],
    )
    return clip_to_disc(site_x + rng.normal(0, 0.5, n), site_y + rng.normal(0, 0.5, n), radius)
