"""Pure validation of egress destinations: no database, no settings beyond what is passed in.

Every function either returns the normalised value or raises `ValidationFailed` naming the field
and the exact reason, so forms, serializers and services all say the same thing.
"""

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

import idna
from django.conf import settings
from publicsuffixlist import PublicSuffixList

from policies.choices import Protocol
from policies.constants import MAX_EXPANDED_HOSTS, MAX_HOST_LENGTH
from policies.exceptions import ValidationFailed

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# Widest CIDR accepted for a tcp destination: anything wider is "the internet", not a destination.
MIN_PREFIX_V4 = 16
MIN_PREFIX_V6 = 48

DEFAULT_INTERNAL_SUFFIXES = ("cluster.local", "svc", "local", "internal", "localhost")

# Never a destination, for any protocol: (range, why). Checked after normalisation, so an address
# written as IPv4-mapped IPv6 (::ffff:169.254.169.254) or with a trailing dot is caught as well.
_NOT_ROUTABLE = "is not a routable destination"
_LINK_LOCAL = "is link-local (for example the cloud metadata service) and never allowed"
_METADATA = "is a cloud provider's metadata or platform service and never allowed"
REFUSED_NETWORKS = tuple(
    (ipaddress.ip_network(network), why)
    for network, why in (
        ("0.0.0.0/8", _NOT_ROUTABLE),  # "this network", 0.0.0.0 included
        ("127.0.0.0/8", _NOT_ROUTABLE),
        ("169.254.0.0/16", _LINK_LOCAL),  # AWS, GCP, Azure, OCI metadata at 169.254.169.254
        ("224.0.0.0/4", _NOT_ROUTABLE),
        ("255.255.255.255/32", _NOT_ROUTABLE),
        ("100.100.100.200/32", _METADATA),  # Alibaba Cloud metadata
        ("168.63.129.16/32", _METADATA),  # Azure WireServer
        ("::/128", _NOT_ROUTABLE),
        ("::1/128", _NOT_ROUTABLE),
        ("fe80::/10", _LINK_LOCAL),
        ("ff00::/8", _NOT_ROUTABLE),
        ("fd00:ec2::254/128", _METADATA),  # AWS metadata over IPv6
        ("fd20:ce::254/128", _METADATA),  # GCP metadata over IPv6
    )
)
# IPv6 forms that carry an IPv4 address in their last 32 bits: mapped, compatible, NAT64.
_EMBEDDED_V4 = (
    ipaddress.ip_network("::ffff:0:0/96"),
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("64:ff9b::/96"),
)


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList(accept_unknown=False)


@dataclass(frozen=True)
class Destination:
    """A destination after validation: host normalised, flags derived."""

    host: str
    port: int
    protocol: str
    expanded_hosts: tuple[str, ...] = ()

    @property
    def is_wildcard(self) -> bool:
        return self.host.startswith("*.")


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed.on(field, message)


def is_ip_or_cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def normalize_host(raw: str) -> str:
    """Lower-case, strip the trailing dot and encode internationalised labels as punycode.

    Raises ValidationFailed for anything that cannot be a host name; wildcards are kept as `*.`.
    """
    host = (raw or "").strip()
    if not host:
        raise _fail("host", "Enter a host name, such as api.example.com.")
    if _SCHEME.match(host):
        raise _fail("host", "Enter only the host name, without a scheme such as https://.")
    if "/" in host and not is_ip_or_cidr(host):
        raise _fail("host", "Enter only the host name, without a path.")
    if any(ch.isspace() for ch in host):
        raise _fail("host", "A host name cannot contain spaces.")
    if host.endswith("."):
        host = host[:-1]
    if host.count(":") == 1 and not is_ip_or_cidr(host):
        raise _fail("host", "Enter the port in the port field, not after the host name.")
    if is_ip_or_cidr(host):
        return _normalise_ip(host)
    wildcard = False
    if host.startswith("*."):
        wildcard, host = True, host[2:]
    if host == "*" or (wildcard and not host):
        raise _fail("host", "A bare * would allow every destination; name a domain, such as *.example.com.")
    if "*" in host:
        raise _fail("host", "A wildcard is only allowed as the whole first label, as in *.example.com.")
    if "" in host.split("."):
        raise _fail("host", "A host name cannot contain empty labels (two dots in a row).")
    if len(host) > MAX_HOST_LENGTH - 2:  # room for a leading "*." on wildcards
        raise _fail("host", f"A host name can be at most {MAX_HOST_LENGTH - 2} characters long.")
    try:
        encoded = idna.encode(host, uts46=True, std3_rules=True).decode("ascii")
    except idna.IDNAError as exc:
        raise _fail("host", f"{raw.strip()!r} is not a valid domain name ({exc}).") from None
    except UnicodeError:
        raise _fail("host", f"{raw.strip()!r} is not a valid domain name.") from None
    encoded = encoded.lower()
    _check_dns_name(encoded)
    return f"*.{encoded}" if wildcard else encoded


