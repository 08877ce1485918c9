"""docs/api.md's walkthrough, run as written (curl and jq) against a live server: create and submit
a request, preview, approve, poll the grant until the cluster has it, revoke."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from egressui.celery import app as celery_app
from policies.choices import AppliedState, GrantStatus, RequestStatus
from policies.models import EgressRequest, Grant
from policies.services.tokens import api_token_create
from tests.factories import fixture_save

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "api.md"
FLOW = re.compile(r"<!-- api-flow:start -->(.*?)<!-- api-flow:end -->", re.S)
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)


def documented_flow() -> str:
    section = FLOW.search(GUIDE.read_text()).group(1)
    return "\n".join(BLOCK.findall(section))


@pytest.fixture
def eager_worker():
    """The reconcile task runs in the web process right after the approval commits, as a worker would."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq on PATH")
@pytest.mark.django_db(transaction=True)
def test_the_documented_flow_runs(world, live_server, tmp_path, eager_worker, settings):
    world.cluster.directory_path = str(tmp_path)  # a GitOps directory target the reconciler writes to
    fixture_save(world.cluster)
    _, token = api_token_create(user=world.dev, actor=world.dev, name="docs-flow")
    _, approver_token = api_token_create(user=world.lead, actor=world.lead, name="docs-flow")
    env = {
        **os.environ,
        "EGRESSUI": live_server.url,
        "TOKEN": token,
        "APPROVER_TOKEN": approver_token,
        "IDENTITY": f"{world.cluster.name}/payments/checkout",
        "RUN_ID": "test",
    }
    script = "set -euo pipefail\n" + documented_flow()
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"

    request = EgressRequest.objects.get()
    grant = Grant.objects.get()
    assert request.status == RequestStatus.APPROVED and grant.request == request
    assert grant.status == GrantStatus.REVOKED and grant.ended_by == world.lead
    lines = result.stdout.splitlines()
    assert lines[0] == f"identity: {world.cluster.name}/payments/checkout (cluster.local/ns/payments/sa/checkout)"
    assert f"request {request.pk} created" in lines
    assert any(line.startswith(f"{world.cluster.name}: adds ") and "ServiceEntry" in line for line in lines)
    assert "waiting for: Approver of the requesting team (team payments)" in lines
    assert f"grant {grant.pk} is {AppliedState.APPLIED} in the cluster" in lines
    assert lines[-1] == (
        f"grant {grant.pk} is revoked, ended by payments-lead: Checkout moved to another payment provider."
    )
    assert list(tmp_path.glob("*/*.yaml")), "the reconciler wrote the grant's objects"
