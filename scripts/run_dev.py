"""`make run`'s process runner: honcho's, with a quiet stop.

`honcho start` stops its processes with SIGTERM to each process group, which also reaches the Celery
worker's pool children directly (the worker then logs an ERROR per child), kills a worker still in its
warm shutdown after 5 s, and exits 130, which `make` reports as an error. Here a stop sends SIGINT to
each group instead — what Ctrl-C in a terminal does: runserver and beat exit quietly, the worker's
children ignore it and the worker finishes its warm shutdown — and an interrupted run exits 0. A
process that stops on its own still stops the others and sets the exit code.
"""

import os
import signal
import sys
from pathlib import Path

import honcho.manager
from honcho.environ import parse_procfile
from honcho.printer import Printer

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile.dev"
INTERRUPTED = {130, 143}  # honcho's exit codes for "stopped by SIGINT / SIGTERM"
# The worker's warm shutdown polls the filesystem broker: give it time before SIGKILL.
honcho.manager.KILL_WAIT = 20


class Manager(honcho.manager.Manager):
    def terminate(self) -> None:
        if self._terminating:
            return
        self._terminating = True
        for name, process in self._processes.items():
            if "returncode" not in process:
                self._system_print(f"stopping {name}\n")
                try:
                    os.killpg(process["pid"], signal.SIGINT)
                except ProcessLookupError:
                    pass


def main(procfile: Path = PROCFILE) -> int:
    manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
    for name, command in parse_procfile(procfile.read_text()).processes.items():
        manager.add_process(name, command, env=dict(os.environ))
    manager.loop()
    return 0 if manager.returncode in INTERRUPTED else manager.returncode


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else PROCFILE))
