"""Every request transition through the API, and what each answers."""

import pytest

from policies.choices import GrantStatus, RequestStatus
from policies.models import AuditEvent, ClusterSyncState, EgressRequest, Grant
from tests.policies.api.conftest import API, assert_error, create_body

pytestmark = pytest.mark.django_db


def _create(clients, world, **overrides) -> dict:
    response = clients.dev.post(f"{API}/requests/", create_body(world, **overrides), format="json")
    assert response.status_code == 201, response.content
    return response.json()


class RequestCreateTests:
    def test_creates_a_draft_with_everything_the_ui_shows(self, clients, world):
        body = _create(clients, world, ticket_url="https://tickets.example.com/PAY-1", duration_days=30)
        assert body["status"] == "draft"
        assert body["team"] == "payments" and body["requester"] == "payments-dev"
        assert body["identities"][0]["name"] == str(world.checkout)
        assert body["destinations"] == [
            {"host": "api.stripe.com", "port": 443, "protocol": "tls", "expanded_hosts": [], "tcp_direct": False}
        ]
        assert body["duration_days"] == 30 and body["clusters"] == [world.cluster.name]
        assert body["allowed_actions"] == {
            "edit": True,
            "submit": True,
            "cancel": True,
            "approve": False,
            "reject": False,
            "request_changes": False,
        }
        event = AuditEvent.objects.get(egress_request_id=body["id"])
        assert event.event_name == "request.created" and event.actor == world.dev

    def test_submit_true_submits_in_the_same_call(self, clients, world):
        body = _create(clients, world, submit=True)
        assert body["status"] == "submitted" and body["round"] == 1
        assert body["current_step"]["team"] == "payments"

    def test_hosts_are_normalised_by_the_shared_validator(self, clients, world):
        body = _create(clients, world, destinations=[{"host": "API.Stripe.COM.", "port": 443}])
        assert body["destinations"][0]["host"] == "api.stripe.com"

    def test_every_invalid_field_is_reported_at_once_and_nothing_is_written(self, clients, world):
        response = clients.dev.post(
            f"{API}/requests/",
            create_body(
                world,
                destinations=[{"host": "*", "port": 443}, {"host": "ok.example.com", "port": 80}],
                justification=" ",
                ticket_url="not a link",
            ),
            format="json",
        )
        assert_error(
            response,
            400,
            "validation_error",
            "destinations.0.host",
            "destinations.1.port",
            "justification",
            "ticket_url",
        )
        assert not EgressRequest.objects.exists()
        assert not AuditEvent.objects.filter(subject_type="egressrequest").exists()

    def test_type_errors_name_the_nested_field(self, clients, world):
        response = clients.dev.post(
            f"{API}/requests/", create_body(world, destinations=[{"host": "a.example.com", "port": "x"}]), format="json"
        )
        assert_error(response, 400, "validation_error", "destinations.0.port")

    def test_unknown_and_malformed_identities_name_their_position(self, clients, world):
        response = clients.dev.post(
            f"{API}/requests/",
            create_body(world, identities=[str(world.checkout), "nope/nope/nope", "just-a-name"]),
            format="json",
        )
        error = assert_error(response, 400, "validation_error", "identities.1", "identities.2")
        assert "workload-identities" in error["fields"]["identities.1"][0]

    def test_unknown_team(self, clients, world):
        assert_error(
            clients.dev.post(f"{API}/requests/", create_body(world, team="nope"), format="json"),
            400,
            "validation_error",
            "team",
        )

    def test_a_team_you_are_not_in_is_forbidden(self, clients, world):
        response = clients.searcher.post(f"{API}/requests/", create_body(world), format="json")
        assert_error(response, 403, "permission_denied")

    def test_identity_of_another_team(self, clients, world):
        response = clients.dev.post(
            f"{API}/requests/", create_body(world, identities=[str(world.indexer)]), format="json"
        )
        assert_error(response, 400, "validation_error", "identities")


