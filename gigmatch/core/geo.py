"""Great-circle geometry."""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between points given in WGS84 degrees (broadcasting).

    Pole-safe: the haversine term is clipped to [0, 1] before ``arcsin`` so rounding near the poles or
    at antipodes never yields NaN.

    Returns
    -------
    ndarray of float64, distances in km.
    """
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.subtract(lon2, lon1))
    h = np.sin(dphi * 0.5) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb * 0.5) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def offset_km_to_deg(lat0: float, dx_km: np.ndarray, dy_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert east/north offsets in km around latitude ``lat0`` to (dlat, dlon) degrees."""
    km_per_deg = np.pi * EARTH_RADIUS_KM / 180.0
    return dy_km / km_per_deg, dx_km / (km_per_deg * np.cos(np.radians(lat0)))


def haversine_rad_km(
    lat1: np.ndarray, lon1: np.ndarray, cos1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray, cos2: np.ndarray
) -> np.ndarray:
    """:func:`haversine_km` on pre-converted radians and cosines of latitude (the hot path)."""
    h = np.sin((lat2 - lat1) * 0.5) ** 2 + cos1 * cos2 * np.sin((lon2 - lon1) * 0.5) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
