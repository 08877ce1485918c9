"""REST conventions every write endpoint keeps: unknown fields are a 400 naming them (never ignored),
a 201 says where the new resource lives, and the schema says request bodies are closed."""

import json

import pytest

from policies.models import ApiToken, Namespace
from tests.policies.api.conftest import API, assert_error
from tests.policies.api.test_schema import RAW_BODY_POSTS
from tests.policies.permission_matrix import matrix_world

pytestmark = pytest.mark.django_db
UNKNOWN = "durationDays"


def _write_operations(client) -> list[tuple[str, str]]:
    document = json.loads(client.get(f"{API}/schema/", {"format": "json"}).content)
    return [
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("post", "put", "patch") and path not in RAW_BODY_POSTS
    ]


def _concrete(path: str, ids: dict[str, int]) -> str:
    for prefix, pk in ids.items():
        if path.startswith(f"{API}/{prefix}/{{id}}/"):
            return path.replace("{id}", str(pk))
    assert "{id}" not in path, f"no object for {path}: add one to the ids below"
    return path


class UnknownFieldTests:
    def test_every_write_endpoint_names_an_unknown_field(self, clients, world):
        request, grant = matrix_world(world)
        operations = _write_operations(clients.admin)
        token = ApiToken.objects.filter(user=world.admin).first()  # the admin client's own
        ids = {
            "requests": request.pk,
            "grants": grant.pk,
            "teams": world.payments.pk,
            "clusters": world.cluster.pk,
            "namespaces": Namespace.objects.get(name="payments").pk,
            "tokens": token.pk,
        }
        assert len(operations) >= 20
        for method, path in operations:
            url = _concrete(path, ids)
            response = getattr(clients.admin, method)(url, {UNKNOWN: 5}, format="json")
            error = assert_error(response, 400, "validation_error")
            assert UNKNOWN in error["fields"], (method, path, error)
            assert UNKNOWN in error["message"], (method, path, error)

    def test_a_typo_in_a_request_makes_no_draft(self, clients, world):
        body = {
            "team": "payments",
            "identities": [str(world.checkout)],
            "destinations": [{"host": "api.stripe.com", "port": 443, "protocl": "tls"}],
            "justification": "Card payments.",
            UNKNOWN: 5,
        }
        error = assert_error(clients.dev.post(f"{API}/requests/", body, format="json"), 400, "validation_error")
        assert UNKNOWN in error["fields"] and "accepted fields" in error["fields"][UNKNOWN][0]
        assert "duration_days" in error["fields"][UNKNOWN][0]
        del body[UNKNOWN]
        nested = assert_error(clients.dev.post(f"{API}/requests/", body, format="json"), 400, "validation_error")
        assert "destinations.0.protocl" in nested["fields"]
        assert not world.payments.requests.exists()

    def test_request_bodies_are_closed_in_the_schema(self, anon):
        schemas = json.loads(anon.get(f"{API}/schema/", {"format": "json"}).content)["components"]["schemas"]
        for name in ("RequestCreateRequest", "DestinationInputRequest", "CommentRequest", "TokenCreateRequest"):
            assert schemas[name]["additionalProperties"] is False, name


class LocationTests:
    def test_created_resources_say_where_they_live(self, clients, world):
        _, grant = matrix_world(world)
        body = {
            "team": "payments",
            "identities": [str(world.checkout)],
            "destinations": [{"host": "api.stripe.com", "port": 443}],
            "justification": "Card payments.",
        }
        created = {
            "request": clients.dev.post(f"{API}/requests/", body, format="json"),
            "renewal": clients.admin.post(f"{API}/grants/{grant.pk}/renew/", {}, format="json"),
            "token": clients.dev.post(f"{API}/tokens/", {"name": "ci"}, format="json"),
            "team": clients.admin.post(f"{API}/teams/", {"slug": "billing", "name": "Billing"}, format="json"),
            "cluster": clients.admin.post(
                f"{API}/clusters/",
                {"name": "prod-us", "connection_kind": "token", "api_url": "https://k.example.com", "token": "t"},
                format="json",
            ),
            "identity": clients.dev.post(
                f"{API}/workload-identities/",
                {"cluster": world.cluster.name, "namespace": "payments", "service_account": "ledger"},
                format="json",
            ),
        }
        for what, response in created.items():
            assert response.status_code == 201, (what, response.content)
            location = response["Location"]
            assert location.startswith("http://testserver/api/v1/"), (what, location)
            followed = (clients.admin if what in ("team", "cluster", "renewal") else clients.dev).get(location)
            assert followed.status_code == 200, (what, location)
            assert followed.json()["id"] == response.json()["id"], what


