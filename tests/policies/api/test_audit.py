"""audit-events/ (JSON pages and CSV export) and audit-events/verify/."""

import csv
import io

import pytest
from django.db import connection

from policies.models import AuditEvent
from policies.services.audit import audit_event_record
from tests.policies.api.conftest import API, assert_error, create_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(clients, world):
    created = clients.dev.post(f"{API}/requests/", create_body(world, submit=True), format="json").json()
    clients.lead.post(f"{API}/requests/{created['id']}/reject/", {"comment": '=HYPERLINK("x")'}, format="json")
    search = clients.searcher.post(
        f"{API}/requests/", create_body(world, team="search", identities=[str(world.indexer)]), format="json"
    ).json()
    return created["id"], search["id"]


def _csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


class AuditListTests:
    def test_members_see_the_events_of_requests_they_can_see(self, clients, history):
        mine, theirs = history
        requests = {e["request"] for e in clients.dev.get(f"{API}/audit-events/").json()["results"]}
        assert requests == {mine}
        assert {e["request"] for e in clients.admin.get(f"{API}/audit-events/").json()["results"]} >= {mine, theirs}

    def test_filters_by_actor_type_subject_and_time(self, clients, history):
        mine, _ = history
        by_type = clients.admin.get(f"{API}/audit-events/", {"event_type": "request.rejected"}).json()
        assert [(e["event_type"], e["actor"], e["request"]) for e in by_type["results"]] == [
            ("request.rejected", "payments-lead", mine)
        ]
        by_actor = clients.admin.get(f"{API}/audit-events/", {"actor": "search-dev"}).json()["results"]
        assert {e["event_type"] for e in by_actor} >= {"request.created"}
        assert clients.admin.get(f"{API}/audit-events/", {"subject": f"request #{mine}"}).json()["count"] >= 3
        latest = by_type["results"][0]["occurred_at"]
        later = clients.admin.get(f"{API}/audit-events/", {"occurred_after": latest, "event_type": "request.created"})
        assert later.json()["count"] == 1  # only search-dev's request came after the rejection

    def test_events_are_newest_first_and_chained(self, clients, history):
        events = clients.admin.get(f"{API}/audit-events/", {"page_size": 500}).json()["results"]
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs, reverse=True)
        assert all(newer["prev_hash"] == older["hash"] for newer, older in zip(events, events[1:], strict=False))


class AuditCsvTests:
    def test_csv_exports_every_matching_event_not_just_a_page(self, clients, history):
        response = clients.admin.get(f"{API}/audit-events/", {"format": "csv", "page_size": 1})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        rows = _csv(response)
        assert len(rows) == AuditEvent.objects.count() > 1
        assert rows[0]["seq"] == str(AuditEvent.objects.order_by("-seq").first().seq)

    def test_csv_applies_visibility_and_filters(self, clients, history):
        mine, _ = history
        rows = _csv(clients.dev.get(f"{API}/audit-events/", {"format": "csv", "event_type": "request.created"}))
        assert [(r["event_type"], r["request"]) for r in rows] == [("request.created", str(mine))]

    def test_formulas_are_neutralised(self, clients, history):
        rows = _csv(clients.admin.get(f"{API}/audit-events/", {"format": "csv", "event_type": "request.rejected"}))
        assert rows[0]["message"] == '\'=HYPERLINK("x")'

    def test_csv_errors_are_json(self, clients, anon):
        response = anon.get(f"{API}/audit-events/", {"format": "csv"})
        assert_error(response, 401, "not_authenticated")
        assert_error(
            clients.admin.get(f"{API}/audit-events/", {"format": "csv", "occurred_after": "x"}),
            400,
            "validation_error",
            "occurred_after",
        )


class AuditVerifyTests:
    def test_an_intact_chain_verifies(self, clients, history):
        body = clients.admin.get(f"{API}/audit-events/verify/").json()
        assert body["ok"] is True and body["count"] == AuditEvent.objects.count() and body["first_broken_seq"] is None

    def test_tampering_is_reported_with_the_first_broken_event(self, clients, history):
        victim = AuditEvent.objects.order_by("seq")[2]
        with connection.cursor() as cursor:  # behind the application's back, as an attacker would
            cursor.execute("UPDATE policies_auditevent SET message = %s WHERE seq = %s", ["edited", victim.seq])
        body = clients.admin.get(f"{API}/audit-events/verify/").json()
        assert body["ok"] is False and body["first_broken_seq"] == victim.seq and "altered" in body["reason"]

    def test_only_platform_admins_verify(self, clients, world):
        audit_event_record(event_type=900, subject=("system", "", "keys"))
        assert_error(clients.lead.get(f"{API}/audit-events/verify/"), 403, "permission_denied")
