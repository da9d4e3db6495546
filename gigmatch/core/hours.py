"""Workers' weekly hours: parsing ``available_hours`` and checking job intervals against them.

A worker's ``available_hours`` cell lists weekly windows in market-local time, ``;``-separated::

    mon-fri 09:00-15:00;sat 08:00-12:00
    daily 06:00-09:00,17:00-21:00
    fri-mon 22:00-06:00            (a window whose end is not after its start runs past midnight)

Each group is ``DAYS TIMES``: ``DAYS`` is a day (``mon`` .. ``sun``, full English names, or
``周一`` .. ``周日``/``星期一`` .. ``星期日``), a range ``mon-fri`` (wrapping ranges like ``sat-mon``
allowed), a comma list ``mon,wed,fri``, or ``daily``; ``TIMES`` is one or more comma-separated
``HH:MM-HH:MM`` ranges (``24:00`` ends a day). An empty cell means any time. Windows that touch
(``mon 18:00-24:00;tue 00:00-06:00``) are one window, so a night shift across midnight fits them.

Decisions (also in the README): a job fits a worker's hours when its whole interval lies inside one
window (a job interrupted by a gap in the hours does not fit); a job without ``start_time``/``end_time``
takes its whole start day (00:00-24:00), so it fits only workers free that whole day.

Everything here is pure NumPy over many pairs at once: :class:`WeeklyHours` encodes a column of cells
once (windows per worker as a CSR of minute-of-week intervals) and :meth:`WeeklyHours.fits` checks
``n_pairs`` job intervals with one ``searchsorted``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
# 1970-01-01 (second 0 of market time) was a Thursday: Monday-based weekday 3
_EPOCH_WEEKDAY = 3
MAX_WINDOW_GROUPS = 50  # groups in one cell: more is not a week's timetable

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    **{d: i for i, d in enumerate(DAY_NAMES)},
    **{
        d: i
        for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    },
    **{f"周{c}": i for i, c in enumerate("一二三四五六日")},
    **{f"星期{c}": i for i, c in enumerate("一二三四五六日")},
    "周天": 6,
    "星期天": 6,
}
_EVERY_DAY = ("daily", "everyday", "每天")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_DASH = re.compile(r"\s*[-–~至到]\s*")


class HoursError(ValueError):
    """A bad ``available_hours`` cell; the message is one line naming the problem."""


@dataclass(frozen=True)
class Window:
    """One weekly window: ``start`` and ``end`` in minutes from Monday 00:00, ``end > start``.

    ``end`` may exceed :data:`MINUTES_PER_WEEK` for a window running past Sunday midnight.
    """

    start: int
    end: int


def _day(token: str, cell: str) -> int:
    day = _DAY_ALIASES.get(token.strip().lower())
    if day is None:
        raise HoursError(f"{cell!r}: unknown day {token.strip()!r} (use mon..sun, a range mon-fri, or daily)")
    return day


def _days(text: str, cell: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if part.lower() in _EVERY_DAY:
            out.extend(range(7))
            continue
        ends = _DASH.split(part)
        if len(ends) == 1:
            out.append(_day(ends[0], cell))
        elif len(ends) == 2:
            a, b = _day(ends[0], cell), _day(ends[1], cell)
            out.extend((a + k) % 7 for k in range((b - a) % 7 + 1))
        else:
            raise HoursError(f"{cell!r}: {part!r} is not a day or a range of days")
    return sorted(set(out))


def _minute(text: str, cell: str) -> int:
    m = _TIME_RE.match(text.strip())
    if m is None:
        raise HoursError(f"{cell!r}: {text.strip()!r} is not a time HH:MM")
    hour, minute = int(m.group(1)), int(m.group(2))
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        raise HoursError(f"{cell!r}: {text.strip()!r} is not a time between 00:00 and 24:00")
    return hour * 60 + minute


def _times(text: str, cell: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        ends = _DASH.split(part.strip())
        if len(ends) != 2 or not ends[0] or not ends[1]:
            raise HoursError(f"{cell!r}: {part.strip()!r} is not a time range HH:MM-HH:MM")
        a, b = _minute(ends[0], cell), _minute(ends[1], cell)
        if a == b:
            raise HoursError(f"{cell!r}: {part.strip()!r} is an empty time range")
        if a == MINUTES_PER_DAY:
            raise HoursError(f"{cell!r}: {part.strip()!r} starts at 24:00; write 00:00 of the next day")
        out.append((a, b if b > a else b + MINUTES_PER_DAY))  # end not after start: runs past midnight
    return out


def parse_hours(cell: str | None) -> tuple[Window, ...]:
    """The merged weekly windows of one ``available_hours`` cell; ``()`` for an empty cell (any time).

    Windows are sorted, disjoint and merged where they touch; a window may end after Sunday 24:00
    (``end > MINUTES_PER_WEEK``), and one that merges across the week's end keeps it that way.

    Raises
    ------
    HoursError
        One line naming the cell and the bad part, e.g.
        ``'mon-fry 09:00-15:00': unknown day 'fry' (use mon..sun, a range mon-fri, or daily)``.
    """
    if cell is None:
        return ()
    text = str(cell).strip()
    if not text:
        return ()
    groups = [g.strip() for g in text.split(";") if g.strip()]
    if len(groups) > MAX_WINDOW_GROUPS:
        raise HoursError(f"{text[:40]!r}...: more than {MAX_WINDOW_GROUPS} groups")
    spans: list[tuple[int, int]] = []
    for group in groups:
        m = re.match(r"^(.*?)\s+(\d{1,2}:\d{2}.*)$", group)
        if m is None:
            raise HoursError(f"{text!r}: {group!r} needs days then times, e.g. 'mon-fri 09:00-15:00'")
        for day in _days(m.group(1), text):
            for a, b in _times(m.group(2), text):
                spans.append((day * MINUTES_PER_DAY + a, day * MINUTES_PER_DAY + b))
    return tuple(Window(a, b) for a, b in _merge(spans))


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of half-open intervals on the weekly circle, as sorted disjoint intervals.

    Starts lie in [0, MINUTES_PER_WEEK); the last interval may run past the week's end, having
    swallowed the intervals it reaches at the start of the week. A union covering the whole week is
    ``[(0, 2 * MINUTES_PER_WEEK)]`` (any interval up to a week fits).
    """
    if not spans:
        return []
    week = MINUTES_PER_WEEK
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    while len(merged) > 1 and merged[-1][1] - week >= merged[0][0]:
        _, b = merged.pop(0)  # the week's last window runs into this one
        merged[-1][1] = max(merged[-1][1], b + week)
    if merged[-1][1] - merged[-1][0] >= week or (len(merged) == 1 and merged[0][1] - week >= merged[0][0]):
        return [(0, 2 * week)]
    return [(a, b) for a, b in merged]


