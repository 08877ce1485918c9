"""Hubble flows (mode cilium): what is kept, what is skipped, what is refused and why."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.accesslog import LineError, LineParser
from policies.accesslog.hubble import FORWARDED, flow_record

TIME = "2026-08-20T10:15:02.311572871Z"
PARSER = LineParser(
    cluster_name="demo-cilium",
    oldest=datetime(2026, 8, 1, tzinfo=UTC),
    newest=datetime(2026, 8, 21, tzinfo=UTC),
    trust_domain="cluster.local",
)


def flow(verdict="FORWARDED", names=("api.stripe.com",), address="198.51.100.7", port=443, **changes) -> dict:
    record = flow_record("payments", "checkout", verdict=verdict, address=address, port=port, names=names, time=TIME)
    record["flow"].update(changes)
    return record


class HubbleParseTests:
    def test_a_forwarded_flow_names_source_destination_and_port(self):
        event = PARSER.parse(flow())
        assert event.principal == "cluster.local/ns/payments/sa/checkout"
        assert (event.host, event.port, event.verdict, event.protocol) == ("api.stripe.com", 443, FORWARDED, "tls")
        assert event.time == datetime(2026, 8, 20, 10, 15, 2, 311572, tzinfo=UTC)

    def test_a_policy_drop_is_blocked_at_source_with_the_reason(self):
        event = PARSER.parse(flow("DROPPED", names=("pastebin.com",), port=80))
        assert (event.verdict, event.host, event.protocol) == ("blocked_at_source", "pastebin.com", "http")
        assert event.detail == "DROPPED POLICY_DENIED 198.51.100.7"

    def test_audit_mode_is_observed_and_a_flow_without_a_name_is_its_address(self):
        event = PARSER.parse(flow("AUDIT", names=(), address="203.0.113.9", port=5432))
        assert (event.verdict, event.host, event.protocol, event.port) == ("observed", "203.0.113.9", "tcp", 5432)

    def test_the_bare_flow_of_hubble_observe_json_is_read_too(self):
        assert PARSER.parse(flow()["flow"]).host == "api.stripe.com"

    def test_what_is_not_an_egress_request_is_skipped(self):
        assert PARSER.parse({"lost_events": {"source": "HUBBLE_RING_BUFFER", "num_events_lost": 3}}) is None
        assert PARSER.parse(flow(traffic_direction="INGRESS")) is None
        assert PARSER.parse(flow(is_reply=True)) is None
        kube_dns = {"namespace": "kube-system", "labels": ["k8s:k8s-app=kube-dns"], "identity": 4242}
        assert PARSER.parse(flow(destination=kube_dns)) is None
        host = flow(source={"identity": 1, "labels": ["reserved:host"]})
        assert PARSER.parse(host) is None

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"event_type": {"type": 4, "sub_type": 3}}, "flow.event_type: a trace, not a policy verdict"),
            ({"verdict": "ERROR"}, "flow.verdict: 'ERROR' is not FORWARDED"),
            ({"time": "yesterday"}, "flow.time: 'yesterday' is not an RFC 3339 time"),
            ({"time": "2025-01-01T00:00:00Z"}, "older than the retention period"),
            ({"destination_names": "api.stripe.com"}, "flow.destination_names: expected a list of text"),
            ({"destination_names": ["not a host"]}, "flow.destination_names: 'not a host' is not a host name"),
            ({"l4": {"TCP": {"destination_port": 70000}}}, "flow.l4.TCP.destination_port: 70000 is not a port"),
            (
                {"source": {"namespace": "Payments", "labels": ["k8s:io.cilium.k8s.policy.serviceaccount=x"]}},
                "flow.source.namespace",
            ),
        ],
    )
    def test_bad_fields_are_named(self, changes, message):
        with pytest.raises(LineError, match=message.replace("(", r"\(")):
            PARSER.parse(flow(**changes))

    def test_a_flow_from_the_future_is_refused(self):
        later = (datetime(2026, 8, 22, tzinfo=UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        with pytest.raises(LineError, match="in the future"):
            PARSER.parse(flow(time=later))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
FIELDS = [
    ("event_type",),
    ("event_type", "type"),
    ("traffic_direction",),
    ("is_reply",),
    ("verdict",),
    ("time",),
    ("destination",),
    ("destination", "labels"),
    ("destination", "identity"),
    ("destination", "namespace"),
    ("destination_names",),
    ("source",),
    ("source", "labels"),
    ("source", "namespace"),
    ("IP",),
    ("IP", "destination"),
    ("l4",),
    ("l4", "TCP"),
    ("l4", "TCP", "destination_port"),
    ("drop_reason_desc",),
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FIELDS), JSON), min_size=1, max_size=4), st.booleans())
def test_any_value_in_any_field_is_an_event_none_or_a_line_error(changes, bare):
    record = flow("DROPPED")
    for path, value in changes:
        target = record["flow"]
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[path[-1]] = value
    try:
        event = PARSER.parse(record["flow"] if bare else record)
    except LineError as exc:
        assert exc.message.split(":", 1)[0].startswith(("flow", "line"))
    else:
        assert event is None or event.principal.startswith("cluster.local/ns/")
