"""A real gigmatch server in a subprocess, on a free loopback port, for integration tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BACKEND = "backend-key-for-tests"
OPERATOR = "operator-key-for-tests"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free when asked (the OS picks it; another process may take it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``gigmatch serve`` in a subprocess on a free loopback port; the constructor returns once it is up.

    The server gets two API keys, :data:`BACKEND` (role ``backend``) and :data:`OPERATOR` (role
    ``operator``); its output goes to ``db`` with the suffix ``.log``.

    Parameters
    ----------
    db : Path
        SQLite store file (``--db``).
    data : Path, optional
        Market folder that seeds an empty store (``--data``).
    model : Path, optional
        Model registry or version folder (``--model``); default: the heuristic scorer.
    **env : str
        Extra environment variables for the server, e.g. ``GIGMATCH_MAX_INFLIGHT="1"``.

    Raises
    ------
    RuntimeError
        When the server exits, or does not answer ``GET /healthz`` with 200 within 60 s; the message
        holds the end of its log.
    """

    def __init__(self, db: Path, data: Path | None = None, model: Path | None = None, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = db.with_suffix(".log")
        args = [
            sys.executable,
            "-m",
            "gigmatch.cli",
            "serve",
            "--db",
            str(db),
            "--port",
            str(self.port),
            "--host",
            "127.0.0.1",
        ]
        if data:
            args += ["--data", str(data)]
        if model:
            args += ["--model", str(model)]
        environ = {**os.environ, "GIGMATCH_API_KEYS": f"{BACKEND}:backend,{OPERATOR}:operator", **env}
        self._fh = self.log.open("ab")
        self.proc = subprocess.Popen(args, env=environ, stdout=self._fh, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start:\n{self.log.read_text()[-3000:]}")

    def client(self, key: str | None = BACKEND) -> httpx.Client:
        """An HTTP client for this server, sending ``key`` as a bearer token (None: no credentials)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def kill(self) -> None:
        """Kill the server with SIGKILL (no shutdown; a crash) and wait for it to exit."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._fh.close()

    def stop(self) -> None:
        """Stop the server with SIGTERM (SIGKILL after 10 s) if it is still running, and close its log."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._fh.close()
