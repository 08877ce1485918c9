"""One access-log record (a decoded JSON object) → an AccessEvent, or a LineError naming the field.

Three Envoy formats are read, by field name: egressui's gateway provider (reference §8.2: `sni`,
`source_principal`, `duration_ms`, …), egressui's source provider, which the app namespaces'
sidecars log their catch-all connections with (`source_namespace` and `source_service_account`:
the proxy's own identity, `downstream_local_address`: the original destination; docs/monitoring.md
§1), and Istio's default JSON format (`requested_server_name`, `response_code_details`, …; it names
no source identity, so its lines have an unknown principal unless `%DOWNSTREAM_PEER_URI_SAN%` is
added as `downstream_peer_uri_san`). In ambient clusters the waypoint logs in the gateway's format,
and ztunnel's connection lines (`ztunnel.py`) are read too. Envoy writes `-` or null for empty
values. A record whose only content is a `log` string (a container log line collected without a
JSON parser) is unwrapped first. Hubble's flows (mode cilium) come through the same parser: `hubble.py`.
"""

import ipaddress
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

import idna
import orjson

from policies.accesslog import ztunnel
from policies.accesslog.classify import CATCH_ALLS, classify
from policies.constants import MAX_HOST_LENGTH
from policies.manifests.names import WILDCARD_SNI_LABEL

MAX_PRINCIPAL_LENGTH = 300
# One connection moving more than a pebibyte is a broken counter, not traffic.
MAX_BYTES = 2**50
MAX_DETAIL_LENGTH = 200

_ASCII_HOST = re.compile(r"[a-z0-9_*](?:[a-z0-9_.\-]*[a-z0-9_])?")
_PRINCIPAL = re.compile(r"[!-~]+")  # printable ASCII, no spaces
_NAMESPACE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_SERVICE_ACCOUNT = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?")
# What a catch-all connection's protocol must have been: TLS shows its SNI, HTTP its authority;
# with neither, only the address dialled is known.
PROTOCOL_TLS, PROTOCOL_HTTP, PROTOCOL_TCP = "tls", "http", "tcp"
_WILDCARD_SNI_PREFIX = WILDCARD_SNI_LABEL + "."


class LineError(Exception):
    """Why one line was rejected; the message starts with the field it is about."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class AccessEvent(NamedTuple):
    # A named tuple, not a dataclass: one is built per line, and tuples are the cheapest to build.
    time: datetime  # aware, UTC
    principal: str  # `trust-domain/ns/NS/sa/SA` (no spiffe://), another SAN as logged, or ""
    host: str  # normalised host name or IP, `*.suffix` for a wildcard route's SNI, or ""
    verdict: str
    port: int | None
    bytes_sent: int
    bytes_received: int
    detail: str
    protocol: str = ""  # for catch-all connections: tls, http or tcp (what a request would ask for)


def _type_name(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", str: "text"}.get(type(value), type(value).__name__)


def _text(record: dict, *keys: str) -> str:
    """The first present, non-empty string among `keys`."""
    for key in keys:
        value = record.get(key)
        if value is None:
            continue
        if type(value) is not str:
            raise LineError(f"{key}: expected text, got {_type_name(value)}")
        if value and value != "-":
            return value
    return ""


def _whole_number(record: dict, key: str, limit: int) -> int:
    value = record.get(key)
    if value is None:
        return 0
    if type(value) is int:
        if 0 <= value <= limit:  # the common case, first
            return value
        number = value
    elif type(value) is str:
        if value in ("", "-"):
            return 0
        if not value.isdigit():
            raise LineError(f"{key}: expected a whole number, got {value[:40]!r}")
        number = int(value)
    elif type(value) is float and value.is_integer():
        number = int(value)
    else:
        raise LineError(f"{key}: expected a whole number, got {_type_name(value)}")
    if not 0 <= number <= limit:
        raise LineError(f"{key}: {number} is outside 0–{limit}")
    return number


@lru_cache(maxsize=65_536)
def normalize_log_host(raw: str) -> str | None:
    """Lower case, no trailing dot, internationalised names as punycode; None if not a host name or IP."""
    host = raw.strip().lower().rstrip(".")
    if not host or len(host) > MAX_HOST_LENGTH:
        return None
    if _ASCII_HOST.fullmatch(host) and ".." not in host and "*" not in host[1:]:
        return host
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        encoded = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None
    return encoded if _ASCII_HOST.fullmatch(encoded) and len(encoded) <= MAX_HOST_LENGTH else None


def _split_authority(authority: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port` → (host, port)."""
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif authority.count(":") == 1:
        host, _, port = authority.partition(":")
    else:
        host, port = authority, ""
    return host, (int(port) if port.isdigit() and 0 < int(port) < 65536 else None)


