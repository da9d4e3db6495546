"""GeoIndex's nearest-neighbour queries against brute force on the sphere (issue #18 moved them to a
k-d tree of unit vectors; radius queries stay on the haversine ball tree)."""

import numpy as np
import pytest

from gigmatch.core.geo import haversine_km
from matcher.retrieval import GeoIndex


@pytest.mark.parametrize(
    ("n_points", "n_queries", "k", "lat_range", "lon_range"),
    [
        (2_000, 300, 30, (28.0, 32.5), (102.0, 106.5)),  # a province
        (500, 100, 7, (-89.0, 89.0), (-180.0, 180.0)),  # the whole sphere, poles and the date line
        (500, 50, 5, (-0.5, 0.5), (179.5, 180.0)),  # across the antimeridian
        (3, 10, 8, (10.0, 11.0), (10.0, 11.0)),  # k beyond the points: every point, once
        (1, 4, 1, (0.0, 0.0), (0.0, 0.0)),
    ],
)
def test_nearest_are_the_nearest_by_great_circle_distance(n_points, n_queries, k, lat_range, lon_range):
    rng = np.random.default_rng(n_points + k)
    lat, lon = rng.uniform(*lat_range, n_points), rng.uniform(*lon_range, n_points)
    qlat, qlon = rng.uniform(*lat_range, n_queries), rng.uniform(*lon_range, n_queries)
    query, point = GeoIndex(lat, lon).nearest(qlat, qlon, k)
    k_eff = min(k, n_points)
    assert len(query) == n_queries * k_eff
    assert (query == np.repeat(np.arange(n_queries), k_eff)).all()
    dist = haversine_km(qlat[:, None], qlon[:, None], lat[None, :], lon[None, :])  # (queries, points)
    got = dist[query, point].reshape(n_queries, k_eff)
    want = np.sort(dist, axis=1)[:, :k_eff]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)  # nearest first, the k nearest
    assert all(len(set(row)) == k_eff for row in point.reshape(n_queries, k_eff))


def test_empty_index_and_empty_queries():
    q, p = GeoIndex(np.zeros(0), np.zeros(0)).nearest(np.array([1.0]), np.array([2.0]), 3)
    assert len(q) == len(p) == 0
    q, p = GeoIndex(np.array([1.0]), np.array([2.0])).nearest(np.zeros(0), np.zeros(0), 3)
    assert len(q) == len(p) == 0
