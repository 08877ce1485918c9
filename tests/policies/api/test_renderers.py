"""FastJSONRenderer writes the very bytes DRF's JSONRenderer writes."""

import datetime as dt
import decimal
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from policies.api.renderers import FastJSONRenderer

UTC_NOW = dt.datetime(2026, 11, 26, 10, 8, 33, 544736, tzinfo=dt.UTC)

DOCUMENTS = {
    "page": {"count": 2, "next": None, "previous": "http://testserver/api/v1/requests/?page=1", "results": []},
    "text": {"ascii": "api.stripe.com", "accents": "Zürich – café", "separators": "a\u2028b\u2029c", "quote": '"\\'},
    "numbers": {"int": 9_007_199_254_740_993, "negative": -3, "float": 0.5, "bool": True, "none": None},
    "datetimes": {"aware": UTC_NOW, "on the second": UTC_NOW.replace(microsecond=0), "date": UTC_NOW.date()},
    "other types": {"decimal": decimal.Decimal("1.25"), "uuid": uuid.UUID(int=7), "lazy": gettext_lazy("Not found.")},
    "drf containers": ReturnDict({"rows": ReturnList([{"id": 1}, {"id": 2}], serializer=None)}, serializer=None),
    "non-string keys": {1: "one", None: "none"},
    "huge integer": {"id": 2**70},
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_same_bytes_as_drf(name):
    data = DOCUMENTS[name]
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_indented_and_empty_like_drf():
    data = DOCUMENTS["page"]
    indented = "application/json; indent=2"
    assert FastJSONRenderer().render(data, indented) == JSONRenderer().render(data, indented)
    assert FastJSONRenderer().render(None) == b""
