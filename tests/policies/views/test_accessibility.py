"""Structural accessibility of the pages: every form control has a label, ids are unique, every
aria-describedby points at an element that exists, fields marked invalid say why, each page has one
h1 and a language, and no template syntax leaks into the HTML."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from policies.services.approvals import egress_request_approve
from policies.services.comments import egress_request_comment
from policies.services.requests import egress_request_create

pytestmark = pytest.mark.django_db

CONTROLS = {"input", "select", "textarea"}
UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class PageStructure(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[dict] = []
        self.described: list[tuple[str, str]] = []
        self.h1 = 0
        self.lang = None
        self._label_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.append(attrs["id"])
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "h1":
            self.h1 += 1
        if tag == "label":
            self._label_depth += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        if tag in CONTROLS and attrs.get("type") not in UNLABELLED_TYPES:
            self.controls.append({**attrs, "_tag": tag, "_in_label": self._label_depth > 0})
        for ref in (attrs.get("aria-describedby") or "").split():
            self.described.append((attrs.get("name") or attrs.get("id") or tag, ref))

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_depth -= 1


def check(html: str) -> PageStructure:
    for leak in ("{#", "#}", "{%", "%}", "{{", "}}"):
        assert leak not in html, f"template syntax leaked into the page: {leak}"
    page = PageStructure()
    page.feed(html)
    duplicates = {i for i in page.ids if page.ids.count(i) > 1}
    assert not duplicates, f"duplicate ids: {duplicates}"
    for control in page.controls:
        labelled = control["_in_label"] or control.get("id") in page.label_for or control.get("aria-label")
        assert labelled, f"no label for {control['_tag']} {control.get('name')}"
        if control.get("aria-invalid") == "true":
            assert control.get("aria-describedby"), f"{control.get('name')} is invalid but says not why"
    missing = [(name, ref) for name, ref in page.described if ref not in page.ids]
    assert not missing, f"aria-describedby points nowhere: {missing}"
    assert page.h1 == 1 and page.lang == "en"
    return page


@pytest.fixture
def data(world):
    request = egress_request_create(requester=world.dev, data=world.request_input("api.stripe.com"), submit=True)
    egress_request_comment(request=request, actor=world.lead, body="Why?")
    approved = egress_request_create(requester=world.dev, data=world.request_input("api.adyen.com"), submit=True)
    egress_request_approve(request=approved, approver=world.lead)
    return request, approved


@pytest.mark.parametrize(
    "persona, page",
    [
        ("dev", "dashboard"),
        ("dev", "request_list"),
        ("dev", "request_create"),
        ("lead", "approval_inbox"),
        ("dev", "grant_list"),
        ("admin", "audit_log"),
        ("admin", "cluster_list"),
        ("admin", "break_glass"),
    ],
)
def test_pages(client, world, data, persona, page):
    client.force_login(getattr(world, persona))
    check(client.get(reverse(page)).content.decode())


def test_object_pages(client, world, data):
    request, approved = data
    client.force_login(world.lead)
    check(client.get(reverse("request_detail", args=[request.pk])).content.decode())
    check(client.get(reverse("grant_detail", args=[approved.grants.first().pk])).content.decode())
    check(client.get(reverse("grant_revoke", args=[approved.grants.first().pk])).content.decode())
    client.force_login(world.admin)
    check(client.get(reverse("cluster_detail", args=[world.cluster.pk])).content.decode())


def test_a_form_with_errors_ties_each_error_to_its_field(client, world):
    client.force_login(world.dev)
    data = {
        "team": world.payments.pk,
        "justification": "",
        "duration_days": "999",
        "dest-TOTAL_FORMS": "1",
        "dest-INITIAL_FORMS": "0",
        "dest-0-host": "*.com",
        "dest-0-port": "443",
        "dest-0-protocol": "tls",
        "action": "submit",
    }
    page = check(client.post(reverse("request_create"), data).content.decode())
    invalid = {control.get("name") for control in page.controls if control.get("aria-invalid") == "true"}
    assert {"justification", "duration_days", "dest-0-host"} <= invalid


def test_the_login_page(client):
    check(client.get(reverse("login")).content.decode())
