"""`Idempotency-Key` for POSTs: a client that lost a response (timeout, dropped connection) retries
with the same key and gets the first response back, and nothing is done twice.

The record is inserted before the write and in the same transaction, so two concurrent requests
with one key serialise on the unique (user, key) index: the second waits, then replays the first's
response. A failed request (any non-2xx) rolls its record back with its changes, so it can simply
be retried. Only 2xx responses are remembered, for EGRESSUI_IDEMPOTENCY_HOURS.

Services that must commit on their own (`transaction.atomic(durable=True)`) cannot run inside that
transaction; their views use `idempotent(atomic=False)`: the record is committed first as "in
progress", filled in after the service commits, and removed if it fails. A concurrent retry then
gets a 409 instead of waiting.
"""

import functools
import hashlib
import json
import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from policies.exceptions import Conflict, IdempotencyKeyInvalid, IdempotencyKeyReused
from policies.models import IdempotencyRecord

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[!-~]{1,255}$")  # printable ASCII, no spaces


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    material = f"{request.method}\n{request.get_full_path()}\n{body}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was used for a different request; use a new key.")
    if record.status_code == 0:  # an idempotent(atomic=False) request that has not finished
        raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.")
    headers = {REPLAY_HEADER: "true", **({"Location": record.location} if record.location else {})}
    return Response(record.response_body, status=record.status_code, headers=headers)


def _expiry_cutoff():
    return timezone.now() - timedelta(hours=settings.EGRESSUI_IDEMPOTENCY_HOURS)


def _stored(response) -> dict:
    body = getattr(response, "replay_data", response.data)
    return json.loads(json.dumps(body, default=str))


def _remember(record: IdempotencyRecord, response) -> None:
    record.status_code, record.response_body = response.status_code, _stored(response)
    record.location = response.get("Location", "")
    record.save(update_fields=["status_code", "response_body", "location"])


def idempotent(handler=None, *, atomic: bool = True):
    """Decorate an APIView's `post`. The response body stored for replay is `response.data`, or
    `response.replay_data` when the view sets it (to keep a one-time secret out of storage)."""
    if handler is None:
        return functools.partial(idempotent, atomic=atomic)

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not _KEY.match(key):
            message = "Use 1–255 printable ASCII characters without spaces, such as a UUID."
            raise IdempotencyKeyInvalid(message, fields={IDEMPOTENCY_HEADER: [message]})
        fingerprint = _fingerprint(request)
        records = IdempotencyRecord.objects.filter(user_id=request.user.pk, key=key)
        records.filter(created_at__lt=_expiry_cutoff()).delete()
        existing = records.first()
        if existing is not None:
            return _replay(existing, fingerprint)
        run = _run_atomic if atomic else _run_committed
        return run(records, fingerprint, lambda: handler(view, request, *args, **kwargs), request.user.pk, key)

    wrapper.idempotent = True  # read by policies.api.schema to document the header
    return wrapper


def accepts_idempotency_key(view_class, method: str) -> bool:
    """Whether the view's handler for `method` (its own, or one it inherits and calls) is idempotent."""
    return any(getattr(cls.__dict__.get(method), "idempotent", False) for cls in view_class.__mro__)


def _run_atomic(records, fingerprint, call, user_id, key):
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(user_id=user_id, key=key, fingerprint=fingerprint)
        except IntegrityError:  # a concurrent request with this key committed first
            return _replay(records.get(), fingerprint)
        response = call()
        if not 200 <= response.status_code < 300:
            transaction.set_rollback(True)
            return response
        _remember(record, response)
        return response


def _run_committed(records, fingerprint, call, user_id, key):
    try:
        with transaction.atomic():  # commits at once (a savepoint when already in a transaction)
            record = IdempotencyRecord.objects.create(user_id=user_id, key=key, fingerprint=fingerprint)
    except IntegrityError:
        return _replay(records.get(), fingerprint)
    try:
        response = call()
    except BaseException:
        record.delete()
        raise
    if not 200 <= response.status_code < 300:
        record.delete()
        return response
    _remember(record, response)
    return response


def idempotency_records_purge(*, now=None) -> int:
    """Forget keys older than EGRESSUI_IDEMPOTENCY_HOURS (run periodically)."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.EGRESSUI_IDEMPOTENCY_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
