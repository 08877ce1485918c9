"""docs/api.md's walkthrough, run as written (curl and jq) against a live server: create and submit
a request, preview, approve, poll the grant until the cluster has it, revoke."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

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


def run_flow(live_server, **env) -> subprocess.CompletedProcess:
    env = {**os.environ, "EGRESSUI": live_server.url, "RUN_ID": "test", **env}
    script = "set -euo pipefail\n" + documented_flow()
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=180)


def token_for(username: str) -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    return api_token_create(user=user, actor=user, name="docs-flow")[1]


NEEDS_TOOLS = pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq on PATH")


@NEEDS_TOOLS
@pytest.mark.django_db(transaction=True)
def test_the_documented_flow_runs_on_the_demo_data(live_server, tmp_path, settings):
    """What a newcomer runs after `make run`: seed_demo's data, its production cluster `demo` (a
    GitOps directory) whose rules want the team's approver and then security."""
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--force", "--password", "pw-123")
    celery_app.conf.task_always_eager = True  # the reconcile runs right after the approval commits
    try:
        result = run_flow(
            live_server,
            TOKEN=token_for("payments-dev"),
            APPROVER_TOKEN=token_for("payments-lead"),
            SECURITY_TOKEN=token_for("secops"),
            IDENTITY="demo/payments/checkout",
        )
    finally:
        celery_app.conf.task_always_eager = False
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"

    request = EgressRequest.objects.get(destinations__host="api.mollie.com")
    grant = Grant.objects.get(request=request)
    assert request.status == RequestStatus.APPROVED and grant.status == GrantStatus.REVOKED
    lines = result.stdout.splitlines()
    assert lines[0] == "identity: demo/payments/checkout (cluster.local/ns/payments/sa/checkout)"
    assert f"request {request.pk} created: submitted" in lines
    preview = next(line for line in lines if line.startswith("demo: "))
    assert re.match(r"demo: [1-9]\d* to add, \d+ to change, 0 to remove, \d+ unchanged$", preview), preview
    assert any(line.startswith("  add ServiceEntry ") for line in lines)
    assert lines.index("waiting for: Approver of the requesting team (team payments)") < lines.index(
        f"request {request.pk} is submitted"
    )
    assert lines.index("waiting for: Security review (team security)") < lines.index(
        f"request {request.pk} is approved"
    )
    assert f"grant {grant.pk} created" in lines and "grant null created" not in lines
    assert f"grant {grant.pk} is {AppliedState.APPLIED} in the cluster" in lines
    assert (
        lines[-1] == f"grant {grant.pk} is revoked, ended by payments-lead: Checkout moved to another payment provider."
    )
    assert list((tmp_path / "gitops" / "demo").glob("*/*.yaml")), "the reconciler wrote the grant's objects"


@NEEDS_TOOLS
@pytest.mark.django_db(transaction=True)
def test_the_documented_flow_runs_with_one_step(world, live_server, tmp_path, eager_worker):
    world.cluster.directory_path = str(tmp_path)  # a GitOps directory target the reconciler writes to
    fixture_save(world.cluster)
    result = run_flow(
        live_server,
        TOKEN=token_for(world.dev.username),
        APPROVER_TOKEN=token_for(world.lead.username),
        SECURITY_TOKEN=token_for(world.secops.username),
        IDENTITY=f"{world.cluster.name}/payments/checkout",
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"

    request = EgressRequest.objects.get()
    grant = Grant.objects.get()
    assert request.status == RequestStatus.APPROVED and grant.request == request
    assert grant.status == GrantStatus.REVOKED and grant.ended_by == world.lead
    lines = result.stdout.splitlines()
    assert "waiting for: Approver of the requesting team (team payments)" in lines
    assert f"request {request.pk} is approved" in lines
    assert not any(line.startswith("waiting for: Security") for line in lines)
    assert f"grant {grant.pk} is {AppliedState.APPLIED} in the cluster" in lines
    assert list(tmp_path.glob("*/*.yaml")), "the reconciler wrote the grant's objects"
