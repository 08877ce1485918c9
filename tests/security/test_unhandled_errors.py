"""Findings 5 and 6: no request ties up a worker, and bad input never becomes a 500.

Formsets are capped before anything loops over their row count; each input that used to raise
(deep JSON, non-integer row counts, NUL bytes, a `next` that is not a path, OPTIONS with a
non-JSON format) answers 4xx in the usual shape; and a bounded fuzz of the HTML forms finds no 5xx.
"""

import signal
from contextlib import contextmanager

import pytest
from django.http import QueryDict
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.constants import MAX_DESTINATIONS_PER_REQUEST
from policies.services.requests import egress_request_create
from policies.views.pages.requests import _with_extra_row, _without_row
from tests.factories import GrantFactory

pytestmark = pytest.mark.django_db


@contextmanager
def at_most(seconds: int):
    """Turn a runaway loop into a failure instead of a hung test (SIGALRM, main thread)."""

    def expire(*_):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _form(total: str, action: str) -> dict:
    return {
        "dest-TOTAL_FORMS": total,
        "dest-INITIAL_FORMS": "0",
        "dest-0-host": "api.stripe.com",
        "dest-0-port": "443",
        "dest-0-protocol": "tls",
        "action": action,
    }


class FormsetCapTests:
    @pytest.mark.parametrize("action", ["remove-0", "add", "refresh"])
    def test_a_huge_row_count_is_capped_before_anything_loops(self, world, action):
        with at_most(10):
            response = _client(world.dev).post("/requests/new/", _form("9" * 26, action))
        assert response.status_code == 200
        assert response.context["formset"].total_form_count() <= MAX_DESTINATIONS_PER_REQUEST

    def test_the_row_helpers_never_go_past_the_cap(self):
        data = QueryDict(mutable=True)
        data.update({"dest-TOTAL_FORMS": str(10**30), "dest-0-host": "a.example.com"})
        with at_most(5):
            assert int(_without_row(data, 0)["dest-TOTAL_FORMS"]) <= MAX_DESTINATIONS_PER_REQUEST
            assert int(_with_extra_row(data)["dest-TOTAL_FORMS"]) <= MAX_DESTINATIONS_PER_REQUEST


class FourHundredsTests:
    @pytest.mark.parametrize("action", ["add", "remove-0"])
    @pytest.mark.parametrize("total", ["abc", "", "-5", "1e3", "\u0661"])
    def test_a_row_count_that_is_not_a_number(self, world, action, total):
        response = _client(world.dev).post("/requests/new/", _form(total, action))
        assert response.status_code in (200, 400)

    @pytest.mark.parametrize(
        "query", ["team=%00", "host=%00", "identity=%00", "team=payments&port=%00", "protocol=%00%00"]
    )
    def test_nul_bytes_in_the_query(self, world, query):
        response = _client(world.dev).get(f"/requests/new/?{query}")
        assert response.status_code == 400 and "Null characters are not allowed" in response.content.decode()

    @pytest.mark.parametrize("next_", ["abc", "request_list", "javascript:alert(1)", "//evil.example.com/", ""])
    def test_decide_with_a_next_that_is_not_a_path(self, world, next_):
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        response = _client(world.lead).post(
            f"/requests/{request.pk}/decide/", {"decision": "approve", "comment": "ok", "next": next_}
        )
        assert response.status_code == 302 and response["Location"] == f"/requests/{request.pk}/"

    @pytest.mark.parametrize(
        "fields",
        [
            {"cluster": "abc", "namespace": "payments", "service_account": "checkout"},
            {"cluster": "9" * 30, "namespace": "payments", "service_account": "checkout"},
            {"cluster": "{cluster}", "namespace": "pay\x00ments", "service_account": "checkout"},
            {"cluster": "{cluster}", "namespace": "payments", "service_account": "check\x00out"},
        ],
    )
    def test_denied_attempt_request_with_bad_fields(self, world, fields):
        data = {key: value.format(cluster=world.cluster.pk) for key, value in fields.items()}
        response = _client(world.dev).post("/denied-attempts/request/", {**data, "host": "api.stripe.com"})
        assert response.status_code in (400, 404)

    def test_deeply_nested_json(self, world):
        response = _client(world.dev).post("/api/v1/requests/", "[" * 100_000, content_type="application/json")
        assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"
        nested = '{"a":' * 40 + "1" + "}" * 40
        response = _client(world.dev).post("/api/v1/requests/", nested, content_type="application/json")
        assert response.status_code == 400 and "nested more than 32 levels" in response.json()["error"]["message"]

    def test_big_integers_still_reach_the_serializer(self, world):
        body = (
            '{"team": "payments", "identities": [1], "destinations": [{"host": "a.example.com", "port": 1'
            + "0" * 30
            + "}]}"
        )
        response = _client(world.dev).post("/api/v1/requests/", body, content_type="application/json")
        assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"

    @pytest.mark.parametrize(
        "url", ["/api/v1/audit-events/?format=csv", "/api/v1/clusters/{cluster}/manifests/?format=yaml"]
    )
    def test_options_with_a_non_json_format(self, world, url):
        response = _client(world.admin).options(url.format(cluster=world.cluster.pk))
        assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
        assert "name" in response.json()


