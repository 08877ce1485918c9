"""Request bodies: JSON only, nested at most MAX_JSON_DEPTH deep. orjson stops at its own limit
instead of recursing until Python's stack runs out (`[` × 100,000 was a RecursionError, a 500)."""

import json

import orjson
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No request body of this API nests deeper than a few levels (a request's destinations' hosts).
MAX_JSON_DEPTH = 32


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
            data = orjson.loads(text)
        except UnicodeDecodeError:
            raise ParseError(f"The body is not {encoding} text.") from None
        except orjson.JSONDecodeError as exc:
            if "integer" not in str(exc).lower():
                raise ParseError(f"The body is not valid JSON: {_reason(exc)}.") from None
            data = _with_big_integers(text)  # orjson stops at 64 bits; serializers say why a number is wrong
        if _depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(f"The body is nested more than {MAX_JSON_DEPTH} levels deep.")
        return data


def _reason(exc: Exception) -> str:
    text = str(exc)
    return "it is nested too deeply" if "recursion" in text.lower() else getattr(exc, "msg", None) or "malformed"


def _with_big_integers(text: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ParseError("The body is not valid JSON.") from None


def _depth_exceeds(data, limit: int) -> bool:
    """Iterative, so checking cannot overflow the stack either."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
