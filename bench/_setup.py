"""What the benchmarks (and scripts/screenshots.py) share: a clean environment for a Django process, a
throwaway PostgreSQL database, a server started and awaited on a free port, the clock over client
threads, and the latency summary every benchmark prints. Not a benchmark itself."""

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def clean_environ() -> dict[str, str]:
    """This process's environment without the project's own settings, so a developer's DJANGO_* or
    EGRESSUI_* cannot leak into what a benchmark sets up."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "EGRESSUI_"))}


def manage(env: dict, *args: str, cwd: Path = ROOT) -> None:
    """`manage.py ARGS` in a child process with `env`, its output discarded."""
    subprocess.run([sys.executable, "manage.py", *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def recreate_database(database_url: str, *, drop_only: bool = False) -> None:
    """Drop the database of `database_url` (connections left by a previous run included) and, unless
    `drop_only`, create it empty."""
    import psycopg

    name = urlsplit(database_url).path.lstrip("/")
    admin = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    try:
        connection = psycopg.connect(admin, autocommit=True)
    except psycopg.OperationalError as exc:
        raise SystemExit(f"this benchmark needs PostgreSQL at {admin}: {exc}") from None
    with connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            connection.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    command: list[str],
    *,
    name: str,
    env: dict,
    port: int,
    cwd: Path = ROOT,
    seconds: float = 60,
    log_path: Path | None = None,
) -> subprocess.Popen:
    """Start a web server (gunicorn, runserver) in its own process group and return once
    http://127.0.0.1:PORT/healthz answers 200; its output goes to `log_path` (quoted when it fails to
    start) or nowhere."""
    import requests

    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 (lives as long as the server)
    server = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def tail() -> str:
        return f":\n{log_path.read_text()[-3000:]}" if log_path else ""

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"{name} exited at start{tail()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200:
                return server
        except requests.RequestException:  # not listening yet, or still importing Django
            pass
        time.sleep(0.2)
    stop(server)
    raise SystemExit(f"{name} did not answer within {seconds:.0f} s{tail()}")


def stop(server: subprocess.Popen) -> None:
    """Stop a server of start_server() with its whole process group (gunicorn's workers too)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def timed_run(threads: list[threading.Thread], ready: Callable[[], None]) -> float:
    """Start the client threads, call `ready()` (it returns once they are all at their start line,
    e.g. a barrier's wait), then time them to the last one's end: seconds."""
    for thread in threads:
        thread.start()
    ready()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def p95(ordered: list[float]) -> float:
    """The 95th percentile of sorted samples, as every benchmark has reported it (nearest rank)."""
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def latency_ms(samples: list[float]) -> dict[str, float]:
    """p50 and p95 of latencies in milliseconds, rounded to 0.1 ms."""
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95(ordered), 1)}
