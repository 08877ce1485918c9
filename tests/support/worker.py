"""A real Celery worker process (and `manage.py` helpers) for integration tests and benchmarks.

Everything runs against one real database shared by processes: a SQLite file, or a throwaway
PostgreSQL database on the server named by DATABASE_URL, created and dropped here. The worker is
stopped (warm shutdown, then kill of its process group) when the context exits.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
# A fixed, valid Fernet key for these throwaway databases only.
_ENCRYPTION_KEY = "dGVzdC1vbmx5LWVuY3J5cHRpb24ta2V5LWVncmVzc3U="


@contextmanager
def scratch_database(tmp_path: Path):
    """A DATABASE_URL for a fresh, migrated-by-the-caller database: PostgreSQL if DATABASE_URL points
    at a PostgreSQL server (a new database next to it, dropped afterwards), else a SQLite file."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        return
    import psycopg

    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/') or 'egressui'}_worker_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def process_env(*, database_url: str, redis_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """Production settings (not the test settings: the broker must be the real Redis)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "EGRESSUI_", "CELERY_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="egressui.settings",
        DJANGO_SECRET_KEY="worker-test-secret",
        DJANGO_ALLOWED_HOSTS="localhost",
        DJANGO_DB_CONN_MAX_AGE="0",
        EGRESSUI_ENCRYPTION_KEY=_ENCRYPTION_KEY,
        EGRESSUI_LOG_FORMAT="console",
        EGRESSUI_VAR_DIR=str(var_dir),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def manage(env: dict, *args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


_SERVE = """
import importlib, json, sys, traceback
import django
django.setup()
for line in sys.stdin:
    request = json.loads(line)
    module, name = request["call"].rsplit(".", 1)
    try:
        reply = {"result": getattr(importlib.import_module(module), name)(*request["args"])}
    except Exception:
        reply = {"error": traceback.format_exc()}
    sys.stdout.write("\\x1e" + json.dumps(reply, default=str) + "\\n")
    sys.stdout.flush()
"""


class DjangoProcess:
    """A long-lived Python process with Django set up (set-up is slow), running functions on request:
    `process.call("package.module.function", *args)` returns what the function returns (JSON)."""

    def __init__(self, env: dict):
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVE],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def __enter__(self) -> "DjangoProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, function: str, *args):
        self.process.stdin.write(json.dumps({"call": function, "args": list(args)}) + "\n")
        self.process.stdin.flush()
        output = []
        for line in self.process.stdout:
            if line.startswith("\x1e"):
                reply = json.loads(line[1:])
                if "error" in reply:
                    raise RuntimeError(f"{function} failed in the helper process:\n{reply['error']}")
                return reply["result"]
            output.append(line)
        raise RuntimeError(f"the helper process exited:\n{''.join(output)}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process.stdout.close()


class CeleryWorker:
    """`celery -A egressui worker` in its own process group, logging to a file."""

    def __init__(self, env: dict, log_path: Path, *, concurrency: int = 1):
        self.env, self.log_path, self.concurrency = env, log_path, concurrency
        self.process: subprocess.Popen | None = None
        self.name = f"reconcile-test-{uuid.uuid4().hex[:6]}@%h"

    def __enter__(self) -> "CeleryWorker":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "egressui",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                self.name,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited at start:\n{self.log()}")
            if " ready." in self.log():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the worker was not ready within {timeout:g} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool at once: no cleanup, no ack, locks left behind."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.stop()

    def stop(self, timeout: float = 20) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown: finish the current task
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        try:  # pool children of a killed worker
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process = None
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
