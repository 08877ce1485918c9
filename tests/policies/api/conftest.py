import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from policies.services.tokens import api_token_create

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_throttle_state():
    """Throttle counters live in the cache; every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def token_client(user, *, read_only: bool = False, name: str = "tests") -> APIClient:
    _, secret = api_token_create(user=user, actor=user, name=name, read_only=read_only)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.user = user
    return client


class Clients:
    """One bearer-token client per persona of the `world` fixture, created on first use."""

    def __init__(self, world):
        self._world = world
        self._clients = {}

    def __getattr__(self, persona):
        if persona.startswith("_"):
            raise AttributeError(persona)
        if persona not in self._clients:
            self._clients[persona] = token_client(getattr(self._world, persona))
        return self._clients[persona]


@pytest.fixture
def clients(world) -> Clients:
    return Clients(world)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def create_body(world, **overrides) -> dict:
    body = {
        "team": "payments",
        "identities": [str(world.checkout)],
        "destinations": [{"host": "api.stripe.com", "port": 443}],
        "justification": "Card payments.",
    }
    body.update(overrides)
    return body


def assert_error(response, status: int, code: str, *fields: str) -> dict:
    """The one error shape, with the expected status, code and (exactly) the given field paths."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code, error
    assert error["message"]
    if fields:
        assert set(error["fields"]) == set(fields), error["fields"]
    return error
