"""Request previews carry the API server's dry-run verdict: accepted, rejected (a CEL rule of the
cluster's CRDs), could not be checked (unreachable, too slow), skipped (a GitOps directory); in the
request preview page (the approver's view loads the same fragment) and in the API preview. Nothing is
ever stored in the cluster, and the verdict is cached per content."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from policies.choices import ConnectionKind
from policies.services.requests import egress_request_create
from tests.factories import fixture_save
from tests.policies.reconciler.conftest import point_at
from tests.support.kube import strict_validator
from tests.support.manifest_validation import with_extra_rule

pytestmark = pytest.mark.django_db

HOST = "api.stripe.com"
RESERVED = "hosts of stripe.com are reserved in this cluster"


@pytest.fixture
def pending(world):
    cache.clear()  # verdicts are cached per content: every test asks afresh
    return egress_request_create(requester=world.dev, data=world.request_input(HOST), submit=True)


def page(user, egress_request) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("request_preview", args=[egress_request.pk]))
    assert response.status_code == 200
    return response.content.decode()


def api(user, egress_request) -> dict:
    client = Client()
    client.force_login(user)
    response = client.get(f"/api/v1/requests/{egress_request.pk}/preview/")
    assert response.status_code == 200
    [cluster] = response.json()["clusters"]
    return cluster


@pytest.fixture
def stricter_crds():
    rule = "self.hosts.all(h, !h.endsWith('stripe.com'))"
    return with_extra_rule("networking.istio.io/v1", "ServiceEntry", rule, RESERVED)


class ServerCheckTests:
    def test_accepted_objects_are_dry_run_and_nothing_is_stored(self, world, kube, pending):
        point_at(world.cluster, kube.url)
        content = page(world.lead, pending)
        assert 'data-server-check="accepted"' in content and "The API server accepts all" in content
        applies = [call for call in kube.calls if call.verb == "apply"]
        assert applies and all(call.dry_run and call.params["fieldValidation"] == "Strict" for call in applies)
        assert kube.writes() == [] and kube.live() == {}
        check = api(world.lead, pending)["server_check"]
        assert check["state"] == "accepted" and all(verdict["accepted"] for verdict in check["objects"])
        assert {verdict["kind"] for verdict in check["objects"]} >= {"ServiceEntry", "Sidecar"}

    def test_the_verdict_is_cached_per_content(self, world, kube, pending):
        point_at(world.cluster, kube.url)
        first = api(world.lead, pending)["server_check"]
        calls = len(kube.calls)
        assert api(world.lead, pending)["server_check"] == first and len(kube.calls) == calls
        page(world.lead, pending)
        assert len(kube.calls) == calls
        other = egress_request_create(requester=world.dev, data=world.request_input("hooks.example.org"), submit=True)
        api(world.lead, other)  # other content: asked again
        assert len(kube.calls) > calls

    def test_a_cel_rule_of_the_cluster_rejects_and_the_approver_sees_it(self, world, kube, pending, stricter_crds):
        kube.validator = strict_validator(stricter_crds)
        point_at(world.cluster, kube.url)
        content = page(world.lead, pending)
        assert 'data-server-check="rejected"' in content and "the cluster would reject this" in content
        assert "The API server would refuse it: HTTP 422 Invalid while applying ServiceEntry" in content
        assert RESERVED not in content  # the server's own text is never quoted
        check = api(world.lead, pending)["server_check"]
        assert check["state"] == "rejected"
        [refused] = [verdict for verdict in check["objects"] if not verdict["accepted"]]
        assert refused["kind"] == "ServiceEntry"
        assert refused["message"].endswith(": spec: FieldValueInvalid")
        assert kube.writes() == []

    def test_an_unreachable_cluster_could_not_be_checked(self, world, pending, fast_retries):
        point_at(world.cluster, "http://127.0.0.1:9")
        check = api(world.lead, pending)["server_check"]
        assert check["state"] == "unchecked" and check["objects"] == []
        assert check["message"].startswith("Could not be checked: Cannot reach the API server at http://127.0.0.1:9")
        assert 'data-server-check="unchecked"' in page(world.lead, pending)

    def test_a_slow_server_is_given_up_on_in_bounded_time(self, world, kube, pending, settings):
        settings.EGRESSUI_PREVIEW_DRY_RUN_SECONDS = 1
        kube.stall("apply", seconds=3, times=None)
        point_at(world.cluster, kube.url)
        check = api(world.lead, pending)["server_check"]
        assert check["state"] == "unchecked"
        assert "did not answer within 1 s" in check["message"] or "timed out" in check["message"]
        assert sum(1 for call in kube._requests if call.method.value == "PATCH") == 1  # no retry, no second object

    def test_a_directory_target_is_skipped_and_says_so(self, world, pending, tmp_path):
        world.cluster.connection_kind, world.cluster.directory_path = ConnectionKind.DIRECTORY, str(tmp_path)
        fixture_save(world.cluster)
        check = api(world.lead, pending)["server_check"]
        assert check["state"] == "skipped" and "GitOps directory" in check["message"]
        assert 'data-server-check="skipped"' in page(world.lead, pending)

    def test_a_rejection_shown_to_a_masked_viewer_names_only_object_and_field(
        self, world, kube, pending, stricter_crds
    ):
        kube.validator = strict_validator(stricter_crds)
        point_at(world.cluster, kube.url)
        content = page(world.dev, pending)  # the requester: other teams' share is masked
        assert 'data-server-check="rejected"' in content
        assert RESERVED not in content and "stripe.com')" not in content