class DefaultPortTests:
    def test_the_api_and_the_form_both_default_to_443(self, clients, world):
        from policies.forms import DestinationForm

        body = {
            "team": "payments",
            "identities": [str(world.checkout)],
            "destinations": [{"host": "api.stripe.com"}],
            "justification": "Card payments.",
        }
        response = clients.dev.post(f"{API}/requests/", body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["destinations"][0]["port"] == 443
        form = DestinationForm(data={"host": "api.stripe.com", "port": "", "protocol": "tls"})
        assert form.is_valid(), form.errors
        assert form.to_input().port == 443
        assert DestinationForm().fields["port"].initial == "443"


def _list_operations(client) -> tuple[list[str], dict]:
    document = json.loads(client.get(f"{API}/schema/", {"format": "json"}).content)
    return [
        path
        for path, item in document["paths"].items()
        if "get" in item and any(p["name"] == "page" for p in item["get"].get("parameters", []))
    ], document


class OrderingTests:
    def test_every_list_documents_its_fields_and_refuses_unknown_ones(self, clients, world):
        paths, document = _list_operations(clients.admin)
        assert len(paths) >= 10
        for path in paths:
            parameters = {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}
            assert "ordering" in parameters, path
            error = assert_error(clients.admin.get(path, {"ordering": "-colour"}), 400, "validation_error", "ordering")
            assert "'-colour'" in error["message"], path
            first = parameters["ordering"]["schema"]["example"]
            assert clients.admin.get(path, {"ordering": first}).status_code == 200, (path, first)

    def test_grants_ordered_both_ways_with_a_stable_tie_breaker(self, clients, world):
        from datetime import timedelta

        from django.utils import timezone

        from tests.factories import GrantFactory

        soon, late = timezone.now() + timedelta(days=2), timezone.now() + timedelta(days=40)
        grants = [GrantFactory(identity=world.checkout, host=f"h{i}.example.com", expires_at=late) for i in range(3)]
        grants.append(GrantFactory(identity=world.checkout, host="soon.example.com", expires_at=soon))
        ascending = [
            g["host"] for g in clients.lead.get(f"{API}/grants/", {"ordering": "expires_at"}).json()["results"]
        ]
        descending = clients.lead.get(f"{API}/grants/", {"ordering": "-expires_at,host"}).json()["results"]
        assert ascending[0] == "soon.example.com"
        assert [g["host"] for g in descending] == [
            "h0.example.com",
            "h1.example.com",
            "h2.example.com",
            "soon.example.com",
        ]


class ReferenceTests:
    """docs/api.md, References: teams by slug, clusters by name, identities by cluster/namespace/sa,
    users by username, everything else by id. Audit events keep their recorded ids."""

    BY_NAME = {"team", "cluster", "identity", "requester", "ended_by", "user"}
    BY_ID = {"request", "grant", "renewal_of", "run_id"}

    def test_every_reference_in_the_schema_follows_the_convention(self, anon):
        schemas = json.loads(anon.get(f"{API}/schema/", {"format": "json"}).content)["components"]["schemas"]
        checked = 0
        for name, schema in schemas.items():
            if name.startswith("AuditEvent"):
                continue
            for field, prop in (schema.get("properties") or {}).items():
                kind = prop.get("type")
                if field in self.BY_NAME and kind is not None:
                    assert kind == "string", (name, field, prop)
                    checked += 1
                elif field in self.BY_ID and kind is not None:
                    assert kind == "integer", (name, field, prop)
                    checked += 1
        assert checked >= 20
