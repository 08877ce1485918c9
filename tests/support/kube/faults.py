"""Injected faults (`ApiEmulator.fail` / `stall`) and the requests the emulator served (`Call`)."""

from dataclasses import dataclass, field

import aiohttp.web

from tests.support.kube.access import SSAR
from tests.support.kube.status import status_response

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


@dataclass
class Fault:
    """An injected reaction: matching requests get `status` (or are delayed by `delay` seconds first)."""

    verb: str  # apply, patch, delete, list, get, create, or "*"
    plural: str | None = None
    name: str | None = None
    namespace: str | None = None
    status: int | None = 500
    message: str = "injected failure"
    reason: str | None = None
    delay: float = 0.0
    times: int | None = 1  # None: forever
    retry_after: str = "0"  # the Retry-After header of a 429

    def matches(self, verb: str, plural: str | None, namespace: str | None, name: str | None) -> bool:
        return (
            self.verb in ("*", verb)
            and self.plural in (None, plural)
            and self.name in (None, name)
            and self.namespace in (None, namespace)
            and (self.times is None or self.times > 0)
        )

    def response(self) -> aiohttp.web.Response | None:
        """The injected answer (None for a delay alone: the request is then served normally)."""
        if self.status is None:
            return None
        response = status_response(self.status, self.reason or _REASONS.get(self.status, "InternalError"), self.message)
        if self.status == 429:
            response.headers["Retry-After"] = self.retry_after
        return response


@dataclass(frozen=True)
class Call:
    """One request the emulator served, as the reconciler sees it."""

    verb: str
    plural: str | None
    namespace: str | None
    name: str | None
    dry_run: bool = False
    params: dict = field(default_factory=dict, compare=False)
    status: int = 200
    metadata_only: bool = False  # asked for PartialObjectMetadata (no spec)

    @property
    def is_write(self) -> bool:
        return self.verb in ("apply", "patch", "create", "update", "delete") and self.plural != SSAR.plural
