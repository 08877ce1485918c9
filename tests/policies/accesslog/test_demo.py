"""The demo traffic seed_demo ingests: grants in use and refused attempts, all attributed."""

import pytest
from django.core.management import call_command

from policies.choices import AccessVerdict
from policies.models import AccessRecord, ClusterIngestState


@pytest.mark.django_db
def test_seed_demo_shows_usage_and_denied_attempts(settings, tmp_path):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--password", "pw-123", stdout=open("/dev/null", "w"))
    state = ClusterIngestState.objects.get(cluster__name="demo")
    assert (state.lines_accepted, state.lines_rejected) == (124, 0)
    demo = AccessRecord.objects.filter(cluster__name="demo")  # demo-cilium: tests/policies/test_seed_demo.py
    used = demo.filter(verdict=AccessVerdict.ALLOWED)
    assert set(used.values_list("host", flat=True)) == {"api.stripe.com", "pypi.org"}
    assert not used.filter(grant__isnull=True).exists()
    refused = set(demo.filter(verdict__in=["denied", "no_route"]).values_list("host", flat=True))
    assert refused == {"api.adyen.com", "hooks.slack.com", "pastebin.com"}
    # The sidecars of the observed namespace reports, and of the enforced one without grants, ledger.
    observed = demo.filter(verdict=AccessVerdict.OBSERVED)
    assert set(observed.values_list("namespace__name", "host", "protocol", "port")) == {
        ("reports", "api.openexchangerates.org", "tls", 443),
        ("reports", "reports-bucket.s3.eu-west-1.amazonaws.com", "tls", 443),
        ("reports", "feeds.example.org", "http", 80),
        ("reports", "203.0.113.40", "tcp", 5432),
    }
    assert observed.filter(identity__service_account="exporter").count() == 3
    assert observed.filter(source_principal="cluster.local/ns/reports/sa/scheduler", identity__isnull=True).exists()
    [blocked] = demo.filter(verdict=AccessVerdict.BLOCKED_AT_SOURCE)
    assert (blocked.host, blocked.identity.service_account, blocked.namespace.name) == (
        "api.exchangerate.host",
        "ledger",
        "ledger",
    )
    call_command("seed_demo", "--password", "pw-123", stdout=open("/dev/null", "w"))
    assert ClusterIngestState.objects.get(cluster__name="demo").lines_accepted == 124  # idempotent
