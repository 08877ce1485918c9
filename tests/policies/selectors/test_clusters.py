"""The cluster names every cluster filter and command hint lists."""

import pytest

from policies.selectors.clusters import cluster_names
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


def test_cluster_names_are_sorted_by_name_not_by_creation():
    for name in ("prod-us", "dev", "prod-eu"):
        ClusterFactory(name=name)
    assert cluster_names() == ["dev", "prod-eu", "prod-us"]
