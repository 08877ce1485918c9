from django.conf import settings
from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """The first successful response to a POST sent with an `Idempotency-Key`, per user and key.

    A retry with the same key and the same request gets this response back instead of running the
    write again; `fingerprint` (method, path, body) tells a retry from a reuse of the key for a
    different request. Records are pruned after `EGRESSUI_IDEMPOTENCY_HOURS`.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0, help_text="0 while the first request is running.")
    response_body = models.JSONField(null=True)
    location = models.CharField(max_length=2000, blank=True, default="", help_text="Its Location header, if any.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="unique_idempotency_key_per_user")]

    def __str__(self) -> str:
        return f"idempotency key {self.key!r} of user {self.user_id}"