class RequestUpdateTests:
    def test_patch_changes_only_the_given_fields(self, clients, world):
        created = _create(clients, world, duration_days=10)
        response = clients.dev.patch(
            f"{API}/requests/{created['id']}/", {"justification": "Refunds too."}, format="json"
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["justification"] == "Refunds too." and body["duration_days"] == 10
        assert body["destinations"][0]["host"] == "api.stripe.com"

    def test_put_replaces_the_draft(self, clients, world):
        created = _create(clients, world, duration_days=10)
        response = clients.dev.put(
            f"{API}/requests/{created['id']}/",
            create_body(world, identities=[str(world.refunds)], destinations=[{"host": "api.adyen.com", "port": 443}]),
            format="json",
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert [i["service_account"] for i in body["identities"]] == ["refunds"]
        assert body["destinations"][0]["host"] == "api.adyen.com"
        assert body["duration_days"] == 90  # the default, as on create

    def test_the_team_cannot_change(self, clients, world):
        created = _create(clients, world)
        response = clients.dev.patch(f"{API}/requests/{created['id']}/", {"team": "search"}, format="json")
        assert_error(response, 400, "validation_error", "team")

    def test_a_submitted_request_cannot_be_edited(self, clients, world):
        created = _create(clients, world, submit=True)
        response = clients.dev.patch(f"{API}/requests/{created['id']}/", {"justification": "x"}, format="json")
        assert_error(response, 409, "transition_not_allowed")

    def test_only_the_requester_edits(self, clients, world):
        created = _create(clients, world)
        response = clients.lead.patch(f"{API}/requests/{created['id']}/", {"justification": "x"}, format="json")
        assert_error(response, 403, "permission_denied")


class RequestTransitionTests:
    def test_submit_approve_creates_grants_and_marks_the_cluster(self, clients, world):
        created = _create(clients, world)
        submitted = clients.dev.post(f"{API}/requests/{created['id']}/submit/")
        assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
        approved = clients.lead.post(f"{API}/requests/{created['id']}/approve/", {"comment": "ok"}, format="json")
        assert approved.status_code == 200, approved.content
        body = approved.json()
        assert body["status"] == "approved" and len(body["grants"]) == 1
        grant = Grant.objects.get(pk=body["grants"][0])
        assert grant.status == GrantStatus.ACTIVE and grant.identity == world.checkout
        assert ClusterSyncState.objects.get(cluster=world.cluster).needs_reconcile

    def test_reject_needs_a_comment(self, clients, world):
        created = _create(clients, world, submit=True)
        assert_error(
            clients.lead.post(f"{API}/requests/{created['id']}/reject/", {"comment": ""}, format="json"),
            400,
            "validation_error",
            "comment",
        )
        response = clients.lead.post(f"{API}/requests/{created['id']}/reject/", {"comment": "No."}, format="json")
        assert response.status_code == 200 and response.json()["status"] == "rejected"
        assert response.json()["decision_reason"] == "No."

    def test_request_changes_then_edit_and_resubmit(self, clients, world):
        created = _create(clients, world, submit=True)
        url = f"{API}/requests/{created['id']}"
        sent_back = clients.lead.post(f"{url}/request-changes/", {"comment": "Add a ticket."}, format="json")
        assert sent_back.json()["status"] == "changes_requested"
        edited = clients.dev.patch(f"{url}/", {"ticket_url": "https://tickets.example.com/1"}, format="json")
        assert edited.status_code == 200
        resubmitted = clients.dev.post(f"{url}/submit/")
        assert resubmitted.json()["status"] == "submitted" and resubmitted.json()["round"] == 2
        decisions = clients.dev.get(f"{url}/").json()["decisions"]
        assert [d["decision"] for d in decisions] == ["request_changes"]

    def test_edit_and_resubmit_in_one_call(self, clients, world):
        created = _create(clients, world, submit=True)
        url = f"{API}/requests/{created['id']}/"
        clients.lead.post(f"{url}request-changes/", {"comment": "Add a ticket."}, format="json")
        body = {"ticket_url": "https://tickets.example.com/2", "submit": True}
        response = clients.dev.patch(url, body, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "submitted" and response.json()["round"] == 2

    def test_cancel_records_the_reason(self, clients, world):
        created = _create(clients, world, submit=True)
        response = clients.dev.post(f"{API}/requests/{created['id']}/cancel/", {"reason": "Not needed."}, format="json")
        assert response.json()["status"] == "cancelled"
        assert EgressRequest.objects.get(pk=created["id"]).decision_reason == "Not needed."

    @pytest.mark.parametrize(
        ("verb", "body"),
        [
            ("submit", {}),
            ("cancel", {}),
            ("approve", {}),
            ("reject", {"comment": "x"}),
            ("request-changes", {"comment": "x"}),
        ],
    )
    def test_illegal_transitions_are_409(self, clients, world, verb, body):
        created = _create(clients, world)
        clients.dev.post(f"{API}/requests/{created['id']}/cancel/")
        client = clients.dev if verb in {"submit", "cancel"} else clients.lead
        response = client.post(f"{API}/requests/{created['id']}/{verb}/", body, format="json")
        assert_error(response, 409, "transition_not_allowed")
        assert EgressRequest.objects.get(pk=created["id"]).status == RequestStatus.CANCELLED

    def test_nobody_approves_their_own_request(self, clients, world):
        created = _create(clients, world, submit=True)
        error = assert_error(clients.dev.post(f"{API}/requests/{created['id']}/approve/"), 403, "permission_denied")
        assert "own request" in error["message"]

    def test_invisible_requests_are_404_for_reads_and_writes(self, clients, world):
        created = _create(clients, world, submit=True)
        for call in (
            lambda: clients.searcher.get(f"{API}/requests/{created['id']}/"),
            lambda: clients.searcher.post(f"{API}/requests/{created['id']}/approve/"),
            lambda: clients.searcher.patch(f"{API}/requests/{created['id']}/", {}, format="json"),
        ):
            assert_error(call(), 404, "not_found")


class RequestListTests:
    def test_filters_are_the_shared_filterset(self, clients, world):
        _create(clients, world)
        _create(clients, world, submit=True, destinations=[{"host": "api.adyen.com", "port": 443}])
        body = clients.dev.get(f"{API}/requests/", {"status": "submitted"}).json()
        assert body["count"] == 1 and body["results"][0]["destinations"][0]["host"] == "api.adyen.com"
        assert clients.dev.get(f"{API}/requests/", {"host": "stripe"}).json()["count"] == 1
        assert clients.dev.get(f"{API}/requests/", {"team": "search"}).json()["count"] == 0

    def test_invalid_filter_values_are_400_per_field(self, clients, world):
        response = clients.dev.get(f"{API}/requests/", {"status": "nope", "submitted_after": "yesterday"})
        assert_error(response, 400, "validation_error", "status", "submitted_after")

    def test_pages_are_stable_and_bounded(self, clients, world):
        ids = [_create(clients, world)["id"] for _ in range(5)]
        first = clients.dev.get(f"{API}/requests/", {"page_size": 2}).json()
        second = clients.dev.get(f"{API}/requests/", {"page_size": 2, "page": 2}).json()
        assert first["count"] == 5 and first["next"]
        assert [r["id"] for r in first["results"] + second["results"]] == sorted(ids, reverse=True)[:4]
        assert_error(clients.dev.get(f"{API}/requests/", {"page": 99}), 404, "not_found")
