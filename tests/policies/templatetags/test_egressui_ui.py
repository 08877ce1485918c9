from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template

from policies.templatetags.egressui_ui import diff_lines, relative, risk_badges, status_badge

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


class RelativeTimeTests:
    def test_past_and_future_in_the_largest_whole_unit(self):
        assert relative(NOW - timedelta(seconds=30), NOW) == "just now"
        assert relative(NOW - timedelta(minutes=1), NOW) == "1 minute ago"
        assert relative(NOW - timedelta(hours=5, minutes=59), NOW) == "5 hours ago"
        assert relative(NOW + timedelta(days=3, hours=1), NOW) == "in 3 days"
        assert relative(NOW + timedelta(days=14), NOW) == "in 2 weeks"
        assert relative(NOW - timedelta(days=400), NOW) == "1 year ago"

    def test_when_shows_the_exact_time_on_hover(self):
        html = Template("{% load egressui_ui %}{% when value %}").render(Context({"value": NOW}))
        assert html.startswith('<time datetime="2026-01-10T12:00:00+00:00" title="2026-01-10 12:00:00 UTC">')
        assert Template("{% load egressui_ui %}{% when value %}").render(Context({"value": None})) == "—"


class BadgeTests:
    def test_risk_badges_explain_themselves_and_escape(self):
        html = risk_badges(["wildcard", "<script>"])
        assert 'title="Covers every subdomain' in html and "&lt;script&gt;" in html and "<script>" not in html

    def test_diff_lines_mark_added_and_removed_lines(self):
        html = diff_lines("--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new <b>\n same")
        assert '<span class="del">-old</span>' in html and '<span class="add">+new &lt;b&gt;</span>' in html
        assert '<span class="hunk">@@ -1 +1 @@</span>' in html and '<span class="">+++ b</span>' in html


class TruncateTextTests:
    @pytest.mark.parametrize(
        "text, length",
        [
            ("Integration 1234 needs this partner API.", 140),
            ("x" * 140, 140),
            ("x" * 141, 140),
            ("Cafe\u0301 au lait", 12),  # NFD: 13 code points, 12 characters
            ("Café au lait, encore", 8),
            ("<b>bold</b> & more", 5),
            ("", 3),
        ],
    )
    def test_the_same_as_truncatechars_escaped_as_it_is(self, text, length):
        def rendered(name):
            return Template(f"{{% load egressui_ui %}}{{{{ value|{name}:{length} }}}}").render(Context({"value": text}))

        assert rendered("truncate_text") == rendered("truncatechars")

    def test_status_badges_escape_and_repeat_alike(self):
        assert status_badge("<x>", "a & b") == '<span class="badge badge-&lt;x&gt;">a &amp; b</span>'
        assert (
            status_badge("pending_apply")
            == status_badge("pending_apply")
            == ('<span class="badge badge-pending_apply">pending apply</span>')
        )
