"""The background refresher: applies ingested events to the read snapshot every few seconds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("gigmatch.store")


class Refresher:
    """A daemon thread calling ``refresh`` every ``interval_s`` seconds until stopped.

    A failing refresh is logged and retried on the next tick; the last good snapshot keeps serving.

    Parameters
    ----------
    refresh : callable
        The work of one tick.
    interval_s : float
        Seconds between ticks.
    """

    def __init__(self, refresh: Callable[[], None], interval_s: float):
        self.refresh = refresh
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once; later calls do nothing)."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                try:
                    self.refresh()
                except Exception:  # keep serving the last good snapshot; the next tick retries
                    log.exception("event refresh failed")

        self._thread = threading.Thread(target=loop, name="gigmatch-events-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it (at most 5 s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