@lru_cache(maxsize=65_536)
def _split_upstream_cluster(name: str) -> tuple[str, int | None]:
    """Istio's `outbound|443|subset|api.example.com` → (host, port); anything else → ("", None)."""
    parts = name.split("|")
    if len(parts) != 4 or not parts[1].isdigit():
        return "", None
    port = int(parts[1])
    return parts[3], (port if 0 < port < 65536 else None)


@lru_cache(maxsize=65_536)
def _logged_host(raw: str) -> str | None:
    host = normalize_log_host(raw)
    if host is not None and host.startswith(_WILDCARD_SNI_PREFIX):
        # The outer SNI of a wildcard route (policies.manifests.names.wildcard_sni): the connection
        # went to some host under the wildcard; which one only the inner TLS handshake knows.
        return "*." + host[len(_WILDCARD_SNI_PREFIX) :]
    return host


def _host(field: str, raw: str) -> str:
    host = _logged_host(raw)
    if host is None:
        raise LineError(f"{field}: {raw[:80]!r} is not a host name")
    return host


@lru_cache(maxsize=65_536)
def _normalized_principal(raw: str) -> str | None:
    # %DOWNSTREAM_PEER_URI_SAN% lists every URI SAN, comma-separated; Istio certificates carry one.
    first = raw.split(",", 1)[0].strip()
    if first.startswith("spiffe://"):
        first = first[len("spiffe://") :]
    if len(first) > MAX_PRINCIPAL_LENGTH or not _PRINCIPAL.fullmatch(first):
        return None
    return first


def _principal(raw: str) -> str:
    principal = _normalized_principal(raw)
    if principal is None:
        raise LineError(f"source_principal: {raw[:80]!r} is not a principal")
    return principal


