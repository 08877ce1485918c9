import pytest

from tests.support.manifest_validation import default_validator


@pytest.fixture(scope="session")
def validator():
    return default_validator()
