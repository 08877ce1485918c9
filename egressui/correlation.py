"""The correlation id ties audit events and log lines to the HTTP request or Celery task behind them."""

import contextvars
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

_correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("egressui_correlation_id", default="")
_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str:
    return _correlation_id.get()


def sanitize_correlation_id(value: str | None) -> str:
    """Accept a caller-supplied id only if it is short and harmless; otherwise make a new one."""
    if value and _SAFE.match(value):
        return value
    return new_correlation_id()


@contextmanager
def correlation_scope(value: str | None = None) -> Iterator[str]:
    token = _correlation_id.set(sanitize_correlation_id(value))
    try:
        yield _correlation_id.get()
    finally:
        _correlation_id.reset(token)
