"""`make run` stops cleanly on Ctrl-C: the worker shuts down warm without ERROR lines, and the runner
exits 0 (so `make` reports no error)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.deploy.test_commands import procfile

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(path: Path, text: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in path.read_text():
            return True
        time.sleep(0.2)
    return False


class RunDevTests:
    def test_ctrl_c_stops_worker_and_others_quietly(self, tmp_path):
        worker = " ".join(procfile()["worker"])
        sleeper = "sleep 300"
        procs = tmp_path / "Procfile"
        procs.write_text(f"worker: {worker}\nsleeper: {sleeper}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EGRESSUI_", "CELERY_"))}
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        env.update(
            DJANGO_DEBUG="true",
            EGRESSUI_ENV_FILE="",
            EGRESSUI_VAR_DIR=str(tmp_path / "var"),
            PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        )
        log = tmp_path / "out.log"
        with log.open("w") as out:
            runner = subprocess.Popen(
                [sys.executable, "scripts/run_dev.py", str(procs)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group, like a terminal's foreground job
            )
        try:
            assert _wait_for(log, "ready.", 90), log.read_text()
            os.killpg(runner.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground job
            returncode = runner.wait(timeout=60)
        finally:
            if runner.poll() is None:
                os.killpg(runner.pid, signal.SIGKILL)
        output = log.read_text()
        assert returncode == 0, output
        assert "Warm shutdown" in output
        for noise in ("ERROR", "SIGKILL", "Traceback"):
            assert noise not in output, output
