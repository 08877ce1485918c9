"""Hubble flows (enforcement mode `cilium`) → AccessEvents, through the same feed as Envoy's lines.

Two shapes are read, one JSON object per line: the GetFlowsResponse that the Hubble exporter writes
to its file and `hubble observe -o jsonpb` prints (`{"flow": {...}, "node_name": …, "time": …}`), and
the bare flow that `hubble observe -o json` prints. Responses without a flow (`node_status`,
`lost_events`) are skipped.

What is kept: egress **policy verdicts** (event type 5: one per new connection, whatever the
verdict) of a pod towards a destination outside the cluster (`reserved:world…`, `cidr:` or `fqdn:`
labels, no namespace). Traces and drop notifications repeat the same packet and are refused with
the filter to use; policy verdicts of ingress, of replies, or towards in-cluster endpoints (DNS to
kube-dns among them) are skipped, since they are not egress requests.

From a kept flow: the source principal `TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT` (the pod's
`io.cilium.k8s.policy.serviceaccount` label), the destination's first DNS name (`destination_names`,
which Cilium's DNS proxy learnt) or else its IP, the destination port, and the verdict:
DROPPED → blocked at source (the pod's own node refused it), AUDIT → observed (policy audit mode:
it would have been dropped), FORWARDED / REDIRECTED → `FORWARDED`, which the ingest service turns
into allowed when a grant covers the destination and observed when none does.
"""

import re
from datetime import UTC, datetime

from policies.accesslog.classify import BLOCKED_AT_SOURCE, OBSERVED
from policies.accesslog.parse import (
    MAX_DETAIL_LENGTH,
    PROTOCOL_HTTP,
    PROTOCOL_TCP,
    PROTOCOL_TLS,
    AccessEvent,
    LineError,
    _type_name,
    normalize_log_host,
    workload_principal,
)

# Provisional: resolved by the ingest service once it knows whether a grant covers the flow.
FORWARDED = "forwarded"
POLICY_VERDICT = 5  # flow.event_type.type of a policy verdict notification (monitor API)
SERVICE_ACCOUNT_LABEL = "k8s:io.cilium.k8s.policy.serviceaccount="
_EXTERNAL_LABELS = ("reserved:world", "cidr:", "fqdn:")
_WORLD_IDENTITIES = frozenset({2, 9, 10})  # world, world-ipv4, world-ipv6
# Hubble writes nanoseconds; Python reads at most microseconds.
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")
_EVENT_NAMES = {1: "a drop notification", 4: "a trace", 129: "an L7 record"}
_VERDICTS = {"DROPPED": BLOCKED_AT_SOURCE, "AUDIT": OBSERVED, "FORWARDED": FORWARDED, "REDIRECTED": FORWARDED}


def is_hubble_record(record: dict) -> bool:
    """A GetFlowsResponse, or a bare flow (which always has `verdict` and an event type or `IP`)."""
    return (
        "flow" in record
        or "node_status" in record
        or "lost_events" in record
        or ("verdict" in record and ("event_type" in record or "IP" in record))
    )


def _object(value: object, field: str) -> dict:
    if value is None:
        return {}
    if type(value) is not dict:
        raise LineError(f"{field}: expected an object, got {_type_name(value)}")
    return value


def _string(value: object, field: str) -> str:
    if value is None:
        return ""
    if type(value) is not str:
        raise LineError(f"{field}: expected text, got {_type_name(value)}")
    return value


def _strings(value: object, field: str) -> list[str]:
    if value is None:
        return []
    if type(value) is not list or any(type(item) is not str for item in value):
        raise LineError(f"{field}: expected a list of text")
    return value


def _time(raw: object, oldest: datetime, newest: datetime) -> datetime:
    text = _string(raw, "flow.time")
    match = _TIME.match(text)
    if not match:
        raise LineError(f"flow.time: {text[:40]!r} is not an RFC 3339 time" if text else "flow.time: missing")
    fraction = (match[2] or "")[:6]
    zone = "+00:00" if match[3] == "Z" else match[3]
    moment = datetime.fromisoformat(f"{match[1]}{'.' + fraction if fraction else ''}{zone}").astimezone(UTC)
    if moment < oldest:
        raise LineError(f"flow.time: {text} is older than the retention period")
    if moment > newest:
        raise LineError(f"flow.time: {text} is in the future")
    return moment


def _port(flow: dict) -> int | None:
    l4 = _object(flow.get("l4"), "flow.l4")
    for protocol in ("TCP", "UDP", "SCTP"):
        if protocol in l4:
            port = _object(l4[protocol], f"flow.l4.{protocol}").get("destination_port")
            if port is None:
                return None
            if type(port) is not int or not 0 < port < 65536:
                raise LineError(f"flow.l4.{protocol}.destination_port: {port!r} is not a port")
            return port
    return None