def _normalise_ip(text: str) -> str:
    """The canonical text of an address or network; IPv4-mapped IPv6 becomes the IPv4 it stands for."""
    if "/" not in text:
        address = ipaddress.ip_address(text)
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return str(address)
    network = ipaddress.ip_network(text, strict=False)
    mapped = network.network_address.ipv4_mapped if network.version == 6 else None
    if mapped is not None and network.prefixlen >= 96:
        network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}", strict=False)
    return str(network)


def _embedded_v4(network) -> ipaddress.IPv4Network | None:
    """The IPv4 range an IPv6 range written as mapped, compatible or NAT64 addresses reaches."""
    for prefix in _EMBEDDED_V4:
        if network.version == 6 and network.prefixlen >= 96 and network.subnet_of(prefix):
            v4 = ipaddress.IPv4Address(int(network.network_address) & 0xFFFFFFFF)
            return ipaddress.ip_network(f"{v4}/{network.prefixlen - 96}", strict=False)
    return None


def _check_dns_name(name: str) -> None:
    if len(name) > MAX_HOST_LENGTH - 2:  # room for a leading "*." on wildcards
        raise _fail("host", f"A host name can be at most {MAX_HOST_LENGTH - 2} characters long.")
    labels = name.split(".")
    for label in labels:
        if not label:
            raise _fail("host", "A host name cannot contain empty labels (two dots in a row).")
        if len(label) > 63:
            raise _fail("host", f"The label {label[:20]}… is longer than 63 characters.")
        if not _LABEL.match(label):
            raise _fail("host", f"The label {label!r} may contain only letters, digits and hyphens, not at its ends.")
    if labels[-1].isdigit():
        raise _fail("host", "The last label of a domain name cannot be numeric.")


def _check_not_internal(host: str, internal_suffixes: tuple[str, ...]) -> None:
    bare = host[2:] if host.startswith("*.") else host
    for suffix in internal_suffixes:
        suffix = suffix.strip(".").lower()
        if suffix and (bare == suffix or bare.endswith("." + suffix)):
            raise _fail("host", f"{host} is a cluster-internal name (.{suffix}); egress rules are for external hosts.")


def _check_wildcard_scope(host: str) -> None:
    base = host[2:]
    if _psl().is_public(base):
        raise _fail(
            "host",
            f"*.{base} would cover every domain registered under the public suffix {base}; "
            "name a domain you control, such as *.example.com.",
        )


def _check_network(host: str) -> None:
    network = ipaddress.ip_network(host, strict=False)
    minimum = MIN_PREFIX_V4 if network.version == 4 else MIN_PREFIX_V6
    if network.prefixlen < minimum:
        raise _fail("host", f"{host} is too wide; the widest range allowed is /{minimum}.")
    candidates = [network, *filter(None, [_embedded_v4(network)])]
    for candidate in candidates:
        for refused, why in REFUSED_NETWORKS:
            if candidate.version == refused.version and candidate.overlaps(refused):
                raise _fail("host", f"{host} {why}.")


def _check_public_suffix(host: str) -> None:
    """A name egress can reach ends in a suffix of the public suffix list: single labels and the
    names a pod's DNS search path completes (kubernetes.default, db.team) are the cluster's own."""
    bare = host[2:] if host.startswith("*.") else host
    if _psl().publicsuffix(bare) is None:
        raise _fail(
            "host",
            f"{host} does not end in a public domain suffix (such as .com or .co.uk); names like "
            "kubernetes.default are completed by the pod's DNS search path and stay inside the cluster.",
        )


def validate_egress_host(
    raw: str, *, protocol: str = Protocol.TLS, internal_suffixes: tuple[str, ...] = DEFAULT_INTERNAL_SUFFIXES
) -> str:
    """Return the normalised host for a destination of the given protocol, or raise ValidationFailed.
    Every check runs on the normalised form, so spelling variants cannot slip past one."""
    stripped = (raw or "").strip()
    literal = stripped[:-1] if stripped.endswith(".") else stripped
    if "/" in literal and is_ip_or_cidr(literal):
        try:
            ipaddress.ip_network(literal, strict=True)
        except ValueError:
            network = _normalise_ip(literal)
            raise _fail("host", f"{literal} has host bits set; did you mean {network}?") from None
    host = normalize_host(stripped)
    if is_ip_or_cidr(host):
        if protocol != Protocol.TCP:
            raise _fail("host", "IP addresses are only allowed with protocol tcp; use the DNS name for tls and http.")
        _check_network(host)
        return host
    if protocol == Protocol.TCP:
        raise _fail("host", "A tcp destination must be an IP address or CIDR range; for a DNS name use tls.")
    _check_not_internal(host, internal_suffixes)
    if host.startswith("*."):
        _check_wildcard_scope(host)
    if "." not in host:
        raise _fail("host", "Enter a fully qualified domain name, such as api.example.com.")
    _check_public_suffix(host)
    return host