def normalise_hours(cell: str | None) -> str:
    """The cell as stored: groups stripped and lower-cased, joined by ``;`` (``""`` for any time).

    Parses the cell (raising :class:`HoursError` when bad) but keeps the worker's own wording, so a
    stored cell reads back as written; normalising a normalised cell changes nothing.
    """
    parse_hours(cell)
    if cell is None:
        return ""
    groups = [" ".join(g.split()).lower() for g in str(cell).split(";") if g.strip()]
    return ";".join(groups)


def minute_of_week(seconds: np.ndarray) -> np.ndarray:
    """Minutes since Monday 00:00 of market-local times given as seconds since 1970-01-01.

    Parameters
    ----------
    seconds : ndarray of float, shape (n,)
        Market-local wall-clock time, seconds since the epoch (NaN not allowed).

    Returns
    -------
    ndarray of float64, shape (n,), in [0, 10080)
    """
    minutes = np.asarray(seconds, dtype=np.float64) / 60.0 + _EPOCH_WEEKDAY * MINUTES_PER_DAY
    return np.mod(minutes, MINUTES_PER_WEEK)


@dataclass(frozen=True)
class WeeklyHours:
    """Many workers' windows, encoded for vectorised checks.

    Attributes
    ----------
    any_time : ndarray of bool, shape (n_workers,)
        Empty cell: every interval fits.
    keys : ndarray of float64, shape (n_windows,)
        ``worker * 3 * MINUTES_PER_WEEK + window start``, sorted: one ``searchsorted`` finds the
        window an instant falls in. Each window is stored twice, the second shifted a week later,
        and instants are looked up one week in, so a window that runs past Sunday midnight is found
        for an instant on Monday morning, and an interval starting on Sunday may run into Monday.
    ends : ndarray of float64, shape (n_windows,)
        Window ends, minutes from the worker's Monday 00:00, aligned with ``keys``.
    """

    any_time: np.ndarray
    keys: np.ndarray
    ends: np.ndarray

    @classmethod
    def from_cells(cls, cells: Sequence[str | None]) -> WeeklyHours:
        """Encode one ``available_hours`` cell per worker (already validated, or raises HoursError)."""
        stride = 3 * MINUTES_PER_WEEK
        any_time = np.zeros(len(cells), dtype=bool)
        keys: list[float] = []
        ends: list[float] = []
        cache: dict[str, tuple[Window, ...]] = {}  # many workers share a timetable
        for w, cell in enumerate(cells):
            text = "" if cell is None or (isinstance(cell, float) and np.isnan(cell)) else str(cell)
            windows = cache.get(text)
            if windows is None:
                windows = cache[text] = parse_hours(text)
            if not windows:
                any_time[w] = True
                continue
            for shift in (0, MINUTES_PER_WEEK):
                for win in windows:
                    keys.append(w * stride + win.start + shift)
                    ends.append(win.end + shift)
        order = np.argsort(np.asarray(keys, dtype=np.float64), kind="stable")
        return cls(
            any_time, np.asarray(keys, dtype=np.float64)[order], np.asarray(ends, dtype=np.float64)[order]
        )

    def fits(self, worker: np.ndarray, start_s: np.ndarray, end_s: np.ndarray) -> np.ndarray:
        """Whether each job interval lies inside one of its worker's windows.

        Parameters
        ----------
        worker : ndarray of int, shape (n_pairs,)
            Worker row of each pair.
        start_s, end_s : ndarray of float, shape (n_pairs,)
            The job's interval, market-local seconds since the epoch, ``end_s > start_s``.

        Returns
        -------
        ndarray of bool, shape (n_pairs,)
        """
        worker = np.asarray(worker, dtype=np.int64)
        start_s = np.asarray(start_s, dtype=np.float64)
        out = self.any_time[worker].copy()
        todo = np.flatnonzero(~out)
        if len(todo) == 0 or len(self.keys) == 0:
            return out
        stride = 3 * MINUTES_PER_WEEK
        s = minute_of_week(start_s[todo])
        length = (np.asarray(end_s, dtype=np.float64)[todo] - start_s[todo]) / 60.0
        base = worker[todo] * stride
        q = s + MINUTES_PER_WEEK  # looked up one week in (see ``keys``)
        pos = np.searchsorted(self.keys, base + q, side="right") - 1
        p = np.maximum(pos, 0)
        win_start = self.keys[p] - base
        ok = (pos >= 0) & (win_start >= 0) & (q + length <= self.ends[p])
        out[todo] = ok
        return out


def hours_per_day(start_s: np.ndarray, end_s: np.ndarray, day0_s: float, n_days: int) -> np.ndarray:
    """Hours of each interval that fall on each calendar day (market-local), for daily caps.

    Parameters
    ----------
    start_s, end_s : ndarray of float, shape (n,)
        Intervals, market-local seconds since the epoch.
    day0_s : float
        Midnight starting day 0, seconds since the epoch.
    n_days : int
        Days counted from ``day0_s``.

    Returns
    -------
    ndarray of float64, shape (n, n_days): hours of interval ``i`` inside day ``d``.
    """
    day_start = day0_s + 86_400.0 * np.arange(n_days)
    lo = np.maximum(np.asarray(start_s, dtype=np.float64)[:, None], day_start[None, :])
    hi = np.minimum(np.asarray(end_s, dtype=np.float64)[:, None], day_start[None, :] + 86_400.0)
    return np.clip(hi - lo, 0.0, None) / 3600.0
