"""Pure ASGI middleware: request-size limit and per-endpoint latency metrics.

It also writes the access log, with route templates only (see ``_observe``). Pure ASGI rather than ``@app.middleware("http")`` (Starlette's BaseHTTPMiddleware), which costs about
a millisecond per request. Bodies are limited both by ``Content-Length`` and, for chunked uploads, by
reading at most the limit before the app sees anything: an oversized request gets 413 and is never
buffered whole.
"""

from __future__ import annotations

import json
import logging
import time

from starlette.routing import Match

access_log = logging.getLogger("gigmatch.access")


class LimitsAndMetrics:
    """ASGI middleware: refuse oversized bodies with 413, time every HTTP request, write the access log.

    Each response gets an ``x-process-time-ms`` header; its latency is observed in ``state.latency``
    under the route template and status code, and a refused body counts in
    ``state.rejected.labels("too_large")``. Non-HTTP scopes (lifespan) pass through untouched.

    Parameters
    ----------
    app : ASGI application
        The application wrapped.
    get_state : callable
        Returns the service state holding ``settings.max_body_bytes`` (the limit, bytes), ``latency``
        and ``rejected`` (Prometheus metrics); called once per request.
    get_routes : callable, optional
        Returns the app's routes, to file a request that routing did not label (a 413 answered
        before routing; ``/openapi.json``, ``/docs`` and other plain Starlette routes) under its
        route template rather than ``unmatched``.
    """

    def __init__(self, app, get_state, get_routes=None):
        self.app = app
        self.get_state = get_state
        self.get_routes = get_routes or (lambda: ())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = self.get_state()
        limit = state.settings.max_body_bytes
        t0 = time.perf_counter()
        status = {"code": 500, "started": False}
        length = dict(scope.get("headers", ())).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            state.rejected.labels("too_large").inc()
            return await self._reject(send, 413, f"request body larger than {limit} bytes", scope, t0, state)
        if length is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            # Chunked upload: read at most `limit` bytes, then answer 413 or replay the buffered body.
            chunks, seen, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # client went away
                chunks.append(message.get("body", b""))
                seen += len(chunks[-1])
                more = message.get("more_body", False)
                if seen > limit:
                    state.rejected.labels("too_large").inc()
                    return await self._reject(
                        send, 413, f"request body larger than {limit} bytes", scope, t0, state
                    )
            body = b"".join(chunks)
            replayed = False

            async def replay():
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = replay

        async def timed_send(message):
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                headers = list(message.get("headers", []))
                headers.append((b"x-process-time-ms", f"{1000 * (time.perf_counter() - t0):.3f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)
        self._observe(scope, status["code"], t0, state)

    async def _reject(self, send, code: int, detail: str, scope, t0: float, state) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        self._observe(scope, code, t0, state)

    def _observe(self, scope, code: int, t0: float, state) -> None:
        endpoint = route_template(scope, self.get_routes())
        elapsed = time.perf_counter() - t0
        state.latency.labels(endpoint, str(code)).observe(elapsed)
        # Privacy: the route template only (/v1/workers/{worker_id}), never the concrete path, query,
        # body or client address: ids may be phone numbers, bodies hold names and home coordinates.
        access_log.info("%s %s %d %.1fms", scope.get("method", "-"), endpoint, code, 1000 * elapsed)


def route_template(scope, routes) -> str:
    """The route template a request is filed under in metrics and the access log.

    FastAPI's API routes put themselves in ``scope["route"]``; a request that never reached routing
    (refused with 413) or went to a plain Starlette route (``/openapi.json``, ``/docs``, the docs'
    static files) is matched against ``routes`` here. Paths no route serves are ``unmatched``: a
    concrete path could hold an id.
    """
    route = scope.get("route")
    if route is not None:
        return route.path
    for candidate in routes:
        path = getattr(candidate, "path", None)
        if path is not None and candidate.matches(scope)[0] == Match.FULL:
            return path
    return "unmatched"
