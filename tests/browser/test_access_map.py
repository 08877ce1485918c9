"""The access map in a browser on the demo data (issue 16, item 14): it renders as SVG, its lines
carry their state, and they lead to the grant or the refused attempts they stand for — with a mouse
(JavaScript on) and with the keyboard (JavaScript off)."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# A point on a curve near its destination, in page coordinates: where a person would click the line
# (its middle may be where other lines cross it).
MIDPOINT = """path => {
  const point = path.getPointAtLength(path.getTotalLength() * 0.9);
  const matrix = path.getScreenCTM();
  return {x: point.x * matrix.a + matrix.e, y: point.y * matrix.d + matrix.f};
}"""


def edge(page, text):
    return page.locator("a.map-edge", has=page.locator("title", has_text=text))


def test_the_map_renders_and_its_lines_lead_somewhere(session, demo_data):
    dev = session()
    dev.sign_in("payments-dev", demo_data)
    page = dev.page
    with dev.step("open the map from the navigation"):
        page.get_by_role("link", name="Access map").click()
        svg = page.locator("svg.access-map")
        expect(svg).to_be_visible()
        expect(svg).to_contain_text("checkout")
        expect(svg).to_contain_text("api.stripe.com")
        expect(svg).not_to_contain_text("indexer")  # team search's workload
        expect(page.locator(".edge-active")).not_to_have_count(0)
        expect(page.locator(".edge-blocked")).not_to_have_count(0)
        page.screenshot(path="/tmp/i16-access-map-1280.png", full_page=True)
    with dev.step("clicking a grant's line opens the grant"):
        link = edge(page, "payments/checkout → api.stripe.com")
        grant_id = re.match(r"Grant #(\d+) \(active grant\)", link.locator("title").text_content()).group(1)
        point = link.locator("path.edge").evaluate(MIDPOINT)
        page.mouse.click(point["x"], point["y"])
        expect(page).to_have_url(re.compile(rf".*/grants/{grant_id}/$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"Grant #{grant_id}")
        expect(page.get_by_role("main")).to_contain_text("api.stripe.com")
    with dev.step("filters narrow the map to blocked lines"):
        page.go_back()
        page.get_by_label("Blocked").check()
        expect(page.locator("path.edge")).to_have_count(page.locator("path.edge-blocked").count())
        expect(page.locator("svg.access-map")).not_to_contain_text("api.stripe.com")
        assert "state=blocked" in page.url
    with dev.step("the page does not overflow on a phone"):
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path="/tmp/i16-access-map-390.png", full_page=True)

    plain = session(javascript=False)
    plain.sign_in("payments-dev", demo_data)
    with plain.step("without JavaScript a blocked line leads to its refused attempts"):
        plain.goto("/access-map/")
        blocked = edge(plain.page, "Blocked: payments/refunds → hooks.slack.com")
        blocked.focus()
        plain.page.keyboard.press("Enter")
        expect(plain.page).to_have_url(re.compile(r".*/denied-attempts/\?.*"))
        rows = plain.page.locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text("hooks.slack.com")
