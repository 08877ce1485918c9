"""Splitting what a log shipper sends into numbered JSON values: a JSON array (Fluent Bit's `json`
format) or one JSON document per line (`json_lines`, `kubectl logs`); ztunnel's text lines are read
as well. A line that is neither becomes a LineError for that line only; the others are still read."""

import re
from collections.abc import Iterable, Iterator

import orjson

from policies.accesslog import ztunnel
from policies.accesslog.parse import LineError

_ARRAY = re.compile(rb"\s*\[")


class BodyError(Exception):
    """The body as a whole cannot be read (a JSON array that does not parse), so no line can be."""


def decode_line(raw: bytes | str, *, max_line_bytes: int) -> object:
    """One line → its JSON value, or a LineError saying why not."""
    if len(raw) > max_line_bytes:
        return LineError(f"the line is {len(raw)} bytes long; the limit is {max_line_bytes}")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "utf-8" in str(exc).lower():
            return LineError("the line is not UTF-8 text")
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        record = ztunnel.parse_text(text)  # ztunnel's default text format (ambient clusters)
        return record if record is not None else LineError(f"the line is not JSON ({exc.msg})")


def iter_lines(lines: Iterable[bytes | str], *, max_line_bytes: int, first: int = 1) -> Iterator[tuple[int, object]]:
    """(line number, JSON value or LineError) for each non-blank line; numbers count blank lines too."""
    for number, raw in enumerate(lines, start=first):
        raw = raw.strip()
        if raw:
            yield number, decode_line(raw, max_line_bytes=max_line_bytes)


def iter_body_records(body: bytes, *, max_line_bytes: int) -> Iterator[tuple[int, object]]:
    """A JSON array is numbered by element (1-based); JSON lines by physical line."""
    if _ARRAY.match(body):
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BodyError(f"The body starts like a JSON array but is not valid JSON: {exc}.") from None
        if not isinstance(items, list):
            raise BodyError("The body starts like a JSON array but is not one.")
        yield from enumerate(items, start=1)
        return
    yield from iter_lines(body.split(b"\n"), max_line_bytes=max_line_bytes)
