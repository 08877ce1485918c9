"""Finding 3: destination checks without bypasses.

Every check runs on the normalised host: a trailing dot, IPv4-mapped IPv6 or another spelling of a
refused address cannot slip past one. Refused for every protocol: loopback, link-local, unspecified,
multicast, 0.0.0.0/8 and the cloud metadata addresses; IP literals only for tcp; host names end in a
public suffix (search-path names such as kubernetes.default never do). The request form and the API go
through the same validator, so refusing here refuses everywhere.
"""

import ipaddress

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.choices import Protocol
from policies.exceptions import ValidationFailed
from policies.validators import REFUSED_NETWORKS, validate_egress_host

BYPASSES = [
    # (input, protocol, reason in the message)
    ("169.254.169.254.", "tls", "only allowed with protocol tcp"),
    ("169.254.169.254.", "http", "only allowed with protocol tcp"),
    ("127.0.0.1.", "tls", "only allowed with protocol tcp"),
    ("10.0.0.1.", "http", "only allowed with protocol tcp"),
    ("::ffff:169.254.169.254", "tls", "only allowed with protocol tcp"),
    ("169.254.169.254.", "tcp", "link-local"),
    ("::ffff:169.254.169.254", "tcp", "link-local"),
    ("::FFFF:A9FE:A9FE", "tcp", "link-local"),
    ("::ffff:127.0.0.1", "tcp", "not a routable destination"),
    ("::ffff:7f00:0/120", "tcp", "not a routable destination"),
    ("64:ff9b::a9fe:a9fe", "tcp", "link-local"),  # NAT64 reaches the IPv4 metadata address
    ("fd00:ec2::254", "tcp", "metadata"),
    ("fd20:ce::254", "tcp", "metadata"),
    ("100.100.100.200", "tcp", "metadata"),
    ("168.63.129.16", "tcp", "metadata"),
    ("168.63.0.0/16", "tcp", "metadata"),  # a range containing one
    ("0.1.2.3", "tcp", "not a routable destination"),
    ("0.0.0.0", "tcp", "not a routable destination"),
    ("::", "tcp", "not a routable destination"),
    ("::1", "tcp", "not a routable destination"),
    ("ff02::1", "tcp", "not a routable destination"),
    ("255.255.255.255", "tcp", "not a routable destination"),
    ("kubernetes.default", "tls", "public domain suffix"),
    ("kubernetes.default.", "http", "public domain suffix"),
    ("db.payments", "tls", "public domain suffix"),
    ("foo", "tls", "fully qualified"),
    ("svc", "tls", "cluster-internal"),
    ("metadata.google.internal", "tls", "cluster-internal"),
    ("*.corp", "tls", "public domain suffix"),
]


class BypassTests:
    @pytest.mark.parametrize(("raw", "protocol", "reason"), BYPASSES)
    def test_refused_with_the_reason(self, raw, protocol, reason):
        with pytest.raises(ValidationFailed, match=reason) as refused:
            validate_egress_host(raw, protocol=protocol)
        assert refused.value.fields == {"host": [refused.value.message]}

    @pytest.mark.parametrize(
        ("raw", "protocol", "normalised"),
        [
            ("::ffff:203.0.113.10", "tcp", "203.0.113.10"),
            ("203.0.113.10.", "tcp", "203.0.113.10"),
            ("API.Stripe.com.", "tls", "api.stripe.com"),
            ("github.io", "tls", "github.io"),
            ("*.example.co.uk", "tls", "*.example.co.uk"),
        ],
    )
    def test_ordinary_destinations_still_pass(self, raw, protocol, normalised):
        assert validate_egress_host(raw, protocol=protocol) == normalised

    def test_the_request_form_and_the_api_refuse_them(self, world):
        client = Client()
        client.force_login(world.dev)
        response = client.post(
            "/api/v1/requests/",
            {
                "team": "payments",
                "identities": [str(world.checkout)],
                "destinations": [{"host": "169.254.169.254.", "port": 443, "protocol": "tls"}],
                "justification": "x",
            },
            content_type="application/json",
        )
        assert response.status_code == 400
        assert "only allowed with protocol tcp" in str(response.json()["error"]["fields"])
        form = client.post(
            "/requests/check/",
            {
                "dest-TOTAL_FORMS": "1",
                "dest-INITIAL_FORMS": "0",
                "dest-0-host": "::ffff:127.0.0.1",
                "dest-0-port": "443",
                "dest-0-protocol": "tcp",
            },
        )
        assert "not a routable destination" in form.content.decode()


_EMBEDDING = [ipaddress.ip_network(prefix) for prefix in ("::ffff:0:0/96", "::/96", "64:ff9b::/96")]


def _refused(network) -> bool:
    """Independent of the validator's own helper: the range, or the IPv4 range it embeds."""
    candidates = [network]
    if network.version == 6 and network.prefixlen >= 96 and any(network.subnet_of(p) for p in _EMBEDDING):
        candidates.append(
            ipaddress.ip_network(
                f"{ipaddress.IPv4Address(int(network.network_address) & 0xFFFFFFFF)}/{network.prefixlen - 96}",
                strict=False,
            )
        )
    return any(c.version == r.version and c.overlaps(r) for c in candidates for r, _ in REFUSED_NETWORKS)


_refused_v4 = st.sampled_from([network for network, _ in REFUSED_NETWORKS if network.version == 4]).flatmap(
    lambda network: st.integers(0, network.num_addresses - 1).map(lambda offset: network.network_address + offset)
)
_v4 = st.one_of(st.ip_addresses(v=4), _refused_v4)
_spellings = st.one_of(
    _v4.map(str),
    _v4.map(lambda a: f"{a}."),
    _v4.map(lambda a: f"::ffff:{a}"),
    _v4.map(lambda a: f"::FFFF:{int(a) >> 16:x}:{int(a) & 0xFFFF:x}"),
    _v4.map(lambda a: f"64:ff9b::{a}"),
    _v4.map(lambda a: f"{a}/32"),
    st.ip_addresses(v=6).map(str),
    st.sampled_from(["fd00:ec2::254", "fe80::1", "::1", "::", "ff02::1", "kubernetes.default", "db.svc", "x.internal"]),
    st.from_regex(r"\A[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,2}\.?\Z"),
)


class PropertyTests:
    @settings(max_examples=400, deadline=None)
    @given(_spellings, st.sampled_from(Protocol.values))
    def test_nothing_accepted_is_an_ip_unless_tcp_nor_in_a_refused_range(self, raw, protocol):
        try:
            host = validate_egress_host(raw, protocol=protocol)
        except ValidationFailed:
            return
        try:
            network = ipaddress.ip_network(host, strict=False)
        except ValueError:
            assert protocol != Protocol.TCP
            assert not host.rstrip(".").replace(".", "").isdigit()
            return
        assert protocol == Protocol.TCP, f"{raw!r} accepted as an IP for {protocol}"
        assert not _refused(network), f"{raw!r} → {host} lies in a refused range"
