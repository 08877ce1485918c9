from django.conf import settings
from django.db import models

from policies.choices import TeamRole
from policies.models.fields import EncryptedTextField


class Team(models.Model):
    """People who own namespaces and request egress for them.

    A team is also how approver groups are expressed: an approval step names a team (say
    `security`) whose approvers may satisfy it, so there is one notion of "group" in the product.
    """

    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    email = models.EmailField(blank=True, help_text="Where expiry reminders and team notices go.")
    webhook_url = models.URLField(blank=True, help_text="Optional chat/automation webhook, POSTed JSON.")
    webhook_secret = EncryptedTextField(blank=True, help_text="HMAC-SHA256 key for the webhook signature.")
    oidc_group = models.CharField(
        max_length=200, blank=True, help_text="Members of this group in the OIDC groups claim join the team."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class TeamMembership(models.Model):
    """A user's role in a team. Approvers are members who may also satisfy approval steps."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships")
    role = models.CharField(max_length=16, choices=TeamRole.choices, default=TeamRole.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_team_membership")]
        ordering = ["team__slug", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"
