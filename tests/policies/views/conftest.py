import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The approvals badge is cached per user id; ids repeat from one test database to the next."""
    cache.clear()
    yield
    cache.clear()
