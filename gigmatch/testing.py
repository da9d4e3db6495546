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
    store : str, optional
        A store URL (``postgresql://...``) to serve instead of the file ``db`` (whose name then only
        places the log).
    workers : int, default=1
        ``--workers``: processes behind the one port.
    start_timeout_s : float, default=180
        How long to wait for ``/healthz``.
    **env : str
        Extra environment variables for the server, e.g. ``GIGMATCH_MAX_INFLIGHT="1"``.

    Raises
    ------
    RuntimeError
        When the server exits, or does not answer ``GET /healthz`` with 200 in time; the message
        holds the end of its log.
    """

    def __init__(
        self,
        db: Path,
        data: Path | None = None,
        model: Path | None = None,
        store: str | None = None,
        workers: int = 1,
        start_timeout_s: float = 180.0,
        **env: str,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = db.with_suffix(".log")
        args = [
            sys.executable,
            "-m",
            "gigmatch.cli",
            "serve",
            "--store",
            str(store or db),
            "--workers",
            str(workers),
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
        self._wait(start_timeout_s)

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


def postgres_bin() -> Path | None:
    """The folder of the PostgreSQL server programs (``initdb``, ``pg_ctl``): ``GIGMATCH_PG_BIN``, else
    the newest ``/usr/lib/postgresql/*/bin`` (Debian's packages), else the one on ``PATH``."""
    if os.environ.get("GIGMATCH_PG_BIN"):
        return Path(os.environ["GIGMATCH_PG_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if found:
        return found[-1].parent
    import shutil

    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


class PostgresServer:
    """A throwaway PostgreSQL server in a folder of its own, on a free loopback port.

    ``initdb`` + ``pg_ctl`` from :func:`postgres_bin`; PostgreSQL refuses to run as root, so under
    uid 0 the programs run as the ``postgres`` system user (Debian's package creates it), or ``nobody``,
    through ``runuser``, and the folder is handed to that user. Authentication is ``trust`` on
    loopback only; the superuser is ``gigmatch``.

    Parameters
    ----------
    folder : Path, optional
        Where the cluster lives; default a fresh ``/tmp/gigmatch-pg-*`` folder, removed by
        :meth:`stop` (under root the cluster's user must be able to reach it, which pytest's private
        temporary folders do not allow).
    durable : bool, default=False
        ``fsync`` on, as in production (benchmarks); tests run without it to spare the shared disk.

    Raises
    ------
    RuntimeError
        With the reason in one line when the programs are missing or the server does not start.
    """

    def __init__(self, folder: Path | None = None, durable: bool = False):
        bindir = postgres_bin()
        if bindir is None or not (bindir / "initdb").exists():
            raise RuntimeError(
                "no PostgreSQL server programs (initdb): apt-get install postgresql, or set GIGMATCH_PG_BIN"
            )
        self.bindir = bindir
        import tempfile

        self._owned = folder is None
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="gigmatch-pg-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://gigmatch@127.0.0.1:{self.port}/postgres"
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            import pwd

            for user in ("postgres", "nobody"):
                try:
                    entry = pwd.getpwnam(user)
                except KeyError:
                    continue
                os.chown(self.folder, entry.pw_uid, entry.pw_gid)
                self._prefix = ["runuser", "-u", user, "--"]
                break
            else:
                raise RuntimeError(
                    "running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL"
                )
        self._run(
            [str(bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "gigmatch", "-E", "UTF8"]
            + ([] if durable else ["--no-sync"])
        )
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.folder / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def _run(self, args: list[str]) -> None:
        done = subprocess.run(self._prefix + args, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"{Path(args[0]).name} failed: {tail[0]}")

    def create_database(self, name: str) -> str:
        """Create database ``name`` (if missing); returns its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        subprocess.run(
            self._prefix + [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        if self._owned:
            import shutil

            shutil.rmtree(self.folder, ignore_errors=True)
