"""`manage.py ingest_access_log` and `manage.py rotate_ingest_token`."""

import gzip
import io
import json
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from policies.management.commands import ingest_access_log
from policies.models import AccessRecord, AuditEvent, ClusterIngestState
from policies.selectors.monitoring import ingest_state_for_secret
from tests.policies.accesslog.support import fixture_bytes

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def recent_fixture() -> bytes:
    hour = (timezone.now() - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return fixture_bytes(hour=hour)


def conn(**fields) -> bytes:
    moment = timezone.now() - timedelta(minutes=1)
    return json.dumps({"start_time": moment.isoformat(), "sni": "api.stripe.com", **fields}).encode() + b"\n"


class IngestAccessLogCommandTests:
    def test_a_file_is_ingested_and_bad_lines_are_listed(self, world, tmp_path):
        path = tmp_path / "gateway.log"
        path.write_bytes(recent_fixture())
        out, err = run("ingest_access_log", "--cluster", world.cluster.name, str(path))
        assert out.strip() == f"cluster={world.cluster.name} accepted=11 rejected=4"
        assert [line.split(":")[0] for line in err.splitlines()] == ["line 8", "line 9", "line 10", "line 14"]
        assert AccessRecord.objects.count() == 10

    def test_gzipped_files_and_small_batches_give_the_same_result(self, world, tmp_path):
        path = tmp_path / "gateway.log.gz"
        path.write_bytes(gzip.compress(recent_fixture()))
        out, err = run("ingest_access_log", "--cluster", world.cluster.name, str(path), "--batch-lines", "3")
        assert out.strip().endswith("accepted=11 rejected=4")
        assert "line 14: bytes_received" in err
        assert ClusterIngestState.objects.get(cluster=world.cluster).lines_accepted == 11
        assert sum(AccessRecord.objects.values_list("count", flat=True)) == 11

    def test_stdin(self, world, monkeypatch):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(conn() + conn(response_flags="NR"))))
        out, _ = run("ingest_access_log", "--cluster", world.cluster.name, "-")
        assert out.strip().endswith("accepted=2 rejected=0")

    def test_a_quiet_stream_is_flushed_after_flush_seconds(self, world, monkeypatch):
        """Like `kubectl logs -f`: two lines, then silence until the first batch is written."""
        written = threading.Event()
        batches = []
        real_write = ingest_access_log.Command._write

        def write(command, cluster, batch):
            batches.append([number for number, _ in batch])
            written.set()
            return real_write(command, cluster, batch)

        def stream():
            yield conn()
            yield conn()
            assert written.wait(timeout=30), "the partial batch was never flushed"
            yield conn()

        monkeypatch.setattr(ingest_access_log.Command, "_write", write)
        monkeypatch.setattr(ingest_access_log, "_open", lambda path: stream())
        out, _ = run("ingest_access_log", "--cluster", world.cluster.name, "-", "--flush-seconds", "0.05")
        assert batches == [[1, 2], [3]]
        assert out.strip().endswith("accepted=3 rejected=0")

    def test_unknown_cluster_file_and_options_fail_cleanly(self, world, tmp_path):
        with pytest.raises(CommandError, match=rf"No cluster named 'nope' \(known: {world.cluster.name}\)"):
            run("ingest_access_log", "--cluster", "nope", "-")
        with pytest.raises(CommandError, match="No file at"):
            run("ingest_access_log", "--cluster", world.cluster.name, str(tmp_path / "missing.log"))
        with pytest.raises(CommandError, match="--batch-lines"):
            run("ingest_access_log", "--cluster", world.cluster.name, "-", "--batch-lines", "0")


class RotateIngestTokenCommandTests:
    def test_prints_only_the_token_on_stdout_and_audits(self, world):
        out, err = run("rotate_ingest_token", "--cluster", world.cluster.name)
        secret = out.strip()
        assert ingest_state_for_secret(secret).cluster == world.cluster
        assert secret not in err and f"/api/v1/clusters/{world.cluster.pk}/access-logs/" in err
        event = AuditEvent.objects.get(event_type=602)
        assert event.actor is None and event.actor_repr == "operator"

    def test_unknown_cluster(self, world):
        with pytest.raises(CommandError, match="No cluster named 'nope'"):
            run("rotate_ingest_token", "--cluster", "nope")
