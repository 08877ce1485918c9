import gzip
import queue
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from policies.accesslog.body import decode_line
from policies.models import Cluster
from policies.selectors.clusters import cluster_names
from policies.services.access_logs import IngestReport, access_log_ingest

_END = object()


def _open(path: str):
    """A binary line source: stdin for '-', a plain or gzipped file otherwise."""
    if path == "-":
        return sys.stdin.buffer
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"No file at {path}.")
    with file.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(file, "rb") if gzipped else file.open("rb")


def _read_lines(source, lines: queue.Queue) -> None:
    try:
        for raw in source:
            lines.put(raw)
    finally:
        lines.put(_END)


class Command(BaseCommand):
    help = (
        "Ingest the egress gateway's JSON access log for one cluster from FILE (plain or gzip) or '-' for stdin, "
        "e.g. kubectl logs -f -n istio-egress deploy/istio-egressgateway | python manage.py ingest_access_log "
        "--cluster prod-eu -. Lines are written in batches; with a stream, at least every --flush-seconds. "
        "For a Cilium cluster: the Hubble exporter's file, or hubble observe --type policy-verdict -o jsonpb."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cluster", required=True, help="Cluster whose gateway, sidecars or Hubble wrote the log.")
        parser.add_argument("file", help="Access-log file, or - for stdin.")
        parser.add_argument("--batch-lines", type=int, default=5000, help="Lines per database write (default 5000).")
        parser.add_argument(
            "--flush-seconds", type=float, default=5.0, help="Write a partial batch after this long (default 5)."
        )

    def handle(self, *args, **options):
        cluster = Cluster.objects.filter(name=options["cluster"]).first()
        if cluster is None:
            known = ", ".join(cluster_names()) or "none yet"
            raise CommandError(f"No cluster named {options['cluster']!r} (known: {known}).")
        if options["batch_lines"] < 1 or options["flush_seconds"] <= 0:
            raise CommandError("--batch-lines must be at least 1 and --flush-seconds above 0.")
        self.verbosity = options["verbosity"]
        source = _open(options["file"])
        # A reader thread lets a quiet stream (kubectl logs -f) still be flushed on time.
        lines: queue.Queue = queue.Queue(maxsize=options["batch_lines"] * 4)
        threading.Thread(target=_read_lines, args=(source, lines), daemon=True).start()
        total = IngestReport()
        batch: list[tuple[int, object]] = []
        number, deadline, finished = 0, time.monotonic() + options["flush_seconds"], False
        limit = settings.EGRESSUI_INGEST_MAX_LINE_BYTES
        while not finished:
            try:
                raw = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raw = None
            if raw is _END:
                finished = True
            elif raw is not None:
                number += 1
                raw = raw.strip()
                if raw:
                    batch.append((number, decode_line(raw, max_line_bytes=limit)))
            if batch and (finished or raw is None or len(batch) >= options["batch_lines"]):
                total.merge(self._write(cluster, batch))
                batch = []
            if raw is None or not batch:
                deadline = time.monotonic() + options["flush_seconds"]
        for error in total.errors:
            self.stderr.write(f"line {error['line']}: {error['error']}")
        self.stdout.write(f"cluster={cluster.name} accepted={total.accepted} rejected={total.rejected}")

    def _write(self, cluster, batch) -> IngestReport:
        report = access_log_ingest(cluster=cluster, records=batch)
        if self.verbosity >= 2:
            self.stderr.write(f"batch: accepted={report.accepted} rejected={report.rejected}")
        return report
