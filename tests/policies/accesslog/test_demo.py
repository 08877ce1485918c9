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
    assert (state.lines_accepted, state.lines_rejected) == (88, 0)
    used = AccessRecord.objects.filter(verdict=AccessVerdict.ALLOWED)
    assert set(used.values_list("host", flat=True)) == {"api.stripe.com", "pypi.org"}
    assert not used.filter(grant__isnull=True).exists()
    refused = set(AccessRecord.objects.filter(verdict__in=["denied", "no_route"]).values_list("host", flat=True))
    assert refused == {"api.adyen.com", "hooks.slack.com", "pastebin.com"}
    call_command("seed_demo", "--password", "pw-123", stdout=open("/dev/null", "w"))
    assert ClusterIngestState.objects.get(cluster__name="demo").lines_accepted == 88  # idempotent
