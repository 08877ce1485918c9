"""`make run`'s process runner: honcho's, with a quiet stop.

`honcho start` stops its processes with SIGTERM to each process group, which also reaches the Celery
worker's pool children directly (the worker then logs an ERROR per child) and makes `make` report
"Error 130". Here a stop sends SIGINT to each group instead — what Ctrl-C in a terminal does: runserver
and beat exit quietly, the worker's children ignore it and the worker shuts down warm — and an
interrupted run exits 0. A process that stops on its own still stops the others and sets the exit code.
"""

import os
import signal
import sys
from pathlib import Path

from honcho.compat import ProcessManager
from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Printer

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile.dev"
INTERRUPTED = {130, 143}  # honcho's codes for "stopped by SIGINT / SIGTERM"


class InterruptGroups(ProcessManager):
    def terminate(self, pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGINT)
        except ProcessLookupError:
            pass


def main() -> int:
    manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
    manager._procmgr = InterruptGroups()  # honcho has no public hook for how processes are stopped
    for name, command in parse_procfile(PROCFILE.read_text()).processes.items():
        manager.add_process(name, command, env=dict(os.environ))
    manager.loop()
    return 0 if manager.returncode in INTERRUPTED else manager.returncode


if __name__ == "__main__":
    sys.exit(main())
