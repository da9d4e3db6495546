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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
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
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._fh.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._fh.close()
