"""Properties every enforcement mode keeps, over random grant sets and namespace states (hypothesis).
A new mode adds itself to MODES with the test of its namespace lockdown. The modes built on
ServiceEntries (istio, istio-ambient) also keep one object set per host, nothing per grant and
`exportTo` exactly the granted namespaces (second half)."""

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.constants import ANNOTATION_CONTENT_HASH, ANNOTATION_GRANTS, LABEL_CLUSTER, LABEL_MANAGED_BY
from policies.manifests import content_hash, dump_yaml, object_key
from policies.manifests.kinds import kind_key, kinds_for_mode
from policies.manifests.names import tcp_synthetic_host
from tests.policies.manifests.cases import NOW, WIKIPEDIA, render
from tests.policies.manifests.test_properties import NAMESPACES, SERVING, grant_sets
from tests.support.manifest_validation import cilium_crds_path, default_validator


def _istio_locked(objects: list[dict], namespace: str) -> bool:
    kinds = {o["kind"] for o in objects if o["metadata"]["namespace"] == namespace}
    return "NetworkPolicy" in kinds


def _cilium_locked(objects: list[dict], namespace: str) -> bool:
    rules = [r for o in objects if o["metadata"]["namespace"] == namespace for r in o.get("specs", [])]
    return bool(rules) and all(rule["enableDefaultDeny"] == {"egress": True} for rule in rules)


# mode → whether a namespace's egress is locked down (only granted destinations leave).
MODES = {"istio": _istio_locked, "istio-ambient": _istio_locked, "cilium": _cilium_locked}
# What a mode's clusters need besides the mode: ambient serves wildcards per Istio version.
MODE_SETTINGS = {"istio-ambient": {"istio_version": "1.30"}}


@st.composite
def inputs(draw):
    """The Istio properties' random grant sets (every protocol, wildcards, tcp, grants not in force)
    with a random set of listed namespaces, each observed or enforced."""
    listed = draw(st.lists(st.sampled_from(NAMESPACES), unique=True))
    return draw(grant_sets()), [(name, draw(st.sampled_from(["observe", "enforce"]))) for name in listed]


def _render(mode: str, grants, states):
    extra = MODE_SETTINGS.get(mode, {})
    return render(grants, namespaces=states, mode=mode, wildcard_serving_hosts=WIKIPEDIA, **extra)


common = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
modes = pytest.mark.parametrize("mode", sorted(MODES))


def per_mode(test):
    """A property checked for every mode over random grant sets and namespace states."""
    return modes(common(given(data=inputs())(test)))


@per_mode
def test_deterministic_and_independent_of_input_order(mode, data):
    grants, states = data
    first = dump_yaml(_render(mode, grants, states).objects)
    assert dump_yaml(_render(mode, list(reversed(grants)), list(reversed(states))).objects) == first


@per_mode
def test_unique_labelled_hashed_objects_of_the_modes_kinds(mode, data):
    result = _render(mode, *data)
    assert max(Counter(object_key(obj) for obj in result.objects).values(), default=1) == 1
    allowed = {info.key for info in kinds_for_mode(mode)}
    for obj in result.objects:
        assert kind_key(obj) in allowed
        meta = obj["metadata"]
        assert meta["labels"][LABEL_MANAGED_BY] == "egressui" and meta["labels"][LABEL_CLUSTER] == "prod-eu"
        assert meta["annotations"][ANNOTATION_CONTENT_HASH] == content_hash(obj)


@per_mode
def test_nothing_rendered_for_grants_not_in_force(mode, data):
    grants, states = data
    effective = [g for g in grants if g.is_effective(NOW)]
    result = _render(mode, grants, states)
    assert dump_yaml(result.objects) == dump_yaml(_render(mode, effective, states).objects)
    served = {ref for o in result.objects for ref in o["metadata"]["annotations"][ANNOTATION_GRANTS].split(",") if ref}
    assert served <= {str(g.id) for g in effective}
    assert {item.grant_id for item in result.unrenderable} <= {g.id for g in effective}


@per_mode
def test_enforced_namespaces_are_locked_down_grants_or_not_and_observed_ones_are_not(mode, data):
    grants, states = data
    objects, state = _render(mode, grants, states).objects, dict(states)
    for namespace in {g.namespace for g in grants if g.is_effective(NOW)} | set(state):
        assert MODES[mode](objects, namespace) == (state.get(namespace, "enforce") == "enforce"), namespace


@per_mode
def test_object_count_follows_namespaces_and_hosts_not_grants(mode, data):
    grants, states = data
    doubled = [*grants, *(g.__class__(**{**_fields(g), "id": g.id + 1000}) for g in grants)]
    assert len(_render(mode, doubled, states).objects) == len(_render(mode, grants, states).objects)


def _fields(g) -> dict:
    return {name: getattr(g, name) for name in g.__dataclass_fields__}


@modes
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=inputs())
def test_every_object_validates_against_its_crds(mode, data):
    if mode == "cilium" and cilium_crds_path() is None:
        pytest.skip("Cilium's CRD bundle is absent (../shared/cilium/cilium-crds.yaml)")
    default_validator().assert_valid(_render(mode, *data).objects)


# --- modes built on ServiceEntries -----------------------------------------------------------------

PER_HOST = {"istio": 6, "istio-ambient": 3}  # most objects one host can have in the egress namespace
SE_MODES = pytest.mark.parametrize("mode", ["istio", "istio-ambient"])


def _render_se(grants, mode):
    # The serving host is ignored by ambient (waypoints serve wildcards only as DYNAMIC_DNS).
    return _render(mode, grants, [])


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


@SE_MODES
@common
@given(grants=grant_sets())
def test_one_object_set_per_host(mode, grants):
    result = _render_se(grants, mode)
    assert max(Counter(object_key(obj) for obj in result.objects).values(), default=1) == 1
    hosts = Counter(h for obj in result.objects if obj["kind"] == "ServiceEntry" for h in obj["spec"]["hosts"])
    assert max(hosts.values(), default=1) == 1
    in_egress = [obj for obj in result.objects if obj["metadata"]["namespace"] == "istio-egress"]
    assert len(in_egress) <= PER_HOST[mode] * len(hosts) + 4  # + cluster-wide objects


@SE_MODES
@common
@given(grants=grant_sets(), data=st.data())
def test_nothing_rendered_per_grant(mode, grants, data):
    """Another service account of a namespace granted the same destination changes no object but its
    hosts' policy (a principal) and annotations: the object set stays the same."""
    g = data.draw(st.sampled_from(grants))
    twin = type(g)(**{**{f: getattr(g, f) for f in g.__slots__}, "id": 1000, "service_account": "twin"})
    before = {object_key(obj) for obj in _render_se(grants, mode).objects}
    assert {object_key(obj) for obj in _render_se([*grants, twin], mode).objects} == before


@SE_MODES
@common
@given(grants=grant_sets())
def test_export_to_is_exactly_the_granted_namespaces(mode, grants):
    result = _render_se(grants, mode)
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