def _is_external(destination: dict) -> bool:
    if destination.get("namespace"):
        return False
    labels = _strings(destination.get("labels"), "flow.destination.labels")
    if labels:
        return any(label.startswith(_EXTERNAL_LABELS) for label in labels)
    identity = destination.get("identity")
    return type(identity) is int and identity in _WORLD_IDENTITIES


def _source_principal(source: dict, trust_domain: str) -> str:
    namespace = _string(source.get("namespace"), "flow.source.namespace")
    account = ""
    for label in _strings(source.get("labels"), "flow.source.labels"):
        if label.startswith(SERVICE_ACCOUNT_LABEL):
            account = label[len(SERVICE_ACCOUNT_LABEL) :]
            break
    return workload_principal(namespace, account, trust_domain, fields=("flow.source.namespace", "flow.source.labels"))


def parse_hubble(record: dict, *, oldest: datetime, newest: datetime, trust_domain: str) -> AccessEvent | None:
    """The AccessEvent of one Hubble record, None for a record that is not an egress request (see
    the module docstring), or a LineError naming the field."""
    if "flow" not in record:
        if "verdict" not in record:
            return None  # node_status, lost_events
        flow = record
    else:
        flow = _object(record["flow"], "flow")
    event = _object(flow.get("event_type"), "flow.event_type").get("type")
    if type(event) is not int or event != POLICY_VERDICT:
        kind = _EVENT_NAMES.get(event, f"event type {repr(event)[:20]}") if type(event) is int else "no event type"
        raise LineError(
            f"flow.event_type: {kind}, not a policy verdict (type 5): export policy verdicts only "
            "(hubble observe --type policy-verdict, or the exporter's allowlist event_type [{type: 5}])"
        )
    if _string(flow.get("traffic_direction"), "flow.traffic_direction") != "EGRESS" or flow.get("is_reply") is True:
        return None
    destination = _object(flow.get("destination"), "flow.destination")
    if not _is_external(destination):
        return None
    principal = _source_principal(_object(flow.get("source"), "flow.source"), trust_domain)
    if not principal:
        return None  # not from a pod (the node itself, an unmanaged endpoint)
    raw_verdict = _string(flow.get("verdict"), "flow.verdict")
    verdict = _VERDICTS.get(raw_verdict)
    if verdict is None:
        raise LineError(f"flow.verdict: {raw_verdict[:20]!r} is not FORWARDED, REDIRECTED, DROPPED or AUDIT")
    moment = _time(flow.get("time"), oldest, newest)
    port = _port(flow)
    names = _strings(flow.get("destination_names"), "flow.destination_names")
    address = _string(_object(flow.get("IP"), "flow.IP").get("destination"), "flow.IP.destination")
    host = normalize_log_host(names[0]) if names else normalize_log_host(address) if address else ""
    if host is None:
        field = "flow.destination_names" if names else "flow.IP.destination"
        raise LineError(f"{field}: {(names[0] if names else address)[:80]!r} is not a host name or IP")
    protocol = PROTOCOL_TCP if not names else PROTOCOL_HTTP if port == 80 else PROTOCOL_TLS
    reason = _string(flow.get("drop_reason_desc"), "flow.drop_reason_desc")
    detail = f"{raw_verdict} {reason} {address}".replace("  ", " ").strip() if verdict != FORWARDED else ""
    return AccessEvent(moment, principal, host, verdict, port, 0, 0, detail[:MAX_DETAIL_LENGTH], protocol)


def flow_record(
    namespace: str,
    account: str,
    *,
    verdict: str,
    address: str,
    port: int,
    names: tuple[str, ...] = (),
    time: str,
    event_type: int = POLICY_VERDICT,
) -> dict:
    """One line as the Hubble exporter writes it: a pod of `namespace` running as `account` opened a
    TCP connection to `address:port` (known by `names` through the DNS proxy) and the policy said
    `verdict` (FORWARDED, DROPPED, AUDIT). The demo data and the tests build their flows here."""
    dropped = verdict == "DROPPED"
    flow = {
        "time": time,
        "verdict": verdict,
        "IP": {"source": "10.0.1.23", "destination": address, "ipVersion": "IPv4"},
        "l4": {"TCP": {"source_port": 40312, "destination_port": port, "flags": {"SYN": True}}},
        "source": {
            "identity": 24009,
            "namespace": namespace,
            "labels": [
                f"{SERVICE_ACCOUNT_LABEL}{account}",
                f"k8s:io.kubernetes.pod.namespace={namespace}",
            ],
            "pod_name": f"{account}-6d9c7b8f5-x2x7q",
        },
        "destination": {
            "identity": 16777217,
            "labels": [f"cidr:{address}/32", *(f"fqdn:{name}" for name in names), "reserved:world-ipv4"],
        },
        "Type": "L3_L4",
        "destination_names": list(names),
        "event_type": {"type": event_type, "sub_type": 0},
        "traffic_direction": "EGRESS",
        "is_reply": False,
    }
    if dropped:
        flow["drop_reason"] = 133
        flow["drop_reason_desc"] = "POLICY_DENIED"
    return {"flow": flow, "node_name": "kind-worker", "time": time}
