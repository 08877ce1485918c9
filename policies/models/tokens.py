from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A personal API token for automation (`Authorization: Bearer …`).

    Only the SHA-256 of the secret is stored (`policies.crypto.hash_secret`), so a database dump
    cannot be replayed; the secret is shown once, when the token is created. `prefix` keeps the
    first characters so people can tell their tokens apart. A revoked token is kept (revoked_at set)
    so its audit trail and last use stay readable.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    read_only = models.BooleanField(default=False, help_text="Read-only tokens can only make GET requests.")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"], condition=models.Q(revoked_at__isnull=True), name="unique_live_token_name"
            )
        ]

    def __str__(self) -> str:
        return f"token {self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