def validate_port(value) -> int:
    if isinstance(value, bool):
        raise _fail("port", "Enter a port number between 1 and 65535.")
    try:
        port = int(str(value).strip())
    except (TypeError, ValueError):
        raise _fail("port", "Enter a port number between 1 and 65535.") from None
    if not 1 <= port <= 65535:
        raise _fail("port", f"Port {port} is outside 1–65535.")
    return port


def validate_protocol(value) -> str:
    if value not in Protocol.values:
        raise _fail("protocol", f"Choose one of: {', '.join(Protocol.values)}.")
    return value


def validate_protocol_port(protocol: str, port: int) -> None:
    """Reject protocol/port pairs that cannot work through the gateway."""
    if protocol == Protocol.TLS and port == 80:
        raise _fail("port", "Port 80 carries plain HTTP; choose protocol http-originate or http for port 80.")
    if protocol == Protocol.HTTP and port == 443:
        raise _fail("port", "Port 443 carries TLS; choose protocol tls (or http-originate for TLS origination).")
    if protocol == Protocol.HTTP_ORIGINATE and port == 80:
        raise _fail(
            "port",
            "With http-originate the app talks HTTP on port 80 and the gateway connects to the server's TLS port; "
            "enter that TLS port (usually 443).",
        )


def validate_expanded_hosts(
    host: str, expanded: list[str] | tuple[str, ...], *, internal_suffixes=DEFAULT_INTERNAL_SUFFIXES
) -> tuple[str, ...]:
    """Concrete hosts a wildcard will be used for: each must sit under the wildcard, no wildcards."""
    items = [item for item in (expanded or []) if str(item).strip()]
    if not items:
        return ()
    if not host.startswith("*."):
        raise _fail("expanded_hosts", "Concrete hosts can only be listed for a wildcard destination.")
    if len(items) > MAX_EXPANDED_HOSTS:
        raise _fail("expanded_hosts", f"List at most {MAX_EXPANDED_HOSTS} concrete hosts under one wildcard.")
    suffix = host[1:]  # ".example.com"
    result: list[str] = []
    for item in items:
        try:
            name = validate_egress_host(str(item), internal_suffixes=internal_suffixes)
        except ValidationFailed as exc:
            raise _fail("expanded_hosts", f"{str(item).strip()}: {exc.message}") from None
        if name.startswith("*."):
            raise _fail("expanded_hosts", f"{name}: list concrete host names, not wildcards.")
        if not name.endswith(suffix):
            raise _fail("expanded_hosts", f"{name} is not under {host}.")
        if name not in result:
            result.append(name)
    return tuple(sorted(result))


def validate_destination(
    *, host: str, port, protocol: str, expanded_hosts=(), internal_suffixes=DEFAULT_INTERNAL_SUFFIXES
) -> Destination:
    """Validate one destination as a whole; errors name the offending field."""
    protocol = validate_protocol(protocol)
    normalised = validate_egress_host(host, protocol=protocol, internal_suffixes=internal_suffixes)
    number = validate_port(port)
    validate_protocol_port(protocol, number)
    expanded = validate_expanded_hosts(normalised, expanded_hosts, internal_suffixes=internal_suffixes)
    return Destination(host=normalised, port=number, protocol=protocol, expanded_hosts=expanded)


def validate_destination_input(item) -> Destination:
    """`validate_destination` of a destination as entered (a form's or an API call's `DestinationInput`),
    with the deployment's internal suffixes: the one check the request services and previews share."""
    return validate_destination(
        host=item.host,
        port=item.port,
        protocol=item.protocol,
        expanded_hosts=item.expanded_hosts,
        internal_suffixes=tuple(settings.EGRESSUI_INTERNAL_SUFFIXES),
    )


def destination_risk_flags(*, host: str, protocol: str) -> list[str]:
    """Short labels approvers see next to a destination."""
    flags = []
    if host.startswith("*."):
        flags.append("wildcard")
    if protocol == Protocol.HTTP:
        flags.append("clear-text")
    if protocol == Protocol.TCP:
        flags.append("tcp")
    return flags