# --- a bounded fuzz of the HTML forms ----------------------------------------------------------------

_NASTY = st.sampled_from(
    ["", "0", "-1", "abc", "9" * 30, "1e9", "\x00", "a\x00b", "%00", "<script>", "' OR 1=1 --", "..", "/", "//x",
     "remove-0", "remove-99", "add", "refresh", "preview", "draft", "submit", "approve", "reject", "\ud7ff", "🙂" * 50]
)  # fmt: skip
_VALUE = st.one_of(_NASTY, st.text(max_size=40), st.integers().map(str))
_ROWS = ["dest-TOTAL_FORMS", "dest-INITIAL_FORMS", "dest-0-host", "dest-0-port", "dest-0-protocol", "dest-1-host"]
_REQUEST = ["team", "identities", "justification", "ticket_url", "duration_days", "action", *_ROWS]
_LISTING = ["page", "per_page", "status", "event_type", "q", "team", "cluster", "host", "days", "request"]
# (method, path, the fields its form or filters read): each endpoint is fuzzed on its own fields, so
# combinations such as an action with a broken row count come up within a few dozen examples.
_FORMS = [
    ("post", "/requests/new/", _REQUEST),
    ("post", "/requests/check/", [*_REQUEST, "instance"]),
    ("post", "/requests/{request}/edit/", _REQUEST),
    ("post", "/requests/{request}/decide/", ["decision", "comment", "next"]),
    ("post", "/requests/{request}/comment/", ["body", "next"]),
    ("post", "/requests/{request}/cancel/", ["reason", "next"]),
    ("post", "/requests/{request}/submit/", ["next"]),
    ("post", "/approvals/bulk/", ["request_ids", "comment", "decision"]),
    ("post", "/grants/{grant}/revoke/", ["reason", "next"]),
    ("post", "/grants/{grant}/renew/", ["next"]),
    ("post", "/grants/break-glass/", [*_REQUEST, "reason", "hours"]),
    ("post", "/denied-attempts/request/", ["cluster", "namespace", "service_account", "host", "port", "protocol"]),
    ("post", "/clusters/{cluster}/reconcile/", ["next"]),
    ("get", "/requests/new/", ["team", "identity", "host", "port", "protocol"]),
    ("get", "/requests/", _LISTING),
    ("get", "/grants/", _LISTING),
    ("get", "/grants/unused/", _LISTING),
    ("get", "/approvals/", _LISTING),
    ("get", "/audit/", [*_LISTING, "actor", "subject", "occurred_after", "occurred_before"]),
    ("get", "/audit/export.csv", [*_LISTING, "actor", "occurred_after"]),
    ("get", "/denied-attempts/", _LISTING),
]
_ACTIONS = ["add", "remove-0", "remove-7", "remove-", "refresh", "preview", "draft", "submit"]


@pytest.fixture
def targets(world):
    request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
    return {"request": request.pk, "grant": GrantFactory(identity=world.checkout).pk, "cluster": world.cluster.pk}


@st.composite
def _form_data(draw, fields: list[str]) -> dict:
    chosen = draw(st.lists(st.sampled_from(fields), unique=True, max_size=len(fields)))
    data = {field: draw(st.one_of(_VALUE, st.lists(_VALUE, max_size=3))) for field in chosen}
    if "action" in fields and draw(st.booleans()):
        data["action"] = draw(st.sampled_from(_ACTIONS))
    return data


class HtmlFormFuzzTests:
    @pytest.mark.parametrize(("method", "url", "fields"), _FORMS, ids=[f"{m} {u}" for m, u, _ in _FORMS])
    def test_no_form_answers_5xx(self, world, targets, method, url, fields):
        clients = {who: _client(getattr(world, who)) for who in ("dev", "lead", "admin")}
        path = url.format(**targets)

        @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(who=st.sampled_from(sorted(clients)), data=_form_data(fields), htmx=st.booleans())
        def no_5xx(who, data, htmx):
            headers = {"HX-Request": "true"} if htmx else {}
            with at_most(20):
                response = getattr(clients[who], method)(path, data, headers=headers)
            assert response.status_code < 500, (method, path, who, data)

        no_5xx()
