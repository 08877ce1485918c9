"""API tokens in the browser (issue 16, item 13): from the navigation to a new read-only token whose
secret is shown once and works against the API, then revoked after a confirmation."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_create_use_and_revoke_a_token(session, demo_data):
    dev = session()
    dev.sign_in("payments-dev", demo_data)
    page = dev.page
    with dev.step("the navigation leads to the tokens page and the API docs"):
        docs = page.get_by_role("link", name="API docs")
        expect(docs).to_have_attribute("href", "/api/v1/docs/")
        page.get_by_role("link", name="API tokens").click()
        expect(page.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
        expect(page.get_by_text("You have no API tokens.")).to_be_visible()
    with dev.step("create a read-only token: its secret is shown once"):
        page.get_by_label("Name").fill("nightly-report")
        page.get_by_label("Read only: GET requests only").check()
        page.get_by_label("Expires after").select_option("30")
        page.get_by_role("button", name="Create token").click()
        expect(page.get_by_role("status")).to_contain_text("Copy it now: it is shown only this once.")
        secret = page.locator("#new-token").input_value()
        page.screenshot(path="/tmp/i16-tokens-created-1280.png", full_page=True)
        assert re.fullmatch(r"egr_[A-Za-z0-9_-]{20,}", secret)
        row = page.locator("tbody tr", has_text="nightly-report")
        expect(row).to_contain_text("Read only")
        expect(row).to_contain_text("in 4 weeks")
        expect(row).to_contain_text("never")
    with dev.step("the secret works against the API, read-only"):
        api = dev.context.request
        assert api.get(dev.base_url + "/api/v1/tokens/", headers={"Authorization": f"Bearer {secret}"}).ok
        refused = api.post(
            dev.base_url + "/api/v1/tokens/",
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
            data={"name": "child"},
        )
        assert refused.status == 403 and "token_read_only" in refused.text()
    with dev.step("reloading the list does not show the secret again"):
        dev.goto("/tokens/")
        expect(page.locator("#new-token")).to_have_count(0)
        assert secret not in page.content()
        expect(
            page.locator("tbody tr", has_text="nightly-report").locator('td[data-label="Last used"]')
        ).to_contain_text("just now")
    with dev.step("revoke after a confirmation"):
        page.locator("tbody tr", has_text="nightly-report").get_by_role("link", name="Revoke…").click()
        expect(page.get_by_role("heading", name="Revoke token nightly-report?")).to_be_visible()
        page.get_by_role("button", name="Revoke token nightly-report").click()
        expect(page.get_by_text("Token nightly-report revoked")).to_be_visible()
        row = page.locator("tbody tr", has_text="nightly-report")
        expect(row).to_contain_text("revoked")
        expect(row.get_by_role("link", name="Revoke…")).to_have_count(0)
        assert (
            dev.context.request.get(
                dev.base_url + "/api/v1/tokens/", headers={"Authorization": f"Bearer {secret}"}
            ).status
            == 401
        )
    with dev.step("no horizontal overflow on a phone"):
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path="/tmp/i16-tokens-390.png", full_page=True)
