"""Properties over random grant sets (hypothesis)."""

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from policies.constants import ANNOTATION_GRANTS
from policies.manifests import dump_yaml, object_key
from policies.manifests.names import host_object_name, tcp_synthetic_host
from tests.policies.manifests.cases import NOW, WIKIPEDIA, grant, render

NAMESPACES = ["a", "b", "c", "d"]
ACCOUNTS = ["x", "y"]
# (host, protocol, port, expanded hosts); tcp entries may also be drawn as direct exceptions.
DESTINATIONS = [
    ("api.example.com", "tls", 443, ()),
    ("api.example.com", "tls", 8443, ()),
    ("api.example.com", "http-originate", 443, ()),
    ("b.example.com", "tls", 443, ()),
    ("b.example.com", "http", 80, ()),
    ("b.example.com", "http", 8080, ()),
    ("www.wikipedia.org", "tls", 443, ()),
    ("www.wikipedia.org", "http", 443, ()),
    ("*.wikipedia.org", "tls", 443, ()),
    ("*.wikipedia.org", "http-originate", 443, ()),
    ("*.example.org", "tls", 443, ("a.example.org", "b.example.org")),
    ("*.nothing.org", "tls", 443, ()),
    ("203.0.113.5", "tcp", 5432, ()),
    ("198.51.100.0/30", "tcp", 5432, ()),
    ("198.51.100.0/30", "tcp", 22, ()),
]
SERVING = dict(WIKIPEDIA)


@st.composite
def grant_sets(draw):
    count = draw(st.integers(min_value=1, max_value=14))
    grants = []
    for grant_id in range(1, count + 1):
        host, protocol, port, expanded = draw(st.sampled_from(DESTINATIONS))
        state = draw(st.sampled_from(["active"] * 6 + ["revoked", "expired", "ended", "future"]))
        extra = {"expanded_hosts": expanded}
        if protocol == "tcp":
            extra["tcp_direct"] = draw(st.booleans())
        if state in ("revoked", "expired"):
            extra["status"] = state
        elif state == "ended":
            extra["expires_at"] = NOW - timedelta(minutes=1)
        elif state == "future":
            extra["valid_from"] = NOW + timedelta(minutes=1)
        namespace, account = draw(st.sampled_from(NAMESPACES)), draw(st.sampled_from(ACCOUNTS))
        grants.append(grant(grant_id, namespace, account, host, port, protocol, **extra))
    return draw(st.permutations(grants))


def _render(grants):
    return render(grants, wildcard_serving_hosts=WIKIPEDIA)


def _effective(grants):
    return [g for g in grants if g.is_effective(NOW)]


def _route_hosts(g) -> set[str]:
    """Hosts whose gateway objects (VirtualService, AuthorizationPolicy…) a grant is served by."""
    if g.protocol == "tcp":
        return set() if g.tcp_direct else {tcp_synthetic_host(g.host, g.port)}
    if g.host in SERVING:
        return {g.host}
    return set(g.expanded_hosts) if g.host.startswith("*.") else {g.host}


def _all_hosts(g) -> set[str]:
    hosts = set(_route_hosts(g))
    if g.protocol == "tcp" and g.tcp_direct:
        hosts.add(tcp_synthetic_host(g.host, g.port, direct=True))
    if g.host in SERVING:
        hosts.add(SERVING[g.host])
    return hosts


def _host_objects(host: str) -> set[tuple[str, str, str]]:
    egress = "istio-egress"
    keys = {(kind, egress, host_object_name(host)) for kind in ("ServiceEntry", "Gateway", "VirtualService")}
    keys.add(("AuthorizationPolicy", egress, host_object_name(host)))
    keys.add(("DestinationRule", egress, host_object_name(host, "egressgw-")))
    keys.add(("DestinationRule", egress, host_object_name(host, "originate-")))
    return keys


def _unrendered(result) -> set[tuple[int, str]]:
    return {(item.grant_id, item.host) for item in result.unrenderable}


common = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(grant_sets())
def test_deterministic_and_independent_of_input_order(grants):
    first = dump_yaml(_render(grants).objects)
    assert dump_yaml(_render(list(reversed(grants))).objects) == first
    assert dump_yaml(_render(sorted(grants, key=lambda g: g.host)).objects) == first


