"""Which logged hosts a grant covers, in the names the gateway logs (the outer SNI, reference §8.2):
its host; with a wildcard any host under it (and the wildcard itself, which is how a wildcard
route's SNI is recorded); its expanded hosts; for tcp the synthetic host the renderer gives the
CIDR and port (`policies.manifests.names.tcp_synthetic_host`) and, as Hubble logs it (mode
cilium), any address in the CIDR. And the reverse: the destination to
put in a new request for a host seen in the log."""

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from policies.choices import Protocol
from policies.constants import TCP_SYNTHETIC_SUFFIX
from policies.manifests.names import DIRECT_LABEL, tcp_synthetic_host

_SYNTHETIC = re.compile(
    rf"(?P<address>[0-9a-f.]+)-(?P<prefix>\d+)\.p(?P<port>\d+)(?:\.{DIRECT_LABEL})?\.{re.escape(TCP_SYNTHETIC_SUFFIX)}"
)


def covered_hosts(
    *, host: str, port: int, protocol: str, expanded_hosts: Iterable[str], tcp_direct: bool
) -> tuple[frozenset[str], str]:
    """(exact hosts, wildcard suffix such as '.example.com' or '')."""
    if protocol == Protocol.TCP:
        try:
            cidr = str(ipaddress.ip_network(host, strict=False))
        except ValueError:
            return frozenset(), ""
        return frozenset({tcp_synthetic_host(cidr, port, direct=tcp_direct)}), ""
    return frozenset({host, *expanded_hosts}), (host[1:] if host.startswith("*.") else "")


@dataclass(frozen=True, slots=True)
class GrantCover:
    id: int
    port: int
    exact: frozenset[str]
    wildcard_suffix: str
    starts: datetime
    ends: datetime
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None  # a tcp grant's CIDR

    @classmethod
    def from_values(cls, grant: dict) -> "GrantCover":
        """From `Grant.objects.values(*GrantCover.FIELDS)`."""
        exact, suffix = covered_hosts(
            host=grant["host"],
            port=grant["port"],
            protocol=grant["protocol"],
            expanded_hosts=grant["expanded_hosts"],
            tcp_direct=grant["tcp_direct"],
        )
        ends = min(grant["expires_at"], grant["ended_at"] or grant["expires_at"])
        network = None
        if grant["protocol"] == Protocol.TCP:
            try:
                network = ipaddress.ip_network(grant["host"], strict=False)
            except ValueError:
                pass
        return cls(grant["pk"], grant["port"], exact, suffix, grant["valid_from"], ends, network)

    def rank(self, host: str, port: int | None) -> tuple | None:
        """Lower is better: an exact host beats a wildcard, a longer wildcard a shorter one, and a
        matching port a different one; None when the grant does not cover `host`."""
        if host in self.exact:
            kind = 0
        elif self.wildcard_suffix and host.endswith(self.wildcard_suffix):
            kind = 1
        elif self.network is not None and _address(host) in self.network:
            kind = 0
        else:
            return None
        return (kind, -len(self.wildcard_suffix), port is not None and port != self.port, self.id)


GRANT_COVER_FIELDS = (
    "pk",
    "identity_id",
    "host",
    "port",
    "protocol",
    "expanded_hosts",
    "tcp_direct",
    "valid_from",
    "expires_at",
    "ended_at",
)


def best_grant(candidates: Iterable[GrantCover], host: str, port: int | None, moment: datetime) -> int | None:
    """The id of the grant in force at `moment` that covers `host` best, or None."""
    best, best_rank = None, None
    for cover in candidates:
        if not cover.starts <= moment < cover.ends:
            continue
        rank = cover.rank(host, port)
        if rank is not None and (best_rank is None or rank < best_rank):
            best, best_rank = cover.id, rank
    return best


def requested_destination(host: str, port: int | None, protocol: str = "") -> dict | None:
    """What a new request for a logged host asks for: {host, port, protocol}; None if unknown.
    `protocol` is what a source sidecar saw (tls by SNI, http by authority, tcp by address only);
    without it port 80 means http and anything else tls."""
    if not host:
        return None
    match = _SYNTHETIC.fullmatch(host)
    if match:
        address = match["address"]
        if "." not in address and len(address) == 32:  # IPv6 written as 32 hex digits
            address = ":".join(address[i : i + 4] for i in range(0, 32, 4))
        try:
            network = ipaddress.ip_network(f"{address}/{match['prefix']}", strict=False)
        except ValueError:
            return None
        target = str(network.network_address) if network.num_addresses == 1 else str(network)
        return {"host": target, "port": int(match["port"]), "protocol": str(Protocol.TCP.value)}
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None or protocol == Protocol.TCP:
        # Only an address was dialled (no SNI, no authority): a tcp destination, which needs a port.
        return {"host": str(address or host), "port": port, "protocol": str(Protocol.TCP.value)} if port else None
    if protocol == Protocol.HTTP or (not protocol and port == 80):
        return {"host": host, "port": port or 80, "protocol": str(Protocol.HTTP.value)}
    return {"host": host, "port": port or 443, "protocol": str(Protocol.TLS.value)}


@lru_cache(maxsize=4096)
def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`host` as an IP address, or None (a name is never inside a network)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class CoverIndex:
    """Grants by identity and host, so finding the grant of a logged (identity, host) costs a dict
    lookup plus a look at the identity's wildcard grants, not a scan of all its grants."""

    def __init__(self, covers: Iterable[tuple[int, GrantCover]]):
        self._exact: dict[tuple[int, str], list[GrantCover]] = {}
        self._wildcards: dict[int, list[GrantCover]] = {}
        self._networks: dict[int, list[GrantCover]] = {}
        for identity_id, cover in covers:
            for host in cover.exact:
                self._exact.setdefault((identity_id, host), []).append(cover)
            if cover.wildcard_suffix:
                self._wildcards.setdefault(identity_id, []).append(cover)
            if cover.network is not None:
                self._networks.setdefault(identity_id, []).append(cover)

    def best(self, identity_id: int, host: str, port: int | None, moment: datetime) -> int | None:
        exact = self._exact.get((identity_id, host), ())
        others = self._wildcards.get(identity_id, [])
        if self._networks and _address(host) is not None:  # an address Hubble logged: tcp grants' CIDRs
            others = [*others, *self._networks.get(identity_id, ())]
        if not others:
            return best_grant(exact, host, port, moment)
        return best_grant([*exact, *others], host, port, moment)
