"""CPU time of the processes a benchmark measures (gunicorn's workers, the PostgreSQL backends serving
them), read from /proc: unlike latency, it hardly moves when other work competes for the cores."""

import os
from pathlib import Path


def cpu_seconds(pids) -> float:
    """User + system CPU time used so far by these processes; one that is gone counts nothing."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a worker recycled, a connection closed meanwhile
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The child processes of `pid`: gunicorn's workers when it is the master."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def postgres_backends(database_url: str) -> list[int]:
    """The client backends connected to the database of `database_url` (this query's own excluded)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows]