@common
@given(grant_sets())
def test_no_duplicate_objects_and_one_virtual_service_per_host(grants):
    result = _render(grants)
    keys = Counter(object_key(obj) for obj in result.objects)
    assert max(keys.values()) == 1
    hosts = Counter(h for obj in result.objects if obj["kind"] == "VirtualService" for h in obj["spec"]["hosts"])
    assert not hosts or max(hosts.values()) == 1
    service_entry_hosts = Counter(
        h for obj in result.objects if obj["kind"] == "ServiceEntry" for h in obj["spec"]["hosts"]
    )
    assert not service_entry_hosts or max(service_entry_hosts.values()) == 1


@common
@given(grant_sets())
def test_every_granted_principal_is_in_exactly_its_hosts_policy(grants):
    result = _render(grants)
    unrendered = _unrendered(result)
    expected: dict[str, set[str]] = {}
    for g in _effective(grants):
        for host in _route_hosts(g):
            if (g.id, g.host if g.host in SERVING or g.protocol == "tcp" else host) not in unrendered:
                expected.setdefault(host, set()).add(f"cluster.local/ns/{g.namespace}/sa/{g.service_account}")
    actual: dict[str, set[str]] = {}
    for obj in result.objects:
        if obj["kind"] == "AuthorizationPolicy":
            [vs] = [
                o
                for o in result.objects
                if o["kind"] == "VirtualService" and o["metadata"]["name"] == obj["metadata"]["name"]
            ]
            principals = {p for rule in obj["spec"]["rules"] for p in rule["from"][0]["source"]["principals"]}
            actual[vs["spec"]["hosts"][0]] = principals
    assert actual == expected


@common
@given(grant_sets())
def test_nothing_rendered_for_grants_not_in_force(grants):
    result = _render(grants)
    assert dump_yaml(result.objects) == dump_yaml(_render(_effective(grants)).objects)
    served = {label for obj in result.objects for label in obj["metadata"]["annotations"][ANNOTATION_GRANTS].split(",")}
    inactive = {str(g.id) for g in grants if not g.is_effective(NOW)}
    assert not served & inactive


@common
@given(grant_sets(), st.data())
def test_removing_a_grant_changes_only_its_hosts_and_namespace(grants, data):
    removed = data.draw(st.sampled_from(grants))
    note(f"grants: {grants!r}")
    rest = [g for g in grants if g is not removed]
    before, after = _render(grants), _render(rest)
    old = {object_key(o): o for o in before.objects}
    new = {object_key(o): o for o in after.objects}
    changed = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
    if not removed.is_effective(NOW):
        assert not changed
        return
    # Grants whose conflict with the removed one is now decided differently: their hosts may change.
    flipped = _unrendered(before) ^ _unrendered(after)
    affected = [g for g in rest if {(g.id, h) for h in [g.host, *g.expanded_hosts]} & flipped]
    # Its namespace's objects (they go when its last grant goes, since this input lists no namespaces).
    allowed = {
        ("NetworkPolicy", removed.namespace, "egressui-egress"),
        ("Sidecar", removed.namespace, "default"),
        ("Telemetry", removed.namespace, "egressui-source-access-log"),
    }
    for g in [removed, *affected]:
        for host in _all_hosts(g):
            allowed |= _host_objects(host)
    # The one link between hosts: a wildcard served by the removed grant's host routes to that host's
    # TLS-origination subset, which exists only while the host also passes TLS through (reference §2).
    for g in rest:
        if SERVING.get(g.host) in _all_hosts(removed):
            allowed |= _host_objects(g.host)
    gateway_policy = ("NetworkPolicy", "istio-egress", "egressui-gateway-ingress")
    assert changed - allowed <= {gateway_policy}
    if gateway_policy in changed:

        def sources(objects):
            ingress = objects[gateway_policy]["spec"]["ingress"]
            return (
                set(ingress[0]["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"])
                if len(ingress) > 1
                else set()
            )

        assert sources(old) ^ sources(new) == {removed.namespace}
