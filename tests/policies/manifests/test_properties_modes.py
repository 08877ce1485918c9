"""Properties every enforcement mode's renderer keeps, over the same random grant sets (hypothesis):
deterministic output, one object set per host, nothing rendered per grant, `exportTo` exactly the
granted namespaces, and every object valid against its CRDs."""

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.constants import ANNOTATION_GRANTS
from policies.manifests import dump_yaml, object_key
from policies.manifests.names import tcp_synthetic_host
from tests.policies.manifests.cases import NOW, WIKIPEDIA, render
from tests.policies.manifests.test_properties import SERVING, grant_sets

MODES = {
    "istio": {"wildcard_serving_hosts": WIKIPEDIA},
    # The serving host is ignored by ambient (waypoints serve wildcards only as DYNAMIC_DNS).
    "istio-ambient": {"mode": "istio-ambient", "istio_version": "1.30", "wildcard_serving_hosts": WIKIPEDIA},
}
PER_HOST = {"istio": 6, "istio-ambient": 3}  # most objects one host can have in the egress namespace
common = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
modes = pytest.mark.parametrize("mode", sorted(MODES))


def _render(grants, mode):
    return render(grants, **MODES[mode])


def _route_hosts(g, mode) -> set[str]:
    """The ServiceEntry hosts a grant is exported through, in `mode`."""
    if g.protocol == "tcp":
        if g.tcp_direct:
            return {tcp_synthetic_host(g.host, g.port, direct=True)} if mode == "istio" else set()
        return {tcp_synthetic_host(g.host, g.port)}
    if g.host.startswith("*."):
        if g.expanded_hosts:
            return set(g.expanded_hosts)
        if mode == "istio":
            return {g.host} if g.host in SERVING else set()
        return {g.host}  # DYNAMIC_DNS: every protocol of the fixture is served on 1.30
    return {g.host}


def _reported(g, host) -> str:
    return g.host if g.protocol == "tcp" or (g.host.startswith("*.") and not g.expanded_hosts) else host


@modes
@common
@given(grants=grant_sets())
def test_deterministic_and_independent_of_input_order(mode, grants):
    first = dump_yaml(_render(grants, mode).objects)
    assert dump_yaml(_render(list(reversed(grants)), mode).objects) == first


@modes
@common
@given(grants=grant_sets())
def test_one_object_set_per_host(mode, grants):
    result = _render(grants, mode)
    assert max(Counter(object_key(obj) for obj in result.objects).values(), default=1) == 1
    hosts = Counter(h for obj in result.objects if obj["kind"] == "ServiceEntry" for h in obj["spec"]["hosts"])
    assert max(hosts.values(), default=1) == 1
    in_egress = [obj for obj in result.objects if obj["metadata"]["namespace"] == "istio-egress"]
    assert len(in_egress) <= PER_HOST[mode] * len(hosts) + 4  # + cluster-wide objects


@modes
@common
@given(grants=grant_sets(), data=st.data())
def test_nothing_rendered_per_grant(mode, grants, data):
    """Another service account of a namespace granted the same destination changes no object but its
    hosts' policy (a principal) and annotations: the object set stays the same."""
    g = data.draw(st.sampled_from(grants))
    twin = type(g)(**{**{f: getattr(g, f) for f in g.__slots__}, "id": 1000, "service_account": "twin"})
    before = {object_key(obj) for obj in _render(grants, mode).objects}
    assert {object_key(obj) for obj in _render([*grants, twin], mode).objects} == before


@modes
@common
@given(grants=grant_sets())
def test_export_to_is_exactly_the_granted_namespaces(mode, grants):
    result = _render(grants, mode)
    unrendered = {(item.grant_id, item.host) for item in result.unrenderable}
    expected: dict[str, set[str]] = {}
    for g in grants:
        if not g.is_effective(NOW):
            continue
        for host in _route_hosts(g, mode):
            if (g.id, _reported(g, host)) not in unrendered:
                expected.setdefault(host, set()).add(g.namespace)
    actual = {
        obj["spec"]["hosts"][0]: set(obj["spec"]["exportTo"]) - {"."}
        for obj in result.objects
        if obj["kind"] == "ServiceEntry"
    }
    assert {host: namespaces for host, namespaces in actual.items() if namespaces} == expected


@modes
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(grants=grant_sets())
def test_every_object_validates(mode, grants, validator):
    result = _render(grants, mode)
    validator.assert_valid(result.objects)
    served = {label for obj in result.objects for label in obj["metadata"]["annotations"][ANNOTATION_GRANTS].split(",")}
    assert not served & {str(g.id) for g in grants if not g.is_effective(NOW)}
