"""Property-based tests of the whole API against its own OpenAPI document (schemathesis): for every
operation, generated valid and schema-violating inputs never cause a 5xx, and every response
(status, content type, headers, body) conforms to the schema; once with a platform admin's token,
once without credentials.

Deterministic and bounded in time: derandomized Hypothesis, no example database, no shrinking, and
SCHEMATHESIS_MAX_EXAMPLES (default 10) examples per operation, generation mode and client."""

import json
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from policies.models import ApiToken
from policies.services.tokens import api_token_create
from tests.factories import GrantFactory
from tests.policies.api.conftest import API

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
BOUNDED = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)

# The document as the endpoint serves it (building it needs no database).
DOCUMENT = json.loads(Client().get(f"{API}/schema/", {"format": "json"}).content)
OPERATIONS = [
    (method.upper(), path)
    for path, item in sorted(DOCUMENT["paths"].items())
    for method in item
    if method in {"get", "post", "put", "patch", "delete"}
]


@pytest.fixture
def wsgi_app():
    """The real WSGI application, but leaving the test's database connection open between calls, as
    Django's own test client does (its transaction is the test's; PostgreSQL would see it closed)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api(db, world, settings, wsgi_app):
    settings.EGRESSUI_API_THROTTLE_RATE = "100000/min"
    settings.EGRESSUI_API_ANON_THROTTLE_RATE = "100000/min"
    GrantFactory(identity=world.checkout, host="api.stripe.com")  # so reads return real rows
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    schema.app = wsgi_app
    schema.config.generation.update(deterministic=True, with_security_parameters=False)
    return schema


class _AdminToken:
    """A platform admin's token that survives the fuzzer revoking it (POST tokens/{id}/revoke/)."""

    def __init__(self, user):
        self.user, self.token, self.secret = user, None, ""

    def headers(self) -> dict:
        if self.token is None or not ApiToken.objects.filter(pk=self.token.pk, revoked_at__isnull=True).exists():
            number = ApiToken.objects.count()
            self.token, self.secret = api_token_create(user=self.user, actor=None, name=f"schemathesis-{number}")
        return {"Authorization": f"Bearer {self.secret}"}


def _fuzz(operation, call) -> None:
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @BOUNDED
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            call(case)

        try:
            run()
        except Unsatisfiable:
            if mode == GenerationMode.POSITIVE:
                raise
            # Nothing to violate: the operation has no parameters or body.


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_authenticated_client(api, world, method, path):
    token = _AdminToken(world.admin)

    def call(case):
        response = case.call(headers=token.headers())
        case.validate_response(response, checks=CHECKS)

    _fuzz(api[path][method], call)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_unauthenticated_client(api, method, path):
    def call(case):
        response = case.call()
        case.validate_response(response, checks=CHECKS)
        assert response.status_code not in range(200, 300), f"{method} {path} answered without credentials"

    _fuzz(api[path][method], call)
