"""Chinese county and district centroids, for placing simulated markets on real coordinates.

``gigmatch/core/data/regions.csv`` is derived from the ``adcodes.csv`` table of the cpca package
(https://github.com/DQinYuan/chinese_province_city_area_mapper, MIT licence, (c) 2018 QinYuan Du):
county-level rows only, with province and city names joined from their adcode prefixes. ``radius_km``
is ours: half the distance to the nearest other county-level centroid, clamped to 5-40 km, so that a
disc of that radius around the centroid stays inside the county (centroids alone carry no borders).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pandas as pd


@dataclass(frozen=True)
class Region:
    """One county-level region (county, district or county-level city) of ``data/regions.csv``.

    Attributes
    ----------
    adcode : str
        6-digit administrative division code, e.g. ``"350428"``.
    name : str
        The county or district name, e.g. ``"将乐县"``.
    province, city : str
        The province and city names it belongs to.
    lat, lon : float
        Centroid, WGS84 degrees.
    radius_km : float
        Radius of a disc around the centroid that stays inside the region, km (5-40).
    """

    adcode: str
    name: str
    province: str
    city: str
    lat: float
    lon: float
    radius_km: float

    @property
    def full_name(self) -> str:
        """Province, city and county names joined (省市县), e.g. ``"福建省三明市将乐县"``."""
        return f"{self.province}{self.city}{self.name}"


@lru_cache(maxsize=1)
def regions_table() -> pd.DataFrame:
    """Every county-level region as a frame, read once and cached.

    Columns ``adcode`` (str), ``name``, ``province``, ``city``, ``lat``, ``lon`` (WGS84 degrees),
    ``radius_km`` (km), plus ``full_name`` (province + city + name). The cached frame is shared:
    do not modify it.
    """
    with resources.files("gigmatch.core").joinpath("data/regions.csv").open(encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype={"adcode": str}, keep_default_na=False)
    df["full_name"] = df["province"] + df["city"] + df["name"]
    return df


def find_region(query: str) -> Region:
    """Find a county or district by name, full name (省市县) or 6-digit adcode.

    Raises
    ------
    ValueError
        When nothing matches, or when a short name is ambiguous (the message lists the full names).
    """
    q = query.strip()
    df = regions_table()
    hits = df[(df["adcode"] == q) | (df["name"] == q) | (df["full_name"] == q)]
    if hits.empty:
        # A full name may skip the city (省直辖县) or end with the county name: match on the suffix.
        hits = df[df["full_name"].str.endswith(q)] if len(q) >= 3 else hits
    if hits.empty:
        raise ValueError(
            f"region {q!r} not found; give a county or district name such as 将乐县 or its adcode"
        )
    if len(hits) > 1:
        names = ", ".join(hits["full_name"].head(8))
        raise ValueError(f"region {q!r} is ambiguous ({names}); give the province and city too")
    r = hits.iloc[0]
    return Region(r.adcode, r["name"], r.province, r.city, float(r.lat), float(r.lon), float(r.radius_km))
