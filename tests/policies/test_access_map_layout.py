"""The access map's layout is pure arithmetic: no database, no clock."""

from datetime import UTC, datetime

from policies.access_map_layout import LEFT_DOT, RIGHT_DOT, ROW, layout, svg
from policies.selectors.access_map import MapEdge, MapSource


class Links:
    def edge(self, edge):
        return f"/edge/{edge.grant_id or edge.host}"

    def namespace(self, name):
        return f"/ns/{name}"

    def host(self, host):
        return f"/host/{host}"


def source(key, namespace, name, registered=True):
    return MapSource(key, namespace, 1, name, f"cluster.local/ns/{namespace}/sa/{name}", registered)


def grant(source_key, host, grant_id, port=443):
    expires = datetime(2027, 1, 1, tzinfo=UTC)
    return MapEdge(source_key, host, "active", port, "tls", grant_id=grant_id, expires_at=expires)


class LayoutTests:
    def test_namespaces_head_their_identities_and_hosts_sort_by_domain(self):
        drawn = layout(
            [source("i1", "payments", "checkout"), source("i2", "payments", "refunds"), source("i3", "search", "x")],
            [grant("i1", "files.stripe.com", 1), grant("i2", "api.adyen.com", 2), grant("i3", "api.stripe.com", 3)],
            Links(),
        )
        assert [(row.kind, row.label) for row in drawn.left] == [
            ("namespace", "payments"),
            ("identity", "checkout"),
            ("identity", "refunds"),
            ("namespace", "search"),
            ("identity", "x"),
        ]
        assert [row.label for row in drawn.right] == ["api.adyen.com", "api.stripe.com", "files.stripe.com"]
        assert drawn.left[0].url == "/ns/payments" and drawn.right[0].url == "/host/api.adyen.com"
        # Three hosts against five rows: the right column is centred.
        assert drawn.right[0].y - drawn.left[0].y == ROW

    def test_edges_between_the_same_nodes_bow_apart(self):
        drawn = layout(
            [source("i1", "payments", "checkout")],
            [grant("i1", "api.stripe.com", 1, port=443), grant("i1", "api.stripe.com", 2, port=8443)],
            Links(),
        )
        first, second = (curve.path for curve in drawn.curves)
        assert first.startswith(f"M{LEFT_DOT},") and f"{RIGHT_DOT}," in first
        assert first != second
        assert [curve.url for curve in drawn.curves] == ["/edge/1", "/edge/2"]
        assert "Grant #1 (active grant): payments/checkout → api.stripe.com:443 (tls)" in drawn.curves[0].title

    def test_long_names_are_shortened_with_the_whole_name_in_the_title(self):
        host = "a-very-long-label-that-goes-on." * 3 + "example.com"
        drawn = layout([source("p:x", "", "ghost", registered=False)], [grant("p:x", host, 1)], Links())
        assert drawn.right[0].label.startswith("…") and drawn.right[0].label.endswith("example.com")
        assert drawn.right[0].title == host
        assert drawn.left[0].label == "unknown namespace" and drawn.left[0].url == ""
        assert drawn.left[1].kind == "unregistered" and drawn.left[1].title.endswith("(not registered)")

    def test_the_svg_escapes_every_text_and_url(self):
        class Hostile(Links):
            def host(self, host):
                return '/map/?host=a"b&c'

        drawn = layout(
            [source("p:x", "ns", "<b>sa</b>", registered=False)], [grant("p:x", "a&b.example.com", 1)], Hostile()
        )
        markup = str(svg(drawn, label='map "x"'))
        assert "<b>" not in markup and "&lt;b&gt;sa&lt;/b&gt;" in markup
        assert "a&amp;b.example.com" in markup and 'href="/map/?host=a&quot;b&amp;c"' in markup
        assert 'aria-label="map &quot;x&quot;"' in markup