def _time(record: dict, oldest: datetime, newest: datetime, key: str = "start_time") -> datetime:
    raw = record.get(key)
    if raw is None or raw in ("", "-"):
        raise LineError(f"{key}: missing; every line needs the connection's time")
    if type(raw) is not str:
        raise LineError(f"{key}: expected an ISO 8601 time, got {_type_name(raw)}")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise LineError(f"{key}: {raw[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is not UTC:  # Envoy writes UTC with a Z: no conversion in the common case
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment < oldest:
        raise LineError(f"{key}: {raw} is older than the retention period")
    if moment > newest:
        raise LineError(f"{key}: {raw} is in the future")
    return moment


_VERDICT_FIELDS = (
    "response_flags",
    "response_code",
    "response_code_details",
    "connection_termination_details",
    "upstream_transport_failure_reason",
)
# Raw verdict fields (as logged, already checked once) → (verdict, detail). Nearly every line repeats
# one of a handful of combinations, so this saves checking and classifying them line by line.
_verdicts: dict[tuple, tuple[str, str]] = {}
_MAX_CACHED_VERDICTS = 4096


def _verdict(record: dict, catch_all_cluster: str) -> tuple[str, str]:
    raw = (*map(record.get, _VERDICT_FIELDS), catch_all_cluster)
    try:
        cached = _verdicts.get(raw)
    except TypeError:  # a list or object where text belongs: the checks below name the field
        cached = None
    if cached is not None and type(raw[1]) is not bool:  # True == 1 would otherwise hit 1's entry
        return cached
    result = classify(
        _text(record, "response_flags"),
        _whole_number(record, "response_code", 999),
        _text(record, "response_code_details"),
        _text(record, "connection_termination_details"),
        catch_all_cluster,
        _text(record, "upstream_transport_failure_reason"),
    )
    if len(_verdicts) >= _MAX_CACHED_VERDICTS:
        _verdicts.clear()
    try:
        _verdicts[raw] = result
    except TypeError:
        pass
    return result


def _source_principal(record: dict, trust_domain: str) -> str:
    """The source sidecar's own identity (`%ENVIRONMENT(POD_NAMESPACE)%`, `%ENVIRONMENT(SERVICE_ACCOUNT)%`)
    as a principal of the cluster's trust domain, or '' when the line does not name both."""
    return workload_principal(
        _text(record, "source_namespace"),
        _text(record, "source_service_account"),
        trust_domain,
        fields=("source_namespace", "source_service_account"),
    )


def workload_principal(namespace: str, account: str, trust_domain: str, *, fields: tuple[str, str]) -> str:
    """`TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT`, '' unless both are named; `fields` name them in errors."""
    if not (namespace and account):
        return ""
    if not _NAMESPACE.fullmatch(namespace):
        raise LineError(f"{fields[0]}: {namespace[:80]!r} is not a namespace name")
    if not _SERVICE_ACCOUNT.fullmatch(account):
        raise LineError(f"{fields[1]}: {account[:80]!r} is not a service account name")
    return f"{trust_domain}/ns/{namespace}/sa/{account}"


class LineParser:
    """Parses records for one cluster. `oldest`/`newest` bound start_time: lines older than the
    retention would be pruned at once, lines from the future come from a broken clock. The trust
    domain turns a source sidecar's namespace and service account into a principal."""

    def __init__(self, *, cluster_name: str, oldest: datetime, newest: datetime, trust_domain: str = "cluster.local"):
        self.cluster_name = cluster_name
        self.oldest = oldest
        self.newest = newest
        self.trust_domain = trust_domain

    def parse(self, record: object) -> AccessEvent | None:
        """The record's event; None for a Hubble record that is not an egress request (`hubble.py`)."""
        if type(record) is not dict:
            raise LineError(f"line: expected a JSON object, got {_type_name(record)}")
        if "start_time" not in record and type(record.get("log")) is str:
            try:
                record = orjson.loads(record["log"])
            except orjson.JSONDecodeError:
                raise LineError("log: the wrapped log line is not JSON") from None
            if type(record) is not dict:
                raise LineError("log: the wrapped log line is not a JSON object")
        if "start_time" not in record and is_hubble_record(record):
            return parse_hubble(record, oldest=self.oldest, newest=self.newest, trust_domain=self.trust_domain)
        cluster = _text(record, "cluster") if "cluster" in record else ""
        if cluster and cluster != self.cluster_name:
            raise LineError(
                f"cluster: the line is from cluster {cluster[:63]!r}, this feed is for {self.cluster_name!r}"
            )
        if ztunnel.is_ztunnel(record):
            return self._ztunnel(record)
        moment = _time(record, self.oldest, self.newest)

        upstream_cluster = _text(record, "upstream_cluster")
        catch_all = upstream_cluster if upstream_cluster in CATCH_ALLS else ""
        if not catch_all and "route_name" in record:
            route = _text(record, "route_name")
            catch_all = route if route in CATCH_ALLS else ""
        upstream_host, port = _split_upstream_cluster(upstream_cluster)
        protocol = authority = ""
        sni = _text(record, "sni", "requested_server_name")
        if sni:
            host = _host("sni", sni)
        else:
            authority = _text(record, "authority")
            if authority:
                raw_host, authority_port = _split_authority(authority)
                host = _host("authority", raw_host)
                port = port or authority_port
            else:
                host = _host("upstream_cluster", upstream_host) if upstream_host else ""

        raw_principal = _text(record, "source_principal", "downstream_peer_uri_san")
        principal = _principal(raw_principal) if raw_principal else _source_principal(record, self.trust_domain)

        verdict, detail = _verdict(record, catch_all)
        if catch_all:
            # At the source the original destination is known (the sidecar restored it): it names the
            # port, and the host when the connection showed neither SNI nor an HTTP authority.
            original = _text(record, "downstream_local_address")
            if original:
                address, original_port = _split_authority(original)
                port = original_port or port
                host = host or _host("downstream_local_address", address)
                detail = f"{catch_all} {original[:60]}"
            protocol = PROTOCOL_TLS if sni else PROTOCOL_HTTP if authority else PROTOCOL_TCP
        return AccessEvent(
            moment,
            principal,
            host,
            verdict,
            port,
            _whole_number(record, "bytes_sent", MAX_BYTES),
            _whole_number(record, "bytes_received", MAX_BYTES),
            detail[:MAX_DETAIL_LENGTH],
            protocol,
        )

    def _ztunnel(self, record: dict) -> AccessEvent | None:
        """A ztunnel connection line (`ztunnel.py`); None for a line about traffic inside the mesh."""
        end = _time(record, self.oldest, self.newest, key="time")
        try:
            verdict, detail = ztunnel.verdict(record, _text(record, "error"))
        except ztunnel.Skipped:
            return None
        raw_principal = _text(record, "src.identity")
        principal = ""
        if raw_principal:
            principal = _normalized_principal(raw_principal) or ""
            if not principal:
                raise LineError(f"src.identity: {raw_principal[:80]!r} is not a principal")
        address = _text(record, "dst.addr")
        if not address:
            raise LineError("dst.addr: missing; a connection line names where it went")
        raw_host, port = _split_authority(address)
        return AccessEvent(
            ztunnel.start_time(end, record.get("duration")),
            principal,
            _host("dst.addr", raw_host),
            verdict,
            port,
            _whole_number(record, "bytes_sent", MAX_BYTES),
            _whole_number(record, "bytes_recv", MAX_BYTES),
            detail[:MAX_DETAIL_LENGTH],
            PROTOCOL_TCP,  # ztunnel sees bytes, not TLS or HTTP
        )


# Hubble flows (mode cilium) share the feed; hubble.py builds on the helpers above.
from policies.accesslog.hubble import is_hubble_record, parse_hubble  # noqa: E402
