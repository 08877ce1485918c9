"""One error shape for every failure, and no 500 for bad input."""

import pytest

from tests.policies.api.conftest import API, assert_error, create_body

pytestmark = pytest.mark.django_db


class ErrorShapeTests:
    def test_malformed_json_is_a_400(self, clients):
        response = clients.dev.post(f"{API}/requests/", "{not json", content_type="application/json")
        assert_error(response, 400, "parse_error")

    def test_a_body_that_is_not_an_object_is_a_400(self, clients):
        response = clients.dev.post(f"{API}/requests/", "[1, 2]", content_type="application/json")
        assert_error(response, 400, "validation_error", "non_field_errors")

    def test_wrong_types_everywhere_are_400s_naming_the_fields(self, clients):
        body = {"team": ["x"], "identities": "a", "destinations": {"host": 1}, "justification": 5, "submit": "maybe"}
        response = clients.dev.post(f"{API}/requests/", body, format="json")
        assert_error(response, 400, "validation_error", "team", "identities", "destinations", "submit")

    def test_form_bodies_are_415(self, clients):
        response = clients.dev.post(
            f"{API}/requests/", "team=payments", content_type="application/x-www-form-urlencoded"
        )
        assert_error(response, 415, "unsupported_media_type")

    def test_unsupported_methods_are_405(self, clients):
        assert_error(clients.dev.delete(f"{API}/requests/"), 405, "method_not_allowed")

    def test_unknown_formats_are_404_and_unacceptable_accept_headers_406(self, clients):
        assert_error(clients.dev.get(f"{API}/requests/", {"format": "yaml"}), 404, "not_found")
        assert_error(clients.dev.get(f"{API}/requests/", HTTP_ACCEPT="text/html"), 406, "not_acceptable")

    def test_unknown_paths_under_the_api_answer_in_the_shape(self, clients, anon):
        error = assert_error(anon.get(f"{API}/nothing-here/"), 404, "not_found")
        assert "/api/v1/docs/" in error["message"]
        assert "end with a slash" in assert_error(clients.dev.get(f"{API}/requests"), 404, "not_found")["message"]

    def test_missing_ids_are_404(self, clients):
        for url in ("requests/999/", "grants/999/", "clusters/999/", "teams/999/", "workload-identities/999/"):
            assert_error(clients.admin.get(f"{API}/{url}"), 404, "not_found")

    def test_a_service_conflict_is_409(self, clients, world):
        created = clients.dev.post(f"{API}/requests/", create_body(world), format="json").json()
        clients.dev.post(f"{API}/requests/{created['id']}/cancel/")
        error = assert_error(clients.dev.post(f"{API}/requests/{created['id']}/cancel/"), 409, "transition_not_allowed")
        assert "cancelled" in error["message"]

    def test_huge_numbers_and_odd_strings_do_not_crash(self, clients, world):
        body = create_body(world, duration_days=10**30, destinations=[{"host": "\x00\ud7ff", "port": 2**70}])
        assert_error(clients.dev.post(f"{API}/requests/", body, format="json"), 400, "validation_error")
        assert_error(clients.dev.get(f"{API}/requests/", {"page_size": "x", "page": "-1"}), 404, "not_found")


class ThrottleTests:
    @pytest.fixture(autouse=True)
    def _low_rates(self, settings):
        settings.EGRESSUI_API_THROTTLE_RATE = "3/min"
        settings.EGRESSUI_API_ANON_THROTTLE_RATE = "2/min"

    def test_each_token_has_its_own_budget_and_429_says_when_to_retry(self, clients):
        for _ in range(3):
            assert clients.dev.get(f"{API}/tokens/").status_code == 200
        throttled = clients.dev.get(f"{API}/tokens/")
        error = assert_error(throttled, 429, "throttled")
        assert int(throttled["Retry-After"]) > 0 and "throttled" in error["message"].lower()
        assert clients.lead.get(f"{API}/tokens/").status_code == 200

    def test_anonymous_callers_are_limited_per_address(self, anon):
        for _ in range(2):
            assert anon.get(f"{API}/schema/").status_code == 200
        assert anon.get(f"{API}/schema/").status_code == 429


class DateTimeFilterTests:
    def test_offsets_are_converted_to_utc_and_out_of_range_dates_are_400(self, clients):
        url = f"{API}/audit-events/"
        assert clients.admin.get(url, {"occurred_after": "2026-01-01T00:00:00+16:23"}).status_code == 200
        assert clients.admin.get(url, {"occurred_after": "2026-01-01T00:00:00"}).status_code == 200  # naive: UTC
        for value in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "2026-02-30T00:00:00Z"):
            assert_error(clients.admin.get(url, {"occurred_before": value}), 400, "validation_error", "occurred_before")


class NullCharacterTests:
    def test_null_characters_are_400_not_database_errors(self, clients, world):
        assert_error(clients.admin.get(f"{API}/grants/", {"host": "a\x00b"}), 400, "validation_error", "host")
        response = clients.admin.patch(
            f"{API}/clusters/{world.cluster.pk}/", {"gateway_selector": {"istio": "a\x00"}}, format="json"
        )
        assert_error(response, 400, "validation_error", "gateway_selector")
        body = create_body(world, justification="a\x00b")
        assert_error(
            clients.dev.post(f"{API}/requests/", body, format="json"), 400, "validation_error", "justification"
        )
