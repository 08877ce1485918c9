"""Destination validation: a table of good and bad inputs, and properties over generated hosts."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.exceptions import ValidationFailed
from policies.validators import (
    destination_risk_flags,
    normalize_host,
    validate_destination,
    validate_egress_host,
    validate_expanded_hosts,
    validate_port,
    validate_protocol_port,
)

GOOD_HOSTS = [
    ("api.stripe.com", "tls", "api.stripe.com"),
    ("API.Stripe.COM", "tls", "api.stripe.com"),
    ("api.stripe.com.", "tls", "api.stripe.com"),
    ("  api.stripe.com  ", "tls", "api.stripe.com"),
    ("*.github.com", "tls", "*.github.com"),
    ("bücher.de", "tls", "xn--bcher-kva.de"),
    ("xn--bcher-kva.de", "tls", "xn--bcher-kva.de"),
    ("*.münchen.de", "tls", "*.xn--mnchen-3ya.de"),
    ("github.io", "tls", "github.io"),
    ("a-b.c-d.example.org", "http", "a-b.c-d.example.org"),
    ("203.0.113.10", "tcp", "203.0.113.10"),
    ("203.0.113.0/28", "tcp", "203.0.113.0/28"),
    ("10.20.0.0/16", "tcp", "10.20.0.0/16"),
    ("2001:db8::1", "tcp", "2001:db8::1"),
    ("2001:db8:1::/48", "tcp", "2001:db8:1::/48"),
]

BAD_HOSTS = [
    ("", "tls", "Enter a host name"),
    ("*", "tls", "bare *"),
    ("*.", "tls", "bare *"),
    ("*.com", "tls", "public suffix com"),
    ("*.co.uk", "tls", "public suffix co.uk"),
    ("*.github.io", "tls", "public suffix github.io"),
    ("api.*.example.com", "tls", "only allowed as the whole first label"),
    ("*api.example.com", "tls", "only allowed as the whole first label"),
    ("foo*.example.com", "tls", "only allowed as the whole first label"),
    ("https://api.stripe.com", "tls", "without a scheme"),
    ("api.stripe.com/v1", "tls", "without a path"),
    ("api.stripe.com:443", "tls", "port field"),
    ("api stripe.com", "tls", "spaces"),
    ("localhost", "tls", "cluster-internal"),
    ("kubernetes.default.svc", "tls", "cluster-internal"),
    ("db.payments.svc.cluster.local", "tls", "cluster-internal"),
    ("printer.local", "tls", "cluster-internal"),
    ("*.cluster.local", "tls", "cluster-internal"),
    ("intranet", "tls", "fully qualified"),
    ("api..example.com", "tls", "empty labels"),
    ("-api.example.com", "tls", "not a valid domain name"),
    ("api_v2.example.com", "tls", "not a valid domain name"),
    ("a" * 64 + ".example.com", "tls", "not a valid domain name"),
    (("a" * 60 + ".") * 5 + "com", "tls", "at most"),
    ("example.123", "tls", "numeric"),
    ("203.0.113.10", "tls", "only allowed with protocol tcp"),
    ("2001:db8::1", "http", "only allowed with protocol tcp"),
    ("api.stripe.com", "tcp", "must be an IP address or CIDR"),
    ("203.0.113.1/24", "tcp", "host bits set"),
    ("0.0.0.0/0", "tcp", "too wide"),
    ("10.0.0.0/8", "tcp", "too wide"),
    ("127.0.0.1", "tcp", "not a routable destination"),
    ("169.254.169.254", "tcp", "link-local"),
    ("fe80::1", "tcp", "link-local"),
    ("224.0.0.1", "tcp", "not a routable destination"),
]


class ValidateEgressHostTests:
    @pytest.mark.parametrize(("raw", "protocol", "expected"), GOOD_HOSTS)
    def test_accepts_and_normalises(self, raw, protocol, expected):
        assert validate_egress_host(raw, protocol=protocol) == expected

    @pytest.mark.parametrize(("raw", "protocol", "reason"), BAD_HOSTS)
    def test_rejects_with_reason_on_the_host_field(self, raw, protocol, reason):
        with pytest.raises(ValidationFailed) as caught:
            validate_egress_host(raw, protocol=protocol)
        assert list(caught.value.fields) == ["host"]
        assert reason.lower() in caught.value.message.lower()

    def test_internal_suffixes_are_configurable(self):
        assert validate_egress_host("printer.local.de", internal_suffixes=("corp.example.com",)) == "printer.local.de"
        with pytest.raises(ValidationFailed, match="cluster-internal"):
            validate_egress_host("wiki.corp.example.com", internal_suffixes=("corp.example.com",))


class ValidatePortTests:
    @pytest.mark.parametrize(("value", "expected"), [(1, 1), ("443", 443), (" 8443 ", 8443), (65535, 65535)])
    def test_accepts(self, value, expected):
        assert validate_port(value) == expected

    @pytest.mark.parametrize("value", [0, 65536, -1, "https", "", None, 4.5, True, "1e3"])
    def test_rejects_on_the_port_field(self, value):
        with pytest.raises(ValidationFailed) as caught:
            validate_port(value)
        assert list(caught.value.fields) == ["port"]

    @pytest.mark.parametrize(("protocol", "port"), [("tls", 80), ("http", 443), ("http-originate", 80)])
    def test_impossible_protocol_port_pairs(self, protocol, port):
        with pytest.raises(ValidationFailed) as caught:
            validate_protocol_port(protocol, port)
        assert list(caught.value.fields) == ["port"]

    @pytest.mark.parametrize(
        ("protocol", "port"), [("tls", 443), ("tls", 8443), ("http", 80), ("http-originate", 443), ("tcp", 443)]
    )
    def test_possible_protocol_port_pairs(self, protocol, port):
        validate_protocol_port(protocol, port)


class ValidateDestinationTests:
    def test_unknown_protocol_names_the_protocol_field(self):
        with pytest.raises(ValidationFailed) as caught:
            validate_destination(host="api.example.com", port=443, protocol="https")
        assert list(caught.value.fields) == ["protocol"]

    def test_wildcard_with_concrete_hosts(self):
        destination = validate_destination(
            host="*.github.com", port=443, protocol="tls", expanded_hosts=["API.github.com", "codeload.github.com."]
        )
        assert destination.expanded_hosts == ("api.github.com", "codeload.github.com")
        assert destination.is_wildcard

    @pytest.mark.parametrize(
        ("host", "expanded", "reason"),
        [
            ("api.github.com", ["x.github.com"], "only be listed for a wildcard"),
            ("*.github.com", ["api.gitlab.com"], "is not under"),
            ("*.github.com", ["github.com"], "is not under"),
            ("*.github.com", ["*.api.github.com"], "not wildcards"),
            ("*.github.com", ["bad host.github.com"], "spaces"),
        ],
    )
    def test_bad_concrete_hosts(self, host, expanded, reason):
        with pytest.raises(ValidationFailed) as caught:
            validate_expanded_hosts(host, expanded)
        assert list(caught.value.fields) == ["expanded_hosts"]
        assert reason in caught.value.message

    def test_risk_flags(self):
        assert destination_risk_flags(host="*.github.com", protocol="http") == ["wildcard", "clear-text"]
        assert destination_risk_flags(host="203.0.113.1", protocol="tcp") == ["tcp"]
        assert destination_risk_flags(host="api.stripe.com", protocol="tls") == []


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
_unicode_label = st.text(alphabet=st.characters(categories=("Ll", "Lu", "Nd")), min_size=1, max_size=12)
_hosts = st.builds(
    lambda labels, tld, wildcard, upper, dot: (
        ("*." if wildcard else "") + ".".join([*labels, tld]).upper()
        if upper
        else ("*." if wildcard else "") + ".".join([*labels, tld]) + ("." if dot else "")
    ),
    st.lists(st.one_of(_label, _unicode_label), min_size=1, max_size=4),
    st.sampled_from(["com", "org", "de", "io", "co.uk", "net"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class HostPropertyTests:
    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(_hosts)
    def test_normalising_twice_changes_nothing(self, raw):
        try:
            once = normalize_host(raw)
        except ValidationFailed:
            return
        assert normalize_host(once) == once

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(_hosts)
    def test_anything_accepted_is_a_valid_dns_name(self, raw):
        try:
            host = validate_egress_host(raw)
        except ValidationFailed:
            return
        name = host[2:] if host.startswith("*.") else host
        assert len(name) <= 253
        assert name == name.lower()
        labels = name.split(".")
        assert len(labels) >= 2
        assert all(_DNS_LABEL.match(label) for label in labels)
        assert "*" not in name
