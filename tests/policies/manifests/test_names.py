from hypothesis import given
from hypothesis import strategies as st

from policies.manifests.names import bounded, host_object_name, slug, tcp_synthetic_host
from tests.support.manifest_validation import is_dns_label, is_host

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
hosts = st.builds(
    lambda labels, wild: ("*." if wild else "") + ".".join(labels),
    st.lists(label, min_size=2, max_size=6),
    st.booleans(),
)


class SlugTests:
    def test_examples(self):
        assert slug("api.example.com") == "api-example-com"
        assert slug("my-api.example.com") == "my--api-example-com"
        assert slug("*.wikipedia.org") == "wildcard---wikipedia-org"
        assert slug("a-b.com") != slug("a.b-com")
        assert slug("wildcard.example.com") != slug("*.example.com")

    @given(hosts, hosts)
    def test_injective(self, first, second):
        if first != second:
            assert slug(first) != slug(second)

    @given(hosts, st.sampled_from(["", "egressgw-", "originate-", "tls-", "https-"]))
    def test_names_are_dns_labels(self, host, prefix):
        assert is_dns_label(host_object_name(host, prefix))


class BoundedTests:
    def test_short_names_are_kept_long_ones_cut_with_a_hash(self):
        assert bounded("a" * 62) == "a" * 62
        cut = bounded("a" * 63)
        assert len(cut) == 63 and cut.startswith("a" * 52 + "-") and cut != bounded("a" * 64)

    def test_cut_names_stay_unique(self):
        base = "x" * 70
        assert len({bounded(base + str(i)) for i in range(1000)}) == 1000


class SyntheticHostTests:
    def test_tcp_hosts(self):
        assert tcp_synthetic_host("203.0.113.0/29", 5432) == "203.0.113.0-29.p5432.tcp.egress.internal"
        assert tcp_synthetic_host("198.51.100.7", 22, direct=True) == "198.51.100.7-32.p22.direct.tcp.egress.internal"
        v6 = tcp_synthetic_host("2001:db8::/64", 443)
        assert v6 == "20010db8000000000000000000000000-64.p443.tcp.egress.internal" and is_host(v6)
