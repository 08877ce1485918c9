"""Object names derived from host names: DNS-1123 labels, stable, and collision-free.

`slug()` is injective: '-' becomes '--', '.' becomes '-', and a leading '*.' becomes 'wildcard---'.
In a valid host a hyphen never touches a dot, so a run of one hyphen can only come from a dot, an
even run only from hyphens, and a run of three only from the wildcard marker; two hosts therefore
never share a slug (`a-b.com` → `a--b-com`, `a.b-com` → `a-b--com`).

A name longer than 62 characters is cut and given a hash of the full name, making it exactly 63
long; untruncated names are at most 62, so a cut name can never equal an uncut one.
"""

import hashlib
import ipaddress
from functools import lru_cache

from policies.constants import TCP_SYNTHETIC_SUFFIX

MAX_NAME = 63
_HASH_CHARS = 10
WILDCARD_MARKER = "wildcard---"
# Label of the outer SNI the sidecars send for a wildcard route: a name under the wildcard that is
# not a real host, so it can never select the gateway server of an explicitly granted host.
WILDCARD_SNI_LABEL = "egressui-wildcard"
DIRECT_LABEL = "direct"


def slug(host: str) -> str:
    if host.startswith("*."):
        return WILDCARD_MARKER + slug(host[2:])
    return host.replace("-", "--").replace(".", "-")


def bounded(name: str) -> str:
    """`name` if it fits in 62 characters, else a 63-character cut with a hash of the whole."""
    if len(name) < MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_CHARS]
    return f"{name[: MAX_NAME - _HASH_CHARS - 1]}-{digest}"


@lru_cache(maxsize=1 << 16)
def host_object_name(host: str, prefix: str = "") -> str:
    return bounded(prefix + slug(host))


def cidr_part(cidr: str) -> str:
    """An IP or CIDR as part of a host name: 203.0.113.0/28 → 203.0.113.0-28 (IPv6: exploded hex, one label)."""
    network = ipaddress.ip_network(cidr, strict=False)
    if network.version == 4:
        return f"{network.network_address}-{network.prefixlen}"
    return f"{network.network_address.exploded.replace(':', '')}-{network.prefixlen}"


def tcp_synthetic_host(cidr: str, port: int, *, direct: bool = False) -> str:
    """The made-up host that names a TCP destination (reference §3.2): one per CIDR and port, so the
    gateway can tell destinations apart by the outer SNI alone."""
    middle = f".{DIRECT_LABEL}" if direct else ""
    return f"{cidr_part(cidr)}.p{port}{middle}.{TCP_SYNTHETIC_SUFFIX}"


def wildcard_sni(wildcard: str) -> str:
    return f"{WILDCARD_SNI_LABEL}.{wildcard[2:]}"
