"""Webhook delivery of the answer feed: signed, in order, retried with backoff, never lost.

The outbox is the answer stream itself plus a durable cursor (record ``webhook``/``cursor``: the last
answer delivered). A sender thread, holding the lease ``webhook_delivery`` so that one replica
delivers, POSTs each answer after the cursor and moves the cursor only after the receiver answered
2xx; a failure (an error status, a refused connection, a timeout) is counted and retried after a
backoff that doubles up to ``MAX_BACKOFF_S``. Delivery is therefore at least once and in order
(an answer may arrive twice when the process dies between the receiver's 2xx and the cursor's
commit; receivers de-duplicate on ``X-Gigmatch-Answer-Id``). Later answers wait behind a failing
one: order is kept over throughput.

Each request carries ``X-Gigmatch-Timestamp`` (Unix seconds) and ``X-Gigmatch-Signature:
sha256=<hex>``, the HMAC-SHA256 with the shared secret of ``"<timestamp>." + body``; a receiver
recomputes it and compares in constant time (:func:`verify`). Python's ``urllib`` sends the requests:
one POST at a time needs no client library.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from service.loop.feed import read_answers
from service.store.repository import MarketRepository

log = logging.getLogger("gigmatch.webhook")

CURSOR_KIND = "webhook"
LEASE = "webhook_delivery"
MAX_BACKOFF_S = 60.0
LEASE_TTL_S = 10.0  # a crashed sender's lease lapses after this; renewed per batch and per retry
SIGNATURE_HEADER = "X-Gigmatch-Signature"
TIMESTAMP_HEADER = "X-Gigmatch-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``"sha256=<hex>"``: HMAC-SHA256 of ``timestamp + "." + body`` under ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is :func:`sign` of the request (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


class WebhookSender:
    """The delivery thread.

    Parameters
    ----------
    repo : MarketRepository
        The answer stream and the cursor record.
    url, secret : str
        The receiver and the shared signing secret (validated by the settings).
    backoff_s : float
        First retry delay, seconds; doubles per consecutive failure up to :data:`MAX_BACKOFF_S`.
    on_result : callable(str), optional
        Called with ``"delivered"`` or ``"failed"`` per attempt (the Prometheus counter).
    holder : str
        This process's lease holder name.
    """

    def __init__(
        self,
        repo: MarketRepository,
        url: str,
        secret: str,
        *,
        backoff_s: float = 1.0,
        on_result: Callable[[str], None] | None = None,
        holder: str = "local",
    ):
        self.repo = repo
        self.url = url
        self.secret = secret
        self.backoff_s = backoff_s
        self.on_result = on_result or (lambda outcome: None)
        self.holder = holder
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def cursor(self) -> int:
        """The cursor of the last answer delivered (0: none)."""
        return int(self.repo.read_records(CURSOR_KIND).get("cursor", {}).get("after", 0))

    def deliver(self, answer: dict) -> bool:
        """POST one answer; whether the receiver answered 2xx."""
        body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
        ts = str(int(time.time()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Gigmatch-Answer-Id": answer["answer_id"],
                TIMESTAMP_HEADER: ts,
                SIGNATURE_HEADER: sign(self.secret, ts, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("webhook delivery failed: %s", type(exc).__name__)
            return False

    def run_once(self, limit: int = 100) -> int:
        """Deliver pending answers until one fails or none is left; how many were delivered."""
        after, sent = self.cursor(), 0
        failures = 0
        while not self._stop.is_set():
            batch = read_answers(self.repo, after=after, limit=limit)
            if not batch or not self.repo.acquire_lease(LEASE, self.holder, LEASE_TTL_S):
                return sent
            for answer in batch:
                while not self.deliver(answer):
                    self.on_result("failed")
                    failures += 1
                    if self._stop.wait(min(self.backoff_s * 2 ** (failures - 1), MAX_BACKOFF_S)):
                        return sent
                    if not self.repo.acquire_lease(LEASE, self.holder, LEASE_TTL_S):
                        return sent  # another replica took over delivery
                failures = 0
                self.on_result("delivered")
                after = answer["cursor"]
                self.repo.put_records(CURSOR_KIND, {"cursor": {"after": after}})
                sent += 1
        return sent

    def start(self, interval_s: float = 0.5) -> None:
        """Start the delivery thread (polls the feed every ``interval_s`` when idle)."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval_s):
                try:
                    if self.repo.acquire_lease(LEASE, self.holder, LEASE_TTL_S):
                        self.run_once()
                except Exception:  # keep the thread alive; the cursor is durable
                    log.exception("webhook sender failed")

        self._thread = threading.Thread(target=loop, name="gigmatch-webhook", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (waits up to 12 s for a request in flight)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(12)
